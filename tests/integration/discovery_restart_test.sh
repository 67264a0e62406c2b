#!/usr/bin/env bash
# Discovery across a daemon crash and under a flapping check:
# - the daemon is SIGKILLed and started again: the catalog is rebuilt from what runs (same
#   instances, no duplicates; one that died while the daemon was down does not come back),
#   an external service registered through the API survives, nginx's upstream is right;
# - a check that flaps fast: the debounced template is rewritten only a few times and nginx
#   gets no more HUPs than that.
source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/discovery_lib.sh"

# run_flap NAME: busybox httpd whose /ping appears and vanishes every 0.1 s until
# /tmp/steady exists (then it stays), service "flap" with an http check every 100 ms.
run_flap() {
  M run -d --name "$1" -l moor.service=flap -l moor.service.port=8080 -l moor.check=http:/ping \
    -l moor.check.interval=100ms -l moor.check.timeout=1s "$E_IMG" sh -c '
      httpd -p 8080 -h /www
      while [ ! -e /tmp/steady ]; do echo ok >/www/ping; sleep 0.1; rm -f /www/ping; sleep 0.1; done
      echo ok >/www/ping
      exec sleep 100000'
}

# file_versions PATH SECONDS: how many different versions (mtime, inode, size) of PATH were
# seen, sampling every 20 ms for SECONDS.
file_versions() {
  /usr/bin/python3 - "$1" "$2" <<'EOF'
import os, sys, time
path, end = sys.argv[1], time.time() + float(sys.argv[2])
seen, last = 0, None
while time.time() < end:
    try:
        st = os.stat(path)
        v = (st.st_mtime_ns, st.st_ino, st.st_size)
    except OSError:
        v = None
    if v != last:
        if v is not None:
            seen += 1
        last = v
    time.sleep(0.02)
print(seen)
EOF
}

t_daemon_crash() {
  need_discovery
  run_php p1 >/dev/null || die "run p1"
  run_php p2 >/dev/null || die "run p2"
  run_php p3 >/dev/null || die "run p3"
  run_nginx ng >/dev/null || die "run nginx"
  local a1 a2 a3
  a1=$(addr_of p1 9000) a2=$(addr_of p2 9000) a3=$(addr_of p3 9000)
  wait_passing 20 php "$a1 $a2 $a3" || die "php instances did not pass"
  wait_upstream 10 ng "$a1 $a2 $a3" || die "upstream not rendered"
  # an external service, registered through the API: persisted, so it survives
  capi_put /v1/agent/service/register '{"Name":"ext","ID":"ext1","Address":"127.0.0.1","Port":7000}' ||
    fail "register ext1 through the API"
  wait_for 5 "ext1 in the catalog" test_ids ext ext1
  local hups_before
  sleep 1
  hups_before=$(nginx_reloads ng)

  local pid3
  pid3=$(ijq p3 .State.Pid)
  daemon_kill9
  # while the daemon is down p3 dies (its monitor sees it; no restart policy)
  kill -KILL "$pid3" 2>/dev/null || fail "could not kill p3's php-fpm (pid $pid3)"
  sleep 1
  daemon_start || die "daemon restart"

  wait_passing 20 php "$a1 $a2" || fail "after the restart: php = p1, p2"
  sleep 2  # a reconcile could bring back stale or duplicate entries: give it time
  assert_eq "p1:9000
p2:9000" "$(all_ids php)" "the catalog has p1, p2 once each; p3 (died while the daemon was down) is not back"
  assert_eq "ext1" "$(all_ids ext)" "the external service survived the crash"
  assert_eq "exited" "$(status_of p3)" "p3 is exited"
  wait_upstream 10 ng "$a1 $a2"
  local body
  body=$(curl -s "http://127.0.0.1:$DISC_HTTP_PORT/")
  assert_match "$body" '^p[12]$' "nginx serves php after the daemon restart ($body)"
  local hups
  hups=$(nginx_reloads ng)
  assert_true "one reload for the change (p3 gone), not a storm: $hups_before → $hups" \
    test "$hups" -le $((hups_before + 2))
  # the restarted daemon still follows changes
  M rm -f p2 >/dev/null
  wait_passing 10 php "$a1"
  wait_upstream 10 ng "$a1"
  capi_put /v1/agent/service/deregister/ext1 '' || fail "deregister ext1"
}

test_ids() { [[ "$(all_ids "$1" | tr '\n' ' ')" == "$2 " ]]; }
capi_put() { curl -sf --max-time 5 --unix-socket "$E_SOCK" -X PUT --data "$2" "http://moor$1" >/dev/null; }

t_flapping() {
  need_discovery
  run_flap f1 >/dev/null || die "run f1"
  M run -d --name ng -v /usr:/usr:ro -l moor.service=web -l moor.service.port=80 -l moor.check=tcp \
    -l moor.template.flap=/moor/flap.ctmpl:/etc/nginx/flap.conf -l moor.reload.signal=HUP \
    "$DISC_IMG" "$DISC_NGINX_BIN" -g 'daemon off;' >/dev/null || die "run nginx"
  # a container that provides no service (moor.service.ignore) still gets its templates
  M run -d --name ng2 -v /usr:/usr:ro -l moor.service.ignore=true -l moor.template.flap=/moor/flap.ctmpl:/tmp/flap.conf \
    -l moor.reload.signal=none "$DISC_IMG" /usr/bin/sleep 1000 >/dev/null || die "run ng2"
  wait_status 10 ng running || die "nginx: $(M logs ng 2>&1 | tail -3)"
  local pid
  pid=$(ijq ng .State.Pid)
  local f="/proc/$pid/root/etc/nginx/flap.conf"
  wait_for 10 "flap.conf rendered" test -s "$f"
  wait_for 5 "flap.conf rendered in ng2 (moor.service.ignore=true)" test -s "/proc/$(ijq ng2 .State.Pid)/root/tmp/flap.conf"
  # the check does flap in the catalog
  local i st last="" flips=0
  for ((i = 0; i < 40; i++)); do
    st=$(capi /v1/health/checks/flap | jq -r '.[0].Status' 2>/dev/null)
    [[ -n "$last" && "$st" != "$last" ]] && flips=$((flips + 1))
    last=$st
    sleep 0.05
  done
  assert_true "the check flips between passing and critical ($flips flips in ~3 s)" test "$flips" -ge 3
  local h0 n
  h0=$(nginx_reloads ng)
  n=$(file_versions "$f" 10)
  local h1
  h1=$(nginx_reloads ng)
  local changes
  changes=$(capi "/v1/health/checks/flap" | jq -r '.[0].Status' 2>/dev/null)
  say "  info - in 10 s of flapping: $n versions of flap.conf, $((h1 - h0)) HUPs (check now: $changes)"
  assert_true "the flapping check changed the output at least once ($n)" test "$n" -ge 1
  assert_true "the output was rewritten at most 7 times in 10 s ($n)" test "$n" -le 7
  assert_true "nginx got no more HUPs ($((h1 - h0))) than rewrites ($n)" test $((h1 - h0)) -le "$n"
  # steady again: the output settles on the instance
  M exec f1 touch /tmp/steady >/dev/null || fail "exec touch"
  local a
  a=$(addr_of f1 8080)
  wait_for 10 "flap.conf lists f1 ($(cat "$f" 2>/dev/null))" grep -qF "$a" "$f"
}

disc_setup
ecase "daemon SIGKILL + restart: catalog rebuilt from what runs, no duplicates, no stale" t_daemon_crash
ecase "a flapping check: few template rewrites, no more HUPs than rewrites" t_flapping
finish

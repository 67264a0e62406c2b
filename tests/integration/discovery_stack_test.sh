#!/usr/bin/env bash
# nginx + php-fpm (the host's Debian packages, run in moor containers) wired by discovery:
# nginx's upstream is rendered by moor from the passing "php" instances and nginx gets a HUP
# after each change. A request loop through nginx's published port must see no failed
# request while php is scaled 3 → 1 → 3, one php is SIGKILLed, one is restarted by its
# policy and one is stopped (deregistered before SIGQUIT, its in-flight request finishing).
source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/discovery_lib.sh"

URL="http://127.0.0.1:$DISC_HTTP_PORT"
# page_is GLOB: nginx's / answers with a body matching GLOB.
# shellcheck disable=SC2053  # GLOB is a pattern
page_is() { [[ "$(curl -s --max-time 5 "$URL/")" == $1 ]]; }
# page_is5 GLOB: five times in a row (right after a HUP an old nginx worker may still answer).
page_is5() { local i; for i in 1 2 3 4 5; do page_is "$1" || return 1; done; }

# The image and the containers work without discovery: nginx with a hand-written upstream
# to a php container's address serves the PHP page through the published port.
t_static() {
  run_php p1 >/dev/null || die "run php p1"
  M run -d --name ng -p "127.0.0.1:$DISC_HTTP_PORT:80" -v /usr:/usr:ro -l moor.service.ignore=true \
    "$DISC_IMG" "$DISC_NGINX_BIN" -g 'daemon off;' >/dev/null || die "run nginx"
  wait_status 10 p1 running || die "php: $(M logs p1 2>&1 | tail -3)"
  wait_status 10 ng running || die "nginx: $(M logs ng 2>&1 | tail -3)"
  local a
  a=$(addr_of p1 9000)
  # a HUP before nginx has its handlers would be lost (it is PID 1 in its namespace)
  wait_for 10 "nginx ready" curl -sf "$URL/nginx-ok" || die "nginx: $(M logs ng 2>&1 | tail -3)"
  local pid
  pid=$(ijq ng .State.Pid)
  printf 'upstream php { server %s; }\n' "$a" >"/proc/$pid/root/etc/nginx/upstream.conf" || die "write upstream"
  M kill -s HUP ng >/dev/null || die "HUP nginx"
  if ! wait_for 10 "nginx answers with p1's page" page_is5 p1; then
    say "  got: $(curl -s "$URL/" | head -c 200 | tr '\n' ' ')"
    say "  nginx log: $(M logs ng 2>&1 | tail -5 | tr '\n' '|')"
    say "  php log: $(M logs p1 2>&1 | tail -5 | tr '\n' '|')"
  fi
  assert_eq p1 "$(curl -s "$URL/index.php")" "the PHP page through nginx's published port"
  assert_eq "slow p1" "$(curl -s "$URL/slow.php?s=0.1")" "a second script"
  assert_eq pong "$(curl -s "$URL/ping")" "php-fpm's ping path through nginx"
  assert_eq 1 "$(nginx_reloads ng)" "nginx logged one reconfiguration"
  local out="$T_TMP/static.req"
  request_loop "$URL/" 3 "$out"
  wait "$REQ_PID"
  local rate
  rate=$(req_rate "$out")
  say "  info - $(req_total "$out") requests in 3 s ($rate/s), backends: $(req_backends "$out" | tr '\n' ' ')"
  assert_eq 0 "$(req_failed "$out")" "no failed request ($(req_failures "$out"))"
  assert_true "at least 50 requests/s ($rate)" test "$rate" -ge 50
  # SIGQUIT is graceful: a request in flight when the stop begins completes
  local slow="$T_TMP/slow.out"
  curl -s -w ' %{http_code} %{time_total}' "$URL/slow.php?s=2" >"$slow" &
  track_pid $!
  local cpid=$!
  sleep 0.5
  M stop p1 >/dev/null || fail "stop p1"
  wait "$cpid"
  assert_match "$(tr '\n' ' ' <"$slow")" '^slow p1  200 2\.' "the in-flight request ran its 2 s to the end during php-fpm's graceful stop"
  assert_eq 0 "$(ijq p1 .State.ExitCode)" "php-fpm exited 0 on SIGQUIT"
}

# nginx + 3 php: the upstream lists exactly the passing instances at every step, and the
# request loop never fails.
t_scale() {
  need_discovery
  local p
  for p in p1 p2 p3; do run_php "$p" >/dev/null || die "run $p"; done
  run_nginx ng >/dev/null || die "run nginx"
  local a1 a2 a3
  a1=$(addr_of p1 9000) a2=$(addr_of p2 9000) a3=$(addr_of p3 9000)
  wait_passing 20 php "$a1 $a2 $a3" || die "php instances did not pass"
  wait_upstream 10 ng "$a1 $a2 $a3" || die "upstream not rendered"
  wait_for 10 "nginx serves php" page_is5 'p[123]'
  local out="$T_TMP/scale.req" stopf="$T_TMP/scale.stop"
  request_loop "$URL/" "$stopf" "$out"
  sleep 2
  # 3 → 1
  M stop p2 p3 >/dev/null || fail "stop p2 p3"
  assert_true "p2, p3 left the catalog" passing_is php "$a1"
  wait_upstream 10 ng "$a1"
  M rm p2 p3 >/dev/null || fail "rm p2 p3"
  sleep 2
  # 1 → 3
  run_php p2 >/dev/null || fail "run p2 again"
  run_php p3 >/dev/null || fail "run p3 again"
  a2=$(addr_of p2 9000) a3=$(addr_of p3 9000)
  wait_passing 20 php "$a1 $a2 $a3"
  wait_upstream 10 ng "$a1 $a2 $a3"
  sleep 2
  request_loop_stop "$stopf"
  say "  info - $(req_total "$out") requests ($(req_rate "$out")/s), backends: $(req_backends "$out" | tr '\n' ' ')"
  assert_eq 0 "$(req_failed "$out")" "no failed request while scaling 3 → 1 → 3 ($(req_failures "$out"))"
  assert_eq 3 "$(req_backends "$out" | grep -c .)" "all three instances served requests"
  local r
  r=$(nginx_reloads ng)
  assert_true "nginx was reloaded for the changes ($r HUPs)" test "$r" -ge 2
  assert_true "and not for every check result ($r HUPs ≤ 8)" test "$r" -le 8
}

# restarted_since CONTAINER OLDPID: running again, with another pid.
restarted_since() {
  local p
  p=$(ijq "$1" .State.Pid)
  [[ "$p" =~ ^[1-9][0-9]*$ && "$p" != "$2" ]] && status_is_e "$1" running
}

# SIGKILL: the instance leaves the catalog and the upstream; with a restart policy a php
# killed behind the engine's back comes back and is registered again.
t_kill() {
  need_discovery
  run_php p1 >/dev/null || die "run p1"
  run_php p2 >/dev/null || die "run p2"
  run_php p3 --restart always >/dev/null || die "run p3"
  run_nginx ng >/dev/null || die "run nginx"
  local a1 a2 a3
  a1=$(addr_of p1 9000) a2=$(addr_of p2 9000) a3=$(addr_of p3 9000)
  wait_passing 20 php "$a1 $a2 $a3" || die "php instances did not pass"
  wait_upstream 10 ng "$a1 $a2 $a3" || die "upstream not rendered"
  # the file is written before nginx has reloaded: wait until its workers have
  wait_for 10 "nginx serves php" page_is5 'p[123]'
  local out="$T_TMP/kill.req" stopf="$T_TMP/kill.stop"
  request_loop "$URL/" "$stopf" "$out"
  sleep 1
  M kill -s KILL p2 >/dev/null || fail "kill p2"
  wait_passing 5 php "$a1 $a3"
  wait_upstream 5 ng "$a1 $a3"
  assert_eq "" "$(all_ids php | grep '^p2:')" "the killed instance is gone from the catalog, not just critical"
  sleep 1
  # killed outside the engine: the restart policy brings it back, discovery follows
  local pid
  pid=$(ijq p3 .State.Pid)
  kill -KILL "$pid"
  wait_for 15 "p3 restarted by its policy" restarted_since p3 "$pid"
  a3=$(addr_of p3 9000)
  wait_passing 20 php "$a1 $a3"
  wait_upstream 10 ng "$a1 $a3"
  sleep 1
  request_loop_stop "$stopf"
  say "  info - $(req_total "$out") requests ($(req_rate "$out")/s), backends: $(req_backends "$out" | tr '\n' ' ')"
  assert_eq 0 "$(req_failed "$out")" "no failed request across the SIGKILLs ($(req_failures "$out"))"
  assert_eq "p1:9000
p3:9000" "$(all_ids php)" "catalog ids: p1:9000 p3:9000, no duplicate"
}

# moor stop: the instance is deregistered (and gone from nginx's upstream) before php-fpm
# gets SIGQUIT — the drain of 1 s lets that be seen — and requests in flight complete.
t_stop_order() {
  need_discovery
  run_php p1 >/dev/null || die "run p1"
  run_php p2 >/dev/null || die "run p2"
  run_nginx ng >/dev/null || die "run nginx"
  local a1 a2
  a1=$(addr_of p1 9000) a2=$(addr_of p2 9000)
  wait_passing 20 php "$a1 $a2" || die "php instances did not pass"
  wait_upstream 10 ng "$a1 $a2" || die "upstream not rendered"
  wait_for 10 "nginx serves php" page_is5 'p[12]'
  local out="$T_TMP/stop.req" stopf="$T_TMP/stop.stop"
  request_loop "$URL/" "$stopf" "$out"
  # slow requests in flight when the stop begins; nginx's round robin puts some on p2
  local i slow_pids=()
  for ((i = 1; i <= 6; i++)); do
    curl -s -o "$T_TMP/slow.$i" -w '%{http_code}' "$URL/slow.php?s=2.5" >"$T_TMP/slow.$i.code" &
    track_pid $!
    slow_pids+=($!)
  done
  sleep 0.4
  local t0 stop_done="$T_TMP/stop.done"
  t0=$EPOCHREALTIME
  (M stop p2 >/dev/null; echo "$EPOCHREALTIME" >"$stop_done") &
  track_pid $!
  local spid=$!
  wait_for 3 "p2 left /v1/health/service/php during its stop" passing_is php "$a1"
  local t_gone=$EPOCHREALTIME
  assert_true "p2 left the catalog before its stop completed" test ! -s "$stop_done"
  assert_eq running "$(status_of p2)" "p2 was still running (draining) when it left the catalog"
  wait_upstream 5 ng "$a1"
  assert_true "… and left nginx's upstream before its stop completed" test ! -s "$stop_done"
  wait "$spid"
  say "  info - p2 left the catalog $(awk -v a="$t0" -v b="$t_gone" 'BEGIN { printf "%.2f", b - a }') s after the stop began; the stop took $(awk -v a="$t0" -v b="$(cat "$stop_done")" 'BEGIN { printf "%.2f", b - a }') s"
  wait "${slow_pids[@]}"
  local on_p2=0 bad=""
  for ((i = 1; i <= 6; i++)); do
    [[ "$(cat "$T_TMP/slow.$i.code")" == 200 && "$(cat "$T_TMP/slow.$i")" == "slow p"[12] ]] ||
      bad+="$i:$(cat "$T_TMP/slow.$i.code")/$(head -c 80 "$T_TMP/slow.$i") "
    [[ "$(cat "$T_TMP/slow.$i")" == "slow p2" ]] && on_p2=$((on_p2 + 1))
  done
  assert_eq "" "$bad" "every slow request in flight during the stop completed with 200"
  assert_true "some of them ran on p2, the stopped instance ($on_p2)" test "$on_p2" -ge 1
  request_loop_stop "$stopf"
  say "  info - $(req_total "$out") requests ($(req_rate "$out")/s), backends: $(req_backends "$out" | tr '\n' ' ')"
  assert_eq 0 "$(req_failed "$out")" "no failed request across the stop ($(req_failures "$out"))" ||
    say "  nginx errors: $(M logs ng 2>&1 | grep -E '\[(error|warn|crit)\]' | tail -4 | cut -c1-250 | tr '\n' '|')"
  assert_eq 0 "$(ijq p2 .State.ExitCode)" "php-fpm stopped gracefully (exit 0)"
}

disc_setup
ecase "host nginx + php-fpm under moor: static upstream, ≥ 50 req/s, graceful SIGQUIT" t_static
ecase "scale php 3 → 1 → 3 behind nginx: upstream follows, 0 failed requests" t_scale
ecase "SIGKILL and restart-policy restart: catalog and upstream follow, 0 failed requests" t_kill
ecase "moor stop: deregistered before SIGQUIT, in-flight requests complete" t_stop_order
finish

# shellcheck shell=bash
# Helpers for the service-discovery integration tests (tests/integration/discovery_*_test.sh),
# sourced after engine_lib.sh: a "host" image that runs the host's own nginx and php-fpm
# (its /usr is the host's, bind-mounted read-only), php and nginx containers with the
# discovery labels, a request loop, and questions to the daemon's Consul API.
#
# Usage, in a test script:
#   source "$(dirname "$0")/engine_lib.sh"
#   source "$(dirname "$0")/discovery_lib.sh"
#   t_x() { run_php php1; wait_passing php 1; ...; }
#   disc_setup            # daemon with discovery on loopback, images
#   ecase "what it checks" t_x
#   finish
#
# Everything listens inside the test's network namespace: the daemon's DNS and Consul API on
# 127.0.0.1 there, nginx published on 127.0.0.1:$DISC_HTTP_PORT there, containers on the
# daemon's bridge there. After every case the catalog must be empty again (verify_clean).

DISC_FIX="$T_LIB_DIR/fixtures/discovery"
DISC_IMG=dhost:1                              # made by make_host_image
DISC_CONSUL_ADDR=${DISC_CONSUL_ADDR:-127.0.0.1:8500}
DISC_DNS_ADDR=${DISC_DNS_ADDR:-127.0.0.1:8600}
DISC_HTTP_PORT=${DISC_HTTP_PORT:-8080}
DISC_PHP_BIN=${DISC_PHP_BIN:-/usr/sbin/php-fpm8.2}
DISC_NGINX_BIN=${DISC_NGINX_BIN:-/usr/sbin/nginx}

for _d_tool in "$DISC_PHP_BIN" "$DISC_NGINX_BIN" curl; do
  if ! command -v "$_d_tool" >/dev/null; then
    say "$T_NAME: missing $_d_tool (Debian packages php8.2-fpm, nginx-light, curl)"
    T_FAIL=1
    T_FAILED_CASES+=("missing $_d_tool")
    finish
  fi
done

# discovery_in_daemon: the daemon binary has the discovery flags.
# (The help is read whole: `grep -q` stops early, and under pipefail moor's SIGPIPE would fail it.)
discovery_in_daemon() { grep -q -- '--consul-addr' <<<"$("$MOOR" daemon --help 2>&1)"; }

# disc_setup: the daemon with DNS and the Consul API on loopback of the test's namespace,
# the busybox image ($E_IMG) and the host image ($DISC_IMG). Ends the script on failure.
# Without discovery in the daemon (DISC_NEED=0 to allow it) the daemon starts plain.
DISC_ON=0
disc_setup() {
  if discovery_in_daemon; then
    E_DAEMON_FLAGS=(--dns-addr "$DISC_DNS_ADDR" --consul-addr "$DISC_CONSUL_ADDR" --node-name mtest)
    DISC_ON=1
  elif [[ "${DISC_NEED:-1}" == 1 ]]; then
    T_FAIL=1
    T_FAILED_CASES+=("moor daemon has no --consul-addr: discovery is not in this build ($MOOR_BIN)")
    finish
  fi
  engine_setup
  if ! make_host_image "$DISC_IMG"; then
    T_FAIL=1
    T_FAILED_CASES+=("host image import failed")
    finish
  fi
}
# need_discovery: skip the case when the daemon has no discovery.
need_discovery() { ((DISC_ON)) || skip "discovery is not in this moor build"; }

# ---------------------------------------------------------------------------------------
# The host image

# make_host_image NAME: an image whose rootfs has merged-/usr symlinks, an empty usr/ (the
# host's is mounted there), users root/www-data/nginx, and the fixtures: /moor/fpm.conf,
# /moor/upstream.ctmpl, /moor/flap.ctmpl, /moor/fastcgi_params, /etc/nginx/nginx.conf (+ a placeholder
# upstream.conf so nginx starts before the first render), /srv/www/{index,slow}.php.
make_host_image() {
  local name=$1 r="$T_TMP/hostimg-rootfs"
  rm -rf "$r"
  mkdir -p "$r"/{usr,etc/nginx,etc/php,moor,srv/www,tmp,var/log/nginx,var/lib/nginx,var/lib/php/sessions,var/tmp,run/php,proc,sys,dev,root}
  local l
  for l in bin sbin lib lib64 lib32; do ln -s "usr/$l" "$r/$l"; done
  ln -s ../run "$r/var/run"
  chmod 1777 "$r/tmp" "$r/var/tmp"
  cat >"$r/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
nginx:x:101:101:nginx:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
  cat >"$r/etc/group" <<'EOF'
root:x:0:
www-data:x:33:
nginx:x:101:
nogroup:x:65534:
EOF
  printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$r/etc/nsswitch.conf"
  cp "$DISC_FIX/nginx.conf" "$r/etc/nginx/nginx.conf"
  cp "$DISC_FIX/upstream.placeholder.conf" "$r/etc/nginx/upstream.conf"
  cp "$DISC_FIX/fpm.conf" "$DISC_FIX/upstream.ctmpl" "$DISC_FIX/flap.ctmpl" "$DISC_FIX/fastcgi_params" "$r/moor/"
  cp "$DISC_FIX/index.php" "$DISC_FIX/slow.php" "$r/srv/www/"
  chown 33:33 "$r/var/lib/nginx" "$r/var/lib/php/sessions"
  chmod -R a+rX "$r/moor" "$r/srv" "$r/etc"
  tar -C "$r" -cf "$T_TMP/hostimg.tar" . || return 1
  rm -rf "$r"
  M image import "$T_TMP/hostimg.tar" "$name" >/dev/null 2>"$T_TMP/hostimg.err" || {
    say "host image import failed: $(cat "$T_TMP/hostimg.err")"
    return 1
  }
}

# ---------------------------------------------------------------------------------------
# Containers

# run_php NAME [FLAGS...]: php-fpm in the foreground (pool on 0.0.0.0:9000, /ping, static
# workers, SIGQUIT graceful for 20 s), service "php" with a fastcgi check every second and a
# 1 s drain. A busy php-fpm answers its ping only when a worker is free, so one slow ping
# must not take it out: critical after 3 failures in a row (as a production pool should).
# FLAGS go to `moor run` (e.g. --restart always). Prints the id.
run_php() {
  local name=$1; shift
  M run -d --name "$name" --hostname "$name" --stop-signal SIGQUIT --stop-timeout 25 \
    -v /usr:/usr:ro -v /etc/php:/etc/php:ro \
    -l moor.service=php -l moor.service.port=9000 -l moor.check=fastcgi:/ping \
    -l moor.check.interval=1s -l moor.check.timeout=1s -l moor.check.failures_before_critical=3 \
    -l moor.service.drain=1s "$@" "$DISC_IMG" "$DISC_PHP_BIN" -F -y /moor/fpm.conf
}

# run_nginx NAME [FLAGS...]: nginx in the foreground, published on 127.0.0.1:$DISC_HTTP_PORT,
# its upstream "php" rendered by moor from /moor/upstream.ctmpl, HUP after each render;
# itself registered as service "web" (check http:/nginx-ok). Prints the id.
run_nginx() {
  local name=$1; shift
  M run -d --name "$name" --hostname "$name" -p "127.0.0.1:$DISC_HTTP_PORT:80" \
    -v /usr:/usr:ro \
    -l moor.service=web -l moor.service.port=80 -l moor.check=http:/nginx-ok -l moor.check.interval=1s \
    -l moor.template.upstream=/moor/upstream.ctmpl:/etc/nginx/upstream.conf \
    -l moor.template.upstream.wait=100ms:500ms -l moor.reload.signal=HUP \
    "$@" "$DISC_IMG" "$DISC_NGINX_BIN" -g 'daemon off;'
}

# cfile CONTAINER PATH: a file inside a running container, read through /proc/PID/root.
cfile() {
  local pid
  pid=$(ijq "$1" .State.Pid)
  [[ "$pid" =~ ^[1-9][0-9]*$ ]] || return 1
  cat "/proc/$pid/root$2"
}

# upstream_of NGINX: the "IP:PORT" servers of the rendered upstream, sorted, one a line
# ("down" placeholders left out).
upstream_of() {
  cfile "$1" /etc/nginx/upstream.conf | tr ';{}' '\n\n\n' | sed -n 's/^ *server \([0-9.:]*\) *$/\1/p' | sort
}

# nginx_reloads NGINX: how many HUPs nginx got (its "signal 1 (SIGHUP) received" notices).
nginx_reloads() { M logs "$1" 2>&1 | grep -c 'SIGHUP) received'; }

# addr_of CONTAINER PORT: "IP:PORT".
addr_of() { printf '%s:%s\n' "$(ip_of "$1")" "$2"; }

# ---------------------------------------------------------------------------------------
# The Consul API (on the daemon's socket; capi_tcp on $DISC_CONSUL_ADDR)

capi() { curl -sf --max-time 5 --unix-socket "$E_SOCK" "http://moor$1"; }
capi_tcp() { curl -sf --max-time 5 "http://$DISC_CONSUL_ADDR$1"; }

# passing_addrs SERVICE: "IP:PORT" of its passing instances, sorted.
passing_addrs() {
  capi "/v1/health/service/$1?passing=1" |
    jq -r '.[] | "\(if .Service.Address != "" then .Service.Address else .Node.Address end):\(.Service.Port)"' | sort
}
# passing_ids SERVICE: instance ids, sorted.
passing_ids() { capi "/v1/health/service/$1?passing=1" | jq -r '.[].Service.ID' | sort; }
# all_ids SERVICE: every instance of SERVICE in the catalog, whatever its health, sorted
# (duplicates kept, so a test can see them).
all_ids() { capi "/v1/catalog/service/$1" | jq -r '.[].ServiceID' | sort; }
# catalog_services: the service names, one a line ("consul" left out).
catalog_services() { capi /v1/catalog/services | jq -r 'keys[] | select(. != "consul")'; }

_list_is() { [[ "$(printf '%s\n' "$2" | grep -v '^$' | sort)" == "$(printf '%s\n' "$1" | grep -v '^$' | sort)" ]]; }
# passing_is SERVICE "ADDR ..." : the passing instances are exactly these addresses.
passing_is() { _list_is "$(tr ' ' '\n' <<<"$2")" "$(passing_addrs "$1")"; }
# upstream_is NGINX "ADDR ...": the rendered upstream lists exactly these.
upstream_is() { _list_is "$(tr ' ' '\n' <<<"$2")" "$(upstream_of "$1")"; }

# wait_passing SECS SERVICE "ADDR ...": until exactly these instances pass.
wait_passing() {
  wait_for "$1" "$2 passing = [$3] (is [$(passing_addrs "$2" | tr '\n' ' ')])" passing_is "$2" "$3"
}
# wait_upstream SECS NGINX "ADDR ...": until nginx's rendered upstream is exactly these.
wait_upstream() {
  wait_for "$1" "$2 upstream = [$3] (is [$(upstream_of "$2" | tr '\n' ' ')])" upstream_is "$2" "$3"
}

# ---------------------------------------------------------------------------------------
# The request loop

# request_loop URL UNTIL OUTFILE: GETs without keep-alive in the background until UNTIL
# (seconds, or a file whose creation stops it), $DISC_REQ_RATE a second at most; OUTFILE
# gets "TIME STATUS FIRST-BODY-LINE" per request (status 0: transport error). Sets REQ_PID.
DISC_REQ_RATE=${DISC_REQ_RATE:-100}
request_loop() {
  /usr/bin/python3 "$DISC_FIX/reqloop.py" "$1" "$2" "$3" "$DISC_REQ_RATE" &
  REQ_PID=$!
  track_pid "$REQ_PID"
}
# request_loop_stop STOPFILE: creates STOPFILE and waits for the loop ($REQ_PID) to end.
request_loop_stop() {
  touch "$1"
  wait "$REQ_PID" 2>/dev/null
}
# req_total / req_failed OUTFILE: requests made / those without a 200.
req_total() { grep -c . "$1"; }
req_failed() { awk '$2 != 200' "$1" | grep -c .; }
# req_failures OUTFILE [N]: the first N failed lines, for a failure message.
req_failures() { awk '$2 != 200' "$1" 2>/dev/null | head -n "${2:-5}" | tr '\n' '|'; }
# req_rate OUTFILE: requests per second over the loop's life.
req_rate() { awk 'NR == 1 { a = $1 } { b = $1; n++ } END { if (b > a) printf "%d\n", n / (b - a); else print n }' "$1"; }
# req_backends OUTFILE: which hostnames answered with 200, "NAME COUNT" lines.
req_backends() { awk '$2 == 200 { c[$3]++ } END { for (k in c) print k, c[k] }' "$1" | sort; }

# ---------------------------------------------------------------------------------------
# Leak check: the catalog is empty once every container is gone.

eval "_disc_engine_verify_clean() $(declare -f verify_clean | tail -n +2)"
_catalog_empty() { [[ -z "$(catalog_services)" ]] && capi /v1/catalog/services >/dev/null; }
verify_clean() {
  local leaks=0
  _disc_engine_verify_clean "$@" || leaks=1
  if ((DISC_ON)) && [[ -s "$T_TMP/daemon.pid" ]]; then
    local i
    for ((i = 0; i < 100; i++)); do
      _catalog_empty && break
      sleep 0.05
    done
    if ! _catalog_empty; then
      local rf=_record_fail
      [[ "${2:-}" == note ]] && rf=_note_leak
      $rf "$1: services left in the catalog: $(capi /v1/catalog/services | tr -d '\n' | cut -c1-300)"
      leaks=1
    fi
  fi
  return $leaks
}

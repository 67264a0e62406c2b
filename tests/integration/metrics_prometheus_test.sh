#!/usr/bin/env bash
# moor's Prometheus metrics, read by Debian's Prometheus: the daemon runs with
# --metrics-addr 127.0.0.1:$MET_PORT (in the test's private network namespace) and
# Prometheus scrapes it every second. Containers: "burner" (three busy loops), "hog" (a shell
# holding a 64 MiB string, --memory 256m), "php" (moor/php-fpm:8.2, whose fastcgi check label
# turns moor's pool metrics on by default) and "php-off" (the same with moor.metrics.fpm=off).
# Checked through Prometheus' HTTP API: the burner's CPU rate (> 0.5 and close to what its
# cgroup's cpu.stat says), the hog's memory usage and limit, the pool's processes and
# accepted connections growing by the FastCGI requests the test makes, the API latency
# histogram, moor_build_info, the container labels. The raw exposition (TCP and the API
# socket) must pass `promtool check metrics`. A removed container's series go; bad
# --metrics-addr values stop the daemon with one line.
#
# NETWORK: like app_images_test, a cold run first fills the rootfs cache of
# scripts/make-images.sh from the Debian archive (through this machine's apt sources) before
# the test enters its private namespaces; everything after that stays on the test's loopback
# and its bridge.

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images metrics_prometheus_test

source "$(dirname "$0")/engine_lib.sh"

PROM_BIN=${PROM_BIN:-/usr/bin/prometheus}
PROMTOOL=${PROMTOOL:-/usr/bin/promtool}
PROM_ADDR=127.0.0.1:9090
MET_ADDR=127.0.0.1:9464
MET_FIX="$T_LIB_DIR/fixtures/metrics"
PHP=moor/php-fpm:8.2
MIB256=268435456

# metrics: the daemon's /metrics over TCP.
metrics() { curl -sf --max-time 5 "http://$MET_ADDR/metrics"; }
# mval REGEX: the value of the first raw sample line matching REGEX ("" if none).
mval() { metrics | grep -E "$1" | head -1 | awk '{ print $NF }'; }
# pq QUERY: the first result's value of an instant query ("" if none).
pq() {
  curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$1" |
    jq -r '.data.result[0].value[1] // empty'
}
# pq_series QUERY: the result series (JSON lines, labels + value).
pq_series() {
  curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/query" --data-urlencode "query=$1" | jq -c '.data.result[]'
}
# gt A B / ge A B: numeric comparisons (false when A is empty).
gt() { [[ -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }
ge() { [[ -n $1 ]] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
pq_gt() { gt "$(pq "$1")" "$2"; }
pq_ge() { ge "$(pq "$1")" "$2"; }
accepted_ge() { ge "$(mval '^moor_phpfpm_accepted_connections_total\{.*container="php"')" "$1"; }

# prom_start: Prometheus on $PROM_ADDR, its own storage under the test's temp dir; PROM_PID.
prom_start() {
  local d="$T_TMP/prom"
  rm -rf "$d"
  mkdir -p "$d/data"
  sed "s/@METRICS@/$MET_ADDR/" "$MET_FIX/prometheus.yml" >"$d/prometheus.yml"
  "$PROM_BIN" --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
    --web.listen-address="$PROM_ADDR" >"$d/log" 2>&1 &
  PROM_PID=$!
  track_pid "$PROM_PID"
  wait_for 30 "prometheus ready" curl -sf "http://$PROM_ADDR/-/ready"
}

# cg_dir CONTROLLER CONTAINER: the container's cgroup dir (cgroup v2, or v1's CONTROLLER
# hierarchy), found by its full id.
cg_dir() {
  local id base=/sys/fs/cgroup
  id=$(M inspect "$2" | jq -r '.[0].Id')
  [[ $id =~ ^[0-9a-f]{64}$ ]] || return 1
  [[ -e $base/cgroup.controllers ]] || base=$base/$1
  find "$base" -maxdepth 6 -type d -name "$id" 2>/dev/null | head -1 | grep .
}
# cpu_usec DIR: CPU time of the cgroup in microseconds (v2 cpu.stat, v1 cpuacct.usage).
cpu_usec() {
  if [[ -e $1/cpu.stat && -n $(awk '$1 == "usage_usec"' "$1/cpu.stat") ]]; then
    awk '$1 == "usage_usec" { print $2 }' "$1/cpu.stat"
  else
    awk '{ printf "%.0f\n", $1 / 1000 }' "$1/cpuacct.usage"
  fi
}
# mem_current DIR: the cgroup's memory charge (v2 memory.current, v1 memory.usage_in_bytes).
mem_current() { cat "$1/memory.current" 2>/dev/null || cat "$1/memory.usage_in_bytes"; }

run_all() {
  local fix="$T_TMP/metrics-fix"
  rm -rf "$fix"
  cp -r "$MET_FIX" "$fix"
  chmod -R a+rX "$fix"
  M run -d --name burner -l moor.app=mtest -l moor.service=burn "$E_IMG" \
    sh -c 'while :; do :; done & while :; do :; done & while :; do :; done' >/dev/null || die "run burner"
  # The string stays in the shell (not exec'ed away: the loop keeps it the main process).
  M run -d --name hog --memory 256m -l moor.app=mtest --network none "$E_IMG" \
    sh -c 'x=$(head -c 67108864 /dev/zero | tr "\0" a); while :; do sleep 3600; done' >/dev/null ||
    die "run hog"
  M run -d --name php -l moor.app=mtest -v "$fix:/srv/metrics:ro" "$PHP" >/dev/null || die "run php"
  M run -d --name php-off -l moor.app=mtest -l moor.metrics.fpm=off "$PHP" >/dev/null || die "run php-off"
}

t_prometheus() {
  [[ -x $PROM_BIN ]] || skip "no $PROM_BIN (Debian package prometheus)"
  run_all
  local php_ip
  php_ip=$(ip_of php)
  [[ -n $php_ip ]] || die "php has no address"
  wait_for 30 "php-fpm answers FastCGI" python3 "$MET_FIX/fcgi_get.py" "$php_ip" 9000 \
    /srv/metrics/hello.php 1 hello-metrics >/dev/null || die "php-fpm did not answer"
  wait_for 30 "moor exports php's pool" \
    bash -c "curl -sf http://$MET_ADDR/metrics | grep -q '^moor_phpfpm_up{.*container=\"php\"'" ||
    die "no moor_phpfpm_up for container php in /metrics"
  prom_start || die "prometheus did not start: $(tail -5 "$T_TMP/prom/log")"
  wait_for 20 "prometheus scrapes moor" pq_ge 'up{job="moor"}' 1 ||
    die "target not up: $(curl -sf "http://$PROM_ADDR/api/v1/targets" | jq -c '.data.activeTargets[0] | {health, lastError}')"

  # --- CPU: 10 s of scrapes, compared with the cgroup's own account of the same 10 s
  local cg u0 u1 t0 t1 truth rate
  cg=$(cg_dir cpuacct burner) || die "no cgroup dir for burner"
  u0=$(cpu_usec "$cg") t0=$EPOCHREALTIME
  sleep 11
  u1=$(cpu_usec "$cg") t1=$EPOCHREALTIME
  rate=$(pq 'rate(moor_container_cpu_seconds_total{container="burner"}[10s])')
  truth=$(awk -v a="$u0" -v b="$u1" -v s="$t0" -v e="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 / (e - s) }')
  say "  info - burner CPU: rate() $rate, its cgroup $truth CPUs (load $(cut -d' ' -f1 /proc/loadavg))"
  # Three busy loops get more than half a CPU unless other work crowds the machine: the
  # absolute check needs the cgroup to confirm it got the CPU; the comparison always holds.
  if gt "$truth" 0.6; then
    assert_true "rate(moor_container_cpu_seconds_total{container=burner}[10s]) > 0.5 (is ${rate:-none})" gt "$rate" 0.5
  else
    say "  note - the machine gave the burner only $truth CPUs: the > 0.5 check is left out"
  fi
  assert_true "rate() within 35% of the cgroup's own CPU account ($truth)" \
    awk -v r="${rate:-0}" -v t="$truth" 'BEGIN { d = r - t; if (d < 0) d = -d; exit !(t > 0 && d / t < 0.35) }'
  local idle
  idle=$(pq 'rate(moor_container_cpu_seconds_total{container="hog"}[10s])')
  assert_true "the idle hog's CPU rate is near 0 (${idle:-none})" awk -v r="${idle:-9}" 'BEGIN { exit !(r < 0.1) }'

  # --- memory
  local use lim cur
  use=$(pq 'moor_container_memory_usage_bytes{container="hog"}')
  lim=$(pq 'moor_container_memory_limit_bytes{container="hog"}')
  cur=$(mem_current "$(cg_dir memory hog)")
  say "  info - hog memory: usage ${use:-none}, limit ${lim:-none}, cgroup memory.current ${cur:-?}"
  assert_true "moor_container_memory_usage_bytes{container=hog} > 50e6 (is ${use:-none})" gt "$use" 50000000
  assert_true "and < the 256 MiB limit" gt "$MIB256" "${use:-$MIB256}"
  assert_true "and not above the cgroup's own charge ($cur) + 1 MiB" ge "$((${cur:-0} + 1048576))" "${use:-0}"
  assert_eq "$MIB256" "$lim" "moor_container_memory_limit_bytes{container=hog} is 256Mi"
  local nolim
  nolim=$(pq 'moor_container_memory_limit_bytes{container="burner"}')
  say "  info - burner (no --memory) memory limit series: ${nolim:-absent}"

  # --- php-fpm: processes, and accepted connections growing by our requests
  local procs a0 a1 ok
  wait_for 15 "moor_phpfpm_total_processes in prometheus" pq_ge 'moor_phpfpm_total_processes{container="php"}' 1
  procs=$(pq 'moor_phpfpm_total_processes{container="php"}')
  assert_true "moor_phpfpm_total_processes{container=php} >= 1 (is ${procs:-none})" ge "$procs" 1
  assert_eq 1 "$(pq 'moor_phpfpm_up{container="php"}')" "moor_phpfpm_up{container=php} is 1"
  a0=$(mval '^moor_phpfpm_accepted_connections_total\{.*container="php"')
  assert_match "$a0" '^[0-9]+(\.[0-9]+)?(e\+?[0-9]+)?$' "moor_phpfpm_accepted_connections_total in /metrics"
  ok=$(python3 "$MET_FIX/fcgi_get.py" "$php_ip" 9000 /srv/metrics/hello.php 40 hello-metrics)
  assert_eq 40 "$ok" "40 FastCGI requests to php answered"
  # Every request is an accepted connection (moor's own /status and /ping ones add more).
  wait_for 20 "accepted connections +40 in /metrics (from ${a0:-?})" accepted_ge "$((${a0%.*} + 40))"
  a1=$(mval '^moor_phpfpm_accepted_connections_total\{.*container="php"')
  assert_true "moor_phpfpm_accepted_connections_total grew by >= 40 ($a0 -> ${a1:-none})" ge "${a1:-0}" "$((${a0%.*} + 40))"
  wait_for 15 "prometheus sees it too" pq_ge 'moor_phpfpm_accepted_connections_total{container="php"}' "$((${a0%.*} + 40))"
  assert_eq 1 "$(pq 'increase(moor_phpfpm_accepted_connections_total{container="php"}[1m]) > 39' | grep -c .)" \
    "increase(moor_phpfpm_accepted_connections_total[1m]) > 39"
  local s
  for s in active_processes idle_processes listen_queue listen_queue_max max_children_reached_total slow_requests_total; do
    assert_ne "" "$(pq "moor_phpfpm_$s{container=\"php\"}")" "moor_phpfpm_$s{container=php} exists"
  done
  assert_eq "" "$(metrics | grep -E '^moor_phpfpm_[a-z_]+\{.*container="php-off"')" \
    "no moor_phpfpm_* series for php-off (moor.metrics.fpm=off)"
  assert_eq www "$(pq_series 'moor_phpfpm_up{container="php"}' | jq -r '.metric.pool' | head -1)" "pool label is www"

  # --- labels
  local full series
  full=$(M inspect burner | jq -r '.[0].Id')
  series=$(pq_series 'moor_container_cpu_seconds_total{container="burner"}' | head -1)
  assert_eq "${full:0:12}" "$(jq -r .metric.id <<<"$series")" "id label: the first 12 hex of the id"
  assert_eq "$E_IMG" "$(jq -r .metric.image <<<"$series")" "image label"
  assert_eq mtest "$(jq -r .metric.app <<<"$series")" "app label (moor.app)"
  assert_eq burn "$(jq -r .metric.service <<<"$series")" "service label (moor.service)"
  series=$(pq_series 'moor_phpfpm_total_processes{container="php"}' | head -1)
  assert_eq php "$(jq -r .metric.service <<<"$series")" "php's service label (from the image's labels)"
  assert_eq mtest "$(jq -r .metric.app <<<"$series")" "php's app label"
  assert_eq 1 "$(pq 'moor_container_running{container="hog"}')" "moor_container_running{container=hog} is 1"
  local n
  for n in memory_cache_bytes oom_kills_total pids start_time_seconds restarts_total; do
    assert_ne "" "$(pq "moor_container_$n{container=\"hog\"}")" "moor_container_$n{container=hog} exists"
  done
  assert_ne "" "$(pq 'moor_container_network_receive_bytes_total{container="php"}')" \
    "moor_container_network_receive_bytes_total{container=php} exists"

  # --- daemon metrics
  M inspect hog >/dev/null
  M ps >/dev/null
  wait_for 10 "API histogram in prometheus" pq_gt 'sum(moor_api_request_duration_seconds_count)' 0
  local routes
  routes=$(curl -sf "http://$PROM_ADDR/api/v1/label/route/values" | jq -r '.data[]' | tr '\n' ' ')
  say "  info - route label values: $routes"
  assert_true "moor_api_request_duration_seconds_count > 0" pq_gt 'sum(moor_api_request_duration_seconds_count)' 0
  assert_not_contains "$routes" "$full" "no container id in a route label (the router's pattern)"
  assert_not_contains "$routes" "/hog" "no container name in a route label"
  assert_contains "$routes" "{" "a route label with a {parameter} pattern"
  assert_ne "" "$(pq 'moor_build_info')" "moor_build_info exists"
  assert_ne "" "$(pq_series 'moor_build_info' | jq -r '.metric.version // empty' | head -1)" "with a version label"

  # --- the raw exposition passes promtool, on TCP and on the API socket
  metrics >"$T_TMP/metrics.txt" || fail "GET /metrics"
  capture "$PROMTOOL" check metrics <"$T_TMP/metrics.txt"
  assert_eq 0 "$RC" "promtool check metrics passes (TCP /metrics): $(_clip "$OUT $ERR")"
  curl -sf --max-time 5 --unix-socket "$E_SOCK" http://moor/metrics >"$T_TMP/metrics-sock.txt" ||
    fail "GET /metrics on the API socket"
  capture "$PROMTOOL" check metrics <"$T_TMP/metrics-sock.txt"
  assert_eq 0 "$RC" "promtool check metrics passes (API socket /metrics): $(_clip "$OUT $ERR")"
  assert_contains "$(cat "$T_TMP/metrics-sock.txt")" 'moor_container_cpu_seconds_total{' "the socket's /metrics has the container series"
  assert_eq 0 "$(grep -c $'\r' "$T_TMP/metrics.txt")" "no CR in the exposition"
  local ctype
  ctype=$(curl -sf -o /dev/null -w '%{content_type}' "http://$MET_ADDR/metrics")
  assert_contains "$ctype" "text/plain" "Content-Type text/plain ($ctype)"
  assert_contains "$ctype" "version=0.0.4" "Content-Type version=0.0.4"

  # --- a removed container's series go
  M rm -f hog >/dev/null || fail "rm -f hog"
  wait_for 10 "hog's series gone from /metrics" \
    bash -c "! curl -sf http://$MET_ADDR/metrics | grep -q 'container=\"hog\"'"
}

# A bad --metrics-addr stops the daemon at once with one line: a second daemon, with its own
# root, in a network namespace of its own (its bridge must not meet the first one's), where a
# listener holds 127.0.0.1:9464 for the "in use" case.
t_bad_addr() {
  local root="$T_TMP/bad-root" run addr out rc
  run=$(mktemp -d /tmp/mrb.XXXXXX)
  for addr in 127.0.0.1:notaport nohost 127.0.0.1:9464; do
    mkdir -p "$root"
    capture timeout -k 2 15 unshare --net bash -c '
      ip link set lo up
      python3 -c "import socket, time
s = socket.socket(); s.bind((\"127.0.0.1\", 9464)); s.listen(); time.sleep(20)" &
      l=$!
      sleep 0.5
      timeout -k 2 10 "$@"
      rc=$?
      kill $l; wait $l 2>/dev/null
      exit $rc' sh "$MOOR" daemon --root "$root" --exec-root "$run" -H "unix://$run/m.sock" \
      --dns-addr none --consul-addr none --metrics-addr "$addr"
    out=$(printf "%s\n%s\n" "$ERR" "$OUT" | grep -v "^moor: info" | grep . || true)
    assert_true "--metrics-addr $addr: the daemon exits non-zero (status $RC), not killed by timeout" \
      test "$RC" != 0 -a "$RC" != 124 -a "$RC" != 137
    assert_eq 1 "$(printf '%s\n' "$out" | grep -c .)" "--metrics-addr $addr: one line ($(_clip "$out"))"
    rm -rf "$root"
  done
  rm -rf "$run"
}

if ! grep -q -- '--metrics-addr' <<<"$("$MOOR" daemon --help 2>&1)"; then
  T_FAIL=1
  T_FAILED_CASES+=("moor daemon has no --metrics-addr: metrics are not in this build ($MOOR_BIN)")
  finish
fi
E_DAEMON_FLAGS=(--metrics-addr "$MET_ADDR")
engine_setup
t0=$SECONDS
if ! "$MOOR_SRC/scripts/make-images.sh" --moor "$MOOR" --root "$E_ROOT" >"$T_TMP/make-images.out" 2>&1; then
  say "make-images.sh failed: $(tail -n 5 "$T_TMP/make-images.out" | tr '\n' '|')"
  T_FAIL=1
  T_FAILED_CASES+=("importing the moor/* images failed")
  finish
fi
say "images imported in $((SECONDS - t0)) s"
ecase "prometheus scrapes moor: CPU, memory, php-fpm pool, API histogram, labels; promtool passes" t_prometheus
ecase "a bad --metrics-addr stops the daemon with one line" t_bad_addr
finish

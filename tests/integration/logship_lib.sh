# shellcheck shell=bash
# Shared helpers for the log shipping integration tests (tests/integration/logship_*_test.sh):
# real receivers run privately inside the test's network namespace, a fast line generator,
# and checks of what arrived.
#
# On top of engine_lib.sh (which re-executes the script under `unshare --net --mount`, so
# every port below exists only in the test's own namespace; all traffic is to 127.0.0.1):
#   - rsyslog: a private rsyslogd (-n -f CONF -i PIDFILE, its own work dir) with imtcp and
#     imudp on 127.0.0.1, writing each message as one JSON object with its RFC 5424 fields
#     (HOSTNAME, APP-NAME, PROCID, MSGID, STRUCTURED-DATA, MSG) to a file. The system's
#     rsyslog is never touched (a different config, pid file and work dir, other ports).
#   - Loki: fixtures/logship/loki_receiver.py, a strict Loki-push-compatible receiver.
#     Grafana Loki is not packaged by Debian (Debian's `loki` is an unrelated pedigree
#     analysis program) and nothing may be installed from outside Debian, so the tests
#     check moor against Loki's documented push format instead of the real server.
#   - gen: fixtures/logship/gen.c built static and bind-mounted into the busybox image.
#   - checks: fixtures/logship/check.py compares what a receiver got with what was written.

source "$(dirname "${BASH_SOURCE[0]}")/engine_lib.sh"

L_FIX="$T_LIB_DIR/fixtures/logship"
L_DIR="$T_TMP/logship"
mkdir -p "$L_DIR"
L_NODE=lsnode1   # the daemon's --node-name (the node label of shipped logs)
# The API socket, for curl.
L_CURL=(curl -sS --max-time 10 --unix-socket "$E_SOCK")

for tool in rsyslogd curl gcc; do
  if ! command -v "$tool" >/dev/null; then
    say "$T_NAME: missing tool $tool (run scripts/setup.sh)"
    T_FAIL=1
    T_FAILED_CASES+=("missing tool $tool")
    finish
  fi
done

# step_ok / step_fail MSG: the per-step lines the log shipping tests print (with numbers).
step_ok() { say "  PASS - $*"; }
step_fail() { _record_fail "$*"; }
# check_step MSG CMD...: PASS when CMD succeeds, else FAIL (and the case fails).
check_step() {
  local msg=$1; shift
  if "$@"; then step_ok "$msg"; else step_fail "$msg"; return 1; fi
}

# ---------------------------------------------------------------------------------------
# moor: flags and API

# logship_supported: the daemon under test has --log-output (the feature is built in).
# (The help is read whole first: under pipefail, grep -q closing the pipe early would make
# the pipeline fail at random with SIGPIPE.)
logship_supported() {
  local help
  help=$("$MOOR" daemon --help 2>&1)
  grep -q -- '--log-output' <<<"$help"
}

# require_logship: ends the script with a clear failure when the binary lacks log shipping.
require_logship() {
  if ! logship_supported; then
    say "$T_NAME: $MOOR daemon has no --log-output (log shipping is not built in)"
    T_FAIL=1
    T_FAILED_CASES+=("moor daemon has no --log-output")
    finish
  fi
}

# logship_json: GET /v1/moor/logship on the daemon's socket.
logship_json() { "${L_CURL[@]}" http://moor/v1/moor/logship; }
# out_field NAME JQ: one field of output NAME in the status ("" when absent).
out_field() { logship_json 2>/dev/null | jq -r --arg n "$1" ".outputs[] | select(.name == \$n) | $2" 2>/dev/null; }
# metrics: GET /metrics on the daemon's socket (Prometheus text).
metrics() { "${L_CURL[@]}" http://moor/metrics; }
# metric_value NAME OUTPUT: the value of NAME{output="OUTPUT"} ("" when absent).
metric_value() {
  metrics 2>/dev/null | awk -v n="$1" -v o="output=\"$2\"" \
    'index($0, n "{") == 1 && index($0, o) > 0 { print $NF; exit }'
}

# lag_zero NAME: output NAME has shipped everything in the spool.
lag_zero() { [[ "$(out_field "$1" .lag_bytes)" == 0 ]]; }
# wait_lag_zero SECS NAME...: waits until every output has lag 0.
wait_lag_zero() {
  local secs=$1 n; shift
  for n in "$@"; do
    wait_for "$secs" "output $n to reach lag 0 (lag_bytes $(out_field "$n" .lag_bytes))" lag_zero "$n" || return 1
  done
}

# ---------------------------------------------------------------------------------------
# rsyslog

# rsyslog_start NAME TCP_PORT [UDP_PORT]: a private rsyslogd; messages go to $L_DIR/NAME.jsonl.
rsyslog_start() {
  local name=$1 tport=$2 uport=${3:-}
  local d="$L_DIR/rsyslog-$name"
  mkdir -p "$d/work"
  local udp=""
  [[ -n "$uport" ]] && udp="module(load=\"imudp\")
input(type=\"imudp\" address=\"127.0.0.1\" port=\"$uport\" rcvbufSize=\"8m\")"
  # Direct main queue: a message is in the file before rsyslogd reads the next bytes, so
  # what its TCP acknowledged and it had time to read is never lost when it is stopped.
  # Control characters are kept (a joined multi-line event keeps its newlines; jsonf
  # escapes them). Messages up to 256 KiB (joined events are up to 64 KiB).
  cat >"$d/rsyslog.conf" <<EOF
global(workDirectory="$d/work" maxMessageSize="256k"
       parser.escapeControlCharactersOnReceive="off")
main_queue(queue.type="Direct")
module(load="imtcp" MaxSessions="20")
input(type="imtcp" address="127.0.0.1" port="$tport")
$udp
template(name="moorjson" type="list") {
  constant(value="{")
  property(outname="pri" name="pri" format="jsonf") constant(value=",")
  property(outname="time" name="timereported" dateFormat="rfc3339" format="jsonf") constant(value=",")
  property(outname="host" name="hostname" format="jsonf") constant(value=",")
  property(outname="app" name="app-name" format="jsonf") constant(value=",")
  property(outname="procid" name="procid" format="jsonf") constant(value=",")
  property(outname="msgid" name="msgid" format="jsonf") constant(value=",")
  property(outname="sd" name="structured-data" format="jsonf") constant(value=",")
  property(outname="proto" name="protocol-version" format="jsonf") constant(value=",")
  property(outname="msg" name="msg" format="jsonf")
  constant(value="}\n")
}
if \$app-name != "rsyslogd" then {
  action(type="omfile" file="$L_DIR/$name.jsonl" template="moorjson")
}
EOF
  rm -f "$d/pid"
  rsyslogd -n -f "$d/rsyslog.conf" -i "$d/pid" </dev/null >>"$d/rsyslogd.log" 2>&1 &
  local pid=$!
  disown "$pid"  # the cleanup may kill it: no job notice
  echo "$pid" >"$d/daemon.pid"
  track_pid "$pid"
  wait_for 10 "rsyslogd $name to listen on 127.0.0.1:$tport" tcp_listening "$tport" || {
    say "  rsyslogd log: $(tail -n 5 "$d/rsyslogd.log")"
    return 1
  }
}
# rsyslog_stop NAME: SIGTERM, wait for it to exit (it flushes its file).
rsyslog_stop() {
  local d="$L_DIR/rsyslog-$1" pid
  pid=$(cat "$d/daemon.pid" 2>/dev/null)
  [[ -z "$pid" ]] && return 0
  kill -TERM "$pid" 2>/dev/null
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  : >"$d/daemon.pid"
}

# tcp_listening PORT: something listens on 127.0.0.1:PORT (TCP).
tcp_listening() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

# ---------------------------------------------------------------------------------------
# Loki

# loki_start NAME PORT: the receiver; lines go to $L_DIR/NAME.jsonl, stats to NAME.stats,
# failures are injected with loki_fail NAME CODE SECS.
loki_start() {
  local name=$1 port=$2
  /usr/bin/python3 "$L_FIX/loki_receiver.py" --port "$port" --out "$L_DIR/$name.jsonl" \
    --stats "$L_DIR/$name.stats" --fail-file "$L_DIR/$name.fail" \
    </dev/null >>"$L_DIR/$name.log" 2>&1 &
  local pid=$!
  disown "$pid"
  echo "$pid" >"$L_DIR/$name.pid"
  track_pid "$pid"
  wait_for 10 "loki receiver $name to listen on 127.0.0.1:$port" tcp_listening "$port"
}
loki_stop() {
  local pid
  pid=$(cat "$L_DIR/$1.pid" 2>/dev/null)
  [[ -z "$pid" ]] && return 0
  kill -TERM "$pid" 2>/dev/null
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -KILL "$pid" 2>/dev/null
  : >"$L_DIR/$1.pid"
}
# loki_fail NAME CODE SECS: answer CODE to every push for SECS seconds.
loki_fail() { echo "$2 $(($(date +%s) + $3))" >"$L_DIR/$1.fail"; }
# loki_stat NAME KEY: a counter of the receiver (ok, bad, failed, lines, last_error).
loki_stat() { jq -r ".$2" "$L_DIR/$1.stats" 2>/dev/null; }

# ---------------------------------------------------------------------------------------
# The generator

# build_gen: compiles gen.c (static) to $L_DIR/bin/gen; the dir is bind-mounted at /lsbin.
build_gen() {
  mkdir -p "$L_DIR/bin"
  gcc -O2 -static -o "$L_DIR/bin/gen" "$L_FIX/gen.c" 2>"$L_DIR/gen.err" || {
    say "  building gen failed: $(head -n 5 "$L_DIR/gen.err")"
    return 1
  }
}

# check KIND FILE ARGS...: fixtures/logship/check.py (prints numbers, exit 0 = as expected).
check() { /usr/bin/python3 "$L_FIX/check.py" "$@"; }

# await_check SECS MSG KIND FILE CHECK_ARGS...: polls the check until it holds (receivers
# get the last records a little after the lag reaches 0, e.g. a multi-line event flushed
# after its idle time), then prints its numbers with PASS or FAIL.
await_check() {
  local secs=$1 msg=$2; shift 2
  local deadline=$((SECONDS + secs)) out rc
  while :; do
    out=$(check "$@" 2>&1)
    rc=$?
    ((rc == 0 || SECONDS >= deadline)) && break
    sleep 1
  done
  if ((rc == 0)); then step_ok "$msg: ${out%%$'\n'*}"; else
    step_fail "$msg: $out"
  fi
  printf '%s\n' "$out" | head -n 1 >>"$L_DIR/numbers"
  return "$rc"
}

# wait_exited SECS CONTAINER: waits for the container's main process to end.
wait_exited() { wait_status "$1" "$2" exited; }

# gen_run NAME TAG COUNT RATE MODE [RUN_FLAGS...]: a container running the generator.
gen_run() {
  local name=$1 tag=$2 count=$3 rate=$4 mode=$5; shift 5
  M run -d --name "$name" -v "$L_DIR/bin:/lsbin:ro" "$@" "$E_IMG" /lsbin/gen "$tag" "$count" "$rate" "$mode" \
    >/dev/null 2>"$L_DIR/run.err" || die "run $name failed: $(cat "$L_DIR/run.err")"
}

# logship_summary: one line of numbers per output, from GET /v1/moor/logship.
logship_summary() {
  logship_json 2>/dev/null | jq -r '.outputs[] | "    \(.name) (\(.type)): connected \(.connected), sent \(.records_sent), dropped \(.dropped), lag \(.lag_bytes) B, errors \(.send_errors)"' 2>/dev/null
  logship_json 2>/dev/null | jq -r '"    spool: \(.spool.bytes) B in \(.spool.segments) segments, budget \(.spool.budget)"' 2>/dev/null
}

# revive_daemon: a daemon without log outputs, so the case's cleanup can remove its
# containers after the daemon under test died (it must not leak them).
revive_daemon() {
  daemon_stop
  E_DAEMON_FLAGS=(--node-name "$L_NODE")
  rm -rf "$E_ROOT/logship"
  daemon_start >/dev/null
}

#!/usr/bin/env bash
# Log shipping through receiver outages.
#
# 1. One container writes 10,000 lines/s for ~70 s (gen.c, odd lines on stdout, even on
#    stderr; its json-file log rotates on the way). rsyslogd is stopped 5 s in and started
#    again on the same port 60 s later; meanwhile the Loki receiver answers 500 for 20 s,
#    then 429 for 15 s. Once the generator has ended and both outputs have lag 0, every
#    line has arrived at both (at-least-once: duplicates are counted and must stay small).
# 2. A tiny spool (--log-disk-budget 4m) and the syslog receiver down while 200,000 lines
#    are written: the spool stays within its budget, and once the receiver is up the number
#    of lines that never arrived equals moor_logship_dropped_total{output="tiny"} exactly.
#
# Loki here is fixtures/logship/loki_receiver.py (Grafana Loki is not in Debian; see
# logship_receivers_test.sh). NETWORK: everything listens on 127.0.0.1 inside the test's
# own network namespace (engine_lib.sh).

source "$(dirname "$0")/logship_lib.sh"
require_logship

P_TCP=15514 P_LOKI=13100 P_TINY=15520
RATE=${LOGSHIP_OUTAGE_RATE:-10000}
SECS=${LOGSHIP_OUTAGE_SECS:-70}
COUNT=$((RATE * SECS))
E_DAEMON_FLAGS=(--node-name "$L_NODE"
  --log-output "syslog-tcp://127.0.0.1:$P_TCP"
  --log-output "loki://127.0.0.1:$P_LOKI")

rsyslog_start tcp "$P_TCP" || { T_FAIL=1; T_FAILED_CASES+=("rsyslogd did not start"); finish; }
loki_start loki "$P_LOKI" || { T_FAIL=1; T_FAILED_CASES+=("loki receiver did not start"); finish; }
build_gen || { T_FAIL=1; T_FAILED_CASES+=("gen.c did not build"); finish; }
engine_setup

# lines_read: moor_logship_lines_read_total; lines_read_ge N: it is at least N.
lines_read() { metrics 2>/dev/null | awk '/^moor_logship_lines_read_total/ { print $NF; exit }'; }
lines_read_ge() { local v; v=$(lines_read); [[ "$v" =~ ^[0-9]+$ ]] && ((v >= $1)); }
# lines_in FILE: lines a receiver wrote so far.
lines_in() { wc -l <"$1" 2>/dev/null || echo 0; }

t_outage() {
  local t0=$SECONDS
  gen_run fast1 OUT "$COUNT" "$RATE" both -l moor.service=fast
  sleep 5
  local before
  before=$(lines_in "$L_DIR/tcp.jsonl")
  rsyslog_stop tcp
  step_ok "rsyslogd stopped at t=$((SECONDS - t0)) s after $before lines"
  sleep 5
  loki_fail loki 500 20
  sleep 20
  loki_fail loki 429 15
  sleep 15
  # the output noticed: not connected, and the lag grows
  local conn lag
  conn=$(out_field syslog-tcp .connected) lag=$(out_field syslog-tcp .lag_bytes)
  if [[ "$conn" == false && "$lag" =~ ^[0-9]+$ ]] && ((lag > 0)); then
    step_ok "while rsyslogd is down: syslog-tcp connected=false, lag $lag B, lag_seconds $(out_field syslog-tcp .lag_seconds)"
  else
    step_fail "while rsyslogd is down: syslog-tcp connected=[$conn] lag_bytes=[$lag] (want false, > 0)"
  fi
  local rest=$((65 - (SECONDS - t0)))
  ((rest > 0)) && sleep "$rest"
  rsyslog_start tcp "$P_TCP" || die "rsyslogd did not start again"
  step_ok "rsyslogd started again at t=$((SECONDS - t0)) s; loki answered $(loki_stat loki failed) pushes with 500/429"
  wait_exited $((SECS + 60)) fast1 || die "the generator did not end"
  step_ok "the generator ended at t=$((SECONDS - t0)) s ($COUNT lines)"
  local t1=$SECONDS
  wait_lag_zero 180 syslog-tcp loki && step_ok "lag 0 on both outputs $((SECONDS - t1)) s after the generator ended"
  logship_summary
  local bound=$((RATE * 3))
  await_check 60 "syslog-tcp: every line after the outage (dups <= $bound)" syslog "$L_DIR/tcp.jsonl" \
    --tag OUT --count "$COUNT" --mode both --label service=fast --label container=fast1 --max-dups "$bound"
  await_check 60 "loki: every line after 500s and 429s (dups <= $bound)" loki "$L_DIR/loki.jsonl" \
    --tag OUT --count "$COUNT" --mode both --label service=fast --label container=fast1 --max-dups "$bound"
  assert_eq 0 "$(loki_stat loki bad)" "the Loki receiver refused no push (last error: $(loki_stat loki last_error))"
  local errs
  errs=$(out_field loki .send_errors)
  if [[ "$errs" =~ ^[0-9]+$ ]] && ((errs > 0)); then step_ok "loki send_errors counted the failed pushes: $errs"; else
    step_fail "loki send_errors is [$errs] after $(loki_stat loki failed) failed pushes"
  fi
  assert_eq 0 "$(out_field syslog-tcp .dropped)" "nothing dropped (syslog-tcp) within the default budget"
}

t_budget() {
  # A fresh spool with a 4 MiB budget and one output whose receiver is down.
  daemon_stop
  rm -rf "$E_ROOT/logship"
  E_DAEMON_FLAGS=(--node-name "$L_NODE" --log-disk-budget 4m --log-output "tiny=syslog-tcp://127.0.0.1:$P_TINY")
  daemon_start || die "the daemon did not start with --log-disk-budget 4m"
  local n=200000
  gen_run bud1 BUD "$n" 40000 out -l moor.service=bud
  wait_exited 60 bud1
  local read_total
  wait_for 60 "the tailer to read all $n lines (moor_logship_lines_read_total $(lines_read))" lines_read_ge "$n"
  read_total=$(lines_read)
  local bytes budget
  bytes=$(logship_json | jq -r .spool.bytes) budget=$(logship_json | jq -r .spool.budget)
  if [[ "$bytes" =~ ^[0-9]+$ && "$budget" == 4194304 ]] && ((bytes <= budget)); then
    step_ok "spool within its budget: $bytes B <= $budget B (lines read $read_total)"
  else
    step_fail "spool: $bytes B, budget [$budget] (want <= 4194304)"
  fi
  local dropped
  dropped=$(metric_value moor_logship_dropped_total tiny)
  if [[ "$dropped" =~ ^[0-9]+$ ]] && ((dropped > 0)); then step_ok "moor_logship_dropped_total{output=\"tiny\"} $dropped"; else
    die "moor_logship_dropped_total{output=\"tiny\"} is [$dropped], want > 0 (200,000 lines into a 4 MiB spool)"
  fi
  rsyslog_start tiny "$P_TINY" || die "rsyslogd tiny did not start"
  wait_lag_zero 60 tiny && step_ok "tiny reached lag 0"
  # dropped must not have moved after the receiver came back
  local dropped2 status_dropped
  dropped2=$(metric_value moor_logship_dropped_total tiny)
  status_dropped=$(out_field tiny .dropped)
  assert_eq "$dropped" "$dropped2" "dropped_total unchanged once the receiver is up"
  assert_eq "$dropped" "$status_dropped" "GET /v1/moor/logship says the same dropped count"
  logship_summary
  await_check 30 "tiny: lines missing == moor_logship_dropped_total ($dropped)" syslog "$L_DIR/tiny.jsonl" \
    --tag BUD --count "$n" --mode out --expect-missing "$dropped" --max-dups 20000
}

ecase "10,000 lines/s through a 60 s rsyslog outage and Loki 500/429: every line arrives" t_outage
ecase "4 MiB budget, receiver down: missing lines == moor_logship_dropped_total" t_budget
finish

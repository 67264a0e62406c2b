#!/usr/bin/env bash
# Log shipping survives daemon crashes: a container writes 5,000 lines/s for 60 s (odd
# lines on stdout, even on stderr) while the daemon ships them to rsyslog (syslog-tcp) and a
# Loki receiver. The daemon is SIGKILLed twice (at 15 s and 35 s) and started again 5 s
# later each time with the same --root; the container outlives it and keeps writing.
# Every line — written before, during and after the crashes — must arrive at both
# receivers; duplicates (at-least-once: what was sent after the last cursor commit) are
# counted and must stay within 3 s of lines per crash.
#
# Loki here is fixtures/logship/loki_receiver.py (Grafana Loki is not in Debian; see
# logship_receivers_test.sh). NETWORK: everything listens on 127.0.0.1 inside the test's
# own network namespace (engine_lib.sh).

source "$(dirname "$0")/logship_lib.sh"
require_logship

P_TCP=15514 P_LOKI=13100
RATE=${LOGSHIP_CRASH_RATE:-5000}
SECS=${LOGSHIP_CRASH_SECS:-60}
COUNT=$((RATE * SECS))
E_DAEMON_FLAGS=(--node-name "$L_NODE"
  --log-output "syslog-tcp://127.0.0.1:$P_TCP"
  --log-output "loki://127.0.0.1:$P_LOKI")

rsyslog_start tcp "$P_TCP" || { T_FAIL=1; T_FAILED_CASES+=("rsyslogd did not start"); finish; }
loki_start loki "$P_LOKI" || { T_FAIL=1; T_FAILED_CASES+=("loki receiver did not start"); finish; }
build_gen || { T_FAIL=1; T_FAILED_CASES+=("gen.c did not build"); finish; }
engine_setup

t_crash() {
  local t0=$SECONDS k
  gen_run crash1 CR "$COUNT" "$RATE" both -l moor.service=crash -l moor.release=3
  for k in 1 2; do
    sleep 12
    local sent
    sent=$(out_field syslog-tcp .records_sent)
    daemon_kill9
    step_ok "crash $k: daemon SIGKILLed at t=$((SECONDS - t0)) s (syslog-tcp had sent $sent records)"
    sleep 5
    daemon_start || die "the daemon did not start again after crash $k"
    assert_eq running "$(status_of crash1)" "crash $k: the container outlived the daemon"
    sleep 3
    if ! kill -0 "$(cat "$T_TMP/daemon.pid")" 2>/dev/null; then
      local why
      why=$(grep -v '^$' "$E_LOG" | tail -n 3 | tr '\n' ' ')
      revive_daemon
      die "crash $k: the restarted daemon died within 3 s: $why"
    fi
    step_ok "crash $k: restarted daemon is up; syslog-tcp connected=$(out_field syslog-tcp .connected)"
  done
  wait_exited $((SECS + 60)) crash1 || die "the generator did not end"
  step_ok "the generator ended at t=$((SECONDS - t0)) s ($COUNT lines)"
  local t1=$SECONDS
  wait_lag_zero 120 syslog-tcp loki && step_ok "lag 0 on both outputs $((SECONDS - t1)) s after the generator ended"
  logship_summary
  local bound=$((RATE * 3 * 2))
  local labels=(--label service=crash --label container=crash1 --label release=3 --label node="$L_NODE")
  await_check 60 "syslog-tcp: every line across 2 crashes (dups <= $bound)" syslog "$L_DIR/tcp.jsonl" \
    --tag CR --count "$COUNT" --mode both "${labels[@]}" --max-dups "$bound"
  await_check 60 "loki: every line across 2 crashes (dups <= $bound)" loki "$L_DIR/loki.jsonl" \
    --tag CR --count "$COUNT" --mode both "${labels[@]}" --max-dups "$bound"
  assert_eq 0 "$(loki_stat loki bad)" "the Loki receiver refused no push (last error: $(loki_stat loki last_error))"
}

ecase "SIGKILLed daemon: every line arrives after restarts, duplicates bounded" t_crash
finish

#!/usr/bin/env bash
# Log shipping to real receivers: a private rsyslogd (syslog over TCP, RFC 6587 octet
# counting, and over UDP), a Loki-push-compatible receiver, and moor's file output.
#
# Grafana Loki itself is not used: it is not packaged by Debian (Debian's `loki` package
# is an unrelated pedigree analysis program) and nothing may be installed from elsewhere,
# so fixtures/logship/loki_receiver.py stands in for it, checking every push strictly
# against Loki's documented push format (and answering as Loki does).
#
# Three containers print numbered lines:
#   web1    moor.app=shop moor.app.service=web moor.release=7: 400 lines, odd on stdout,
#           even on stderr (gen.c)
#   worker1 moor.service=worker moor.log.multiline.start='^ML ': 100 events of 3 lines
#   api1    moor.service=api moor.log.json=true: 100 JSON objects (one key clashes)
# Checks: every line reaches every receiver, in order per container and stream, with the
# labels of its container (service, container, container_id, image, node, stream; release
# and app only where set), multi-line events joined, JSON fields merged in the file output;
# GET /v1/moor/logship, `moor logship` and /metrics count what was sent.
#
# NETWORK: engine_lib.sh runs the script in its own network namespace; the receivers
# listen on 127.0.0.1 there, and nothing is sent anywhere else.

source "$(dirname "$0")/logship_lib.sh"
require_logship

P_TCP=15514 P_UDP=15515 P_TCP2=15516 P_LOKI=13100
FILE_OUT="$L_DIR/moor-file.jsonl"
E_DAEMON_FLAGS=(--node-name "$L_NODE"
  --log-output "syslog-tcp://127.0.0.1:$P_TCP"
  --log-output "sudp=syslog-udp://127.0.0.1:$P_UDP?facility=local0"
  --log-output "loki://127.0.0.1:$P_LOKI?label.env=itest"
  --log-output "file://$FILE_OUT")

rsyslog_start tcp "$P_TCP" || { T_FAIL=1; T_FAILED_CASES+=("rsyslogd did not start"); finish; }
# A second rsyslogd for UDP, so the two transports land in different files.
rsyslog_start udp "$P_TCP2" "$P_UDP" || { T_FAIL=1; T_FAILED_CASES+=("rsyslogd (udp) did not start"); finish; }
loki_start loki "$P_LOKI" || { T_FAIL=1; T_FAILED_CASES+=("loki receiver did not start"); finish; }
build_gen || { T_FAIL=1; T_FAILED_CASES+=("gen.c did not build"); finish; }
engine_setup

t_receivers() {
  local t0=$SECONDS
  gen_run web1 WEB 400 2000 both -l moor.app=shop -l moor.app.service=web -l moor.release=7
  M run -d --name worker1 -l moor.service=worker -l 'moor.log.multiline.start=^ML ' "$E_IMG" sh -c '
    i=1; while [ $i -le 100 ]; do
      printf "ML stdout %08d event\n    at frame 1 of %d\n    at frame 2 of %d\n" $i $i $i; i=$((i+1))
    done; sleep 3600' >/dev/null || die "run worker1"
  M run -d --name api1 -l moor.service=api -l moor.log.json=true "$E_IMG" sh -c '
    i=1; while [ $i -le 100 ]; do
      echo "{\"tag\":\"JS\",\"seq\":$i,\"level\":\"info\",\"msg\":\"json $i\",\"service\":\"fake\"}"; i=$((i+1))
    done; sleep 3600' >/dev/null || die "run api1"
  local web_id worker_id api_id
  web_id=$(ijq web1 .Id) worker_id=$(ijq worker1 .Id) api_id=$(ijq api1 .Id)
  wait_exited 30 web1
  wait_lag_zero 30 syslog-tcp sudp loki file && step_ok "all 4 outputs reached lag 0 in $((SECONDS - t0)) s"

  local web=(--label service=web --label container=web1 --label "container_id=$web_id" --label image="$E_IMG"
    --label node="$L_NODE" --label release=7 --label app=shop)
  local worker=(--label service=worker --label container=worker1 --label "container_id=$worker_id"
    --label image="$E_IMG" --label node="$L_NODE" --absent release --absent app)
  local api=(--label service=api --label container=api1 --label "container_id=$api_id"
    --label image="$E_IMG" --label node="$L_NODE" --absent release --absent app)
  local k f
  for k in syslog-tcp syslog-udp loki file; do
    case $k in
      syslog-tcp) f=(syslog "$L_DIR/tcp.jsonl") ;;
      syslog-udp) f=(syslog "$L_DIR/udp.jsonl" --facility 16) ;;
      loki) f=(loki "$L_DIR/loki.jsonl" --label env=itest) ;;
      file) f=(file "$FILE_OUT") ;;
    esac
    await_check 30 "$k: web1 lines (stdout+stderr) with labels" "${f[@]}" --tag WEB --count 400 --mode both "${web[@]}"
    await_check 30 "$k: worker1 multi-line events joined" "${f[@]}" --tag ML --count 100 --frames 2 "${worker[@]}"
    await_check 30 "$k: api1 JSON lines" "${f[@]}" --tag JS --count 100 --json "${api[@]}"
  done
  assert_eq 0 "$(loki_stat loki bad)" "the Loki receiver refused no push (last error: $(loki_stat loki last_error))"

  # The status: API, CLI and metrics agree that the records were sent.
  local out sent
  for out in syslog-tcp sudp loki file; do
    sent=$(out_field "$out" .records_sent)
    if [[ "$sent" =~ ^[0-9]+$ ]] && ((sent >= 600)); then
      step_ok "GET /v1/moor/logship: $out records_sent=$sent (>= 600)"
    else
      step_fail "GET /v1/moor/logship: $out records_sent=[$sent], want >= 600; status: $(_clip "$(logship_json 2>&1)")"
    fi
  done
  assert_eq true "$(out_field syslog-tcp .connected)" "syslog-tcp is connected"
  assert_eq "127.0.0.1:$P_TCP" "$(out_field syslog-tcp .address)" "syslog-tcp address in the status"
  assert_eq loki "$(out_field loki .type)" "the loki output's type"
  capture M logship
  if [[ $RC == 0 && "$OUT" == *syslog-tcp* && "$OUT" == *loki* && "$OUT" == *sudp* ]]; then
    step_ok "moor logship lists the 4 outputs"
  else
    step_fail "moor logship: exit $RC, out [$(_clip "$OUT")] err [$(_clip "$ERR")]"
  fi
  local m
  m=$(metric_value moor_logship_records_sent_total loki)
  if [[ -n "$m" ]] && awk -v v="$m" 'BEGIN { exit !(v >= 600) }'; then
    step_ok "/metrics: moor_logship_records_sent_total{output=\"loki\"} $m"
  else
    step_fail "/metrics: moor_logship_records_sent_total{output=\"loki\"} is [$m], want >= 600"
  fi
  logship_summary
}

# Short jobs run with --rm are gone (files and all) the moment `moor run` returns, often
# before the shipper's next listing: their log is opened before the files are deleted.
t_rm_jobs() {
  local k
  for k in 1 2 3 4 5; do
    M run --rm --name "job$k" -l moor.service=job -v "$L_DIR/bin:/lsbin:ro" "$E_IMG" \
      /lsbin/gen "RM$k" 300 0 both >/dev/null 2>"$L_DIR/run.err" || die "run --rm job$k: $(cat "$L_DIR/run.err")"
    [[ -z "$(M ps -a -q -f name=job$k 2>/dev/null)" ]] || step_fail "job$k is still there after moor run --rm"
  done
  step_ok "5 jobs ran with --rm and are gone"
  for k in 1 2 3 4 5; do
    await_check 30 "file: every line of --rm job$k" file "$FILE_OUT" --tag "RM$k" --count 300 --mode both \
      --label service=job --label container="job$k"
  done
  # (The receivers of the first case are gone with its cleanup: the file output tells.)
}

ecase "every line reaches rsyslog (tcp, udp), Loki and the file, with labels" t_receivers
ecase "containers run with --rm ship every line" t_rm_jobs
finish

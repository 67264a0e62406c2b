#!/usr/bin/env bash
# Log shipping through a full disk: the daemon's spool (ROOT/logship) is a small tmpfs made
# by the test in its own mount namespace. While a container writes, a file fills that disk:
# the spool's writes fail (ENOSPC). The lines must wait, not vanish: `moor logship` and the
# API show spool errors and lines held, and once the disk has room again every line
# arrives, in order — also when the daemon is SIGKILLed while the disk is full.
#
# The receiver is moor's file output (on the test's disk, not the full one), set in the
# daemon's config file. NETWORK: none;
# engine_lib.sh runs the script in its own network and mount namespaces.

source "$(dirname "$0")/logship_lib.sh"
require_logship

OUT="$L_DIR/out.jsonl"
SPOOL_FS="$E_ROOT/logship"
# Configured the way a server would be: the daemon's JSON config file (docs/engine.md).
printf '{"node-name": "%s", "log-output": ["file://%s"]}\n' "$L_NODE" "$OUT" >"$L_DIR/daemon.json"
E_DAEMON_FLAGS=(--config-file "$L_DIR/daemon.json")

mkdir -p "$SPOOL_FS"
mount -t tmpfs -o size=16m moor-itest-spool "$SPOOL_FS" ||
  { T_FAIL=1; T_FAILED_CASES+=("cannot mount a tmpfs for the spool"); finish; }
build_gen || { T_FAIL=1; T_FAILED_CASES+=("gen.c did not build"); finish; }
engine_setup

status_field() { logship_json 2>/dev/null | jq -r ".$1" 2>/dev/null; }
held() { local n; n=$(status_field records_held); [[ -n "$n" && "$n" != null && "$n" -gt 0 ]]; }
drained() { [[ "$(status_field records_held)" == 0 ]] && lag_zero file; }
# fill_disk: a file takes every free byte of the spool's disk.
fill_disk() { dd if=/dev/zero of="$SPOOL_FS/hog" bs=64k >/dev/null 2>&1 || true; }
free_disk() { rm -f "$SPOOL_FS/hog"; }

# t_full NAME TAG CRASH: a container writes 30,000 lines at 3,000/s; the disk fills 2 s in.
t_full() {
  local name=$1 tag=$2 crash=$3 count=30000
  gen_run "$name" "$tag" "$count" 3000 both -l moor.service=full
  sleep 2
  fill_disk
  step_ok "the spool's disk is full ($(df -h --output=avail "$SPOOL_FS" | tail -n 1 | tr -d ' ') free)"
  wait_for 30 "lines held while the spool cannot be written" held || return 1
  local errs n_held
  errs=$(status_field spool_errors)
  n_held=$(status_field records_held)
  [[ "$errs" -gt 0 ]] && step_ok "spool_errors $errs, records_held $n_held" ||
    step_fail "spool_errors is $errs with $n_held records held"
  local text
  text=$(M logship 2>&1)
  if grep -q "spool errors: .* lines waiting for the spool" <<<"$text"; then
    step_ok "moor logship shows the spool errors and the lines waiting"
  else
    step_fail "moor logship does not show the spool errors: $text"
  fi
  local v
  v=$(metrics 2>/dev/null | awk '$1 == "moor_logship_records_held" { print $2 }')
  [[ -n "$v" && "$v" != 0 ]] && step_ok "moor_logship_records_held $v" ||
    step_fail "moor_logship_records_held is '$v'"
  sleep 2
  local dups=0
  if [[ "$crash" == crash ]]; then
    daemon_kill9
    step_ok "daemon SIGKILLed while the disk is full"
    free_disk
    daemon_start || die "the daemon did not start again"
    # What was sent before the crash whose cursor could not be saved comes again.
    dups=$count
  else
    free_disk
  fi
  step_ok "the disk has room again"
  wait_exited 60 "$name" || die "the generator did not end"
  wait_for 90 "every held line in the spool and shipped" drained || return 1
  await_check 60 "file: every line of $name through the full disk" file "$OUT" \
    --tag "$tag" --count "$count" --mode both --label service=full --label container="$name" \
    --label node="$L_NODE" --max-dups "$dups"
}

ecase "a full spool disk holds lines and loses none" t_full full1 DF nocrash
ecase "SIGKILLed while the spool disk is full: every line after the restart" t_full full2 DG crash
umount -l "$SPOOL_FS" 2>/dev/null
finish

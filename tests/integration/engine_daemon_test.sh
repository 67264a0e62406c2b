#!/usr/bin/env bash
# The daemon is not in the containers' data path: SIGKILL it while a container writes
# log lines flat out, start it again, and the container is still running, its log has
# every line exactly once and in order, and the writer never stalled for more than 1 s.
# Also: published ports and restart policies keep working while the daemon is down, and
# a restarted daemon re-attaches (exec, stop, inspect work on old containers).
source "$(dirname "$0")/engine_lib.sh"

# check_log_lines FILE: every line is "N UPTIME" with N = 1, 2, 3, … and consecutive
# uptimes less than 1 s apart. Prints "lines=N maxgap=G bad=B firstbad=..." .
check_log_lines() {
  awk '
    BEGIN { bad = 0; maxgap = 0; first = "" }
    {
      if ($1 != NR) { bad++; if (first == "") first = "line " NR ": [" $0 "]" ; next }
      if (NR > 1 && $2 - prev > maxgap) { maxgap = $2 - prev; gapat = NR }
      prev = $2
    }
    END { printf "lines=%d maxgap=%.2f gapat=%s bad=%d firstbad=%s\n", NR, maxgap, gapat, bad, first }
  ' "$1"
}

t_sigkill_while_logging() {
  # ash builtins only (no fork per line): as fast as the pipe to the monitor takes it.
  M run -d --name writer "$E_IMG" sh -c \
    'i=0; while :; do i=$((i+1)); read up idle </proc/uptime; echo "$i $up"; done' \
    >"$T_TMP/writer.id" 2>"$T_TMP/writer.err" || die "run writer: $(cat "$T_TMP/writer.err")"
  note_ids "$(cat "$T_TMP/writer.id")"
  wait_status 10 writer running || die "writer did not start"
  local pid_before
  pid_before=$(ijq writer .State.Pid)
  sleep 1
  daemon_kill9
  sleep 3  # the container keeps writing while no daemon exists
  daemon_start || die "the daemon did not start again"
  sleep 1
  assert_eq running "$(status_of writer)" "the container is still running after the daemon's SIGKILL"
  assert_eq "$pid_before" "$(ijq writer .State.Pid)" "with the same process (not restarted)"
  assert_rc 0 "stop the writer" M stop -t 2 writer
  M logs writer >"$T_TMP/writer.log" 2>"$T_TMP/writer.logerr"
  local res
  res=$(check_log_lines "$T_TMP/writer.log")
  say "  info - $res"
  local lines bad maxgap
  lines=$(sed -E 's/.*lines=([0-9]+).*/\1/' <<<"$res")
  bad=$(sed -E 's/.*bad=([0-9]+).*/\1/' <<<"$res")
  maxgap=$(sed -E 's/.*maxgap=([0-9.]+).*/\1/' <<<"$res")
  ((lines > 1000)) && pass "the log has many lines ($lines)" || fail "only $lines log lines"
  assert_eq 0 "$bad" "every line appears exactly once and in order ($res)"
  if awk -v g="$maxgap" 'BEGIN { exit !(g <= 1.0) }'; then
    pass "no stall over 1 s between consecutive lines (max $maxgap s)"
  else
    fail "the writer stalled for $maxgap s ($res)"
  fi
  local last
  last=$(tail -n 1 "$T_TMP/writer.log" | cut -d' ' -f1)
  assert_eq "$lines" "$last" "the last line is number $lines"
}

t_reattach() {
  M run -d --name keeper -p 127.0.0.1:18081:8080 "$E_IMG" nc -ll -p 8080 -e echo hi >/dev/null ||
    die "run keeper"
  wait_status 10 keeper running || die "keeper did not start"
  local ip
  ip=$(ip_of keeper)
  wait_for 10 "keeper answers on its published port" tcp_get 18081
  daemon_stop
  local got
  got=$(tcp_get 18081)
  assert_eq hi "$got" "the published port answers while the daemon is stopped"
  daemon_start || die "the daemon did not start again"
  assert_eq running "$(status_of keeper)" "keeper is running after the daemon restart"
  assert_eq "$ip" "$(ip_of keeper)" "with the same IP address"
  capture M exec keeper sh -c 'echo exec-ok; exit 4'
  assert_eq "exec-ok" "$OUT" "exec works on a container from before the restart"
  assert_eq 4 "$RC" "with its exit code"
  assert_eq hi "$(tcp_get 18081)" "the port still answers"
  assert_rc 0 "stop keeper" M stop -t 1 keeper
  assert_eq exited "$(status_of keeper)" "keeper is exited"
  assert_eq "refused" "$(tcp_get 18081 127.0.0.1 2)" "the port is closed once the container stopped"
}

t_restart_policy_without_daemon() {
  M run -d --name phoenix --restart always "$E_IMG" sh -c 'sleep 1; exit 3' >/dev/null || die "run phoenix"
  wait_status 10 phoenix running || die "phoenix did not start"
  daemon_stop
  sleep 4
  daemon_start || die "the daemon did not start again"
  local n
  n=$(ijq phoenix .RestartCount)
  if [[ "$n" =~ ^[0-9]+$ ]] && ((n >= 2)); then
    pass "the monitor restarted the container while the daemon was down (RestartCount $n)"
  else
    fail "RestartCount after 4 s without the daemon: expected >= 2, got [$n]"
  fi
  assert_rc 0 "stop phoenix" M stop -t 1 phoenix
  sleep 2
  assert_eq exited "$(status_of phoenix)" "a stopped always-container stays stopped"
}

t_daemon_flags() {
  capture "$MOOR" daemon --log-max-files 0
  assert_eq 125 "$RC" "a bad daemon flag exits 125"
  assert_true "with one line on stderr ($ERR)" one_line
  capture "$MOOR" daemon --no-such-flag
  assert_eq 125 "$RC" "an unknown daemon flag exits 125"
  capture timeout -k 2 10 "$MOOR" daemon --root "$E_ROOT" --exec-root "$E_RUN" -H "unix://$E_SOCK"
  if [[ "$RC" != 0 && "$RC" != 124 && "$RC" != 137 ]]; then
    pass "a second daemon on the same root/socket refuses to start (exit $RC)"
  else
    fail "a second daemon on the same root/socket: exit $RC, expected a refusal"
  fi
  assert_true "with one line on stderr ($ERR)" one_line
  assert_rc 0 "the first daemon still answers" M version
}

engine_setup
ecase "daemon SIGKILL while a container logs flat out" t_sigkill_while_logging
ecase "daemon restart: re-attach, exec, ports while down" t_reattach
ecase "restart policy applied by the monitor while the daemon is down" t_restart_policy_without_daemon
ecase "daemon flags and a second daemon" t_daemon_flags
finish

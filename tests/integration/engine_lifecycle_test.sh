#!/usr/bin/env bash
# Container lifecycle through the daemon: restart policies (on-failure:N, always with
# backoff, unless-stopped + stop), stop with --stop-signal / --stop-timeout, inspect
# fields, ps filters and format, rename, pause/unpause, top, stats, update --memory and
# events filtered during a start/stop.
source "$(dirname "$0")/engine_lib.sh"

# restart_count CONTAINER
restart_count() { ijq "$1" .RestartCount; }
count_is() { [[ "$(restart_count "$1")" == "$2" ]]; }

t_on_failure() {
  M run -d --name flaky --restart on-failure:2 "$E_IMG" sh -c 'sleep 0.2; exit 1' >/dev/null ||
    die "run flaky"
  wait_for 20 "RestartCount of flaky to reach 2 (is $(restart_count flaky))" count_is flaky 2
  wait_status 20 flaky exited
  sleep 1.5
  assert_eq 2 "$(restart_count flaky)" "on-failure:2 restarts twice"
  assert_eq exited "$(status_of flaky)" "and then stays exited"
  assert_eq 1 "$(ijq flaky .State.ExitCode)" "with the last exit code"
  M run -d --name fine --restart on-failure:2 "$E_IMG" true >/dev/null || die "run fine"
  wait_status 10 fine exited
  sleep 1
  assert_eq 0 "$(restart_count fine)" "on-failure does not restart a container that exits 0"
}

t_always_backoff() {
  M run -d --name bouncer --restart always "$E_IMG" true >/dev/null || die "run bouncer"
  # sample RestartCount every 50 ms for 6 s; note when it changes
  local t0=${EPOCHREALTIME/./} last=0 n times=()
  while ((${EPOCHREALTIME/./} - t0 < 6000000)); do
    n=$(restart_count bouncer)
    if [[ "$n" =~ ^[0-9]+$ ]] && ((n > last)); then
      times+=("$(((${EPOCHREALTIME/./} - t0) / 1000))")
      last=$n
    fi
    sleep 0.05
  done
  say "  info - RestartCount reached $last; changes seen at ms: ${times[*]}"
  if ((last >= 3 && last <= 9)); then
    pass "always restarts a container that exits 0, with backoff ($last restarts in 6 s)"
  else
    fail "always + exit 0: expected 3..9 restarts in 6 s (100 ms doubling backoff), got $last"
  fi
  if ((${#times[@]} >= 4)); then
    local g1=$((times[1] - times[0])) gl=$((times[${#times[@]} - 1] - times[${#times[@]} - 2]))
    if ((gl > g1)); then pass "the delay grows ($g1 ms, later $gl ms)"; else
      fail "the delay does not grow: first gap $g1 ms, last $gl ms"
    fi
  fi
  assert_rc 0 "stop bouncer" M stop -t 1 bouncer
  local c
  c=$(restart_count bouncer)
  sleep 2
  assert_eq exited "$(status_of bouncer)" "a stopped always-container stays stopped"
  assert_eq "$c" "$(restart_count bouncer)" "and is not restarted"
}

t_unless_stopped() {
  M run -d --name us --restart unless-stopped "$E_IMG" sleep 600 >/dev/null || die "run us"
  wait_status 10 us running
  assert_rc 0 "stop us" M stop -t 1 us
  sleep 2
  assert_eq exited "$(status_of us)" "unless-stopped + stop: not restarted"
  assert_eq 0 "$(restart_count us)" "RestartCount stays 0"
  assert_rc 0 "start us again" M start us
  assert_eq running "$(status_of us)" "start brings it back"
}

t_stop_signal_timeout() {
  M run -d --name stubborn --stop-timeout 2 "$E_IMG" sh -c 'trap "" TERM; while :; do sleep 0.1; done' \
    >/dev/null || die "run stubborn"
  M run -d --name quitter --stop-signal SIGQUIT --stop-timeout 20 "$E_IMG" \
    sh -c 'trap "exit 0" QUIT; trap "" TERM; while :; do sleep 0.1; done' >/dev/null || die "run quitter"
  wait_status 10 stubborn running
  wait_status 10 quitter running
  sleep 0.5  # let the shells install their traps
  local t0 dt
  t0=${EPOCHREALTIME/./}
  capture M stop stubborn
  dt=$(((${EPOCHREALTIME/./} - t0) / 1000))
  assert_eq 0 "$RC" "stop stubborn exits 0 ($ERR)"
  if ((dt >= 1800 && dt < 6000)); then pass "a container ignoring TERM is killed after --stop-timeout 2 ($dt ms)"
  else fail "stop of a TERM-ignoring container with --stop-timeout 2 took $dt ms (expected ~2000)"; fi
  assert_eq 137 "$(ijq stubborn .State.ExitCode)" "it was SIGKILLed (exit 137)"
  t0=${EPOCHREALTIME/./}
  capture M stop quitter
  dt=$(((${EPOCHREALTIME/./} - t0) / 1000))
  assert_eq 0 "$RC" "stop quitter exits 0 ($ERR)"
  if ((dt < 5000)); then pass "--stop-signal SIGQUIT stops it well before the 20 s timeout ($dt ms)"
  else fail "stop with --stop-signal SIGQUIT took $dt ms (the container exits on QUIT)"; fi
  assert_eq 0 "$(ijq quitter .State.ExitCode)" "it exited by its QUIT trap (exit 0)"
  assert_eq SIGQUIT "$(ijq quitter .Config.StopSignal)" "Config.StopSignal"
  assert_eq 20 "$(ijq quitter .Config.StopTimeout)" "Config.StopTimeout"
}

t_inspect_fields() {
  M run -d --name three "$E_IMG" sh -c 'exit 3' >/dev/null || die "run three"
  wait_status 10 three exited
  assert_eq 3 "$(ijq three .State.ExitCode)" "State.ExitCode"
  assert_eq false "$(ijq three .State.OOMKilled)" "State.OOMKilled"
  assert_eq false "$(ijq three .State.Running)" "State.Running"
  assert_eq 0 "$(ijq three .RestartCount)" "RestartCount"
  assert_eq /three "$(ijq three .Name)" "Name"
  assert_eq "$E_IMG" "$(ijq three .Config.Image)" "Config.Image"
  M run -d --name live -l team=a "$E_IMG" sleep 600 >/dev/null || die "run live"
  wait_status 10 live running
  assert_match "$(ijq live .NetworkSettings.IPAddress)" '^10\.89\.[0-9]+\.[0-9]+$' "NetworkSettings.IPAddress"
  assert_match "$(ijq live .NetworkSettings.Gateway)" '^10\.89\.' "NetworkSettings.Gateway"
  assert_match "$(ijq live .State.Pid)" '^[1-9][0-9]*$' "State.Pid of a running container"
  assert_eq true "$(ijq live .State.Running)" "State.Running"
  assert_eq a "$(ijq live '.Config.Labels.team')" "Config.Labels"
  assert_match "$(ijq live .Id)" '^[0-9a-f]{64}$' "Id is 64 hex digits"
  local id
  id=$(ijq live .Id)
  assert_eq live "$(M inspect -f '{{.Name}}' "${id:0:12}" | tr -d /)" "inspect by a short id, -f template"
  capture M inspect no-such-container-xyz
  assert_ne 0 "$RC" "inspect of an unknown name fails"
  assert_true "with one line ($ERR)" one_line
}

t_ps() {
  M run -d --name ps-run -l tier=web "$E_IMG" sleep 600 >/dev/null || die "run ps-run"
  M run -d --name ps-exit "$E_IMG" true >/dev/null || die "run ps-exit"
  M create --name ps-new "$E_IMG" true >/dev/null || die "create ps-new"
  wait_status 10 ps-exit exited
  assert_eq "ps-run" "$(M ps --format '{{.Names}}')" "ps shows only running containers"
  assert_eq "ps-exit ps-new ps-run" "$(M ps -a --format '{{.Names}}' | sort | tr '\n' ' ' | sed 's/ $//')" \
    "ps -a shows all three"
  assert_eq "ps-exit" "$(M ps -a --filter status=exited --format '{{.Names}}')" "--filter status=exited"
  assert_eq "ps-new" "$(M ps -a --filter status=created --format '{{.Names}}')" "--filter status=created"
  assert_eq "ps-run" "$(M ps -a --filter label=tier=web --format '{{.Names}}')" "--filter label=K=V"
  assert_eq "ps-exit" "$(M ps -a --filter name=ps-ex --format '{{.Names}}')" "--filter name=SUBSTRING"
  assert_eq 3 "$(M ps -aq | wc -l)" "ps -aq prints one id per line"
  assert_match "$(M ps -q)" '^[0-9a-f]{12}$' "ps -q prints a short id"
  assert_match "$(M ps --format '{{.Names}}|{{.Image}}|{{.State}}')" "^ps-run\|$E_IMG\|running$" \
    "--format with several fields"
  assert_match "$(M ps | head -n 1)" '^CONTAINER ID +IMAGE +COMMAND' "the default table has Docker's header"
  local j
  j=$(M ps -a --format json | head -n 1)
  assert_true "--format json prints JSON lines" jq -e . <<<"$j"
}

t_rename() {
  M run -d --name before "$E_IMG" sleep 600 >/dev/null || die "run before"
  M run -d --name other "$E_IMG" sleep 600 >/dev/null || die "run other"
  assert_rc 0 "rename before after" M rename before after
  assert_eq /after "$(ijq after .Name)" "inspect finds the new name"
  capture M inspect before
  assert_ne 0 "$RC" "the old name is gone"
  capture M rename after other
  assert_ne 0 "$RC" "rename to a taken name fails"
  assert_true "with one line ($ERR)" one_line
  assert_contains "$ERR" other "naming the taken name"
  assert_eq running "$(status_of after)" "the renamed container keeps running"
}

t_pause() {
  M run -d --name ticker "$E_IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done' >/dev/null ||
    die "run ticker"
  wait_status 10 ticker running
  sleep 0.5
  assert_rc 0 "pause ticker" M pause ticker
  assert_eq paused "$(status_of ticker)" "State.Status is paused"
  assert_eq true "$(ijq ticker .State.Paused)" "State.Paused"
  sleep 0.3
  local a b
  a=$(M logs ticker | wc -l)
  sleep 1
  b=$(M logs ticker | wc -l)
  assert_eq "$a" "$b" "a paused container makes no progress"
  assert_rc 0 "unpause ticker" M unpause ticker
  assert_eq running "$(status_of ticker)" "running again"
  sleep 1
  b=$(M logs ticker | wc -l)
  ((b > a + 3)) && pass "it makes progress after unpause ($a → $b lines)" || fail "no progress after unpause ($a → $b)"
}

t_top_stats_update() {
  M run -d --name busy --memory 64m "$E_IMG" sh -c 'sleep 600' >/dev/null || die "run busy"
  wait_status 10 busy running
  local out
  out=$(M top busy 2>&1)
  assert_match "$(head -n 1 <<<"$out")" 'PID' "top has a PID column"
  assert_contains "$out" "sleep 600" "top lists the container's process"
  out=$(M stats --no-stream busy 2>&1)
  assert_match "$(head -n 1 <<<"$out")" 'CONTAINER ID +NAME +CPU %' "stats --no-stream prints Docker's header"
  assert_contains "$out" "busy" "and a row for the container"
  assert_contains "$out" "64MiB" "with its memory limit"
  local id
  id=$(ijq busy .Id)
  note_ids "$id"
  assert_rc 0 "update --memory 48m" M update --memory 48m busy
  assert_eq 50331648 "$(ijq busy .HostConfig.Memory)" "HostConfig.Memory is updated"
  local lim
  lim=$(cat "/sys/fs/cgroup/memory/moor/$id/memory.limit_in_bytes" 2>/dev/null ||
    cat "/sys/fs/cgroup/moor/$id/memory.max" 2>/dev/null)
  assert_eq 50331648 "$lim" "and the cgroup's limit too"
  capture M update --memory abc busy
  assert_eq 125 "$RC" "update --memory abc fails with 125"
  assert_true "with one line ($ERR)" one_line
}

t_events() {
  M create --name ev "$E_IMG" sleep 600 >/dev/null || die "create ev"
  M create --name noise "$E_IMG" sleep 600 >/dev/null || die "create noise"
  M events --filter container=ev --filter event=start --filter event=stop \
    --format '{{.Actor.Attributes.name}} {{.Action}}' >"$T_TMP/events.out" 2>"$T_TMP/events.err" &
  track_pid $!
  sleep 1
  M start noise >/dev/null
  M start ev >/dev/null || fail "start ev"
  M stop -t 1 ev >/dev/null || fail "stop ev"
  M stop -t 1 noise >/dev/null
  wait_for 10 "events to show ev stop ($(tr '\n' ';' <"$T_TMP/events.out") $(cat "$T_TMP/events.err"))" \
    file_has "$T_TMP/events.out" "ev stop"
  sleep 0.5
  assert_eq $'ev start\nev stop' "$(cat "$T_TMP/events.out")" \
    "events --filter container= --filter event= shows exactly ev's start and stop"
  local since
  since=$(date +%s)
  sleep 1
  M start ev >/dev/null
  capture M events --since "$since" --until "$(($(date +%s) + 1))" --filter container=ev --format '{{.Action}}'
  assert_contains "$OUT" "start" "events --since/--until replays a past start and ends"
}

engine_setup
ecase "restart on-failure:2" t_on_failure
ecase "restart always: exit 0 is restarted with growing backoff" t_always_backoff
ecase "restart unless-stopped + stop" t_unless_stopped
ecase "stop: --stop-timeout and --stop-signal" t_stop_signal_timeout
ecase "inspect fields" t_inspect_fields
ecase "ps: -a, -q, filters, format" t_ps
ecase "rename" t_rename
ecase "pause and unpause" t_pause
ecase "top, stats --no-stream, update --memory" t_top_stats_update
ecase "events --filter during start/stop" t_events
finish

#!/usr/bin/env bash
# Limits and bad input. A container with --memory 32m that allocates more is OOM-killed
# (exit 137, State.OOMKilled true) while a neighbour keeps serving. Bad input — an
# unknown image (never pulled), a taken name, a host port in use, bad flag values —
# exits 125 with one line on stderr and leaves no container, veth or mount behind.
source "$(dirname "$0")/engine_lib.sh"

t_oom() {
  M run -d --name neighbour -p 127.0.0.1:18400:8080 "$E_IMG" nc -ll -p 8080 -e echo alive >/dev/null ||
    die "run neighbour"
  wait_for 10 "neighbour answers" tcp_get 18400
  # the shell doubles a string until the cgroup's limit stops it
  M run -d --name hog --memory 32m "$E_IMG" sh -c 'x=0123456789abcdef; while :; do x=$x$x; done' \
    >/dev/null 2>"$T_TMP/hog.err" || die "run hog: $(cat "$T_TMP/hog.err")"
  wait_status 30 hog exited
  assert_eq 137 "$(ijq hog .State.ExitCode)" "the hog exits 137"
  assert_eq true "$(ijq hog .State.OOMKilled)" "State.OOMKilled is true"
  assert_eq 33554432 "$(ijq hog .HostConfig.Memory)" "HostConfig.Memory is 32m"
  assert_eq alive "$(tcp_get 18400)" "the neighbour keeps serving"
  assert_eq running "$(status_of neighbour)" "and is running"
  assert_eq false "$(ijq neighbour .State.OOMKilled)" "the neighbour is not marked OOMKilled"
  # a pipeline whose tail is killed: the cgroup saw an OOM kill, the shell reports 137
  M run -d --name piped --memory 32m "$E_IMG" sh -c 'dd if=/dev/zero bs=1M count=100 2>/dev/null | tail' \
    >/dev/null || die "run piped"
  wait_status 30 piped exited
  assert_eq 137 "$(ijq piped .State.ExitCode)" "dd | tail over the limit exits 137"
  assert_eq true "$(ijq piped .State.OOMKilled)" "with OOMKilled true"
}

# snapshot: containers, veths and mounts now (to compare after a failed command).
snapshot() {
  {
    M ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Status}}' | sort
    _e_veths | sort
    _e_mounts | sort
    ls -A "$E_RUN/c" "$E_RUN/netns" 2>/dev/null
  } >"$T_TMP/snap.$1"
}

# bad CMD...: CMD exits 125, says one line, leaves nothing.
bad() {
  snapshot before
  local t0=${EPOCHREALTIME/./}
  capture M "$@"
  local dt=$(((${EPOCHREALTIME/./} - t0) / 1000))
  assert_eq 125 "$RC" "moor $* exits 125"
  assert_true "moor $*: one line on stderr ($(_clip "$ERR"))" one_line
  ((dt < 10000)) || fail "moor $* took $dt ms"
  snapshot after
  assert_eq "" "$(diff "$T_TMP/snap.before" "$T_TMP/snap.after")" "moor $*: nothing new (containers, veths, mounts)"
}

t_bad_input() {
  M run -d --name taken "$E_IMG" sleep 600 >/dev/null || die "run taken"
  bad run -d moor-itest-no-such-image:1 true
  assert_contains "$ERR" "moor-itest-no-such-image" "the error names the image"
  bad run -d --name taken "$E_IMG" true
  assert_contains "$ERR" "taken" "the error names the taken name"
  bad create --name taken "$E_IMG" true
  # a host port already bound by someone else
  /usr/bin/python3 -c '
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 18500)); s.listen(); time.sleep(120)' &
  track_pid $!
  # The blocker accepts nothing: a successful connect is all there is to see.
  wait_for 5 "the blocker listens" bash -c 'exec 3<>/dev/tcp/127.0.0.1/18500'

  bad run -d -p 127.0.0.1:18500:80 "$E_IMG" sleep 600
  assert_contains "$ERR" "18500" "the error names the port"
  bad run -d --memory abc "$E_IMG" true
  bad run -d --cpus -1 "$E_IMG" true
  bad run -d --restart bogus "$E_IMG" true
  bad run -d -p 99999:80 "$E_IMG" true
  bad run -d --network no-such-net "$E_IMG" true
  bad run -d --no-such-flag "$E_IMG" true
  bad run
  # two containers asking for the same host port: the second fails, the first keeps it
  M run -d --name p1 -p 127.0.0.1:18501:8080 "$E_IMG" nc -ll -p 8080 -e echo first >/dev/null || fail "run p1"
  bad run -d --name p2 -p 127.0.0.1:18501:8080 "$E_IMG" nc -ll -p 8080 -e echo second
  assert_eq first "$(tcp_get 18501)" "the first container keeps the port"
}

t_bad_lifecycle() {
  capture M start no-such-ctr
  assert_ne 0 "$RC" "start of an unknown container fails"
  assert_true "with one line ($ERR)" one_line
  M run -d --name r "$E_IMG" sleep 600 >/dev/null || die "run r"
  capture M rm r
  assert_ne 0 "$RC" "rm of a running container without -f fails"
  assert_true "with one line ($ERR)" one_line
  assert_eq running "$(status_of r)" "and it keeps running"
  capture M kill -s NOSUCHSIG r
  assert_ne 0 "$RC" "kill with an unknown signal fails"
  assert_eq running "$(status_of r)" "and it keeps running"
  M stop -t 1 r >/dev/null
  capture M kill r
  assert_ne 0 "$RC" "kill of a stopped container fails"
}

engine_setup
ecase "OOM: --memory 32m hog exits 137 OOMKilled, neighbour serves" t_oom
ecase "bad input: exit 125, one line, nothing left" t_bad_input
ecase "bad lifecycle requests" t_bad_lifecycle
finish

#!/usr/bin/env bash
# Docker as a client of the runtime under test: a private dockerd (Debian's docker.io
# 20.10, its own containerd, data root, exec root and socket under the test's temp dir)
# with $MOOR_RUNTIME registered as runtime "moor"; every container runs with
# `--runtime moor --network none` from a busybox image made by `docker import`.
# Checks exit codes, stop/kill signalling, exec, logs, stdin, tty, cgroup limits
# (memory, pids, cpus, update), pause/unpause, --read-only, capabilities, --user and
# --rm cleanup. To check the harness itself, run it with MOOR_RUNTIME=/usr/sbin/runc.
# SKIPs (exit 0, "SKIP: ...") only when dockerd is missing or cannot run here.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/docker_lib.sh"

IMG=$MOOR_DOCKER_IMAGE
# Docker's default capability set (14 capabilities) as a CapEff mask; a fact about
# Docker 20.10, not something computed by the runtime under test.
DOCKER_DEFAULT_CAPS=00000000a80425fb
CAP_NET_RAW_BIT=13

# A busybox sh snippet, run inside a container: cgread CONTROLLER V1FILE V2FILE prints the
# container's own cgroup file, whether the runtime mounts the container's cgroup at the
# root of /sys/fs/cgroup/CONTROLLER (runc) or the whole hierarchy (then the path from
# /proc/self/cgroup is followed), on cgroup v1 or v2.
CGREAD='cgread() {
  if [ -e /sys/fs/cgroup/cgroup.controllers ]; then
    p=$(sed -n "s/^0:://p" /proc/self/cgroup)
    for f in /sys/fs/cgroup/$3 /sys/fs/cgroup$p/$3; do [ -r "$f" ] && { cat "$f"; return 0; }; done
  else
    p=$(grep -E "^[0-9]+:([^:]*,)?$1(,[^:]*)?:" /proc/self/cgroup | cut -d: -f3)
    for f in /sys/fs/cgroup/$1/$2 /sys/fs/cgroup/$1$p/$2; do [ -r "$f" ] && { cat "$f"; return 0; }; done
  fi
  echo "no $1 cgroup file $2/$3 visible" >&2; return 1
}'

# now_ms: monotonic-enough wall clock in milliseconds (for "fast" checks only).
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

t_exit_codes() {
  dk_run --rm "$IMG" sh -c 'exit 5'
  assert_eq 5 "$RC" "docker run of sh -c 'exit 5' exits 5 (stderr: $(_clip "$ERR"))"
  dk_run --rm "$IMG" true
  assert_eq 0 "$RC" "docker run of true exits 0 (stderr: $(_clip "$ERR"))"
  dk_run --rm "$IMG" sh -c 'sh -c "exit 129"; exit $?'
  assert_eq 129 "$RC" "docker run exit 129 is passed through"
  dk_run --rm "$IMG" /no/such/program
  assert_ne 0 "$RC" "a missing program makes docker run fail"
  assert_match "$ERR" 'no/such/program|not found|no such file' "the error names the missing program"
}

t_output_and_stdin() {
  dk_run --rm "$IMG" sh -c 'echo to-stdout; echo to-stderr >&2'
  assert_eq 0 "$RC" "run exits 0"
  assert_eq to-stdout "$OUT" "stdout is the container's stdout"
  assert_contains "$ERR" to-stderr "stderr is the container's stderr"
  local got
  got=$(printf 'line1\nline2\n' | D run -i --rm --runtime moor --network none "$IMG" sh -c 'cat; echo done' 2>&1)
  assert_eq $'line1\nline2\ndone' "$got" "docker run -i passes stdin through and closes it at EOF"
}

t_tty() {
  # -t without -i: the runtime gets --console-socket and must hand back a pty master.
  dk_run --rm -t "$IMG" sh -c 'tty; test -t 0 && test -t 1 && echo both-tty'
  assert_eq 0 "$RC" "docker run -t exits 0 (stderr: $(_clip "$ERR"))"
  assert_match "$OUT" '/dev/pts/[0-9]+' "the process has a pty as its terminal"
  assert_contains "$OUT" both-tty "stdin and stdout are the terminal"
}

t_stop_trapping_shell() {
  local n t0 t1
  n=$(dk_name stop)
  dk_run -d --name "$n" "$IMG" sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.1; done'
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container prints ready" dk_logs_have "$n" ready || return
  t0=$(now_ms)
  capture D stop -t 30 "$n"
  t1=$(now_ms)
  assert_eq 0 "$RC" "docker stop succeeds (stderr: $(_clip "$ERR"))"
  # Not waiting out the 30 s timeout means SIGTERM reached the trap.
  if ((t1 - t0 < 10000)); then pass "docker stop took $((t1 - t0)) ms (< 10 s, no timeout)"; else
    fail "docker stop took $((t1 - t0)) ms: SIGTERM did not reach the process"
  fi
  assert_eq 3 "$(dk_inspect "$n" '{{.State.ExitCode}}')" "exit code is the trap's 3"
  assert_true "the trap ran" dk_logs_have "$n" got-term
}

t_kill() {
  local n
  n=$(dk_name kill)
  dk_run -d --name "$n" "$IMG" sh -c 'trap "echo got-usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done'
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container prints ready" dk_logs_have "$n" ready || return
  assert_rc 0 "docker kill -s USR1" D kill -s USR1 "$n"
  wait_for 30 "container exits after USR1" dk_exited "$n" || return
  assert_eq 7 "$(dk_inspect "$n" '{{.State.ExitCode}}')" "USR1 reached the trap: exit code 7"

  n=$(dk_name kill)
  dk_run -d --name "$n" "$IMG" sleep 100000
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container running" dk_running "$n" || return
  assert_rc 0 "docker kill (SIGKILL)" D kill "$n"
  wait_for 30 "container exits after SIGKILL" dk_exited "$n" || return
  assert_eq 137 "$(dk_inspect "$n" '{{.State.ExitCode}}')" "exit code 137 after docker kill"
}

t_exec() {
  local n
  n=$(dk_name exec)
  dk_run -d --name "$n" "$IMG" sleep 100000
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container running" dk_running "$n" || return
  capture D exec "$n" sh -c 'echo hello-$((6*7)); echo err-line >&2; exit 4'
  assert_eq 4 "$RC" "docker exec exit code is the process's 4"
  assert_eq hello-42 "$OUT" "docker exec stdout"
  assert_contains "$ERR" err-line "docker exec stderr"
  capture D exec "$n" sh -c 'tr "\0" " " </proc/1/cmdline'
  assert_eq 0 "$RC" "exec into the container reads /proc/1"
  assert_eq "sleep 100000" "${OUT% }" "exec joins the container's pid namespace (pid 1 is sleep)"
  capture D exec -u 1000:1000 "$n" id
  assert_contains "$OUT" "uid=1000" "docker exec -u 1000:1000: uid"
  assert_contains "$OUT" "gid=1000" "docker exec -u 1000:1000: gid"
  local got
  got=$(printf 'via-stdin\n' | D exec -i "$n" cat 2>&1)
  assert_eq via-stdin "$got" "docker exec -i passes stdin"
  capture D exec -t "$n" tty
  assert_match "$OUT" '/dev/pts/[0-9]+' "docker exec -t gets a pty"
  capture D exec "$n" /no/such/program
  assert_ne 0 "$RC" "exec of a missing program fails"
  assert_true "the container survives a failed exec" dk_running "$n"
}

t_logs() {
  local n
  n=$(dk_name logs)
  dk_run -d --name "$n" "$IMG" sh -c 'i=1; while [ $i -le 200 ]; do echo "out $i"; i=$((i+1)); done; echo "err line" >&2'
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container exits" dk_exited "$n" || return
  capture D logs "$n"
  assert_eq 200 "$(grep -c '^out ' <<<"$OUT")" "docker logs has all 200 stdout lines"
  assert_eq "out 200" "$(grep '^out ' <<<"$OUT" | tail -n 1)" "the last stdout line is intact"
  assert_eq "err line" "$ERR" "docker logs has the stderr line on stderr"
}

t_resources() {
  dk_run --rm --memory 64m --pids-limit 20 --cpus 0.5 "$IMG" sh -c "$CGREAD"'
    echo "mem=$(cgread memory memory.limit_in_bytes memory.max)"
    echo "pids=$(cgread pids pids.max pids.max)"
    echo "quota=$(cgread cpu cpu.cfs_quota_us cpu.max)"
    echo "period=$(cgread cpu cpu.cfs_period_us cpu.max)"'
  assert_eq 0 "$RC" "run with limits exits 0 (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT" "mem=67108864" "--memory 64m is the container's memory limit"
  assert_contains "$OUT" "pids=20" "--pids-limit 20 is the container's pids.max"
  if [[ -e /sys/fs/cgroup/cgroup.controllers ]]; then
    assert_contains "$OUT" "quota=50000 100000" "--cpus 0.5 is cpu.max 50000 100000"
  else
    assert_contains "$OUT" "quota=50000" "--cpus 0.5 gives cfs_quota_us 50000"
    assert_contains "$OUT" "period=100000" "--cpus 0.5 gives cfs_period_us 100000"
  fi
  # The pids limit is enforced: 40 background sleeps cannot all start. The forking
  # shell dies when fork fails; pid 1 then counts the processes without forking.
  dk_run --rm --pids-limit 20 "$IMG" sh -c '
    sh -c "i=0; while [ \$i -lt 40 ]; do sleep 30 & i=\$((i+1)); done" 2>/tmp/fork.err
    n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo "procs=$n"; while read -r l; do echo "$l"; done </tmp/fork.err; exit 0'
  local procs
  procs=$(sed -n 's/^procs=//p' <<<"$OUT")
  if [[ -n "$procs" ]] && ((procs <= 20)); then pass "pids limit enforced ($procs processes with 40 forks tried)"; else
    fail "pids limit not enforced: procs=[$procs] stdout=[$(_clip "$OUT")] stderr=[$(_clip "$ERR")]"
  fi
}

t_update() {
  local n
  n=$(dk_name update)
  dk_run -d --name "$n" --memory 64m "$IMG" sleep 100000
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container running" dk_running "$n" || return
  assert_rc 0 "docker update --memory 128m" D update --memory 128m --memory-swap 256m --pids-limit 30 "$n"
  capture D exec "$n" sh -c "$CGREAD"'
    echo "mem=$(cgread memory memory.limit_in_bytes memory.max)"
    echo "pids=$(cgread pids pids.max pids.max)"'
  assert_contains "$OUT" "mem=134217728" "memory limit after update is 128m"
  assert_contains "$OUT" "pids=30" "pids limit after update is 30"
}

t_pause() {
  local n
  n=$(dk_name pause)
  dk_run -d --name "$n" "$IMG" sh -c 'i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.05; done'
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container running" dk_running "$n" || return
  assert_rc 0 "docker pause" D pause "$n"
  assert_eq true "$(dk_inspect "$n" '{{.State.Paused}}')" "state is paused"
  # While paused the counter stands still: read it through the overlay's merged dir.
  local merged a b
  merged=$(dk_inspect "$n" '{{.GraphDriver.Data.MergedDir}}')
  a=$(cat "$merged/tmp/count" 2>/dev/null)
  sleep 0.5 # a pause must hold for a while: this checks for the absence of progress
  b=$(cat "$merged/tmp/count" 2>/dev/null)
  assert_eq "$a" "$b" "no progress while paused"
  assert_rc 0 "docker unpause" D unpause "$n"
  wait_for 30 "progress after unpause" bash -c "[[ \$(cat '$merged/tmp/count') != '$b' ]]" &&
    pass "progress after unpause"
}

t_read_only() {
  dk_run --rm --read-only "$IMG" sh -c 'touch /probe 2>&1; echo "rc=$?"; touch /dev/shm/ok && echo shm-writable'
  assert_contains "$OUT" "Read-only file system" "--read-only: writing to / fails with EROFS"
  assert_not_contains "$OUT" "rc=0" "--read-only: touch / failed"
  assert_contains "$OUT" "shm-writable" "--read-only keeps /dev/shm writable"
  dk_run --rm "$IMG" sh -c 'touch /probe && echo root-writable'
  assert_contains "$OUT" root-writable "without --read-only the root is writable"
}

capeff() { sed -n 's/^CapEff:[[:space:]]*//p' <<<"$1"; }

t_capabilities() {
  dk_run --rm "$IMG" cat /proc/self/status
  assert_eq "$DOCKER_DEFAULT_CAPS" "$(capeff "$OUT")" "default CapEff is Docker's 14 capabilities"
  assert_contains "$OUT" "CapInh:	0000000000000000" "default CapInh is empty"
  assert_contains "$OUT" "CapAmb:	0000000000000000" "default CapAmb is empty"
  dk_run --rm --cap-drop ALL "$IMG" cat /proc/self/status
  assert_eq 0000000000000000 "$(capeff "$OUT")" "--cap-drop ALL: CapEff is 0"
  assert_contains "$OUT" "CapBnd:	0000000000000000" "--cap-drop ALL: CapBnd is 0"
  assert_contains "$OUT" "CapPrm:	0000000000000000" "--cap-drop ALL: CapPrm is 0"
  dk_run --rm --cap-drop NET_RAW "$IMG" cat /proc/self/status
  local want
  want=$(printf '%016x' $((0x$DOCKER_DEFAULT_CAPS & ~(1 << CAP_NET_RAW_BIT))))
  assert_eq "$want" "$(capeff "$OUT")" "--cap-drop NET_RAW clears bit 13 only"
  dk_run --rm --cap-add SYS_ADMIN "$IMG" cat /proc/self/status
  want=$(printf '%016x' $((0x$DOCKER_DEFAULT_CAPS | (1 << 21))))
  assert_eq "$want" "$(capeff "$OUT")" "--cap-add SYS_ADMIN sets bit 21"
}

t_user() {
  dk_run --rm --user 1000:1000 "$IMG" sh -c 'id; grep -E "^(Uid|Gid|CapEff)" /proc/self/status'
  assert_eq 0 "$RC" "run --user exits 0 (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT" "uid=1000" "--user 1000:1000: uid 1000"
  assert_contains "$OUT" "gid=1000" "--user 1000:1000: gid 1000"
  assert_match "$OUT" $'Uid:\t1000\t1000\t1000\t1000' "real, effective, saved and fs uid are 1000"
  assert_match "$OUT" $'Gid:\t1000\t1000\t1000\t1000' "real, effective, saved and fs gid are 1000"
  assert_match "$OUT" $'CapEff:\t0000000000000000' "a non-root user has no effective capabilities"
  dk_run --rm --user tester "$IMG" id -un
  assert_eq tester "$OUT" "--user by name resolves in the image's /etc/passwd"
}

t_rm_cleanup() {
  local n cid
  n=$(dk_name rm)
  dk_run --rm --name "$n" "$IMG" sh -c 'echo bye'
  assert_eq bye "$OUT" "--rm container ran"
  wait_for 30 "container removed" bash -c "[[ -z \$(DOCKER_CONFIG='$DK_DIR/client' $DOCKER_CLI -H unix://$DK_SOCK ps -aq --filter name=$n) ]]" &&
    pass "docker run --rm removed the container"
  # A detached --rm container that is killed goes away too, with its runtime state,
  # cgroups and rootfs mount.
  n=$(dk_name rm)
  dk_run -d --rm --name "$n" "$IMG" sleep 100000
  cid=$OUT
  [[ $RC == 0 ]] || die "docker run -d failed: $ERR"
  wait_for 30 "container running" dk_running "$n" || return
  local statedir
  statedir=$(dk_runtime_state "$cid")
  assert_ne "" "$statedir" "the runtime keeps state under dockerd's exec root while it runs"
  D kill "$n" >/dev/null 2>&1
  wait_for 30 "container removed" bash -c "! DOCKER_CONFIG='$DK_DIR/client' $DOCKER_CLI -H unix://$DK_SOCK inspect $n >/dev/null 2>&1" &&
    pass "killed --rm container removed"
  [[ -n "$statedir" ]] && wait_for 30 "runtime state removed" bash -c "[[ ! -e '$statedir' ]]" && pass "runtime state removed"
  assert_eq "" "$(find /sys/fs/cgroup/*/"$T_CG/$cid" -maxdepth 0 2>/dev/null)" "cgroups of the container removed"
  assert_eq "" "$(awk -v id="$cid" 'index($5, id) { print $5 }' /proc/self/mountinfo)" "no mount of the container left"
}

if ! docker_start; then
  _record_fail "docker set-up failed"
  T_FAIL=$((T_FAIL + 1))
  docker_finish
fi

# The harness with Docker's own runc first: if this fails, the set-up is wrong, not the
# runtime under test.
t_harness_runc() {
  capture D run --rm --runtime runc --network none "$IMG" sh -c 'exit 5'
  assert_eq 5 "$RC" "docker's runc runs the image (harness check; stderr: $(_clip "$ERR"))"
}
docker_case "harness: docker's own runc runs the image" t_harness_runc

docker_case "exit codes" t_exit_codes
docker_case "stdout, stderr and stdin" t_output_and_stdin
docker_case "tty (console socket)" t_tty
docker_case "docker stop of a trapping shell" t_stop_trapping_shell
docker_case "docker kill" t_kill
docker_case "docker exec" t_exec
docker_case "docker logs" t_logs
docker_case "memory, pids and cpu limits" t_resources
docker_case "docker update" t_update
docker_case "pause and unpause" t_pause
docker_case "--read-only" t_read_only
docker_case "capabilities: default, --cap-drop, --cap-add" t_capabilities
docker_case "--user" t_user
docker_case "--rm cleanup" t_rm_cleanup

docker_finish

# shellcheck shell=bash
# Shared helpers for moor's integration tests (tests/integration/*_test.sh).
#
# Usage, in a test script:
#   source "$(dirname "$0")/lib.sh"
#   t_something() { local id b; id=$(new_id x); b=$(make_bundle "$id" '.process.args=["true"]'); ... }
#   run_case "what it checks" t_something
#   finish
#
# Contract:
# - The runtime under test is $MOOR_RUNTIME (CTest sets it to the built moor-runtime;
#   point it at /usr/sbin/runc to check a test itself). $RUNC is the reference runtime.
# - Every runtime call goes through rt / rt_with, which pass a private --root under the
#   test's temp dir, so tests never see each other's containers.
# - Each case runs in a subshell. Assertions record failures; `die` ends the case; `skip`
#   skips it. After every case the containers it made are deleted with `delete --force`
#   and the harness VERIFIES that nothing is left (state entries, cgroup dirs, mounts,
#   processes); a leak fails that case.
# - `finish` prints "N passed, M failed[, K skipped]" and exits non-zero on any failure.
# - The script is re-executed as a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so
#   every process the test or its runtime leaves behind is re-parented to the test and
#   can be found.

set -uo pipefail

T_SCRIPT=$(readlink -f "$0")
if [[ -z "${MOOR_ITEST_SUBREAPER:-}" ]]; then
  export MOOR_ITEST_SUBREAPER=1
  exec /usr/bin/python3 -c '
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("lib.sh: prctl(PR_SET_CHILD_SUBREAPER) failed: " + os.strerror(ctypes.get_errno()))
os.execv("/bin/bash", ["bash"] + sys.argv[1:])
' "$T_SCRIPT" "$@"
fi

T_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MOOR_SRC=${MOOR_SRC:-$(cd "$T_LIB_DIR/../.." && pwd)}
RUNC=${MOOR_RUNC:-/usr/sbin/runc}
if [[ -z "${MOOR_RUNTIME:-}" ]]; then
  MOOR_RUNTIME="$MOOR_SRC/build/cmd/moor-runtime/moor-runtime"
fi
T_NAME=$(basename "$T_SCRIPT" .sh)
T_SHELL_PID=$$
T_CMD_TIMEOUT=${MOOR_ITEST_CMD_TIMEOUT:-60}   # seconds for one runtime command
T_CASE=""

if [[ $EUID -ne 0 ]]; then
  echo "$T_NAME: integration tests need root (namespaces, cgroups, mounts)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
if [[ ! -x "$MOOR_RUNTIME" ]]; then
  echo "$T_NAME: runtime under test not found: MOOR_RUNTIME=$MOOR_RUNTIME (build it, or set MOOR_RUNTIME)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
MOOR_RUNTIME=$(readlink -f "$MOOR_RUNTIME")
for tool in jq timeout unshare /usr/bin/python3 /bin/busybox; do
  if ! command -v "$tool" >/dev/null; then
    echo "$T_NAME: missing tool $tool (run scripts/setup.sh)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

T_TMP=$(mktemp -d "${TMPDIR:-/tmp}/moor-itest.${T_NAME}.XXXXXX")
chmod 755 "$T_TMP"
T_CG="moor-itest-${T_NAME//_/-}-$$"   # cgroup prefix: containers get cgroupsPath /$T_CG/<id>
T_PASS=0 T_FAIL=0 T_SKIP=0
T_FAILED_CASES=()
T_FINISHED=0
: >"$T_TMP/ids"
: >"$T_TMP/bgpids"
echo 0 >"$T_TMP/seq"

say() { printf '%s\n' "$*"; }

# ---------------------------------------------------------------------------------------
# Which runtime is under test

# is_runc [BIN]: true when BIN (default: the runtime under test) is runc.
is_runc() { "${1:-$MOOR_RUNTIME}" --version 2>/dev/null | grep -q '^runc version'; }
# is_moor: true when the runtime under test is moor-runtime (field-name checks apply).
is_moor() { ! is_runc "$MOOR_RUNTIME"; }

# ---------------------------------------------------------------------------------------
# Assertions. All take a message last; they print "  ok - MSG" or "  FAIL - MSG".

_record_fail() {
  say "  FAIL - $*"
  printf '%s\n' "$*" >>"$T_TMP/case_failed"
}
pass() { say "  ok - $*"; }
fail() { _record_fail "$*"; return 1; }
# die MSG: record a failure and end the current case.
die() { _record_fail "$*"; exit 1; }
# skip REASON: end the current case as skipped (says what is missing).
skip() { say "  SKIP - $*"; exit 77; }

assert_eq() {  # EXPECTED ACTUAL MSG
  if [[ "$1" == "$2" ]]; then pass "$3"; else
    fail "$3: expected [$1], got [$2]"
  fi
}
assert_ne() {  # UNEXPECTED ACTUAL MSG
  if [[ "$1" != "$2" ]]; then pass "$3"; else fail "$3: got [$2], which it must not be"; fi
}
assert_contains() {  # HAYSTACK NEEDLE MSG
  if [[ "$1" == *"$2"* ]]; then pass "$3"; else
    fail "$3: [$2] not found in [$(_clip "$1")]"
  fi
}
assert_not_contains() {  # HAYSTACK NEEDLE MSG
  if [[ "$1" != *"$2"* ]]; then pass "$3"; else
    fail "$3: [$2] must not appear in [$(_clip "$1")]"
  fi
}
assert_match() {  # STRING ERE MSG
  if [[ "$1" =~ $2 ]]; then pass "$3"; else fail "$3: [$(_clip "$1")] does not match /$2/"; fi
}
assert_true() {  # MSG CMD...: CMD must succeed
  local msg=$1; shift
  if "$@"; then pass "$msg"; else fail "$msg (command failed: $*)"; fi
}
assert_false() {  # MSG CMD...: CMD must fail
  local msg=$1; shift
  if "$@"; then fail "$msg (command unexpectedly succeeded: $*)"; else pass "$msg"; fi
}
_clip() { local s=$1; ((${#s} > 600)) && s="${s:0:600}…"; printf '%s' "$s"; }

# capture CMD...: run CMD with stdin from /dev/null; sets OUT, ERR (strings) and RC.
capture() {
  "$@" </dev/null >"$T_TMP/cap.out" 2>"$T_TMP/cap.err"
  RC=$?
  OUT=$(cat "$T_TMP/cap.out")
  ERR=$(cat "$T_TMP/cap.err")
  return 0
}

# assert_rc EXPECTED MSG CMD...: capture CMD and check its exit status.
assert_rc() {
  local want=$1 msg=$2; shift 2
  capture "$@"
  if [[ "$RC" == "$want" ]]; then pass "$msg"; else
    fail "$msg: exit status $RC, expected $want; stderr: $(_clip "$ERR")"
  fi
}

# assert_runtime_error MSG FIELD: after a failed `capture`, check that the runtime said why.
# For moor-runtime: exactly one stderr line "moor-runtime: ..." that names FIELD.
# Other runtimes (runc) word their errors differently: only a non-empty stderr is required.
assert_runtime_error() {
  local msg=$1 field=$2
  if [[ "$RC" == 0 ]]; then fail "$msg: exit status 0, expected a failure"; return; fi
  if [[ -z "$ERR" ]]; then fail "$msg: failed (exit $RC) but printed nothing on stderr"; return; fi
  if is_moor; then
    local lines
    lines=$(printf '%s\n' "$ERR" | grep -c .)
    if [[ "$lines" != 1 ]]; then fail "$msg: expected one stderr line, got $lines: $(_clip "$ERR")"; return; fi
    if [[ "$ERR" != "moor-runtime: "* ]]; then fail "$msg: stderr must start with 'moor-runtime: ': $ERR"; return; fi
    if [[ -n "$field" && "$ERR" != *"$field"* ]]; then fail "$msg: stderr does not name '$field': $ERR"; return; fi
  fi
  pass "$msg (exit $RC: $(_clip "$ERR"))"
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it succeeds.
# Returns 1 and records a failure when the deadline passes.
wait_for() {
  local secs=$1 what=$2; shift 2
  local deadline=$((${EPOCHREALTIME/./} + secs * 1000000))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ((${EPOCHREALTIME/./} > deadline)); then
      fail "timed out after ${secs}s waiting for: $what"
      return 1
    fi
    sleep 0.05
  done
}

# ---------------------------------------------------------------------------------------
# Rootfs, bundles, ids

# rootfs_cache: prints the path of a cached busybox rootfs (built once per busybox binary).
rootfs_cache() {
  local cache=${MOOR_TEST_CACHE:-/var/tmp/moor-itest-cache}
  local key
  key=$(sha256sum /bin/busybox | cut -c1-16)
  local dir="$cache/rootfs-busybox-$key-v2"
  if [[ -f "$dir/.complete" ]]; then printf '%s\n' "$dir"; return 0; fi
  mkdir -p "$cache"
  local tmp
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  chmod 755 "$tmp"
  mkdir -p "$tmp"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root,home/tester,var/tmp}
  chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
  chmod 700 "$tmp/root"
  cp /bin/busybox "$tmp/bin/busybox"
  local applet
  while read -r applet; do
    [[ -z "$applet" || "$applet" == bin/busybox ]] && continue
    mkdir -p "$tmp/$(dirname "$applet")"
    ln -sf /bin/busybox "$tmp/$applet"
  done < <(/bin/busybox --list-full)
  cat >"$tmp/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
tester:x:1000:1000:tester:/home/tester:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
  cat >"$tmp/etc/group" <<'EOF'
root:x:0:
wheel:x:10:tester
uucp:x:20:
tester:x:1000:
nogroup:x:65534:
EOF
  chown 1000:1000 "$tmp/home/tester"
  touch "$tmp/.complete"
  if ! mv -T "$tmp" "$dir" 2>/dev/null; then rm -rf "$tmp"; fi  # lost a race: use the winner's
  printf '%s\n' "$dir"
}

# new_id [STEM]: a unique container id, recorded so the cleanup deletes it.
new_id() {
  local n
  n=$(($(cat "$T_TMP/seq") + 1))
  echo "$n" >"$T_TMP/seq"
  local id="mt-${1:-c}-$$-$n"
  printf '%s\n' "$id" >>"$T_TMP/ids"
  printf '%s\n' "$id"
}

# make_bundle ID [JQ_FILTER [JQ_ARGS...]]: prints the path of a new bundle for container ID:
# a copy of the busybox rootfs and a config.json like `runc spec`'s default (namespaces
# pid/network/ipc/uts/mount, 3 capabilities, masked and readonly paths, devices denied),
# with terminal=false, a writable rootfs, hostname "moor-test", args ["true"] and
# cgroupsPath /$T_CG/ID; then edited by JQ_FILTER. In the filter, $bundle is the bundle
# path and $rootfs its rootfs.
make_bundle() {
  local id=$1 filter=${2:-.}
  shift; (($# > 0)) && shift
  local b="$T_TMP/bundles/$id"
  mkdir -p "$b"
  cp -a "$(rootfs_cache)" "$b/rootfs"
  rm -f "$b/rootfs/.complete"
  _config_template "/$T_CG/$id" |
    jq --arg bundle "$b" --arg rootfs "$b/rootfs" "$@" "$filter" >"$b/config.json" ||
    die "make_bundle: jq filter failed: $filter"
  printf '%s\n' "$b"
}

_config_template() {
  cat <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["true"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": false},
  "hostname": "moor-test",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
     "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs",
     "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
  ],
  "linux": {
    "cgroupsPath": "$1",
    "resources": {"devices": [{"allow": false, "access": "rwm"}]},
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF
}

# Docker's default capability set (14), for configs that want it.
DOCKER_CAPS='["CAP_CHOWN","CAP_DAC_OVERRIDE","CAP_FSETID","CAP_FOWNER","CAP_MKNOD","CAP_NET_RAW","CAP_SETGID","CAP_SETUID","CAP_SETFCAP","CAP_SETPCAP","CAP_NET_BIND_SERVICE","CAP_SYS_CHROOT","CAP_KILL","CAP_AUDIT_WRITE"]'

# ---------------------------------------------------------------------------------------
# Running runtimes

# root_for BIN: the private --root of BIN for this test.
root_for() {
  local key
  key=$(printf '%s' "$1" | md5sum | cut -c1-8)
  local r="$T_TMP/root-$key"
  if [[ ! -e "$r.bin" ]]; then printf '%s\n' "$1" >"$r.bin"; fi
  printf '%s\n' "$r"
}

# rt_with BIN ARGS...: run BIN --root <private root> ARGS... with a timeout.
rt_with() {
  local bin=$1; shift
  timeout -k 5 "$T_CMD_TIMEOUT" "$bin" --root "$(root_for "$bin")" "$@"
}
# rt ARGS...: the runtime under test.
rt() { rt_with "$MOOR_RUNTIME" "$@"; }

# state_field ID JQ_PATH [BIN]: one field of `state ID` ("" when state fails).
state_field() {
  rt_with "${3:-$MOOR_RUNTIME}" state "$1" 2>/dev/null | jq -r "$2" 2>/dev/null
}
# status_is ID STATUS [BIN]
status_is() { [[ "$(state_field "$1" .status "${3:-}")" == "$2" ]]; }

# create_started ID BUNDLE [BIN]: create + start; container stdout/stderr go to
# $T_TMP/ID.out / ID.err. Dies if either step fails.
create_started() {
  local id=$1 b=$2 bin=${3:-$MOOR_RUNTIME}
  rt_with "$bin" create --bundle "$b" "$id" </dev/null >"$T_TMP/$id.out" 2>"$T_TMP/$id.err" ||
    die "create $id failed: $(cat "$T_TMP/$id.err")"
  rt_with "$bin" start "$id" </dev/null >>"$T_TMP/$id.out" 2>>"$T_TMP/$id.err" ||
    die "start $id failed: $(cat "$T_TMP/$id.err")"
}

# file_has FILE TEXT: FILE exists and contains TEXT (for wait_for).
file_has() { [[ -f "$1" ]] && grep -qF -- "$2" "$1"; }

# track_pid PID: a helper process the test started; the cleanup kills it.
track_pid() { printf '%s\n' "$1" >>"$T_TMP/bgpids"; }

# host_cgroup CONTROLLER ID: the host path of container ID's cgroup for CONTROLLER.
host_cgroup() { printf '%s\n' "/sys/fs/cgroup/$1/$T_CG/$2"; }

# ---------------------------------------------------------------------------------------
# Cleanup and leak checks

# _leftover_pids: live processes of the test, except this check itself: descendants of the
# test shell (orphans are re-parented to it), processes in the test's cgroups, and
# processes whose command line names the test's temp dir (runtimes, hooks).
_leftover_pids() {
  /usr/bin/python3 - "$T_SHELL_PID" "/$T_CG/" "$T_TMP" <<'EOF'
import os, sys
top, cg, tmp = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode()
ppid, hit = {}, set()
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    pid = int(d)
    try:
        with open(f"/proc/{d}/stat") as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        if fields[0] in ("Z", "X"):
            continue
        ppid[pid] = int(fields[1])
        with open(f"/proc/{d}/cgroup") as f:
            if any(line.split(":", 2)[2].strip().startswith(cg) for line in f if line.count(":") >= 2):
                hit.add(pid)
        with open(f"/proc/{d}/cmdline", "rb") as f:
            if tmp in f.read():
                hit.add(pid)
    except (OSError, ValueError, IndexError):
        pass
mine, p = set(), os.getpid()
while p in ppid and p != 0:
    mine.add(p)
    p = ppid[p]
for pid in sorted(ppid):
    if pid in mine or pid == top:
        continue
    p, hops = ppid.get(pid, 0), 0
    while p not in (0, 1, top) and p in ppid and hops < 10000:
        p, hops = ppid[p], hops + 1
    if p == top or pid in hit:
        print(pid)
EOF
}

_describe_pids() {
  local p
  for p in "$@"; do
    printf '%s(%s) ' "$p" "$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80)"
  done
}

# cleanup_containers: kill helpers, then `delete --force` every container of the test.
cleanup_containers() {
  local p
  while read -r p; do
    [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null
  done <"$T_TMP/bgpids"
  : >"$T_TMP/bgpids"
  local binfile bin root id
  for binfile in "$T_TMP"/root-*.bin; do
    [[ -e "$binfile" ]] || continue
    bin=$(cat "$binfile")
    root=${binfile%.bin}
    {
      cat "$T_TMP/ids"
      [[ -d "$root" ]] && ls -A "$root"
    } | sort -u | while read -r id; do
      [[ -z "$id" ]] && continue
      timeout -k 5 "$T_CMD_TIMEOUT" "$bin" --root "$root" delete --force "$id" </dev/null >/dev/null 2>&1
    done
  done
  : >"$T_TMP/ids"
}

_note_leak() { say "  note - $*"; }

# verify_clean WHAT [note]: check that no state, cgroup, mount or process of the test is left;
# records a failure naming each leak (with "note": only prints it), then removes the leaks so later cases start clean.
verify_clean() {
  local what=$1 leaks=0 binfile root
  local _record_fail=_record_fail
  [[ "${2:-}" == note ]] && _record_fail=_note_leak
  for binfile in "$T_TMP"/root-*.bin; do
    [[ -e "$binfile" ]] || continue
    root=${binfile%.bin}
    if [[ -d "$root" && -n "$(ls -A "$root")" ]]; then
      $_record_fail "$what: state left in --root $root: $(ls -A "$root" | tr '\n' ' ')"
      leaks=1
    fi
  done
  local cgs
  cgs=$(find /sys/fs/cgroup/*/"$T_CG" /sys/fs/cgroup/"$T_CG" -mindepth 1 -type d 2>/dev/null)
  if [[ -n "$cgs" ]]; then
    $_record_fail "$what: cgroup dirs left: $(echo "$cgs" | tr '\n' ' ')"
    leaks=1
  fi
  local mnts
  mnts=$(awk -v t="$T_TMP" 'index($5, t) > 0 { print $5 }' /proc/self/mountinfo)
  if [[ -n "$mnts" ]]; then
    $_record_fail "$what: mounts left: $(echo "$mnts" | tr '\n' ' ')"
    leaks=1
  fi
  local live=()
  mapfile -t live < <(_leftover_pids)
  if ((${#live[@]} > 0)); then
    $_record_fail "$what: processes left: $(_describe_pids "${live[@]}")"
    leaks=1
    kill -KILL "${live[@]}" 2>/dev/null
  fi
  if ((leaks)); then
    # remove what leaked, so the next case and the machine start clean
    local m
    for m in $(echo "$mnts" | sort -r); do umount -l "$m" 2>/dev/null; done
    for binfile in "$T_TMP"/root-*.bin; do
      [[ -e "$binfile" ]] || continue
      root=${binfile%.bin}
      [[ -d "$root" ]] && find "$root" -mindepth 1 -delete 2>/dev/null
    done
  fi
  _remove_cgroup_prefix
  return $leaks
}

_remove_cgroup_prefix() {
  local d i
  for i in 1 2 3 4 5; do
    [[ -z "$(find /sys/fs/cgroup/*/"$T_CG" /sys/fs/cgroup/"$T_CG" -maxdepth 0 2>/dev/null)" ]] && return 0
    find /sys/fs/cgroup/*/"$T_CG" /sys/fs/cgroup/"$T_CG" -depth -type d 2>/dev/null | while read -r d; do
      # a leaked cgroup may still hold (just killed) processes
      rmdir "$d" 2>/dev/null
    done
    sleep 0.1
  done
}

# ---------------------------------------------------------------------------------------
# Cases and the summary

# run_case NAME FUNC [ARGS...]: run one case in a subshell, then clean up and check leaks.
# MOOR_ITEST_CASES (an ERE) selects cases by NAME.
run_case() {
  local name=$1; shift
  if [[ -n "${MOOR_ITEST_CASES:-}" && ! "$name" =~ $MOOR_ITEST_CASES ]]; then return 0; fi
  say "--- $name"
  : >"$T_TMP/case_failed"
  (
    T_CASE=$name
    "$@"
  )
  local rc=$?
  cleanup_containers
  verify_clean "$name"
  if [[ $rc == 77 && ! -s "$T_TMP/case_failed" ]]; then
    T_SKIP=$((T_SKIP + 1))
    return 0
  fi
  if [[ $rc != 0 && $rc != 77 && ! -s "$T_TMP/case_failed" ]]; then
    _record_fail "$name: case ended with exit status $rc"
  fi
  if [[ -s "$T_TMP/case_failed" ]]; then
    T_FAIL=$((T_FAIL + 1))
    T_FAILED_CASES+=("$name")
    say "FAILED: $name"
  else
    T_PASS=$((T_PASS + 1))
  fi
}

_final_cleanup() {
  cleanup_containers
  verify_clean "end of $T_NAME" >/dev/null || true
  local m
  for m in $(awk -v t="$T_TMP" 'index($5, t) > 0 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null
  done
  if [[ -z "${MOOR_ITEST_KEEP:-}" ]]; then rm -rf "$T_TMP"; fi
}

# finish: final cleanup, summary line, exit status.
finish() {
  T_FINISHED=1
  _final_cleanup
  if ((${#T_FAILED_CASES[@]} > 0)); then
    say "$T_NAME: failed cases:"
    printf '  - %s\n' "${T_FAILED_CASES[@]}"
  fi
  say "runtime under test: $MOOR_RUNTIME"
  if ((T_SKIP > 0)); then
    say "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
  else
    say "$T_PASS passed, $T_FAIL failed"
  fi
  ((T_FAIL == 0))
  exit
}

_on_exit() {
  local rc=$?
  ((T_FINISHED)) && exit "$rc"
  # the script stopped before finish: clean up and report it as a failure
  _final_cleanup
  say "$T_NAME: stopped early (exit status $rc)"
  say "$T_PASS passed, $((T_FAIL + 1)) failed"
  exit 1
}
trap _on_exit EXIT
trap 'exit 130' INT TERM

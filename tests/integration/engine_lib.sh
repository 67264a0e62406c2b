# shellcheck shell=bash
# Shared helpers for the engine's integration tests (tests/integration/engine_*_test.sh):
# a private `moor daemon` per test script, the `moor` CLI pointed at it, a busybox image,
# and per-case checks that nothing the engine made is left behind.
#
# Usage, in a test script:
#   source "$(dirname "$0")/engine_lib.sh"
#   t_x() { M run -d --name x "$IMG" sleep 100; ...; }
#   ecase "what it checks" t_x
#   finish
#
# Isolation: the script re-executes itself under `unshare --net --mount` (propagation
# slave), so the daemon's bridge, veths, netns pins, port proxies and overlay mounts exist
# only in namespaces the test made; all traffic goes to 127.0.0.1 or container addresses
# inside them. The daemon gets its own --root, --exec-root and socket under the test's
# temp dir. Images are imported from a local busybox tar; nothing is ever pulled.
#
# On top of lib.sh (assertions, capture, wait_for, run_case, finish) this file replaces
# cleanup_containers / verify_clean / _final_cleanup: after every case all containers,
# user networks and volumes are removed, and the case fails if any veth ("mv…"), IP
# lease, cgroup of one of its containers, mount under the test's roots or `moor monitor`
# process is left.

if [[ -z "${MOOR_ENGINE_NS:-}" ]]; then
  if [[ $EUID -ne 0 ]]; then
    echo "$(basename "$0" .sh): integration tests need root (namespaces, cgroups, mounts)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  export MOOR_ENGINE_NS=1
  exec unshare --net --mount --propagation slave /bin/bash "$(readlink -f "$0")" "$@"
fi

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ip link set lo up || {
  echo "$T_NAME: cannot bring up lo in the test's network namespace" >&2
  exit 1
}

MOOR_BIN=${MOOR_BIN:-$MOOR_SRC/build/cmd/moor/moor}
if [[ ! -x "$MOOR_BIN" ]]; then
  say "$T_NAME: moor binary not found: MOOR_BIN=$MOOR_BIN (build it, or set MOOR_BIN)"
  T_FAIL=1
  T_FAILED_CASES+=("moor binary not found")
  finish
fi

# The binaries, hard-linked (or copied) into one dir: the daemon finds moor-runtime and
# moor-init next to /proc/self/exe (monitor processes of this test are told apart by their
# --config path under its exec root or root: _e_monitors).
E_BIN="$T_TMP/bin"
mkdir -p "$E_BIN"
_e_link() { ln -f "$1" "$E_BIN/$2" 2>/dev/null || cp "$1" "$E_BIN/$2"; }
_e_link "$(readlink -f "$MOOR_BIN")" moor
_e_link "$MOOR_RUNTIME" moor-runtime
_e_init=${MOOR_INIT:-$(dirname "$(dirname "$MOOR_RUNTIME")")/moor-init/moor-init}
[[ -x "$_e_init" ]] && _e_link "$_e_init" moor-init
MOOR="$E_BIN/moor"

E_ROOT="$T_TMP/root"        # daemon --root (and the CLI's image store)
# daemon --exec-root: short, because monitor sockets live at EXEC-ROOT/c/<64-hex id>/monitor.sock
# and a unix socket path has at most 107 bytes (see _final_cleanup for its removal)
E_RUN=$(mktemp -d /tmp/mr.XXXXXX)
E_SOCK="$T_TMP/moor.sock"   # daemon -H
E_LOG="$T_TMP/daemon.log"
E_DAEMON_PID=""
E_IMG=eimg:1                # busybox, CMD ["sh"]
E_CMD_TIMEOUT=${MOOR_ENGINE_CMD_TIMEOUT:-60}
export MOOR_HOST="unix://$E_SOCK"
: >"$T_TMP/eids"
: >"$E_LOG"

# M ARGS...: the CLI, talking to this test's daemon and image store.
M() { timeout -k 5 "$E_CMD_TIMEOUT" "$MOOR" --root "$E_ROOT" -H "unix://$E_SOCK" "$@"; }

# one_line: stderr of a failed `capture` is exactly one non-empty line.
one_line() { [[ -n "$ERR" && "$(printf '%s\n' "$ERR" | grep -c .)" == 1 ]]; }

# ---------------------------------------------------------------------------------------
# The daemon

# E_DAEMON_FLAGS (an array a test may set): more flags for every daemon start, restarts included.
daemon_start() {
  mkdir -p "$E_ROOT" "$E_RUN"
  echo "=== daemon start $(date +%T.%N)" >>"$E_LOG"
  "$MOOR" daemon --debug --root "$E_ROOT" --exec-root "$E_RUN" -H "unix://$E_SOCK" \
    --add-runtime "moor=$E_BIN/moor-runtime" --log-max-size 64m \
    ${E_DAEMON_FLAGS[@]+"${E_DAEMON_FLAGS[@]}"} "$@" \
    </dev/null >>"$E_LOG" 2>&1 &
  E_DAEMON_PID=$!
  echo "$E_DAEMON_PID" >"$T_TMP/daemon.pid"
  local deadline=$((SECONDS + 30))
  until M version >/dev/null 2>&1; do
    if ! kill -0 "$E_DAEMON_PID" 2>/dev/null; then
      say "daemon exited at start; log:"
      tail -n 20 "$E_LOG" | sed 's/^/    /'
      return 1
    fi
    if ((SECONDS > deadline)); then
      say "daemon did not answer within 30 s"
      return 1
    fi
    sleep 0.05
  done
}

# daemon_stop: SIGTERM (containers keep running), wait for it to exit.
daemon_stop() {
  local pid
  pid=$(cat "$T_TMP/daemon.pid" 2>/dev/null)
  [[ -z "$pid" ]] && return 0
  kill -TERM "$pid" 2>/dev/null
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  : >"$T_TMP/daemon.pid"
}

# daemon_kill9: SIGKILL the daemon (a crash).
daemon_kill9() {
  local pid
  pid=$(cat "$T_TMP/daemon.pid" 2>/dev/null)
  [[ -z "$pid" ]] && return 0
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  echo "=== daemon SIGKILLed $(date +%T.%N)" >>"$E_LOG"
  : >"$T_TMP/daemon.pid"
}

# ---------------------------------------------------------------------------------------
# The image

# setup_engine_image: imports the busybox rootfs as $E_IMG (CMD ["sh"]) once per script.
setup_engine_image() {
  [[ -f "$T_TMP/eimg.done" ]] && return 0
  local rfs="$T_TMP/eimg-rootfs"
  cp -a "$(rootfs_cache)" "$rfs"
  rm -f "$rfs/.complete"
  mkdir -p "$rfs/www"
  echo "hello from httpd" >"$rfs/www/index.html"
  tar -C "$rfs" -cf "$T_TMP/eimg.tar" . || return 1
  rm -rf "$rfs"
  M image import -c 'CMD ["sh"]' "$T_TMP/eimg.tar" "$E_IMG" >/dev/null 2>"$T_TMP/eimg.err" || {
    say "image import failed: $(cat "$T_TMP/eimg.err")"
    return 1
  }
  touch "$T_TMP/eimg.done"
}

# ---------------------------------------------------------------------------------------
# Containers

# ijq CONTAINER JQ: one value from `moor inspect CONTAINER` ("" when inspect fails).
ijq() { M inspect "$1" 2>/dev/null | jq -r ".[0] | $2" 2>/dev/null; }
# status_of CONTAINER: State.Status.
status_of() { ijq "$1" .State.Status; }
status_is_e() { [[ "$(status_of "$1")" == "$2" ]]; }
# wait_status SECS CONTAINER STATUS
wait_status() { wait_for "$1" "$2 to be $3 (is $(status_of "$2"))" status_is_e "$2" "$3"; }
# ip_of CONTAINER: NetworkSettings.IPAddress, else the first network's address.
ip_of() {
  ijq "$1" '(.NetworkSettings.IPAddress // "") as $a |
    if $a != "" then $a else ([.NetworkSettings.Networks[]?.IPAddress] | map(select(. != "")) | .[0] // "") end'
}
# note_ids TEXT...: remembers container ids seen (for the cgroup leak check).
note_ids() { printf '%s\n' "$@" | grep -oE '\b[0-9a-f]{64}\b' >>"$T_TMP/eids"; }
_note_all_ids() {
  note_ids "$(M ps -aq --no-trunc 2>/dev/null)"
  note_ids "$(ls "$E_ROOT/containers" 2>/dev/null)"
  note_ids "$(ls "$E_RUN/c" 2>/dev/null)"
}

# tcp_get PORT [HOST] [TIMEOUT]: connect, send nothing, print what the server says.
# Exit status: 0 read something, 1 refused, 2 reset/other error, 3 empty reply.
tcp_get() {
  /usr/bin/python3 - "$1" "${2:-127.0.0.1}" "${3:-5}" <<'EOF'
import socket, sys
port, host, t = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.socket()
s.settimeout(t)
try:
    s.connect((host, port))
except ConnectionRefusedError:
    print("refused"); sys.exit(1)
except OSError as e:
    print("connect: %s" % e); sys.exit(2)
data = b""
try:
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
except ConnectionResetError:
    print("reset after %r" % data); sys.exit(2)
except socket.timeout:
    pass
except OSError as e:
    print("recv: %s after %r" % (e, data)); sys.exit(2)
sys.stdout.write(data.decode(errors="replace"))
sys.exit(0 if data else 3)
EOF
}

# in_tty CMD...: runs CMD with a pty as stdin/stdout/stderr (the CLI sees a terminal);
# INPUT (env) is written to the pty, output goes to stdout with \r removed.
in_tty() {
  /usr/bin/python3 - "$@" <<'EOF'
import os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, status = b"", None
deadline = time.time() + float(os.environ.get("TTY_TIMEOUT", "30"))
pending = os.environ.get("INPUT", "").encode()
send_at = time.time() + float(os.environ.get("INPUT_DELAY", "1"))
while time.time() < deadline:
    if pending and time.time() >= send_at:
        os.write(fd, pending)
        pending = b""
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            b = os.read(fd, 4096)
        except OSError:
            b = b""
        if b:
            out += b
            continue
        if pending:
            continue
        time.sleep(0.02)  # EOF/EIO on the master while the child still runs
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
if status is None:
    os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
sys.exit(os.waitstatus_to_exitcode(status) & 0xff)
EOF
}

# ---------------------------------------------------------------------------------------
# Cleanup and leak checks (replace lib.sh's, which are about runtime state dirs)

# _e_mounts: mounts under the test's roots, except the daemon's netns dir itself (made
# shared once, like `ip netns` does; the pins inside it are listed).
_e_mounts() {
  awk -v t="$T_TMP" -v r="$E_RUN" -v n="$E_RUN/netns" \
    '(index($5, t) > 0 || index($5, r) > 0) && $5 != n { print $5 }' /proc/self/mountinfo
}
_e_veths() { ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | grep '^mv' ; }
# The daemon starts a monitor as `moor-monitor --config PATH` or `moor monitor --config PATH`
# (argv[0] is not a path), PATH under this test's exec root or root.
_e_monitors() { pgrep -f -- "monitor --config ($E_RUN|$E_ROOT)/" 2>/dev/null; }
_e_cgroups() {
  local id
  sort -u "$T_TMP/eids" | while read -r id; do
    [[ -z "$id" ]] && continue
    ls -d /sys/fs/cgroup/*/moor/"$id" 2>/dev/null
  done
}
_e_leases() {
  M network inspect bridge 2>/dev/null | jq -r '.[0].Containers // {} | keys | join(" ")' 2>/dev/null
}

cleanup_containers() {
  local p
  while read -r p; do
    [[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null
  done <"$T_TMP/bgpids"
  : >"$T_TMP/bgpids"
  [[ -s "$T_TMP/daemon.pid" ]] || return 0
  _note_all_ids
  local ids
  ids=$(M ps -aq 2>/dev/null)
  # shellcheck disable=SC2086
  [[ -n "$ids" ]] && M rm -f $ids >/dev/null 2>&1
  local n
  for n in $(M network ls -q 2>/dev/null); do
    case $(M network inspect "$n" 2>/dev/null | jq -r '.[0].Name') in
      bridge | host | none | "") ;;
      *) M network rm "$n" >/dev/null 2>&1 ;;
    esac
  done
  local v
  for v in $(M volume ls -q 2>/dev/null); do M volume rm -f "$v" >/dev/null 2>&1; done
}

# verify_clean WHAT [note]: nothing of the engine is left; with "note" leaks are only printed.
verify_clean() {
  local what=$1 leaks=0
  local _rf=_record_fail
  [[ "${2:-}" == note ]] && _rf=_note_leak
  if [[ -s "$T_TMP/daemon.pid" ]]; then
    local left
    left=$(M ps -aq 2>/dev/null | tr '\n' ' ')
    if [[ -n "$left" ]]; then $_rf "$what: containers left after rm -f: $left"; leaks=1; fi
    local leases
    leases=$(_e_leases)
    if [[ -n "$leases" ]]; then $_rf "$what: IP leases left on bridge: $leases"; leaks=1; fi
  fi
  local veths
  # a deleted veth can take a moment to go (the kernel frees it asynchronously)
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    veths=$(_e_veths)
    [[ -z "$veths" ]] && break
    sleep 0.2
  done
  if [[ -n "$veths" ]]; then
    $_rf "$what: veths left: $(echo "$veths" | tr '\n' ' ')"
    leaks=1
    local l
    for l in $veths; do ip link del "$l" 2>/dev/null; done
  fi
  local mnts
  mnts=$(_e_mounts | grep -vxF -f "$T_TMP/mounts.base" 2>/dev/null)
  if [[ -n "$mnts" ]]; then
    $_rf "$what: mounts left: $(echo "$mnts" | tr '\n' ' ')"
    leaks=1
    local m
    for m in $(echo "$mnts" | sort -r); do umount -l "$m" 2>/dev/null; done
  fi
  local cgs
  cgs=$(_e_cgroups)
  if [[ -n "$cgs" ]]; then
    $_rf "$what: cgroups left: $(echo "$cgs" | tr '\n' ' ')"
    leaks=1
    _e_remove_cgroups
  fi
  local mons
  mons=$(_e_monitors | tr '\n' ' ')
  if [[ -n "$mons" ]]; then
    $_rf "$what: moor monitor processes left: $mons"
    leaks=1
    # shellcheck disable=SC2086
    kill -KILL $mons 2>/dev/null
  fi
  return $leaks
}

_e_remove_cgroups() {
  local d
  for _ in 1 2 3 4 5; do
    _e_cgroups | while read -r d; do
      cat "$d/cgroup.procs" 2>/dev/null | xargs -r kill -KILL 2>/dev/null
      rmdir "$d" 2>/dev/null
    done
    [[ -z "$(_e_cgroups)" ]] && return 0
    sleep 0.2
  done
}

_final_cleanup() {
  cleanup_containers
  verify_clean "end of $T_NAME" note >/dev/null || true
  daemon_stop
  local mons
  mons=$(_e_monitors | tr '\n' ' ')
  # shellcheck disable=SC2086
  [[ -n "$mons" ]] && kill -KILL $mons 2>/dev/null
  _e_remove_cgroups
  local m
  for m in $(_e_mounts | sort -r); do umount -l "$m" 2>/dev/null; done
  umount -l "$E_RUN/netns" 2>/dev/null
  if [[ -n "${MOOR_ITEST_KEEP:-}" ]]; then
    say "kept $T_TMP and $E_RUN (daemon log: $E_LOG)"
  else
    rm -rf "$T_TMP" "$E_RUN"
  fi
}

# ecase NAME FUNC: run_case, and on failure show what the daemon logged meanwhile.
ecase() {
  local name=$1
  if [[ -n "${MOOR_ITEST_CASES:-}" && ! "$name" =~ $MOOR_ITEST_CASES ]]; then return 0; fi
  local before
  before=$(wc -l <"$E_LOG")
  local failed_before=${#T_FAILED_CASES[@]}
  if [[ ! -s "$T_TMP/daemon.pid" ]] || ! kill -0 "$(cat "$T_TMP/daemon.pid")" 2>/dev/null; then
    say "  note - the daemon is not running; starting it again"
    daemon_start || true
  fi
  run_case "$@"
  if ((${#T_FAILED_CASES[@]} > failed_before)); then
    say "  daemon log during the case (last 15 lines):"
    tail -n +"$((before + 1))" "$E_LOG" | grep -v '^$' | tail -n 15 | cut -c1-300 | sed 's/^/    | /'
  fi
}

# engine_setup: start the daemon and import the image; ends the script on failure.
engine_setup() {
  if ! daemon_start "$@"; then
    T_FAIL=1
    T_FAILED_CASES+=("the daemon did not start")
    finish
  fi
  _e_mounts >"$T_TMP/mounts.base"
  if ! setup_engine_image; then
    T_FAIL=1
    T_FAILED_CASES+=("image import failed")
    finish
  fi
}

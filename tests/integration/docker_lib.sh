# shellcheck shell=bash
# Docker-specific helpers for integration tests that use Debian's dockerd as a client of
# the runtime under test. Source it after lib.sh:
#
#   source "$(dirname "$0")/lib.sh"
#   source "$(dirname "$0")/docker_lib.sh"
#   docker_start || exit        # or SKIPs (exit 0) when dockerd cannot run here
#   docker_case "what it checks" t_something
#   docker_finish               # stops dockerd, checks nothing is left, prints the summary
#
# Contract:
# - dockerd is private to the test: its socket, pidfile, data root, exec root, config
#   file, trust key and containerd (which it starts itself, with state under the exec
#   root) all live under $T_TMP/docker; its containerd namespace is moor-itest-$$ and its
#   cgroup parent is lib.sh's $T_CG, so it never touches another dockerd on the machine.
# - The runtime under test is registered with dockerd as "moor" (--add-runtime), and
#   $MOOR_DOCKER_IMAGE is a busybox image made with `docker import` (no registry).
# - D ARGS... runs /usr/bin/docker against the private daemon (never /usr/local/bin/docker).
# - docker_case runs one case in a subshell like lib.sh's run_case, then removes the
#   case's containers and fails the case if any container is left behind. lib.sh's
#   per-case leak check is not used while dockerd runs (dockerd's own mounts and processes
#   live under $T_TMP); it runs once in docker_finish, after dockerd has stopped.

DOCKER_CLI=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
DK_DIR=""           # $T_TMP/docker
DK_SOCK=""
DK_PID=""
DK_CTR_PID=""
DK_NS="moor-itest-$$"
MOOR_DOCKER_IMAGE="moor-itest-busybox:latest"
DK_STARTUP_SECS=${MOOR_DOCKER_STARTUP_SECS:-90}
# Directories dockerd/containerd create outside their roots; removed at the end only if
# this test created them and they are empty.
DK_SHARED_DIRS=(/run/docker/plugins /run/docker /run/containerd/s /run/containerd /etc/docker)
DK_PREEXISTING=()

# D ARGS...: the docker client against the private daemon, with a timeout.
D() {
  DOCKER_CONFIG="$DK_DIR/client" timeout -k 5 120 "$DOCKER_CLI" -H "unix://$DK_SOCK" "$@"
}

# dk_alive: the private dockerd answers.
dk_alive() { D version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# docker_start: starts the private dockerd, waits until it answers, imports the busybox
# image. When dockerd or the client is missing, or dockerd cannot run on this machine,
# prints "SKIP: <reason>" and the summary line and exits 0.
docker_start() {
  local tool
  for tool in "$DOCKERD" "$DOCKER_CLI"; do
    if [[ ! -x "$tool" ]]; then _dk_skip "$tool is not installed (apt-get install docker.io)"; fi
  done
  local d
  for d in "${DK_SHARED_DIRS[@]}"; do [[ -e "$d" ]] && DK_PREEXISTING+=("$d"); done

  DK_DIR="$T_TMP/docker"
  DK_SOCK="$DK_DIR/docker.sock"
  mkdir -p "$DK_DIR/client" "$DK_DIR/data" "$DK_DIR/exec"
  # An empty config (not the machine's /etc/docker/daemon.json), and the trust key under
  # the test's dir instead of /etc/docker/key.json.
  printf '{"deprecated-key-path": "%s"}\n' "$DK_DIR/key.json" >"$DK_DIR/daemon.json"
  # The runtime's own binary is what dockerd runs; moor-runtime logs go to containerd's
  # --log file per container, which docker shows in its error messages.
  "$DOCKERD" \
    --config-file "$DK_DIR/daemon.json" \
    --data-root "$DK_DIR/data" \
    --exec-root "$DK_DIR/exec" \
    --pidfile "$DK_DIR/dockerd.pid" \
    -H "unix://$DK_SOCK" \
    --containerd-namespace "$DK_NS" \
    --containerd-plugins-namespace "$DK_NS-plugins" \
    --cgroup-parent "/$T_CG" \
    --exec-opt native.cgroupdriver=cgroupfs \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
    --userland-proxy=false \
    --storage-driver overlay2 \
    --add-runtime "moor=$MOOR_RUNTIME" \
    --log-level "${MOOR_DOCKERD_LOG_LEVEL:-info}" \
    </dev/null >"$DK_DIR/dockerd.log" 2>&1 &
  DK_PID=$!
  local deadline=$((${EPOCHREALTIME/./} + DK_STARTUP_SECS * 1000000))
  until dk_alive; do
    if ! kill -0 "$DK_PID" 2>/dev/null; then
      local why
      why=$(grep -m1 -iE 'level=(fatal|error)|failed to start' "$DK_DIR/dockerd.log" | cut -c1-300)
      [[ -z "$why" ]] && why=$(tail -n 3 "$DK_DIR/dockerd.log" | tr '\n' ' ' | cut -c1-300)
      # A flag or config the daemon rejects is this harness's bug, not a missing feature.
      if grep -qiE 'unknown flag|flag needs|invalid argument|unable to configure the Docker daemon' "$DK_DIR/dockerd.log"; then
        say "dockerd rejected the test's flags or config: $why"
        return 1
      fi
      _dk_skip "dockerd cannot run here: it exited during start-up: $why"
    fi
    if ((${EPOCHREALTIME/./} > deadline)); then
      local last
      last=$(tail -n 3 "$DK_DIR/dockerd.log" | tr '\n' ' ' | cut -c1-300)
      docker_stop
      _dk_skip "dockerd cannot run here: no answer on its socket within ${DK_STARTUP_SECS}s: $last"
    fi
    sleep 0.1
  done
  DK_CTR_PID=$(cat "$DK_DIR/exec/containerd/containerd.pid" 2>/dev/null)
  say "dockerd $(D version --format '{{.Server.Version}}') up (pid $DK_PID, containerd pid ${DK_CTR_PID:-?}) on $DK_SOCK"
  if ! D info --format '{{json .Runtimes}}' | grep -q '"moor"'; then
    say "dockerd did not register runtime moor: $(D info --format '{{json .Runtimes}}')"
    return 1
  fi
  dk_import_busybox || return 1
}

_dk_skip() {
  say "SKIP: $*"
  T_FINISHED=1
  _final_cleanup
  say "0 passed, 0 failed, 1 skipped"
  exit 0
}

# dk_import_busybox: `docker import` of lib.sh's busybox rootfs as $MOOR_DOCKER_IMAGE.
dk_import_busybox() {
  local rootfs
  rootfs=$(rootfs_cache)
  tar -C "$rootfs" --exclude ./.complete -cf "$DK_DIR/busybox.tar" . || {
    say "tar of $rootfs failed"
    return 1
  }
  if ! D import --change 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$DK_DIR/busybox.tar" \
    "$MOOR_DOCKER_IMAGE" >"$DK_DIR/import.out" 2>&1; then
    say "docker import failed: $(cat "$DK_DIR/import.out")"
    return 1
  fi
  rm -f "$DK_DIR/busybox.tar"
}

# dk_run ARGS...: `docker run --runtime moor --network none ARGS...`; sets OUT/ERR/RC.
dk_run() { capture D run --runtime moor --network none "$@"; }

# dk_name STEM: a container name unique to this test run.
dk_name() {
  local n
  n=$(($(cat "$T_TMP/dk_seq" 2>/dev/null || echo 0) + 1))
  echo "$n" >"$T_TMP/dk_seq"
  printf 'mt-%s-%s-%s\n' "$1" "$$" "$n"
}

# dk_inspect NAME GO_TEMPLATE: one field of `docker inspect` ("" on error).
dk_inspect() { D inspect --format "$2" "$1" 2>/dev/null; }
dk_running() { [[ "$(dk_inspect "$1" '{{.State.Running}}')" == true ]]; }
dk_exited() { [[ "$(dk_inspect "$1" '{{.State.Status}}')" == exited ]]; }
dk_logs_have() { D logs "$1" 2>&1 | grep -qF -- "$2"; }

# dk_runtime_state CID: the runtime's state entry for container CID under the --root
# that dockerd's containerd shim passes (<exec-root>/runtime-<name>/<namespace>; Docker
# 20.10 uses runtime-runc for every runc-compatible runtime). Prints nothing when absent.
dk_runtime_state() {
  local d
  for d in "$DK_DIR"/exec/runtime-*/"$DK_NS/$1"; do
    [[ -e "$d" ]] && printf '%s\n' "$d"
  done
}

# docker_case NAME FUNC [ARGS...]: run one case in a subshell; afterwards remove every
# container still present (`docker rm -f`, which goes through the runtime's kill and
# delete) and fail the case if that does not work.
docker_case() {
  local name=$1; shift
  if [[ -n "${MOOR_ITEST_CASES:-}" && ! "$name" =~ $MOOR_ITEST_CASES ]]; then return 0; fi
  say "--- $name"
  : >"$T_TMP/case_failed"
  (
    T_CASE=$name
    "$@"
  )
  local rc=$?
  local left
  left=$(D ps -aq 2>/dev/null)
  if [[ -n "$left" ]]; then
    # shellcheck disable=SC2086
    if ! D rm -f $left >"$T_TMP/rm.out" 2>&1; then
      _record_fail "$name: docker rm -f of the case's containers failed: $(cat "$T_TMP/rm.out")"
    fi
    left=$(D ps -a --format '{{.Names}}({{.Status}})' 2>/dev/null)
    [[ -n "$left" ]] && _record_fail "$name: containers left after docker rm -f: $left"
  fi
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

_pid_alive() { [[ -e /proc/$1 ]] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
_pids_gone() {
  local p
  for p in "$@"; do _pid_alive "$p" && return 1; done
  return 0
}

# _dk_shim_pids: containerd shims of the private containerd (they name its socket).
_dk_shim_pids() {
  local p
  for p in /proc/[0-9]*; do
    if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "containerd-shim.*$DK_DIR/exec/containerd"; then
      echo "${p#/proc/}"
    fi
  done
}

# docker_stop: removes every container, stops dockerd (TERM, which also stops its
# containerd), kills what is left of them after a deadline, unmounts everything under
# the data and exec roots, removes the cgroup parent. Records a failure for whatever
# had to be forced. Idempotent.
docker_stop() {
  [[ -z "$DK_PID" ]] && return 0
  local ok=0
  if dk_alive; then
    local all
    all=$(D ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n "$all" ]] && D rm -f $all >/dev/null 2>&1
  fi
  local shims
  shims=$(_dk_shim_pids)
  kill -TERM "$DK_PID" 2>/dev/null
  # dockerd waits for its containerd when it shuts down
  # shellcheck disable=SC2086
  if ! _dk_wait_gone 60 "$DK_PID" $DK_CTR_PID; then
    _record_fail "dockerd/containerd did not stop within 60s of SIGTERM; killing them"
    # shellcheck disable=SC2086
    kill -KILL "$DK_PID" $DK_CTR_PID 2>/dev/null
    ok=1
  fi
  wait "$DK_PID" 2>/dev/null
  shims="$shims $(_dk_shim_pids)"
  # shellcheck disable=SC2086
  if [[ -n "${shims// /}" ]] && ! _dk_wait_gone 20 $shims; then
    _record_fail "containerd shims left after dockerd stopped: $shims"
    # shellcheck disable=SC2086
    kill -KILL $shims 2>/dev/null
    ok=1
  fi
  local m
  for m in $(awk -v t="$DK_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  local d
  for d in "${DK_SHARED_DIRS[@]}"; do
    [[ " ${DK_PREEXISTING[*]} " == *" $d "* ]] && continue
    [[ -d "$d" ]] && rmdir "$d" 2>/dev/null
  done
  DK_PID=""
  return $ok
}

_dk_wait_gone() {  # SECS PID...
  local secs=$1; shift
  local deadline=$((${EPOCHREALTIME/./} + secs * 1000000))
  until _pids_gone "$@"; do
    ((${EPOCHREALTIME/./} > deadline)) && return 1
    sleep 0.05
  done
}

# docker_finish: stop dockerd, check that nothing of the test is left (lib.sh's checks:
# mounts under $T_TMP, processes, cgroups under $T_CG), print the summary and exit.
docker_finish() {
  : >"$T_TMP/case_failed"
  docker_stop
  verify_clean "after dockerd stopped"
  local d
  for d in "${DK_SHARED_DIRS[@]}"; do
    if [[ -e "$d" && " ${DK_PREEXISTING[*]} " != *" $d "* ]]; then
      _record_fail "dockerd left $d behind (not empty: $(ls -A "$d" | tr '\n' ' '))"
    fi
  done
  if [[ -s "$T_TMP/case_failed" ]]; then
    T_FAIL=$((T_FAIL + 1))
    T_FAILED_CASES+=("cleanup after dockerd")
  fi
  finish
}

# On an early exit (a `die` outside a case, an interrupt), stop dockerd before lib.sh's
# exit handler runs its leak check, so that dockerd is stopped cleanly, not SIGKILLed.
_dk_on_exit() {
  local rc=$?
  if ((!T_FINISHED)); then docker_stop >/dev/null 2>&1; fi
  (exit "$rc")
  _on_exit
}
trap _dk_on_exit EXIT

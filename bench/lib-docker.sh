# shellcheck shell=bash
# Shared parts of the benchmarks that compare moor with Docker (bench/image-pull,
# bench/build-cache): a PRIVATE dockerd, a private registry on loopback, a busybox
# rootfs. Source it, set BENCH_NAME (used in messages and names), then:
#
#   bd_start "$WORK/docker"        # dockerd with everything under that dir
#   D images                       # /usr/bin/docker against it
#   bd_registry_start "$WORK/reg"  # docker-registry on 127.0.0.1:$BD_REG_PORT
#   bd_start2 "$WORK/docker2"      # optional: a second dockerd, client D2 (see bd_start2)
#   ...
#   bd_cleanup                     # from the caller's EXIT trap: stops both, unmounts
#
# Contract (the same as tests/integration/docker_lib.sh): dockerd's socket, pidfile, data
# root, exec root, config file and trust key, and the containerd it starts, all live
# under the given dir; its containerd namespace is moor-bench-<pid>, its cgroup parent
# /moor-bench-<pid>, and it runs with --iptables=false --bridge=none. The machine's own
# dockerd, /etc/docker and /usr/local/bin/docker are never used. The registry listens on
# loopback only and stores under the given dir.

DOCKER_CLI=/usr/bin/docker
DOCKERD=/usr/sbin/dockerd
REGISTRY_BIN=/usr/bin/docker-registry
BD_DIR=""
BD_SOCK=""
BD_PID=""
BD_CTR_PID=""
BD_NS="moor-bench-$$"
BD_CG="moor-bench-$$"
BD_REG_PID=""
BD_REG_PORT=""
# Directories dockerd/containerd create outside their roots; removed at the end only if
# this run created them and they are empty.
BD_SHARED_DIRS=(/run/docker/plugins /run/docker /run/containerd/s /run/containerd /etc/docker)
BD_PREEXISTING=()

bd_die() { echo "${BENCH_NAME:-bench}: $*" >&2; exit 1; }

# bd_now_us: microseconds since the epoch, without a fork.
bd_now_us() { echo "${EPOCHREALTIME/./}"; }

# bd_wait SECS CMD...: polls CMD every 50 ms until it succeeds; fails after SECS.
bd_wait() {
  local secs=$1
  shift
  local deadline=$(($(bd_now_us) + secs * 1000000))
  until "$@" >/dev/null 2>&1; do
    (($(bd_now_us) > deadline)) && return 1
    sleep 0.05
  done
}

# D ARGS...: the docker client against the private daemon, with a timeout.
D() {
  DOCKER_CONFIG="$BD_DIR/client" timeout -k 5 600 "$DOCKER_CLI" -H "unix://$BD_SOCK" "$@"
}

bd_alive() { D version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# bd_start DIR: starts the private dockerd with everything under DIR and waits until it
# answers (90 s). Dies with dockerd's own error when it cannot start.
bd_start() {
  local tool
  for tool in "$DOCKERD" "$DOCKER_CLI"; do
    [[ -x $tool ]] || bd_die "$tool is not installed (apt-get install docker.io)"
  done
  local d
  for d in "${BD_SHARED_DIRS[@]}"; do [[ -e $d ]] && BD_PREEXISTING+=("$d"); done
  BD_DIR=$1
  BD_SOCK=$BD_DIR/docker.sock
  _bd_launch "$BD_DIR" "$BD_NS" "$BD_CG" D BD_PID
  BD_CTR_PID=$(cat "$BD_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
}

# _bd_launch DIR NS CG CLIENT PIDVAR: runs a dockerd with everything under DIR (socket
# DIR/docker.sock), containerd namespace NS, cgroup parent /CG, sets the variable named PIDVAR
# to its pid at once (so that cleanup finds it if the start fails) and waits until CLIENT (D or
# D2) reaches it.
_bd_launch() {
  local dir=$1 ns=$2 cg=$3 client=$4 pidvar=$5 pid
  mkdir -p "$dir/client" "$dir/data" "$dir/exec"
  # An empty config (not the machine's /etc/docker/daemon.json), and the trust key here
  # instead of /etc/docker/key.json.
  printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
  "$DOCKERD" \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    -H "unix://$dir/docker.sock" \
    --containerd-namespace "$ns" \
    --containerd-plugins-namespace "$ns-plugins" \
    --cgroup-parent "/$cg" \
    --exec-opt native.cgroupdriver=cgroupfs \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
    --userland-proxy=false \
    --storage-driver overlay2 \
    --log-level warn \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  pid=$!
  printf -v "$pidvar" '%s' "$pid"
  local deadline=$(($(bd_now_us) + 90 * 1000000))
  until "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf -v "$pidvar" '%s' ""
      bd_die "dockerd exited during start-up: $(tail -n 3 "$dir/dockerd.log" | tr '\n' ' ' | cut -c1-300)"
    fi
    (($(bd_now_us) > deadline)) &&
      bd_die "dockerd did not answer on $dir/docker.sock within 90 s (log: $dir/dockerd.log)"
    sleep 0.1
  done
}

# A SECOND private dockerd (bench/deploy: a build host and a production host), for pipelines
# that push from one daemon and pull into another. Same contract as bd_start: its own data
# root, exec root, pidfile, socket, config and trust key under DIR, its own containerd (namespace
# moor-bench-<pid>-2, cgroup parent /moor-bench-<pid>-2), --bridge=none --iptables=false, so it
# touches neither the first one nor the machine's dockerd. Start the first one (bd_start) first;
# bd_cleanup stops both.
#
#   bd_start2 "$WORK/docker2"
#   D2 pull 127.0.0.1:$BD_REG_PORT/x:1
BD2_DIR=""
BD2_SOCK=""
BD2_PID=""
BD2_CTR_PID=""

# D2 ARGS...: the docker client against the second daemon, with a timeout.
D2() {
  DOCKER_CONFIG="$BD2_DIR/client" timeout -k 5 600 "$DOCKER_CLI" -H "unix://$BD2_SOCK" "$@"
}

bd2_alive() { D2 version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# bd_start2 DIR: starts the second dockerd with everything under DIR (see above).
bd_start2() {
  [[ -n $BD_PID ]] || bd_die "bd_start2: start the first dockerd (bd_start) first"
  BD2_DIR=$1
  BD2_SOCK=$BD2_DIR/docker.sock
  _bd_launch "$BD2_DIR" "$BD_NS-2" "$BD_CG-2" D2 BD2_PID
  BD2_CTR_PID=$(cat "$BD2_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
}

# _bd_stop_one PID CTR_PID DIR CGROUP CLI ALIVE WHAT: removes that daemon's containers
# (through CLI, when ALIVE says it answers), SIGTERMs it (dockerd stops its containerd),
# kills both after 60 s, unmounts what is left under DIR and removes the cgroup parent.
_bd_stop_one() {
  local pid=$1 ctr=$2 dir=$3 cg=$4 cli=$5 alive=$6 what=$7
  if "$alive"; then
    local all
    all=$("$cli" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -n $all ]] && "$cli" rm -f $all >/dev/null 2>&1
  fi
  kill -TERM "$pid" 2>/dev/null
  local deadline=$(($(bd_now_us) + 60 * 1000000))
  # shellcheck disable=SC2086
  until _bd_pids_gone "$pid" $ctr; do
    if (($(bd_now_us) > deadline)); then
      echo "${BENCH_NAME:-bench}: $what did not stop within 60 s of SIGTERM; killing it" >&2
      # shellcheck disable=SC2086
      kill -KILL "$pid" $ctr 2>/dev/null
      break
    fi
    sleep 0.05
  done
  wait "$pid" 2>/dev/null
  local m
  for m in $(awk -v t="$dir" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  find /sys/fs/cgroup/*/"$cg" /sys/fs/cgroup/"$cg" -depth -type d -exec rmdir {} \; 2>/dev/null
  return 0
}

# bd_stop2: the second daemon, as bd_stop (its own DIR and cgroup parent). Idempotent.
bd_stop2() {
  [[ -n $BD2_PID ]] || return 0
  _bd_stop_one "$BD2_PID" "$BD2_CTR_PID" "$BD2_DIR" "$BD_CG-2" D2 bd2_alive "the second dockerd"
  BD2_PID=""
}

_bd_pids_gone() {
  local p
  for p in "$@"; do
    [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && return 1
  done
  return 0
}

# bd_stop: removes every container, stops dockerd (TERM; dockerd stops its containerd),
# kills them after 60 s, unmounts what is left under DIR, removes the cgroup parent and
# the shared dirs this run created. Idempotent.
bd_stop() {
  [[ -n $BD_PID ]] || return 0
  _bd_stop_one "$BD_PID" "$BD_CTR_PID" "$BD_DIR" "$BD_CG" D bd_alive dockerd
  BD_PID=""
  local d
  for d in "${BD_SHARED_DIRS[@]}"; do [[ -e $d ]] && BD_PREEXISTING+=("$d"); done
  BD_DIR=$1
  BD_SOCK=$BD_DIR/docker.sock
  _bd_launch "$BD_DIR" "$BD_NS" "$BD_CG" D BD_PID
  BD_CTR_PID=$(cat "$BD_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
}

# _bd_launch DIR NS CG CLIENT PIDVAR: runs a dockerd with everything under DIR (socket
# DIR/docker.sock), containerd namespace NS, cgroup parent /CG, sets the variable named PIDVAR
# to its pid at once (so that cleanup finds it if the start fails) and waits until CLIENT (D or
# D2) reaches it.
_bd_launch() {
  local dir=$1 ns=$2 cg=$3 client=$4 pidvar=$5 pid
  mkdir -p "$dir/client" "$dir/data" "$dir/exec"
  # An empty config (not the machine's /etc/docker/daemon.json), and the trust key here
  # instead of /etc/docker/key.json.
  printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
  "$DOCKERD" \
    --config-file "$dir/daemon.json" \
    --data-root "$dir/data" \
    --exec-root "$dir/exec" \
    --pidfile "$dir/dockerd.pid" \
    -H "unix://$dir/docker.sock" \
    --containerd-namespace "$ns" \
    --containerd-plugins-namespace "$ns-plugins" \
    --cgroup-parent "/$cg" \
    --exec-opt native.cgroupdriver=cgroupfs \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
    --userland-proxy=false \
    --storage-driver overlay2 \
    --log-level warn \
    </dev/null >"$dir/dockerd.log" 2>&1 &
  pid=$!
  printf -v "$pidvar" '%s' "$pid"
  local deadline=$(($(bd_now_us) + 90 * 1000000))
  until "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf -v "$pidvar" '%s' ""
      bd_die "dockerd exited during start-up: $(tail -n 3 "$dir/dockerd.log" | tr '\n' ' ' | cut -c1-300)"
    fi
    (($(bd_now_us) > deadline)) &&
      bd_die "dockerd did not answer on $dir/docker.sock within 90 s (log: $dir/dockerd.log)"
    sleep 0.1
  done
}

# A SECOND private dockerd (bench/deploy: a build host and a production host), for pipelines
# that push from one daemon and pull into another. Same contract as bd_start: its own data
# root, exec root, pidfile, socket, config and trust key under DIR, its own containerd (namespace
# moor-bench-<pid>-2, cgroup parent /moor-bench-<pid>-2), --bridge=none --iptables=false, so it
# touches neither the first one nor the machine's dockerd. Start the first one (bd_start) first;
# bd_cleanup stops both.
#
#   bd_start2 "$WORK/docker2"
#   D2 pull 127.0.0.1:$BD_REG_PORT/x:1
BD2_DIR=""
BD2_SOCK=""
BD2_PID=""
BD2_CTR_PID=""

# D2 ARGS...: the docker client against the second daemon, with a timeout.
D2() {
  DOCKER_CONFIG="$BD2_DIR/client" timeout -k 5 600 "$DOCKER_CLI" -H "unix://$BD2_SOCK" "$@"
}

bd2_alive() { D2 version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# bd_start2 DIR: starts the second dockerd with everything under DIR (see above).
bd_start2() {
  [[ -n $BD_PID ]] || bd_die "bd_start2: start the first dockerd (bd_start) first"
  BD2_DIR=$1
  BD2_SOCK=$BD2_DIR/docker.sock
  _bd_launch "$BD2_DIR" "$BD_NS-2" "$BD_CG-2" D2 BD2_PID
  BD2_CTR_PID=$(cat "$BD2_DIR/exec/containerd/containerd.pid" 2>/dev/null || true)
}

# bd_stop2: removes the second daemon's containers, stops it (as bd_stop), unmounts what is
# left under its DIR and removes its cgroup parent. Idempotent.
bd_stop2() {
  [[ -n $BD2_PID ]] || return 0
  if bd2_alive; then
    local all
    all=$(D2 ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -n $all ]] && D2 rm -f $all >/dev/null 2>&1
  fi
  kill -TERM "$BD2_PID" 2>/dev/null
  local deadline=$(($(bd_now_us) + 60 * 1000000))
  # shellcheck disable=SC2086
  until _bd_pids_gone "$BD2_PID" $BD2_CTR_PID; do
    if (($(bd_now_us) > deadline)); then
      echo "${BENCH_NAME:-bench}: the second dockerd did not stop within 60 s of SIGTERM; killing it" >&2
      # shellcheck disable=SC2086
      kill -KILL "$BD2_PID" $BD2_CTR_PID 2>/dev/null
      break
    fi
    sleep 0.05
  done
  wait "$BD2_PID" 2>/dev/null
  BD2_PID=""
  local m
  for m in $(awk -v t="$BD2_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  find /sys/fs/cgroup/*/"$BD_CG-2" /sys/fs/cgroup/"$BD_CG-2" -depth -type d -exec rmdir {} \; 2>/dev/null
  return 0
}

_bd_pids_gone() {
  local p
  for p in "$@"; do
    [[ -e /proc/$p ]] && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null && return 1
  done
  return 0
}

# bd_stop: removes every container, stops dockerd (TERM; dockerd stops its containerd),
# kills them after 60 s, unmounts what is left under DIR, removes the cgroup parent and
# the shared dirs this run created. Idempotent.
bd_stop() {
  [[ -n $BD_PID ]] || return 0
  if bd_alive; then
    local all
    all=$(D ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [[ -n $all ]] && D rm -f $all >/dev/null 2>&1
  fi
  kill -TERM "$BD_PID" 2>/dev/null
  local deadline=$(($(bd_now_us) + 60 * 1000000))
  # shellcheck disable=SC2086
  until _bd_pids_gone "$BD_PID" $BD_CTR_PID; do
    if (($(bd_now_us) > deadline)); then
      echo "${BENCH_NAME:-bench}: dockerd did not stop within 60 s of SIGTERM; killing it" >&2
      # shellcheck disable=SC2086
      kill -KILL "$BD_PID" $BD_CTR_PID 2>/dev/null
      break
    fi
    sleep 0.05
  done
  wait "$BD_PID" 2>/dev/null
  BD_PID=""
  local m
  for m in $(awk -v t="$BD_DIR" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
  done
  find /sys/fs/cgroup/*/"$BD_CG" /sys/fs/cgroup/"$BD_CG" -depth -type d -exec rmdir {} \; 2>/dev/null
  local d
  for d in "${BD_SHARED_DIRS[@]}"; do
    [[ " ${BD_PREEXISTING[*]} " == *" $d "* ]] && continue
    [[ -d $d ]] && rmdir "$d" 2>/dev/null
  done
  return 0
}

# bd_free_port: a TCP port nobody listens on at 127.0.0.1 (the registry start retries
# with another one if it is taken in between).
bd_free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    ss -Htln "sport = :$p" | grep -q . || { echo "$p"; return; }
  done
}

_bd_reg_up() { curl -fsS -o /dev/null "http://127.0.0.1:$BD_REG_PORT/v2/"; }

# bd_registry_start DIR: Debian's docker-registry on 127.0.0.1:$BD_REG_PORT (plain HTTP;
# dockerd treats 127.0.0.0/8 registries as insecure by default), storage under DIR.
bd_registry_start() {
  local dir=$1 try
  [[ -x $REGISTRY_BIN ]] || bd_die "$REGISTRY_BIN is not installed (apt-get install docker-registry)"
  mkdir -p "$dir/storage"
  for try in 1 2 3 4 5; do
    BD_REG_PORT=$(bd_free_port)
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$BD_REG_PORT
EOF
    "$REGISTRY_BIN" serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
    BD_REG_PID=$!
    if bd_wait 30 _bd_reg_up; then return 0; fi
    kill "$BD_REG_PID" 2>/dev/null
    wait "$BD_REG_PID" 2>/dev/null
    BD_REG_PID=""
    # Another process took the port: try another one; anything else is fatal.
    grep -q 'address already in use' "$dir/registry.log" ||
      bd_die "docker-registry did not start: $(tail -n 3 "$dir/registry.log" | tr '\n' ' ' | cut -c1-300)"
    ((try == 5)) && bd_die "docker-registry found no free port in 5 tries"
  done
}

bd_registry_stop() {
  [[ -n $BD_REG_PID ]] || return 0
  kill -TERM "$BD_REG_PID" 2>/dev/null
  bd_wait 20 _bd_pids_gone "$BD_REG_PID" || kill -KILL "$BD_REG_PID" 2>/dev/null
  wait "$BD_REG_PID" 2>/dev/null
  BD_REG_PID=""
}

# bd_cleanup: for the caller's EXIT trap (which must run it with errexit off).
bd_cleanup() {
  bd_registry_stop
  bd_stop2
  bd_stop
}

# bd_busybox_rootfs DIR: a busybox rootfs (busybox-static, one symlink per applet, passwd
# and group) in DIR.
bd_busybox_rootfs() {
  local dir=$1 applet
  [[ -x /bin/busybox ]] || bd_die "/bin/busybox is missing (apt-get install busybox-static)"
  mkdir -p "$dir"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
  chmod 1777 "$dir/tmp"
  cp /bin/busybox "$dir/bin/busybox"
  while read -r applet; do
    [[ -z $applet || $applet == bin/busybox ]] && continue
    mkdir -p "$dir/$(dirname "$applet")"
    ln -sf /bin/busybox "$dir/$applet"
  done < <(/bin/busybox --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
}

# bd_stats: reads one number per line (seconds) and prints "median min max n".
bd_stats() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan 0"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.3f %.3f %.3f %d\n", m, v[1], v[NR], NR }'
}

# bd_machine: one line describing the machine.
bd_machine() {
  echo "$(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "kernel $(uname -r), disk fs $(df -T "${1:-/var/tmp}" | awk 'NR == 2 { print $2 }')"
}

# bd_find_timer SRC WORK: sets TIMER to bench-timer: the given $TIMER, else a built one,
# else compiled with g++ into WORK (as bench/runtime-start does).
bd_find_timer() {
  local src=$1 work=$2 cand
  if [[ -z ${TIMER:-} ]]; then
    for cand in "$src/build-bench/bench/bench-timer" "$src/build/bench/bench-timer"; do
      if [[ -x $cand ]]; then TIMER=$cand; break; fi
    done
  fi
  if [[ -z ${TIMER:-} ]]; then
    echo "bench-timer not built; compiling it with g++ into $work" >&2
    g++ -std=c++23 -O2 -I"$src/src" -I"$src/bench" "$src/bench/timer.cc" "$src/bench/timer_lib.cc" \
      "$src/src/common/strings.cc" "$src/src/common/error.cc" -o "$work/bench-timer" ||
      bd_die "could not build bench-timer"
    TIMER=$work/bench-timer
  fi
  [[ -x $TIMER ]] || bd_die "bench-timer not found at $TIMER"
}

# bd_proc_cpu_ms PID: CPU time of PID so far, its reaped children included (utime,
# stime, cutime, cstime), in ms.
bd_proc_cpu_ms() {
  local tck
  tck=$(getconf CLK_TCK)
  # The fields after the ")" that ends the command name: utime is the 12th.
  sed 's/.*) //' "/proc/$1/stat" | awk -v t="$tck" '{ printf "%.0f\n", ($12 + $13 + $14 + $15) * 1000 / t }'
}

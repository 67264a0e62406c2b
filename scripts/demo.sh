#!/usr/bin/env bash
# THE demo: installs what is missing, builds moor (release), then runs one busybox container
# with moor-runtime and prints what the container sees of its isolation and limits next to
# what the host sees; then images and the engine (in a private network namespace), and last
# the PHP stack: DokuWiki behind nginx, brought up with `moor up` (scripts/demo-stack.sh; left
# running, MOOR_DEMO_STACK=0 skips it). Needs root. MOOR_RUNTIME=/path/to/runtime runs the
# first part with another OCI runtime (e.g. /usr/sbin/runc) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
exec </dev/null

if [[ $EUID -ne 0 ]]; then echo "demo: run as root (containers need namespaces and cgroups)" >&2; exit 1; fi

bash scripts/setup.sh
if [[ -z "${MOOR_RUNTIME:-}" ]]; then
  bash scripts/build.sh release
  MOOR_RUNTIME=${MOOR_BUILD_DIR:-$repo/build}/cmd/moor-runtime/moor-runtime
fi
[[ -x $MOOR_RUNTIME ]] || { echo "demo: no runtime at $MOOR_RUNTIME" >&2; exit 1; }

MEMORY_LIMIT=$((64 * 1024 * 1024))
PIDS_LIMIT=32
work=$(mktemp -d /tmp/moor-demo.XXXXXX)
chmod 755 "$work"
root="$work/state"
id="moor-demo-$$"
cleanup() {
  "$MOOR_RUNTIME" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# A busybox rootfs: /bin/busybox plus a symlink per applet, and minimal /etc files.
rootfs="$work/bundle/rootfs"
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,tmp,root}
chmod 755 "$work/bundle" "$rootfs"
chmod 1777 "$rootfs/tmp"
cp /bin/busybox "$rootfs/bin/busybox"
while read -r applet; do
  [[ -z "$applet" || "$applet" == bin/busybox ]] && continue
  ln -sf /bin/busybox "$rootfs/$applet"
done < <(/bin/busybox --list-full)
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"

# What runs inside: one "key: value" block per fact; the report below lays them out.
cat >"$rootfs/report.sh" <<'EOF'
echo "hostname: $(hostname)"
echo "pid: $$"
echo "processes:"; ps -o pid,user,args | sed 's/^/    /'
echo "proc-pids: $(ls /proc | grep -c '^[0-9]')"
echo "mounts:"; awk '{ for (i = 7; $i != "-"; i++) ; printf "    %-22s %-8s %s\n", $5, $(i+1), $6 }' /proc/self/mountinfo
mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max 2>/dev/null || echo unknown)
pids=$(cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max 2>/dev/null || echo unknown)
echo "memory-limit: $mem"
echo "pids-limit: $pids"
grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | sed 's/:\t/: /'
echo "network:"; ip -o link | awk '{ print "    " $2 " " $3 }'
echo "uid: $(id)"
unshare -m true 2>/dev/null && echo "unshare: allowed" || echo "unshare: refused"
EOF

cat >"$work/bundle/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": 0, "gid": 0},
    "args": ["sh", "/report.sh"],
    "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root"],
    "cwd": "/",
    "capabilities": {
      "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
    "noNewPrivileges": true
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "moor-demo",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777", "size=16m"]}
  ],
  "linux": {
    "cgroupsPath": "/moor-demo/$id",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}],
      "memory": {"limit": $MEMORY_LIMIT},
      "pids": {"limit": $PIDS_LIMIT}
    },
    "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}],
    "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                    "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
    "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
  }
}
EOF

# moor's default seccomp profile, as `moor-runtime spec` writes it (a runtime under
# comparison gets the same profile).
spec_dir="$work/spec"
mkdir -p "$spec_dir"
moor_bin=${MOOR_BUILD_DIR:-$repo/build}/cmd/moor-runtime/moor-runtime
if [[ -x $moor_bin ]] && "$moor_bin" spec --bundle "$spec_dir" 2>/dev/null; then
  jq --slurpfile s "$spec_dir/config.json" '.linux.seccomp = $s[0].linux.seccomp' "$work/bundle/config.json" \
    >"$work/config.tmp" && mv "$work/config.tmp" "$work/bundle/config.json"
fi

out="$work/out" err="$work/err"
rc=0
"$MOOR_RUNTIME" --root "$root" run --bundle "$work/bundle" "$id" >"$out" 2>"$err" || rc=$?
rmdir /sys/fs/cgroup/*/moor-demo 2>/dev/null || true
if ((rc != 0)); then
  echo "demo: the container failed (exit $rc):" >&2
  cat "$err" >&2
  exit 1
fi

val() { sed -n "s/^$1: //p" "$out" | head -1; }
block() { sed -n "/^$1:\$/,/^[a-z-]*: /p" "$out" | sed '1d;$d'; }

# Capability bits → names (the numbers are fixed by the kernel ABI).
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
  SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
  AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ
  PERFMON BPF CHECKPOINT_RESTORE)
cap_names() {
  local mask=$((16#$1)) i names=()
  for i in "${!CAPS[@]}"; do ((mask >> i & 1)) && names+=("CAP_${CAPS[$i]}"); done
  ((${#names[@]})) && echo "${names[*]}" || echo "(none)"
}
human() { [[ $1 =~ ^[0-9]+$ ]] && echo "$1 bytes ($(($1 / 1024 / 1024)) MiB)" || echo "$1"; }
mark() { [[ "$1" == "$2" ]] && echo "as configured" || echo "EXPECTED $2"; }

host_pids=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)
cat <<EOF

moor demo — one busybox container run by $(basename "$MOOR_RUNTIME") ($("$MOOR_RUNTIME" --version 2>/dev/null | head -1))
==========================================================================================
hostname        inside: $(val hostname)   host: $(hostname)   ($(mark "$(val hostname)" moor-demo))
process id      the container's program sees itself as pid $(val pid) (its own pid namespace)
processes       inside: $(val proc-pids) visible in /proc   host: $host_pids — host processes are invisible
$(block processes)
memory limit    $(human "$(val memory-limit)")   ($(mark "$(val memory-limit)" $MEMORY_LIMIT))
pids limit      $(val pids-limit)   ($(mark "$(val pids-limit)" $PIDS_LIMIT))
capabilities    effective: $(cap_names "$(val CapEff)")
                bounding:  $(cap_names "$(val CapBnd)")
no_new_privs    $(val NoNewPrivs)    seccomp mode: $(val Seccomp) (2 = filter)   unshare(2) inside: $(val unshare)
user            $(val uid)
network         only its own interfaces:
$(block network)
mount table     (its own mount namespace; rootfs read-only, /proc/sys read-only, masked paths)
$(block mounts)
EOF

# ---------------------------------------------------------------------------------------
# Images: a busybox rootfs becomes an image, a Dockerfile builds on it (its RUN step runs
# through moor's runtime library), an unchanged rebuild comes from the cache, and the
# engine runs the result (scripts/demo-engine.sh). Private store; nothing leaves the machine.
if [[ "${MOOR_DEMO_IMAGES:-1}" == 1 && -x ${MOOR_BUILD_DIR:-$repo/build}/cmd/moor/moor ]]; then
  MOOR=${MOOR_BUILD_DIR:-$repo/build}/cmd/moor/moor
  M() { "$MOOR" --root "$work/images" "$@"; }
  rfs="$work/busybox-rootfs"
  mkdir -p "$rfs/bin" "$rfs/etc" "$rfs/tmp"
  cp /bin/busybox "$rfs/bin/busybox"
  for c in sh echo cat ls id wc mkdir hostname httpd; do ln -s busybox "$rfs/bin/$c"; done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rfs/etc/passwd"
  tar -C "$rfs" -cf "$work/busybox.tar" .
  M image import -c 'CMD ["sh"]' "$work/busybox.tar" demo/busybox:1 >/dev/null
  ctx="$work/ctx"
  mkdir -p "$ctx"
  echo "hello from a file in the build context" >"$ctx/greeting.txt"
  cat >"$ctx/Dockerfile" <<'DOCKERFILE'
FROM demo/busybox:1
COPY greeting.txt /srv/greeting.txt
RUN wc -c < /srv/greeting.txt > /srv/size
ENV WHO=moor
CMD ["sh", "-c", "cat /srv/greeting.txt; echo \"($(cat /srv/size) bytes, built by $WHO)\""]
DOCKERFILE
  echo
  echo "images: moor build (first time)"
  M build -t demo/app:1 "$ctx" | sed 's/^/  /'
  t0=$(date +%s%N)
  M build -t demo/app:1 "$ctx" >/dev/null
  t1=$(date +%s%N)
  echo "images: unchanged rebuild from the cache: $(((t1 - t0) / 1000000)) ms"
  echo "images: moor images"
  M images | sed 's/^/  /'
  echo "try:  $MOOR --root DIR pull REGISTRY/IMAGE   (docs/images.md, docs/build.md)"
  # The engine: daemon, containers, published ports, containers outliving the daemon.
  # In a private network and mount namespace, so nothing it makes stays on this machine.
  echo
  unshare --net --mount --propagation slave bash "$repo/scripts/demo-engine.sh" "$MOOR" "$work/images" "$work"
fi

# ---------------------------------------------------------------------------------------
# The stack: Debian's DokuWiki behind nginx, two groups of php-fpm containers found through
# discovery, brought up from examples/wiki/moor.yaml with `moor up` (scripts/demo-stack.sh).
# On this machine's network, on 127.0.0.1 only; left running (MOOR_DEMO_KEEP=0 takes it down).
if [[ "${MOOR_DEMO_STACK:-1}" == 1 && -x ${MOOR_BUILD_DIR:-$repo/build}/cmd/moor/moor ]]; then
  echo
  bash "$repo/scripts/demo-stack.sh"
fi

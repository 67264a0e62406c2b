#!/usr/bin/env bash
# Invalid input to the runtime under test ($MOOR_RUNTIME): each bad config.json must make
# `create` fail with one clear stderr line naming the config field (checked for
# moor-runtime; runc words its errors its own way) and leave NOTHING behind — the harness
# checks state dirs, cgroup dirs, mounts and processes after every case.
# Also: create with an id already in use, and start/kill/delete/state of an unknown id.
source "$(dirname "$0")/lib.sh"

state_fails() { ! rt state "$1" >/dev/null 2>&1; }

# bad_config STEM FIELD JQ_FILTER [JQ_ARGS...]: a bundle edited by JQ_FILTER must be refused.
bad_config() {
  local stem=$1 field=$2 filter=$3 id b
  shift 3
  id=$(new_id "$stem")
  b=$(make_bundle "$id" "$filter" "$@") || exit 1
  capture rt create --bundle "$b" "$id"
  assert_runtime_error "create refuses it, naming $field" "$field"
  assert_true "no container $id exists afterwards" state_fails "$id"
  capture rt list --format json
  assert_not_contains "$OUT" "$id" "list does not show $id"
  # create's checks must not depend on the command: run refuses the same config
  id=$(new_id "$stem-run")
  b=$(make_bundle "$id" "$filter" "$@") || exit 1
  capture rt run --bundle "$b" "$id"
  assert_runtime_error "run refuses it too" "$field"
  assert_false "the program never ran" test -e "$b/rootfs/ran"
}

# Every config below would leave the marker /ran if its program ran.
RAN='.process.args=["sh","-c","touch /ran"]'

t_not_json() {
  local id b
  id=$(new_id notjson)
  b=$(make_bundle "$id") || exit 1
  printf '{"ociVersion": "1.0.2", "process": {' >"$b/config.json"
  capture rt create --bundle "$b" "$id"
  assert_runtime_error "create refuses a config.json that is not JSON" "config.json"
  assert_true "no container" state_fails "$id"
}

t_missing_config() {
  local id b
  id=$(new_id noconfig)
  b=$(make_bundle "$id") || exit 1
  rm "$b/config.json"
  capture rt create --bundle "$b" "$id"
  assert_runtime_error "create refuses a bundle without config.json" "config.json"
  assert_true "no container" state_fails "$id"
}

t_missing_bundle() {
  local id
  id=$(new_id nobundle)
  capture rt create --bundle "$T_TMP/no-such-bundle" "$id"
  assert_runtime_error "create refuses a bundle dir that does not exist" "no-such-bundle"
  assert_true "no container" state_fails "$id"
}

t_missing_args() {
  bad_config noargs process.args "$RAN"' | del(.process.args)'
}
t_empty_args() {
  bad_config emptyargs process.args '.process.args = []'
}
t_relative_cwd() {
  bad_config relcwd process.cwd "$RAN"' | .process.cwd = "tmp"'
}
t_unknown_capability() {
  if is_runc; then skip "runc 1.1 ignores unknown capabilities with a warning; checked for moor-runtime"; fi
  bad_config badcap process.capabilities "$RAN"' | .process.capabilities.bounding += ["CAP_NO_SUCH_THING"]'
}
t_unknown_namespace() {
  bad_config badns linux.namespaces "$RAN"' | .linux.namespaces += [{type: "nosuchns"}]'
}
t_bad_rlimit() {
  bad_config badrlimit process.rlimits "$RAN"' | .process.rlimits += [{type: "RLIMIT_NOSUCH", hard: 1, soft: 1}]'
}
t_rlimit_soft_above_hard() {
  bad_config softhard process.rlimits "$RAN"' | .process.rlimits = [{type: "RLIMIT_NOFILE", hard: 100, soft: 200}]'
}
t_host_sysctl() {
  # The value is the host's current one, so a runtime that wrongly wrote it changes nothing.
  bad_config hostsysctl linux.sysctl "$RAN"' | .linux.sysctl = {"kernel.core_pattern": $v}' \
    --arg v "$(cat /proc/sys/kernel/core_pattern)"
}
t_sysctl_plus() {
  bad_config sysctlplus linux.sysctl "$RAN"' | .linux.sysctl = {"net.ipv4.ip_forward": "1+kernel.core_pattern=x"}'
}
t_missing_rootfs() {
  bad_config norootfs root.path "$RAN"' | .root.path = "no-such-rootfs"'
}
t_mount_dotdot() {
  if is_runc; then skip "runc 1.1 cleans \"..\" out of mount destinations instead of refusing them; checked for moor-runtime"; fi
  bad_config dotdot 'mounts[' "$RAN"' | .mounts += [{destination: "/tmp/../../etc", type: "tmpfs", source: "tmpfs"}]'
}
t_uidmap_without_userns() {
  if is_runc; then skip "runc 1.1 ignores id mappings without a user namespace; checked for moor-runtime"; fi
  bad_config uidmap linux.uidMappings "$RAN"' |
    .linux.uidMappings = [{containerID: 0, hostID: 100000, size: 65536}] |
    .linux.gidMappings = [{containerID: 0, hostID: 100000, size: 65536}]'
}
t_hostname_without_uts() {
  bad_config hostuts hostname "$RAN"' | .linux.namespaces |= map(select(.type != "uts"))'
}
t_bad_oom_score_adj() {
  bad_config oom process.oomScoreAdj "$RAN"' | .process.oomScoreAdj = 5000'
}

t_existing_id() {
  local id b b2 pid
  id=$(new_id dup)
  b=$(make_bundle "$id" '.process.args=["sh","-c","echo first > /who; exec sleep 100000"]') || exit 1
  rt create --bundle "$b" "$id" </dev/null >/dev/null 2>&1 || die "first create failed"
  pid=$(state_field "$id" .pid)
  b2="$T_TMP/bundles/$id-second"
  mkdir -p "$b2"
  cp -a "$b/rootfs" "$b2/rootfs"
  jq '.process.args=["sh","-c","echo second > /who"]' "$b/config.json" >"$b2/config.json"
  capture rt create --bundle "$b2" "$id"
  assert_runtime_error "create with an id in use fails" "$id"
  assert_eq created "$(state_field "$id" .status)" "first container still created"
  assert_eq "$pid" "$(state_field "$id" .pid)" "first container keeps its pid"
  assert_eq "$b" "$(state_field "$id" .bundle)" "first container keeps its bundle"
  assert_rc 0 "first container still starts" rt start "$id"
  wait_for 10 "first container's program ran" file_has "$b/rootfs/who" first && pass "first container's program ran"
  assert_false "second config never ran" test -e "$b2/rootfs/who"
}

t_unknown_id() {
  local id=mt-never-created-$$
  capture rt start "$id"
  assert_runtime_error "start of an unknown id fails" "$id"
  capture rt kill "$id" KILL
  assert_runtime_error "kill of an unknown id fails" "$id"
  capture rt delete "$id"
  assert_runtime_error "delete of an unknown id fails" "$id"
  capture rt state "$id"
  assert_runtime_error "state of an unknown id fails" "$id"
  capture rt exec "$id" true
  assert_runtime_error "exec into an unknown id fails" "$id"
}

t_bad_id() {
  local b
  b=$(make_bundle "badid" "$RAN") || exit 1
  capture rt create --bundle "$b" "../escape"
  assert_runtime_error "create refuses an id with a path separator" "id"
  assert_false "nothing created outside the root" test -e "$T_TMP/escape"
  assert_false "the program never ran" test -e "$b/rootfs/ran"
}

t_start_twice() {
  local id b
  id=$(new_id twice)
  b=$(make_bundle "$id" '.process.args=["sh","-c","exec sleep 100000"]') || exit 1
  create_started "$id" "$b"
  capture rt start "$id"
  assert_runtime_error "start of a running container fails" "$id"
  assert_eq running "$(state_field "$id" .status)" "container keeps running"
}

t_bad_signal() {
  local id b
  id=$(new_id badsig)
  b=$(make_bundle "$id" '.process.args=["sh","-c","exec sleep 100000"]') || exit 1
  create_started "$id" "$b"
  capture rt kill "$id" SIGNOPE
  assert_runtime_error "kill with an unknown signal fails" "SIGNOPE"
  assert_eq running "$(state_field "$id" .status)" "container keeps running"
}

run_case "config.json is not JSON" t_not_json
run_case "bundle without config.json" t_missing_config
run_case "bundle dir does not exist" t_missing_bundle
run_case "process.args missing" t_missing_args
run_case "process.args empty" t_empty_args
run_case "process.cwd relative" t_relative_cwd
run_case "unknown capability" t_unknown_capability
run_case "unknown namespace type" t_unknown_namespace
run_case "unknown rlimit" t_bad_rlimit
run_case "rlimit soft above hard" t_rlimit_soft_above_hard
run_case "host sysctl kernel.core_pattern" t_host_sysctl
run_case "sysctl value with '+'" t_sysctl_plus
run_case "rootfs missing" t_missing_rootfs
run_case "mount destination with .." t_mount_dotdot
run_case "uid mappings without a user namespace" t_uidmap_without_userns
run_case "hostname without a uts namespace" t_hostname_without_uts
run_case "oomScoreAdj out of range" t_bad_oom_score_adj
run_case "create with an id in use" t_existing_id
run_case "start, kill, delete, state, exec of an unknown id" t_unknown_id
run_case "id with a path separator" t_bad_id
run_case "start of a running container" t_start_twice
run_case "kill with an unknown signal" t_bad_signal
finish

#!/usr/bin/env bash
# Images move between moor and Docker 20.10 through a real registry (Debian's
# docker-registry on 127.0.0.1), both ways, and run the same on both sides:
# - moor build + moor push → docker pull + docker run (Docker's runc is the reference):
#   same default output (ENTRYPOINT + CMD), same env / workdir / files with the entrypoint
#   overridden, same manifest digest and image ID;
# - docker build (legacy builder) + docker push → moor pull + moor run: same output,
#   same image ID, same exit status;
# - a Docker image whose later layer deletes a file and replaces a directory (whiteout
#   and opaque-directory markers in the layer tar) → moor shows the deleted file absent
#   and only the new directory's contents;
# - moor build in an empty root FROM an image only the registry has (the build pulls
#   it) with COPY --from= that image.
# Every moor run is checked to leave no state, mount or cgroup behind. The Docker side
# uses the private dockerd of docker_lib.sh; the whole test is skipped when it cannot run.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/docker_lib.sh"

MOOR_BIN=${MOOR_BIN:-$MOOR_SRC/build/cmd/moor/moor}
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}

if [[ ! -x "$MOOR_BIN" ]]; then
  say "$T_NAME: moor binary not found: MOOR_BIN=$MOOR_BIN (build it, or set MOOR_BIN)"
  T_FAIL=1
  T_FAILED_CASES+=("moor binary not found")
  finish
fi
for tool in "$REGISTRY_BIN" curl; do
  if ! command -v "$tool" >/dev/null; then
    say "$T_NAME: missing tool $tool (run scripts/setup.sh)"
    T_FAIL=1
    T_FAILED_CASES+=("missing $tool")
    finish
  fi
done

# ---------------------------------------------------------------------------------------
# moor

# M ROOTNAME ARGS...: moor with a private state root under $T_TMP and a private docker
# config dir (no credentials of the machine are read).
M() {
  local root="$T_TMP/moor-$1"; shift
  DOCKER_CONFIG="$T_TMP/moor-docker-config" timeout -k 5 300 "$MOOR_BIN" --root "$root" "$@"
}

# moor_image_id ROOTNAME REF: the image ID (config digest) from `moor image inspect`.
moor_image_id() {
  M "$1" image inspect "$2" 2>/dev/null |
    jq -r 'if type == "array" then .[0] else . end | .Id // empty' 2>/dev/null
}

# A moor daemon per state root, started on first use (moor run goes through it). Its
# containers use --network none: nothing is made on this network namespace. Cases run in
# subshells, so the daemons are recorded in a file ("pid socket root" per line).
declare -A MD_SOCK=()
moor_daemon() {
  local rootname=$1
  [[ -n "${MD_SOCK[$rootname]:-}" ]] && return 0
  local exec_root
  exec_root=$(mktemp -d /tmp/mi.XXXXXX)
  # Several daemons at once, in the host's network namespace: no discovery listeners.
  "$MOOR_BIN" daemon --root "$T_TMP/moor-$rootname" --exec-root "$exec_root" -H "$exec_root/moor.sock" \
    --dns-addr none --consul-addr none >>"$T_TMP/daemon-$rootname.log" 2>&1 &
  echo "$! $exec_root/moor.sock $T_TMP/moor-$rootname" >>"$T_TMP/moor-daemons"
  MD_SOCK[$rootname]="$exec_root/moor.sock"
  wait_for 20 "moor daemon for $rootname answers" \
    "$MOOR_BIN" -H "unix://$exec_root/moor.sock" --root "$T_TMP/moor-$rootname" version
}
stop_moor_daemons() {
  [[ -f "$T_TMP/moor-daemons" ]] || return 0
  local pid sock root ids
  while read -r pid sock root; do
    ids=$("$MOOR_BIN" -H "unix://$sock" --root "$root" ps -aq 2>/dev/null)
    # shellcheck disable=SC2086
    [[ -n "$ids" ]] && "$MOOR_BIN" -H "unix://$sock" --root "$root" rm -f $ids >/dev/null 2>&1
    kill -TERM "$pid" 2>/dev/null
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
    grep -F " $(dirname "$sock")/" /proc/self/mountinfo | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l
    rm -rf "$(dirname "$sock")"
  done <"$T_TMP/moor-daemons"
  rm -f "$T_TMP/moor-daemons"
}

# moor_run ROOTNAME ARGS...: `moor run --rm --network none --name <unique>` ARGS through
# that root's daemon; sets OUT/ERR/RC. Afterwards checks that the container left
# nothing: no container, no mount under the root.
moor_run() {
  local rootname=$1; shift
  moor_daemon "$rootname"
  local id
  id="mt-interop-$$-$(($(cat "$T_TMP/seq") + 1))"
  echo "$(($(cat "$T_TMP/seq") + 1))" >"$T_TMP/seq"
  capture M "$rootname" -H "unix://${MD_SOCK[$rootname]}" run --rm --network none --name "$id" "$@"
  local out=$OUT err=$ERR rc=$RC left=()
  local ctrs
  ctrs=$(M "$rootname" -H "unix://${MD_SOCK[$rootname]}" ps -aq 2>/dev/null | tr '\n' ' ')
  [[ -n "$ctrs" ]] && left+=("containers: $ctrs")
  local mnts
  mnts=$(grep -F -- "$T_TMP/moor-$rootname/containers/" /proc/self/mountinfo | cut -d' ' -f5)
  [[ -n "$mnts" ]] && left+=("mounts: $(tr '\n' ' ' <<<"$mnts")")
  if ((${#left[@]} > 0)); then
    fail "moor run $id left: ${left[*]}"
  fi
  OUT=$out ERR=$err RC=$rc
}

# docker_build ARGS...: Docker 20.10's legacy builder (not BuildKit), no network.
docker_build() { DOCKER_BUILDKIT=0 D build --network none "$@"; }

# docker_run_ref ARGS...: the reference: `docker run --rm --network none` with Docker's
# own runc; sets OUT/ERR/RC.
docker_run_ref() { capture D run --rm --network none "$@"; }

# same_run WHAT IMAGE_REF ROOTNAME [RUN_ARGS...] -- [IMAGE_ARGS...]: run the image with
# Docker and with moor with the same options and arguments; both must succeed (or exit
# the same way) and print the same stdout. Sets REF_OUT to Docker's output.
same_run() {
  local what=$1 ref=$2 rootname=$3; shift 3
  local opts=() args=()
  while (($# > 0)) && [[ "$1" != -- ]]; do opts+=("$1"); shift; done
  (($# > 0)) && shift
  args=("$@")
  docker_run_ref "${opts[@]}" "$ref" "${args[@]}"
  local dout=$OUT drc=$RC derr=$ERR
  REF_OUT=$dout
  moor_run "$rootname" "${opts[@]}" "$ref" "${args[@]}"
  if [[ -z "$dout" ]]; then fail "$what: docker printed nothing (exit $drc, stderr: $(_clip "$derr"))"; fi
  assert_eq "$drc" "$RC" "$what: moor run exits like docker run (moor stderr: $(_clip "$ERR"))"
  assert_eq "$dout" "$OUT" "$what: moor run prints what docker run prints"
}

# ---------------------------------------------------------------------------------------
# The registry (one for the whole test, stopped before the final leak check)

REG_PID=""
free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0))
print(s.getsockname()[1]); s.close()'
}
http_up() { curl -s -o /dev/null -m 2 "$1"; }

# start_registry: docker-registry serve on a free loopback port; sets REG (host:port).
start_registry() {
  local dir="$T_TMP/registry"
  mkdir -p "$dir/data"
  REG="127.0.0.1:$(free_port)"
  cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: $REG
  secret: moor-interop-secret
EOF
  "$REGISTRY_BIN" serve "$dir/config.yml" </dev/null >"$dir/registry.log" 2>&1 &
  REG_PID=$!
  wait_for 20 "registry on $REG" http_up "http://$REG/v2/" || {
    say "registry did not start: $(tail -5 "$dir/registry.log" | tr '\n' ' ')"
    return 1
  }
  say "registry up on $REG (pid $REG_PID)"
}
stop_registry() {
  [[ -z "$REG_PID" ]] && return 0
  kill -TERM "$REG_PID" 2>/dev/null
  wait "$REG_PID" 2>/dev/null
  REG_PID=""
}

# An early exit stops the registry before docker_lib's and lib.sh's exit handlers run
# their leak checks.
_interop_on_exit() {
  local rc=$?
  stop_moor_daemons
  stop_registry
  (exit "$rc")
  _dk_on_exit
}
trap _interop_on_exit EXIT

# registry_blob REPO DIGEST: the blob from the registry, on stdout.
registry_blob() { curl -sf -m 30 "http://$REG/v2/$1/blobs/$2"; }
# registry_manifest REPO REF: the manifest as the registry serves it.
registry_manifest() {
  curl -sf -m 30 -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/$1/manifests/$2"
}

# ---------------------------------------------------------------------------------------
# Cases

# busybox_tar: the test busybox rootfs as a tar (once).
busybox_tar() {
  local tar="$T_TMP/busybox-rootfs.tar"
  if [[ ! -f "$tar" ]]; then
    tar -C "$(rootfs_cache)" --exclude=./.complete -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  fi
  printf '%s\n' "$tar"
}

# 1. moor build → moor push → docker pull → docker run.
t_moor_to_docker() {
  local base=interop-busybox:base name="$REG/interop/moorbuilt:1"
  capture M r1 image import -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' "$(busybox_tar)" "$base"
  [[ $RC == 0 ]] || die "moor image import of the busybox rootfs failed (exit $RC): $ERR"
  local ctx="$T_TMP/ctx-moor"
  mkdir -p "$ctx"
  printf 'copied by COPY\nsecond line\n' >"$ctx/hello.txt"
  cat >"$ctx/entry.sh" <<'EOF'
#!/bin/sh
echo "entry: $GREETING / $SECOND"
echo "cwd: $(pwd)"
cat hello.txt run.txt
ls -l entry.sh | cut -c1-10
echo "args: $# [$*]"
EOF
  chmod 755 "$ctx/entry.sh"
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
ENV GREETING="hello from moor" SECOND=two
WORKDIR /app
COPY hello.txt entry.sh ./
RUN echo "RUN in \$(pwd) saw \$GREETING" > /app/run.txt && mkdir -p /data && echo layer > /data/x
ENTRYPOINT ["/app/entry.sh"]
CMD ["a", "b c"]
EOF
  capture M r1 build -t "$name" "$ctx"
  [[ $RC == 0 ]] || die "moor build failed (exit $RC): $(_clip "$ERR") $(_clip "$OUT")"
  pass "moor build -t $name"
  local moor_id
  moor_id=$(moor_image_id r1 "$name")
  [[ -n "$moor_id" ]] || die "moor image inspect $name gives no Id"

  capture M r1 push "$name"
  [[ $RC == 0 ]] || die "moor push $name failed (exit $RC): $ERR"
  local pushed_digest
  pushed_digest=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$OUT" | head -1 | cut -d' ' -f2)
  assert_match "$pushed_digest" '^sha256:[0-9a-f]{64}$' "moor push prints the manifest digest"
  # What the registry serves, checked independently of moor.
  local manifest
  manifest=$(registry_manifest interop/moorbuilt 1) || die "the registry has no manifest for moorbuilt:1"
  assert_eq "$pushed_digest" "sha256:$(printf '%s' "$manifest" | sha256sum | cut -d' ' -f1)" \
    "the registry serves a manifest with the digest moor printed"
  assert_eq "$moor_id" "$(jq -r .config.digest <<<"$manifest")" "the manifest's config is moor's image ID"

  capture D pull "$name"
  [[ $RC == 0 ]] || die "docker pull $name failed (exit $RC): $ERR"
  assert_contains "$OUT" "Digest: $pushed_digest" "docker pull sees the digest moor pushed"
  assert_eq "$moor_id" "$(D image inspect --format '{{.Id}}' "$name" 2>/dev/null)" \
    "docker's image ID equals moor's"
  assert_eq '/app' "$(D image inspect --format '{{.Config.WorkingDir}}' "$name" 2>/dev/null)" \
    "docker sees WORKDIR /app"
  assert_eq '[/app/entry.sh] [a b c]' \
    "$(D image inspect --format '{{.Config.Entrypoint}} {{.Config.Cmd}}' "$name" 2>/dev/null)" \
    "docker sees ENTRYPOINT and CMD"

  same_run "default ENTRYPOINT + CMD" "$name" r1
  assert_contains "$REF_OUT" "entry: hello from moor / two" "docker sees ENV (entrypoint output)"
  assert_contains "$REF_OUT" "cwd: /app" "docker starts in WORKDIR"
  assert_contains "$REF_OUT" "copied by COPY" "docker sees the COPYed file"
  assert_contains "$REF_OUT" "RUN in /app saw hello from moor" "docker sees the RUN's file"
  assert_contains "$REF_OUT" "-rwxr-xr-x" "COPY kept the executable mode"
  assert_contains "$REF_OUT" "args: 2 [a b c]" "CMD's two arguments reach the entrypoint"
  same_run "arguments replace CMD" "$name" r1 -- x "y z" w
  assert_contains "$REF_OUT" "args: 3 [x y z w]" "docker passes the new arguments"
  # shellcheck disable=SC2016
  same_run "entrypoint override: env, workdir, files" "$name" r1 --entrypoint sh -- \
    -c 'echo "$GREETING|$SECOND|$PATH"; pwd; cat /app/hello.txt /data/x; id -u; ls /app'
  assert_contains "$REF_OUT" "hello from moor|two|/usr/sbin:/usr/bin:/sbin:/bin" \
    "docker: ENV incl. the base's PATH"
  same_run "-e and -w override" "$name" r1 -e GREETING=over -w /data --entrypoint sh -- \
    -c 'echo "$GREETING $SECOND"; pwd; ls'
  assert_eq "$(printf 'over two\n/data\nx')" "$REF_OUT" "docker: -e / -w override"
  D rmi -f "$name" >/dev/null 2>&1
}

# 2. docker build → docker push → moor pull → moor run.
t_docker_to_moor() {
  local name="$REG/interop/dockerbuilt:1"
  local ctx="$T_TMP/ctx-docker"
  mkdir -p "$ctx"
  printf 'sent by docker\n' >"$ctx/msg.txt"
  cat >"$ctx/Dockerfile" <<EOF
FROM $MOOR_DOCKER_IMAGE
ENV GREETING="hello from docker" LEVEL=2
WORKDIR /work
COPY msg.txt ./
RUN echo "RUN in \$(pwd) saw \$GREETING" > run.txt && ln -s run.txt link.txt && chmod 640 run.txt \\
    && mkdir -p /var/empty-dir /opt/deep/er && echo deep > /opt/deep/er/f
CMD ["sh", "-c", "pwd; cat msg.txt run.txt link.txt; echo \$GREETING \$LEVEL; \
     ls -l run.txt | cut -c1-10; ls -A /var/empty-dir | wc -l; cat /opt/deep/er/f"]
EOF
  capture docker_build -t "$name" "$ctx"
  [[ $RC == 0 ]] || die "docker build failed (exit $RC): $(_clip "$ERR") $(_clip "$OUT")"
  pass "docker build (legacy builder) -t $name"
  local docker_id
  docker_id=$(D image inspect --format '{{.Id}}' "$name" 2>/dev/null)
  capture D push "$name"
  [[ $RC == 0 ]] || die "docker push $name failed (exit $RC): $ERR"
  local pushed_digest
  pushed_digest=$(grep -oE 'digest: sha256:[0-9a-f]{64}' <<<"$OUT" | head -1 | cut -d' ' -f2)
  [[ -n "$pushed_digest" ]] || die "docker push printed no digest: $OUT"

  rm -rf "$T_TMP/moor-r2"
  capture M r2 pull "$name"
  [[ $RC == 0 ]] || die "moor pull $name failed (exit $RC): $ERR"
  assert_contains "$OUT" "Digest: $pushed_digest" "moor pull sees the digest docker pushed"
  assert_eq "$docker_id" "$(moor_image_id r2 "$name")" "moor's image ID equals docker's"

  same_run "default CMD" "$name" r2
  assert_contains "$REF_OUT" "sent by docker" "docker: COPYed file"
  assert_contains "$REF_OUT" "RUN in /work saw hello from docker" "docker: RUN's file (and the symlink)"
  assert_contains "$REF_OUT" "-rw-r-----" "docker: the RUN's chmod"
  # shellcheck disable=SC2016
  same_run "command override: env, workdir" "$name" r2 -- \
    sh -c 'echo "$GREETING|$LEVEL|$PATH"; pwd; readlink link.txt'
  assert_eq "$(printf 'hello from docker|2|/usr/sbin:/usr/bin:/sbin:/bin\n/work\nrun.txt')" "$REF_OUT" \
    "docker: env, workdir, symlink"
  same_run "exit status" "$name" r2 -- sh -c 'echo before; exit 7'
  assert_eq 7 "$RC" "moor run exits with the command's status"
  D rmi -f "$name" >/dev/null 2>&1
}

# 3. A Docker image with a whiteout and an opaque directory.
t_docker_whiteouts() {
  local name="$REG/interop/whiteout:1"
  local ctx="$T_TMP/ctx-whiteout"
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $MOOR_DOCKER_IMAGE
RUN echo a > /gone && mkdir /d && echo x > /d/f && mkdir -p /d/sub /keep && echo s > /d/sub/s \\
    && echo k > /keep/k && echo k2 > /keep/k2
RUN rm /gone && rm -rf /d && mkdir /d && echo y > /d/g && rm /keep/k
CMD ["sh", "-c", "ls -A /d; ls -A /keep; test -e /gone && echo gone-present || echo gone-absent; \
     find / -xdev -name '.wh.*' | wc -l"]
EOF
  capture docker_build -t "$name" "$ctx"
  [[ $RC == 0 ]] || die "docker build failed (exit $RC): $(_clip "$ERR") $(_clip "$OUT")"
  capture D push "$name"
  [[ $RC == 0 ]] || die "docker push $name failed (exit $RC): $ERR"

  # The image really has the markers: the last layer's tar holds .wh.gone, keep/.wh.k and
  # d/.wh..wh..opq (checked from the registry, not through moor).
  local manifest last entries
  manifest=$(registry_manifest interop/whiteout 1) || die "the registry has no manifest for whiteout:1"
  assert_eq 3 "$(jq '.layers | length' <<<"$manifest")" "three layers (base + two RUNs)"
  last=$(jq -r '.layers[-1].digest' <<<"$manifest")
  entries=$(registry_blob interop/whiteout "$last" | tar -tzf - 2>/dev/null | sed 's|^\./||')
  assert_contains "$entries" ".wh.gone" "the last layer has a whiteout for /gone"
  assert_contains "$entries" "keep/.wh.k" "the last layer has a whiteout for /keep/k"
  assert_contains "$entries" "d/.wh..wh..opq" "the last layer marks /d opaque"

  rm -rf "$T_TMP/moor-r3"
  capture M r3 pull "$name"
  [[ $RC == 0 ]] || die "moor pull $name failed (exit $RC): $ERR"
  assert_eq "$(D image inspect --format '{{.Id}}' "$name" 2>/dev/null)" "$(moor_image_id r3 "$name")" \
    "moor's image ID equals docker's"
  same_run "whiteouts applied" "$name" r3
  assert_eq "$(printf 'g\nk2\ngone-absent\n0')" "$REF_OUT" \
    "docker: /d has only g, /keep only k2, /gone absent"
  # shellcheck disable=SC2016
  same_run "no marker files visible, deleted paths gone" "$name" r3 -- sh -c \
    'ls -A /d/sub /d/f /gone /keep/k 2>&1 | sed "s/^ls: //" | sort; ls -a / | grep -c "^\.wh\." || true'
  D rmi -f "$name" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------

if ! docker_start; then
  _record_fail "docker set-up failed"
  T_FAIL=$((T_FAIL + 1))
  T_FAILED_CASES+=("docker set-up")
  docker_finish
fi
if ! start_registry; then
  stop_registry
  T_FAIL=$((T_FAIL + 1))
  T_FAILED_CASES+=("registry set-up")
  docker_finish
fi

# 4. moor build FROM an image only the registry has (pulled by the build), with
#    COPY --from= that image, in an empty moor root.
t_moor_build_pulls_base() {
  local base="$REG/interop/dockerbuilt:1"
  local ctx="$T_TMP/ctx-pullbase"
  mkdir -p "$ctx"
  cat >"$ctx/Dockerfile" <<EOF
FROM $base
COPY --from=$base /work/msg.txt /copied.txt
RUN cat /copied.txt run.txt > both.txt
CMD ["cat", "both.txt"]
EOF
  rm -rf "$T_TMP/moor-r4"
  capture M r4 build -t pulled-base:1 "$ctx"
  assert_eq 0 "$RC" "moor build with a FROM only the registry has exits 0 (stderr: $(_clip "$ERR"))"
  capture M r4 image inspect "$base"
  assert_eq 0 "$RC" "the base image was pulled into the empty root by the build"
  moor_run r4 pulled-base:1
  assert_eq $'sent by docker\nRUN in /work saw hello from docker' "$OUT" \
    "the built image has the base's files, COPY --from's file and RUN's output"
}

docker_case "moor build + push → docker pull + run" t_moor_to_docker
docker_case "docker build + push → moor pull + run" t_docker_to_moor
docker_case "docker whiteouts and opaque dirs → moor run" t_docker_whiteouts
docker_case "moor build FROM and COPY --from a registry image" t_moor_build_pulls_base

stop_moor_daemons
stop_registry
docker_finish

#!/usr/bin/env bash
# Images in and out of tar archives, against Docker 20.10 as the reference:
# - `moor image import` of a busybox rootfs tar (diff_id = sha256 of the tar, changes applied);
# - `docker save` → `moor image load` → `moor image ls` shows it, same image ID;
# - `moor image save` → `docker load` (Docker's own runc runs it) → same image ID;
# - bad input fails with one line; `moor image prune` keeps named images.
# The moor-only cases run without Docker; the Docker cases use a private dockerd
# (docker_lib.sh) and are skipped when it cannot run here.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/docker_lib.sh"

MOOR_BIN=${MOOR_BIN:-$MOOR_SRC/build/cmd/moor/moor}
if [[ ! -x "$MOOR_BIN" ]]; then
  say "$T_NAME: moor binary not found: MOOR_BIN=$MOOR_BIN (build it, or set MOOR_BIN)"
  T_FAIL=1
  T_FAILED_CASES+=("moor binary not found")
  finish
fi
MROOT="$T_TMP/moor-root"
ROOTFS_TAR="$T_TMP/busybox-rootfs.tar"

# M ARGS...: moor with the test's private --root.
M() { timeout -k 5 300 "$MOOR_BIN" --root "$MROOT" "$@"; }
# inspect_field REF JQ: one field of `moor image inspect REF` (array or object output).
inspect_field() {
  M image inspect "$1" 2>/dev/null | jq -r "if type == \"array\" then .[0] else . end | $2" 2>/dev/null
}

make_rootfs_tar() {
  [[ -f "$ROOTFS_TAR" ]] && return 0
  tar -C "$(rootfs_cache)" --exclude ./.complete -cf "$ROOTFS_TAR" . || die "tar of the busybox rootfs failed"
}

t_import() {
  make_rootfs_tar
  local want
  want="sha256:$(sha256sum "$ROOTFS_TAR" | cut -d' ' -f1)"
  capture M image import -c 'CMD ["sh"]' -c 'ENV FOO=bar' -m 'from the test' "$ROOTFS_TAR" imported:1
  assert_eq 0 "$RC" "moor image import exits 0 (stderr: $(_clip "$ERR"))"
  assert_match "$OUT" 'sha256:[0-9a-f]{64}' "import prints the image ID"
  assert_eq "$want" "$(inspect_field imported:1 '.RootFS.Layers[0]')" "the layer's diff_id is the tar's sha256"
  assert_eq 1 "$(inspect_field imported:1 '.RootFS.Layers | length')" "one layer"
  assert_eq '["sh"]' "$(inspect_field imported:1 '.Config.Cmd | tojson')" "CMD change applied"
  assert_contains "$(inspect_field imported:1 '.Config.Env | join(",")')" "FOO=bar" "ENV change applied"
  # gzip input: same diff_id (it is the uncompressed tar's digest)
  gzip -c "$ROOTFS_TAR" >"$ROOTFS_TAR.gz"
  capture M image import "$ROOTFS_TAR.gz" imported:gz
  assert_eq 0 "$RC" "import of a gzip-compressed tar exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "$want" "$(inspect_field imported:gz '.RootFS.Layers[0]')" "same diff_id from the gzip input"
  capture M image import -c 'RUN true' "$ROOTFS_TAR" imported:bad
  assert_ne 0 "$RC" "an unsupported change fails the import"
  assert_contains "$ERR" "RUN" "the error names the instruction"
  assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "the error is one line"
}

t_bad_archive() {
  head -c 10000 /dev/urandom >"$T_TMP/garbage.tar"
  capture M image load -i "$T_TMP/garbage.tar"
  assert_ne 0 "$RC" "loading garbage fails"
  assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "with one line of error ($(_clip "$ERR"))"
  tar -C "$T_TMP" -cf "$T_TMP/noimage.tar" garbage.tar
  capture M image load -i "$T_TMP/noimage.tar"
  assert_ne 0 "$RC" "loading a tar without images fails"
  assert_contains "$ERR" "manifest.json" "the error says what is missing"
}

t_prune_keeps_named() {
  capture M image prune
  assert_eq 0 "$RC" "moor image prune exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq 1 "$(inspect_field imported:1 '.RootFS.Layers | length')" "a named image survives prune"
}

run_case "import a rootfs tar" t_import
run_case "load of garbage fails cleanly" t_bad_archive
run_case "prune keeps named images" t_prune_keeps_named

# Without a usable dockerd the moor-only results above still count.
_dk_skip() {
  say "SKIP: docker cases: $*"
  T_SKIP=$((T_SKIP + 1))
  docker_stop >/dev/null 2>&1
  finish
}
if ! docker_start; then
  _record_fail "docker set-up failed"
  T_FAIL=$((T_FAIL + 1))
  docker_finish
fi
IMG=$MOOR_DOCKER_IMAGE

t_docker_save_moor_load() {
  local id
  id=$(D image inspect --format '{{.Id}}' "$IMG") || die "docker image inspect failed"
  D save -o "$T_TMP/docker-save.tar" "$IMG" || die "docker save failed"
  capture M image load -i "$T_TMP/docker-save.tar"
  assert_eq 0 "$RC" "moor image load exits 0 (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT" "Loaded image: $IMG" "load names the image"
  capture M image ls --format json
  assert_contains "$OUT" "${IMG%:*}" "moor image ls shows it"
  assert_eq "$id" "$(inspect_field "$IMG" .Id)" "same image ID as in Docker"
  # stdin works too (a second load of the same content is harmless)
  local out
  out=$(M image load <"$T_TMP/docker-save.tar" 2>&1)
  assert_contains "$out" "Loaded image: $IMG" "load from stdin"
}

t_moor_save_docker_load() {
  local id
  id=$(inspect_field "$IMG" .Id)
  [[ -n "$id" ]] || die "the image is not in moor's store (load case failed?)"
  capture M image save -o "$T_TMP/moor-save.tar" "$IMG" imported:1
  assert_eq 0 "$RC" "moor image save exits 0 (stderr: $(_clip "$ERR"))"
  assert_true "the archive has an OCI layout and manifest.json" \
    bash -c "tar -tf '$T_TMP/moor-save.tar' | grep -qx index.json && tar -tf '$T_TMP/moor-save.tar' | grep -qx manifest.json"
  D rmi -f "$IMG" >/dev/null 2>&1
  capture D load -i "$T_TMP/moor-save.tar"
  assert_eq 0 "$RC" "docker load of moor's archive exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "$id" "$(D image inspect --format '{{.Id}}' "$IMG" 2>/dev/null)" "docker has the same image ID"
  capture D run --rm --network none "$IMG" echo hi
  assert_eq 0 "$RC" "docker runs the loaded image (stderr: $(_clip "$ERR"))"
  assert_eq hi "$OUT" "and it prints hi"
  # The imported image has a gzip layer: docker load decompresses it.
  capture D run --rm --network none imported:1 echo imported
  assert_eq 0 "$RC" "docker runs the image moor imported (stderr: $(_clip "$ERR"))"
  assert_eq imported "$OUT" "and it prints imported"
}

docker_case "docker save → moor image load" t_docker_save_moor_load
docker_case "moor image save → docker load → docker run" t_moor_save_docker_load

docker_finish

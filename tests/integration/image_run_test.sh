#!/usr/bin/env bash
# `moor run` and `moor build` as a user meets them, on a busybox image made with
# `moor image import`: the image's CMD/ENV/WORKDIR/USER, overrides (-e, -u, -w,
# --entrypoint, args), exit codes, bind mounts, --read-only, --network none/host/bridge,
# writes discarded after the run, bad input with one-line errors, and nothing left
# behind (containers, overlay mounts) after each case. `moor run` goes through a private
# daemon (engine_lib.sh: its own network and mount namespaces). Then a build whose RUN
# step goes through the runtime library, its cache, and a failing RUN.
source "$(dirname "$0")/engine_lib.sh"
E_CMD_TIMEOUT=120
MROOT="$E_ROOT"

# The image: busybox with a user, a CMD, ENV and WORKDIR.
setup_image() {
  [[ -f "$T_TMP/img.done" ]] && return 0
  local rfs="$T_TMP/img-rootfs"
  cp -a "$(rootfs_cache)" "$rfs"
  rm -f "$rfs/.complete"
  mkdir -p "$rfs/etc" "$rfs/srv/app" "$rfs/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321:app:/srv/app:/bin/sh\n' >"$rfs/etc/passwd"
  printf 'root:x:0:\napp:x:4321:\nextra:x:777:app\n' >"$rfs/etc/group"
  echo original >"$rfs/srv/app/data"
  tar -C "$rfs" -cf "$T_TMP/img.tar" . || die "tar failed"
  capture M image import -c 'CMD ["sh","-c","echo cmd:$GREETING:$(pwd)"]' -c 'ENV GREETING=hello' \
    -c 'WORKDIR /srv/app' "$T_TMP/img.tar" runimg:1
  assert_eq 0 "$RC" "import the test image (stderr: $(_clip "$ERR"))" || die "no image"
  touch "$T_TMP/img.done"
}

# moor leaves no container and no overlay mount after `run --rm`.
assert_run_clean() {
  assert_eq "" "$(M ps -aq | tr '\n' ' ')" "no container is left"
  assert_eq "" "$(_e_mounts | grep -vxF -f "$T_TMP/mounts.base" | tr '\n' ' ')" "no mount under moor's root is left"
}

t_image_defaults() {
  setup_image
  capture M run --rm runimg:1
  assert_eq 0 "$RC" "run with the image's CMD exits 0 (stderr: $(_clip "$ERR"))"
  assert_eq "cmd:hello:/srv/app" "$OUT" "CMD, ENV and WORKDIR come from the image"
  assert_run_clean
}

t_overrides() {
  setup_image
  capture M run --rm -e GREETING=bye -e NEW=1 -w /tmp runimg:1 sh -c 'echo $GREETING $NEW $(pwd)'
  assert_eq "bye 1 /tmp" "$OUT" "-e replaces and adds variables, -w sets the directory"
  capture M run --rm -u app runimg:1 sh -c 'echo $(id -u):$(id -g); cat /proc/self/status | grep ^Groups:'
  assert_eq $'1234:4321\nGroups:\t777 ' "$OUT" \
    "-u NAME takes uid and gid from the image's /etc/passwd, extra groups from its /etc/group"
  capture M run --rm -u 42:43 runimg:1 sh -c 'echo $(id -u):$(id -g)'
  assert_eq "42:43" "$OUT" "-u UID:GID is used as given"
  capture M run --rm --entrypoint echo runimg:1 a b
  assert_eq "a b" "$OUT" "--entrypoint with arguments"
  capture M run --rm -u nosuchuser runimg:1 true
  assert_ne 0 "$RC" "an unknown user fails"
  assert_contains "$ERR" "nosuchuser" "the error names the user"
  assert_run_clean
}

t_exit_codes() {
  setup_image
  capture M run --rm runimg:1 sh -c 'exit 7'
  assert_eq 7 "$RC" "the container's exit code is moor run's"
  capture M run --rm runimg:1 /no/such/binary
  assert_eq 127 "$RC" "a missing executable exits 127"
  assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "with one line of error ($(_clip "$ERR"))"
  assert_run_clean
}

t_writes_discarded_and_binds() {
  setup_image
  capture M run --rm runimg:1 sh -c 'echo changed > /srv/app/data; rm -f /bin/ls; cat /srv/app/data'
  assert_eq "changed" "$OUT" "the container can write to its rootfs"
  capture M run --rm runimg:1 sh -c 'cat /srv/app/data; ls / >/dev/null && echo ls-there'
  assert_eq $'original\nls-there' "$OUT" "its writes are gone in the next run; the image is unchanged"
  mkdir -p "$T_TMP/host-dir"
  echo from-host >"$T_TMP/host-dir/f"
  capture M run --rm -v "$T_TMP/host-dir:/mnt/code:ro" runimg:1 sh -c 'cat /mnt/code/f; echo x > /mnt/code/g'
  assert_contains "$OUT" "from-host" "a bind mount shows the host directory"
  assert_ne 0 "$RC" "writing into a :ro bind fails"
  assert_false "the :ro bind left the host untouched" test -e "$T_TMP/host-dir/g"
  capture M run --rm -v "$T_TMP/host-dir:/mnt/code" runimg:1 sh -c 'echo x > /mnt/code/g'
  assert_eq 0 "$RC" "a rw bind is writable"
  assert_eq "x" "$(cat "$T_TMP/host-dir/g" 2>/dev/null)" "and the write reaches the host"
  capture M run --rm --read-only runimg:1 sh -c 'echo x > /srv/app/data'
  assert_ne 0 "$RC" "--read-only refuses writes to the rootfs"
  assert_run_clean
}

t_network_modes() {
  setup_image
  capture M run --rm --network none runimg:1 sh -c 'ls /sys/class/net | tr "\n" " "'
  assert_eq "lo " "$OUT" "--network none: only loopback"
  capture M run --rm runimg:1 sh -c 'ls /sys/class/net | tr "\n" " "'
  assert_eq "eth0 lo " "$OUT" "the default network is the bridge: eth0 and lo"
  capture M run --rm --network host runimg:1 sh -c 'ip -o link | wc -l'
  assert_eq "$(ip -o link | wc -l)" "$(echo "$OUT" | tr -d ' ')" "--network host sees the test namespace's interfaces"
  assert_run_clean
}

t_bad_input() {
  setup_image
  local c
  for c in "run" "run --network no-such-net runimg:1 true" "run -v relative/x:/x runimg:1 true" \
    "run -v /nonexistent-moor-src:/x runimg:1 true" "run --pull never nosuch:1 true" "run -it runimg:1 sh"; do
    # shellcheck disable=SC2086
    capture M $c
    assert_ne 0 "$RC" "moor $c fails"
    assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "moor $c: one line of error ($(_clip "$ERR"))"
  done
  assert_run_clean
}

t_build_run_and_cache() {
  setup_image
  local ctx="$T_TMP/ctx"
  mkdir -p "$ctx"
  echo "payload" >"$ctx/file.txt"
  printf 'FROM runimg:1\nCOPY file.txt /srv/app/file.txt\nRUN cat /srv/app/file.txt > /srv/app/ran && id -u >> /srv/app/ran\nENV STAGE=built\nCMD ["sh","-c","cat /srv/app/ran; echo $STAGE"]\n' >"$ctx/Dockerfile"
  capture M build -t built:1 "$ctx"
  assert_eq 0 "$RC" "moor build exits 0 (stderr: $(_clip "$ERR"))"
  capture M run --rm built:1
  assert_eq $'payload\n0\nbuilt' "$OUT" "the built image runs what its RUN step made"
  capture M build -t built:1 "$ctx"
  assert_eq 4 "$(grep -c 'Using cache' <<<"$OUT")" "an unchanged rebuild uses the cache for every step after FROM"
  echo "changed" >"$ctx/file.txt"
  capture M build -t built:2 "$ctx"
  assert_eq 0 "$(grep -c 'Using cache' <<<"$OUT")" "a changed COPY input rebuilds from that step on"
  capture M run --rm built:2
  assert_eq $'changed\n0\nbuilt' "$OUT" "and the new content is in the image"
  printf 'FROM runimg:1\nRUN echo before\nRUN exit 3\n' >"$ctx/Dockerfile.bad"
  capture M build -t bad:1 -f "$ctx/Dockerfile.bad" "$ctx"
  assert_ne 0 "$RC" "a failing RUN fails the build"
  assert_contains "$ERR" "Dockerfile.bad:3" "the error names file:line"
  assert_contains "$ERR" "code 3" "and the exit code"
  printf 'FROM runimg:1\nFROBNICATE x\n' >"$ctx/Dockerfile.unknown"
  capture M build -t bad:2 -f "$ctx/Dockerfile.unknown" "$ctx"
  assert_contains "$ERR" "Dockerfile.unknown:2" "an unknown instruction is reported with file:line"
  capture M image inspect bad:1
  assert_ne 0 "$RC" "no image is named after a failed build"
  assert_eq "" "$(_e_mounts | grep -vxF -f "$T_TMP/mounts.base" | tr "\n" " ")" "no build mount is left"
  assert_eq "" "$(ls -A "$MROOT/snapshots/tmp" 2>/dev/null)" "no build scratch dir is left"
}

engine_setup
ecase "the image's CMD, ENV and WORKDIR" t_image_defaults
ecase "overrides: -e -w -u --entrypoint, args" t_overrides
ecase "exit codes and a missing executable" t_exit_codes
ecase "writes are discarded; binds ro/rw; --read-only" t_writes_discarded_and_binds
ecase "network none and host" t_network_modes
ecase "bad input: one-line errors, nothing left" t_bad_input
ecase "build: RUN through the runtime, cache, failing RUN" t_build_run_and_cache
finish

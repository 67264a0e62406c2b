#!/usr/bin/env bash
# Volumes and networks through the daemon: a named volume shared by two containers and
# kept after they go, a read-only bind refusing writes, tmpfs mounts; a user network
# whose containers reach each other by IP, --network container:NAME sharing localhost,
# --network none with only lo, --network host, and network/volume rm while in use.
source "$(dirname "$0")/engine_lib.sh"

t_named_volume() {
  assert_rc 0 "volume create shared" M volume create shared
  assert_eq shared "$(M volume ls -q | grep -x shared)" "volume ls lists it"
  M run -d --name v1 -v shared:/data "$E_IMG" sleep 600 >/dev/null || die "run v1"
  M run -d --name v2 -v shared:/data "$E_IMG" sleep 600 >/dev/null || die "run v2"
  M exec v1 sh -c 'echo from-v1 > /data/f' || fail "write in v1"
  assert_eq from-v1 "$(M exec v2 cat /data/f)" "v2 sees what v1 wrote in the shared volume"
  capture M volume rm shared
  assert_ne 0 "$RC" "volume rm of a volume in use fails"
  assert_true "with one line ($ERR)" one_line
  M rm -f v1 v2 >/dev/null
  assert_eq from-v1 "$(M run --rm -v shared:/data "$E_IMG" cat /data/f)" "the data outlives the containers"
  assert_rc 0 "volume rm once unused" M volume rm shared
  assert_eq "" "$(M volume ls -q | grep -x shared)" "it is gone"
  # -v NAME:/path creates the volume on first use
  M run --rm -v autovol:/d "$E_IMG" sh -c 'echo x > /d/y' || fail "run with a new named volume"
  assert_eq autovol "$(M volume ls -q | grep -x autovol)" "a volume named in -v is created"
}

t_binds_tmpfs() {
  mkdir -p "$T_TMP/hostdir"
  echo from-host >"$T_TMP/hostdir/f"
  capture M run --rm -v "$T_TMP/hostdir:/mnt/h:ro" "$E_IMG" sh -c 'cat /mnt/h/f; echo x > /mnt/h/g'
  assert_contains "$OUT" from-host "a ro bind shows the host dir"
  assert_ne 0 "$RC" "writing into a ro bind fails"
  assert_false "the host dir is untouched" test -e "$T_TMP/hostdir/g"
  capture M run --rm -v "$T_TMP/hostdir:/mnt/h" "$E_IMG" sh -c 'echo x > /mnt/h/g'
  assert_eq 0 "$RC" "a rw bind is writable"
  assert_eq x "$(cat "$T_TMP/hostdir/g" 2>/dev/null)" "and the write reaches the host"
  capture M run --rm --mount "type=bind,source=$T_TMP/hostdir,target=/m,readonly" "$E_IMG" touch /m/z
  assert_ne 0 "$RC" "--mount type=bind,readonly refuses writes"
  capture M run --rm --tmpfs /scratch:size=1m "$E_IMG" sh -c \
    'grep " /scratch " /proc/mounts; dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null; echo rc=$?'
  assert_contains "$OUT" "tmpfs /scratch tmpfs" "--tmpfs mounts a tmpfs"
  assert_contains "$OUT" "rc=1" "limited to its size"
  capture M run --rm --mount type=tmpfs,target=/t "$E_IMG" sh -c 'grep " /t " /proc/mounts'
  assert_contains "$OUT" "tmpfs /t tmpfs" "--mount type=tmpfs"
  capture M run --rm --read-only "$E_IMG" touch /x
  assert_ne 0 "$RC" "--read-only refuses writes to the rootfs"
}

t_user_network() {
  assert_rc 0 "network create" M network create --subnet 10.77.0.0/24 appnet
  M run -d --name srv --network appnet "$E_IMG" nc -ll -p 8080 -e echo from-srv >/dev/null || die "run srv"
  M run -d --name cli --network appnet "$E_IMG" sleep 600 >/dev/null || die "run cli"
  local sip
  sip=$(ip_of srv)
  assert_match "$sip" '^10\.77\.0\.' "a container on appnet gets an address in its subnet"
  assert_match "$(ip_of cli)" '^10\.77\.0\.' "so does the second"
  wait_for 5 "srv listens" M exec cli sh -c "nc -w 2 $sip 8080 </dev/null | grep -q from-srv"
  assert_eq from-srv "$(M exec cli sh -c "nc -w 2 $sip 8080 </dev/null")" "cli reaches srv by IP on appnet"
  assert_eq 2 "$(M network inspect appnet | jq '.[0].Containers // {} | length')" "network inspect lists both"
  capture M network rm appnet
  assert_ne 0 "$RC" "network rm while containers use it fails"
  assert_true "with one line ($ERR)" one_line
  capture M network create --subnet 10.77.0.0/24 appnet
  assert_ne 0 "$RC" "a second network with the same name fails"
  M run -d --name bsrv "$E_IMG" nc -ll -p 8080 -e echo from-bridge >/dev/null || die "run bsrv"
  local bip
  bip=$(ip_of bsrv)
  capture M exec cli sh -c "nc -w 1 $bip 8080 </dev/null"
  assert_not_contains "$OUT" from-bridge "appnet is isolated from the default bridge"
  M rm -f srv cli bsrv >/dev/null
  assert_rc 0 "network rm once unused" M network rm appnet
}

t_network_modes() {
  M run -d --name pod "$E_IMG" nc -ll -p 9000 -e echo pod-local >/dev/null || die "run pod"
  wait_status 10 pod running
  M run -d --name side --network container:pod "$E_IMG" sleep 600 >/dev/null || die "run side"
  wait_for 5 "side reaches pod's server on localhost" \
    M exec side sh -c 'nc -w 2 127.0.0.1 9000 </dev/null | grep -q pod-local'
  assert_eq pod-local "$(M exec side sh -c 'nc -w 2 127.0.0.1 9000 </dev/null')" \
    "--network container:NAME shares localhost"
  capture M run --rm --network none "$E_IMG" sh -c "ip -o link | awk -F': ' '{print \$2}' | tr '\n' ' '"
  assert_eq "lo " "$OUT" "--network none has only lo"
  capture M run --rm "$E_IMG" sh -c "ip -o -4 addr show eth0 | awk '{print \$4}'"
  assert_match "$OUT" '^10\.89\.[0-9]+\.[0-9]+/16$' "the default bridge gives eth0 an address"
  local want
  want=$(ip -o link | wc -l)
  capture M run --rm --network host "$E_IMG" sh -c 'ip -o link | wc -l'
  assert_eq "$want" "$(echo "$OUT" | tr -d ' ')" "--network host sees the test namespace's interfaces"
  capture M run --rm --network host "$E_IMG" sh -c 'ip -o link show moor0 >/dev/null && echo has-bridge'
  assert_eq has-bridge "$OUT" "including the daemon's bridge"
}

engine_setup
ecase "named volume shared by two containers" t_named_volume
ecase "binds (ro, rw, --mount), tmpfs, --read-only" t_binds_tmpfs
ecase "user network: reach by IP, isolation, rm in use" t_user_network
ecase "network modes: container:NAME, none, bridge, host" t_network_modes
finish

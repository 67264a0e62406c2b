#!/usr/bin/env bash
# Many containers at once: 200 started concurrently (8 at a time) get 200 distinct IP
# addresses and veths; removed concurrently they leave no veth, IP lease, cgroup, mount
# or monitor process. Then 200 run+rm pairs interleaved, 8 at a time, with the same checks.
source "$(dirname "$0")/engine_lib.sh"

N=${MOOR_ENGINE_CHURN:-200}

# leak_checks: the engine left nothing (asserted here; verify_clean checks again).
leak_checks() {
  _note_all_ids
  assert_eq "" "$(M ps -aq | tr '\n' ' ')" "no container is left"
  local v=""
  for _ in $(seq 1 25); do
    v=$(_e_veths | tr '\n' ' ')
    [[ -z "$v" ]] && break
    sleep 0.2
  done
  assert_eq "" "$v" "no veth (mv…) is left"
  assert_eq "" "$(_e_leases)" "no IP lease is left on the bridge network"
  assert_eq "" "$(_e_cgroups | tr '\n' ' ')" "no cgroup of these containers is left"
  assert_eq "" "$(_e_mounts | grep -vxF -f "$T_TMP/mounts.base" | tr '\n' ' ')" "no mount under the roots is left"
  assert_eq "" "$(_e_monitors | tr '\n' ' ')" "no moor monitor process is left"
  assert_eq "" "$(ls -A "$E_RUN/c" 2>/dev/null | tr '\n' ' ')" "no monitor dir is left"
  assert_eq "" "$(ls -A "$E_RUN/netns" 2>/dev/null | tr '\n' ' ')" "no netns pin is left"
}

t_many_at_once() {
  export -f M
  export MOOR E_ROOT E_SOCK E_CMD_TIMEOUT E_IMG
  seq 1 "$N" | xargs -P 8 -I{} bash -c \
    'M run -d --name churn-{} "$E_IMG" sleep 600 >/dev/null 2>>"$1" || echo "churn-{}: $(tail -n1 "$1")" >>"$1.fail"' \
    _ "$T_TMP/run.err"
  local nfail=0
  [[ -f "$T_TMP/run.err.fail" ]] && nfail=$(wc -l <"$T_TMP/run.err.fail")
  assert_eq 0 "$nfail" "all $N concurrent runs succeed ($(head -n 3 "$T_TMP/run.err.fail" 2>/dev/null | tr '\n' ' '))"
  _note_all_ids
  local running
  running=$(M ps -q | wc -l)
  assert_eq "$N" "$running" "$N containers are running"
  M ps -aq --no-trunc | xargs -r -n 50 "$MOOR" --root "$E_ROOT" -H "unix://$E_SOCK" inspect |
    jq -r '.[] | .NetworkSettings.IPAddress' >"$T_TMP/ips"
  local total uniq empty
  total=$(grep -c . "$T_TMP/ips")
  uniq=$(grep . "$T_TMP/ips" | sort -u | wc -l)
  empty=$(grep -c -v '^10\.' "$T_TMP/ips")
  assert_eq "$running" "$total" "every container has an IP address"
  assert_eq "$total" "$uniq" "no two containers share an IP address ($(sort "$T_TMP/ips" | uniq -d | head -3 | tr '\n' ' '))"
  assert_eq 0 "$empty" "all addresses are on the bridge subnet"
  assert_eq "$running" "$(_e_veths | wc -l)" "one veth per container"
  assert_eq "$running" "$(M network inspect bridge | jq '.[0].Containers // {} | length')" \
    "network inspect bridge lists every container"
  M ps -aq | xargs -r -P 8 -n 5 "$MOOR" --root "$E_ROOT" -H "unix://$E_SOCK" rm -f >/dev/null 2>"$T_TMP/rm.err"
  assert_eq "" "$(head -c 300 "$T_TMP/rm.err")" "concurrent rm -f reports no error"
  leak_checks
}

t_create_remove_interleaved() {
  export -f M
  export MOOR E_ROOT E_SOCK E_CMD_TIMEOUT E_IMG
  seq 1 "$N" | xargs -P 8 -I{} bash -c '
    id=$(M run -d "$E_IMG" sleep 600 2>>"$1") || { echo "run {}" >>"$1.fail"; exit 0; }
    echo "$id" >>"$1.ids"
    M rm -f "$id" >/dev/null 2>>"$1" || echo "rm {}" >>"$1.fail"' _ "$T_TMP/cr.err"
  note_ids "$(cat "$T_TMP/cr.err.ids" 2>/dev/null)"
  local nfail=0
  [[ -f "$T_TMP/cr.err.fail" ]] && nfail=$(wc -l <"$T_TMP/cr.err.fail")
  assert_eq 0 "$nfail" "all $N run+rm pairs succeed ($(head -c 300 "$T_TMP/cr.err" 2>/dev/null))"
  assert_eq "$N" "$(sort -u "$T_TMP/cr.err.ids" 2>/dev/null | wc -l)" "$N distinct container ids"
  leak_checks
}

engine_setup
ecase "$N containers at once: distinct IPs, then nothing left" t_many_at_once
ecase "$N run+rm pairs interleaved: nothing left" t_create_remove_interleaved
finish

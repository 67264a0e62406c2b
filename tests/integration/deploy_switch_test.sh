#!/usr/bin/env bash
# `moor deploy` end to end: fixtures/app/deploy/moor.yaml — nginx in front of three php-fpm
# containers whose code (./code) is a release shipped by moor. Each deploy changes
# code/public/marker.php; the page prints that marker and the release it ran from.
#
# Checks, once with the reload strategy and once with rolling: `moor up` ships the first
# release; four request loops (a new connection per request) run while 20 deploys and
# rollbacks switch the service; every request is answered 200, and each loop sees the
# markers in the order of the switches (it may skip some, it never goes back to one it left:
# no old-new-old flapping). A deploy of an unchanged tree sends nothing. `moor releases`
# lists the ledger.
#
# NETWORK: as app_up_test (images from the cache prepared before the namespace; requests to
# 127.0.0.1 and the daemon's bridges in the test's own namespace).

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images deploy_switch_test

source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/app_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"

APP=dpl
URL="http://127.0.0.1:8080/"
LOOPS=4
SWITCHES=${DEPLOY_SWITCHES:-20}


# check_walk S OUTFILES...: each loop's markers follow the switch list S without going back.
check_walk() {
  /usr/bin/python3 - "$@" <<'EOF'
import sys
switches = sys.argv[1].split()
bad = []
for path in sys.argv[2:]:
    seen = []
    for line in open(path):
        parts = line.split()
        if len(parts) >= 3 and parts[1] == "200" and parts[2].startswith("marker="):
            m = parts[2][len("marker="):]
            if not seen or seen[-1] != m:
                seen.append(m)
    pos = 0
    for m in seen:
        try:
            pos = switches.index(m, pos)
        except ValueError:
            bad.append("%s: saw %s after %s (switches %s)" % (path.split("/")[-1], " ".join(seen), switches[pos] if pos < len(switches) else "?", " ".join(switches)))
            break
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}

run_phase() {
  local strategy=$1 i out rel target marker=0
  app_copy deploy
  export DEPLOY_STRATEGY=$strategy
  set_marker 0
  capture A up -d --wait
  note_ids "$(app_ids)"
  [[ "$RC" == 0 ]] || die "$strategy: moor up -d --wait: exit $RC: $(_clip "$ERR")"
  wait_for 30 "$strategy: nginx serves marker 0 (last: $(page_marker))" marker_is 0 || return 1
  declare -A marker_of=()
  marker_of[$(live_release)]=0
  local stop="$T_TMP/stop-$strategy" switches="0"
  rm -f "$stop" "$T_TMP"/loop-"$strategy"-*.out
  local pids=()
  for ((i = 1; i <= LOOPS; i++)); do
    /usr/bin/python3 "$DISC_FIX/reqloop.py" "$URL" "$stop" "$T_TMP/loop-$strategy-$i.out" 50 &
    pids+=($!)
  done
  sleep 1
  local t0=$SECONDS deploys=0 rollbacks=0
  for ((i = 1; i <= SWITCHES; i++)); do
    if ((i % 5 == 0)); then
      capture A rollback php
      [[ "$RC" == 0 ]] || { touch "$stop"; wait "${pids[@]}"; die "$strategy: rollback $i: exit $RC: $(_clip "$ERR")"; }
      rel=$(live_release)
      marker=${marker_of[$rel]:-?}
      ((rollbacks++))
    else
      marker=$i
      set_marker "$marker"
      capture A deploy php
      [[ "$RC" == 0 ]] || { touch "$stop"; wait "${pids[@]}"; die "$strategy: deploy $i: exit $RC: $(_clip "$ERR")"; }
      rel=$(live_release)
      marker_of[$rel]=$marker
      ((deploys++))
    fi
    switches+=" $marker"
    wait_for 30 "$strategy: switch $i serves marker $marker (last: $(page_marker))" marker_is "$marker" || break
  done
  local took=$((SECONDS - t0))
  sleep 1
  touch "$stop"
  wait "${pids[@]}"
  local total=0 failed=0 f
  for f in "$T_TMP"/loop-"$strategy"-*.out; do
    total=$((total + $(req_total "$f")))
    failed=$((failed + $(req_failed "$f")))
  done
  say "$strategy: $deploys deploys + $rollbacks rollbacks in ${took}s; $total requests, $failed failed; switches: $switches"
  assert_eq 0 "$failed" "$strategy: every request answered 200 ($(req_failures "$T_TMP/loop-$strategy-1.out"))"
  local walk
  walk=$(check_walk "$switches" "$T_TMP"/loop-"$strategy"-*.out)
  assert_eq "" "$walk" "$strategy: every loop saw the markers in switch order (no flapping)"

  # An unchanged tree: nothing sent, nothing switched (the last switch was a rollback: ship
  # the directory's tree once more first).
  capture A deploy php
  assert_eq 0 "$RC" "$strategy: a deploy of the directory's tree after the rollback"
  rel=$(live_release)
  capture A deploy php
  assert_eq 0 "$RC" "$strategy: a deploy of the unchanged tree succeeds"
  assert_match "$OUT" "up to date" "$strategy: an unchanged tree is reported up to date"
  assert_eq "$rel" "$(live_release)" "$strategy: the live release is unchanged"

  capture A down -v
  assert_eq 0 "$RC" "$strategy: moor down -v"
}

t_reload() { run_phase reload; }
t_rolling() { run_phase rolling; }

app_setup images
ecase "reload: 20 deploys and rollbacks under load, 0 failed, no flapping" t_reload
ecase "rolling: 20 deploys and rollbacks under load, 0 failed, no flapping" t_rolling
finish

#!/usr/bin/env bash
# `moor deploy` survives crashes: fixtures/app/deploy/moor.yaml (reload strategy) — nginx in
# front of three php-fpm containers whose code is a release shipped by moor. The page prints
# the marker of code/public/marker.php.
#
# Checks, each with a request loop through nginx (0 failed requests):
# 1. the deploy client is SIGKILLed while it uploads a 200 MiB file: the old release keeps
#    serving; the next deploy resumes the upload (sends well under twice the file) and goes live;
# 2. the daemon is SIGKILLed while a deploy uploads: the old release keeps serving (the
#    containers and their port proxies outlive the daemon); after a restart the next deploy
#    goes live;
# 3. the daemon is SIGKILLed in the middle of a switch (MOOR_DEPLOY_TEST_PAUSE=switching): the
#    old release keeps serving; after a restart the ledger says the release failed and the old
#    one is live; the next deploy goes live.
#
# NETWORK: as deploy_switch_test (images from the cache prepared before the namespace; requests
# to 127.0.0.1 in the test's own namespace).

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images deploy_crash_test

source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/app_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"

E_CMD_TIMEOUT=${MOOR_ENGINE_CMD_TIMEOUT:-300}  # a 200 MiB upload takes a while in a sanitized build
URL="http://127.0.0.1:8080/"
BIG_MIB=${DEPLOY_BIG_MIB:-200}
BIG_BYTES=$((BIG_MIB << 20))
DISC_REQ_RATE=50
export DEPLOY_STRATEGY=reload

# release_field N FIELD: one field of release N in the ledger.
release_field() { releases_json | jq -r --argjson n "$1" --arg f "$2" '.[] | select(.release == $n) | .[$f]'; }
# newest_release: the highest release number in the ledger.
newest_release() { releases_json | jq -r 'map(.release) | max // 0'; }
# current_link: where releases/dpl/php/current points.
current_link() { readlink "$E_ROOT/deploy/releases/dpl/php/current" 2>/dev/null; }
# ingest_bytes: bytes in the daemon's partial uploads (content/ingest/*/…).
ingest_bytes() {
  find "$E_ROOT/deploy/content/ingest" -type f -printf '%s\n' 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}
ingest_over() { (($(ingest_bytes) >= $1)); }
# big_file NAME: BIG_MIB of incompressible bytes in code/public/NAME.
big_file() {
  head -c "$BIG_BYTES" /dev/urandom >"$APP_DIR/code/public/$1" || die "cannot write $1"
  chmod a+r "$APP_DIR/code/public/$1"
}
# client_pid: the `moor deploy` process of the app (not its timeout wrapper).
client_pid() {
  local p
  for p in $(pgrep -f -- "deploy --file $APP_FILE"); do
    [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == moor ]] && { echo "$p"; return 0; }
  done
  return 1
}
# deploy_bg TAG: `moor deploy php` in the background; output in $T_TMP/TAG.{out,err,rc}. Sets BG.
deploy_bg() {
  rm -f "$T_TMP/$1".{out,err,rc}
  (
    A deploy php >"$T_TMP/$1.out" 2>"$T_TMP/$1.err"
    echo $? >"$T_TMP/$1.rc"
  ) &
  BG=$!
  track_pid "$BG"
}
bg_rc() { cat "$T_TMP/$1.rc" 2>/dev/null; }
bg_err() { tr '\n' '|' <"$T_TMP/$1.err" 2>/dev/null; }

# stack_up MARKER: a fresh copy of the fixture with MARKER, `moor up -d --wait`, MARKER served;
# then a request loop (stopped by loop_done).
stack_up() {
  app_copy deploy
  set_marker "$1"
  capture A up -d --wait
  note_ids "$(app_ids)"
  [[ "$RC" == 0 ]] || die "moor up -d --wait: exit $RC: $(_clip "$ERR")"
  wait_for 60 "nginx serves marker $1 (last: $(page_marker))" marker_is "$1" || die "the stack does not serve $1"
  LOOP_STOP="$T_TMP/stop-$T_SEQ" LOOP_OUT="$T_TMP/loop-$T_SEQ.out"
  rm -f "$LOOP_STOP" "$LOOP_OUT"
  request_loop "$URL" "$LOOP_STOP" "$LOOP_OUT"
}
# loop_done WHAT: stop the request loop; every request must have been answered 200.
loop_done() {
  request_loop_stop "$LOOP_STOP"
  local total failed
  total=$(req_total "$LOOP_OUT")
  failed=$(req_failed "$LOOP_OUT")
  say "  $1: $total requests, $failed failed"
  assert_eq 0 "$failed" "$1: every request answered 200 (failures: $(req_failures "$LOOP_OUT"))"
  ((total > 50)) || fail "$1: the request loop made only $total requests"
}
# old_still_served WHAT MARKER LINK: current and the page are what they were.
old_still_served() {
  assert_eq "$3" "$(current_link)" "$1: current still points at the old release"
  assert_eq "$2" "$(page_marker)" "$1: the old marker is still served"
}

t_client_killed() {
  T_SEQ=1
  stack_up c1-old
  local link0 rel0
  link0=$(current_link)
  rel0=$(live_release)
  big_file big1.bin
  set_marker c1-new
  local t0=$SECONDS
  deploy_bg c1a
  # Kill once at least two pieces are in the daemon's ingest (not before, not after the end).
  wait_for 120 "the upload reaches 32 MiB in content/ingest (is $(ingest_bytes) bytes; client: $(bg_err c1a))" \
    ingest_over $((32 << 20)) || { loop_done "client killed"; die "the upload never started"; }
  local pid
  pid=$(client_pid) || die "no moor deploy process found (client: $(bg_err c1a))"
  kill -KILL "$pid"
  local at
  at=$(ingest_bytes)
  wait "$BG"
  say "  client SIGKILLed after $((SECONDS - t0)) s with $((at >> 20)) MiB in the ingest"
  assert_ne 0 "$(bg_rc c1a)" "the killed client did not finish (exit $(bg_rc c1a); stderr: $(bg_err c1a))"
  ((at < BIG_BYTES)) || fail "the kill came too late: $at bytes already in the ingest"
  old_still_served "client killed" c1-old "$link0"
  assert_eq "$rel0" "$(live_release)" "client killed: the live release is unchanged"

  t0=$SECONDS
  capture A deploy php
  assert_eq 0 "$RC" "the next deploy succeeds (stderr: $(_clip "$ERR"))" ||
    { loop_done "client killed"; die "deploy failed"; }
  say "  deploy after the kill: $((SECONDS - t0)) s: $OUT"
  assert_match "$ERR" "resuming" "the next deploy says it resumes the interrupted upload"
  local rel sent
  rel=$(live_release)
  sent=$(release_field "$rel" bytes_sent)
  assert_ne "$rel0" "$rel" "a new release is live (release $rel)"
  if [[ "$sent" =~ ^[0-9]+$ ]] && ((sent < BIG_BYTES * 3 / 2)); then
    pass "release $rel: bytes_sent $sent is well under twice the file ($BIG_BYTES bytes): resumed, not resent"
  else
    fail "release $rel: bytes_sent [$sent] for a $BIG_BYTES-byte file: the upload was sent again, not resumed"
  fi
  wait_for 30 "the new marker c1-new is served (last: $(page_marker))" marker_is c1-new
  assert_eq "" "$(find "$E_ROOT/deploy/content/ingest" -name data -size +0 2>/dev/null | tr '\n' ' ')" \
    "no partial upload is left in content/ingest after the finished deploy"
  loop_done "client killed"
  capture A down -v
  assert_eq 0 "$RC" "moor down -v (stderr: $(_clip "$ERR"))"
}

t_daemon_killed_in_transfer() {
  T_SEQ=2
  stack_up c2-old
  local link0 rel0
  link0=$(current_link)
  rel0=$(live_release)
  big_file big2.bin
  set_marker c2-new
  local base t0=$SECONDS
  base=$(ingest_bytes)
  deploy_bg c2a
  wait_for 120 "the upload reaches 32 MiB in content/ingest (is $(ingest_bytes) bytes; client: $(bg_err c2a))" \
    ingest_over $((base + (32 << 20))) || { loop_done "daemon killed in transfer"; die "the upload never started"; }
  daemon_kill9
  local at
  at=$(ingest_bytes)
  wait "$BG"
  say "  daemon SIGKILLed after $((SECONDS - t0)) s with $((at >> 20)) MiB in the ingest"
  assert_ne 0 "$(bg_rc c2a)" "the deploy whose daemon died fails (exit $(bg_rc c2a); stderr: $(bg_err c2a))"
  # The containers and their port proxies live on without the daemon.
  sleep 2
  old_still_served "daemon down" c2-old "$link0"
  daemon_start || die "the daemon does not start again after SIGKILL"
  assert_eq "$rel0" "$(live_release)" "after the restart the old release is still live"
  old_still_served "daemon restarted" c2-old "$link0"

  t0=$SECONDS
  capture A deploy php
  assert_eq 0 "$RC" "the deploy after the restart succeeds (stderr: $(_clip "$ERR"))" ||
    { loop_done "daemon killed in transfer"; die "deploy failed"; }
  local rel
  rel=$(live_release)
  say "  deploy after the restart: $((SECONDS - t0)) s, release $rel, bytes_sent $(release_field "$rel" bytes_sent)" \
    "$([[ "$ERR" == *resuming* ]] && echo "(resumed)"): $OUT"
  assert_ne "$rel0" "$rel" "a new release is live (release $rel)"
  wait_for 30 "the new marker c2-new is served (last: $(page_marker))" marker_is c2-new
  loop_done "daemon killed in transfer"
  capture A down -v
  assert_eq 0 "$RC" "moor down -v (stderr: $(_clip "$ERR"))"
}

t_daemon_killed_in_switch() {
  T_SEQ=3
  stack_up c3-old
  local link0 rel0
  link0=$(current_link)
  rel0=$(live_release)
  # Only this daemon start pauses its switches.
  daemon_stop
  MOOR_DEPLOY_TEST_PAUSE=switching daemon_start || die "the daemon does not start with MOOR_DEPLOY_TEST_PAUSE"
  set_marker c3-new
  local lines
  lines=$(wc -l <"$E_LOG")
  deploy_bg c3a
  wait_for 60 "the daemon logs 'deploy: test pause at switching' (client: $(bg_err c3a))" \
    eval "tail -n +$((lines + 1)) \"\$E_LOG\" | grep -q 'deploy: test pause at switching'" ||
    { loop_done "daemon killed in switch"; die "the switch never started"; }
  local rel_new
  rel_new=$(newest_release)
  assert_eq switching "$(release_field "$rel_new" state)" "release $rel_new is switching while paused"
  daemon_kill9
  wait "$BG"
  assert_ne 0 "$(bg_rc c3a)" \
    "the deploy whose daemon died in the switch fails (exit $(bg_rc c3a); stderr: $(bg_err c3a))"
  sleep 2
  old_still_served "daemon killed in switch" c3-old "$link0"
  daemon_start || die "the daemon does not start again after SIGKILL"
  old_still_served "daemon restarted after the switch" c3-old "$link0"
  assert_eq failed "$(release_field "$rel_new" state)" \
    "recovery marks release $rel_new failed (error: $(release_field "$rel_new" error))"
  assert_eq "$rel0" "$(live_release)" "recovery keeps release $rel0 live"
  assert_contains "$(cat "$E_LOG")" "deploy recovery: dpl/php release $rel_new: failed" "the daemon logs the recovery"

  local t0=$SECONDS
  capture A deploy php
  assert_eq 0 "$RC" "the deploy after the restart succeeds (stderr: $(_clip "$ERR"))" ||
    { loop_done "daemon killed in switch"; die "deploy failed"; }
  local rel
  rel=$(live_release)
  say "  deploy after the restart: $((SECONDS - t0)) s: $OUT"
  assert_ne "$rel0" "$rel" "a new release is live (release $rel)"
  assert_ne "$rel_new" "$rel" "the failed release is not the live one"
  wait_for 30 "the new marker c3-new is served (last: $(page_marker))" marker_is c3-new
  loop_done "daemon killed in switch"
  capture A down -v
  assert_eq 0 "$RC" "moor down -v (stderr: $(_clip "$ERR"))"
}

app_setup images
ecase "deploy client SIGKILLed mid-upload: old release serves, next deploy resumes" t_client_killed
ecase "daemon SIGKILLed mid-upload: old release serves, next deploy after restart goes live" t_daemon_killed_in_transfer
ecase "daemon SIGKILLed mid-switch: recovery fails the release, old one live, next deploy goes live" \
  t_daemon_killed_in_switch
finish

#!/usr/bin/env bash
# `moor deploy` refuses bad deploys and changes nothing: fixtures/app/deploy/moor.yaml (reload
# strategy), nginx in front of three php-fpm containers whose page prints the marker of
# code/public/marker.php.
#
# Checks, each leaving releases/dpl/php/current, the ledger's live release and the served
# marker as they were:
# - an unknown service: exit 1, one stderr line saying what to do;
# - a blob whose bytes do not match its digest (a pack posted by hand): 400 "corrupt", and the
#   session's commit ends in an error;
# - a tree naming a blob never sent: 400 naming the missing blob;
# - the TLS endpoint (--deploy-addr): a bogus token gets 401, a token of another app is
#   refused, a token made with `moor deploy token create ci --app dpl` deploys;
# - an unchanged tree: "up to date", no new release, nothing sent.
#
# NETWORK: as deploy_switch_test; the TLS endpoint listens on 127.0.0.1:8443 in the test's
# own namespace, with a CA and certificate made here by the openssl CLI.

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images deploy_errors_test

source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/app_lib.sh"
source "$(dirname "$0")/deploy_lib.sh"

URL="http://127.0.0.1:8080/"
REMOTE="https://127.0.0.1:8443"
API="http://moor/v1/moor/deploy"
export DEPLOY_STRATEGY=reload

release_count() { releases_json | jq -r 'length'; }
release_field() { releases_json | jq -r --argjson n "$1" --arg f "$2" '.[] | select(.release == $n) | .[$f]'; }
current_link() { readlink "$E_ROOT/deploy/releases/dpl/php/current" 2>/dev/null; }

# stack_up MARKER: a fresh copy of the fixture with MARKER, `moor up -d --wait`, MARKER served;
# remembers current, the live release and the marker for unchanged().
stack_up() {
  app_copy deploy
  set_marker "$1"
  capture A up -d --wait
  note_ids "$(app_ids)"
  [[ "$RC" == 0 ]] || die "moor up -d --wait: exit $RC: $(_clip "$ERR")"
  wait_for 60 "nginx serves marker $1 (last: $(page_marker))" marker_is "$1" || die "the stack does not serve $1"
  OLD_MARKER=$1
  OLD_LINK=$(current_link)
  OLD_LIVE=$(live_release)
  [[ -n "$OLD_LINK" && -n "$OLD_LIVE" ]] || die "no live release after moor up (current [$OLD_LINK], live [$OLD_LIVE])"
}
# unchanged WHAT: current, the live release and the page are what stack_up left.
unchanged() {
  assert_eq "$OLD_LINK" "$(current_link)" "$1: current still points at $OLD_LINK"
  assert_eq "$OLD_LIVE" "$(live_release)" "$1: release $OLD_LIVE is still live"
  assert_eq "$OLD_MARKER" "$(page_marker)" "$1: the old marker is still served"
}

# api METHOD PATH [CURL_ARGS...]: the deploy API on the daemon's socket; sets CODE and BODY.
api() {
  local m=$1 p=$2
  shift 2
  CODE=$(curl -s --max-time 30 --unix-socket "$E_SOCK" -X "$m" -o "$T_TMP/api.body" -w '%{http_code}' \
    "$@" "$API$p")
  BODY=$(cat "$T_TMP/api.body" 2>/dev/null)
}
sha256_of() { sha256sum "$1" | cut -c1-64; }
# tree_file FILE ENTRY_NAME BLOB_FILE: writes the canonical tree object of one file entry.
tree_file() {
  printf 'moor-tree 1\nf %s %d %d:%s\n' "$(sha256_of "$3")" "$(stat -c %s "$3")" "${#2}" "$2" >"$1"
}
# pack_file OUT DIGEST_HEX CONTENT_FILE: one pack entry "HEX SIZE\n BYTES".
pack_file() {
  { printf '%s %d\n' "$2" "$(stat -c %s "$3")"; cat "$3"; } >"$1"
}
# open_session TREE_FILE: POST /sessions for that root tree; sets SESSION and RELEASE.
open_session() {
  local root
  root="sha256:$(sha256_of "$1")"
  api POST /sessions -H 'content-type: application/json' \
    -d "{\"app\": \"dpl\", \"service\": \"php\", \"root\": \"$root\", \"trees\": [\"$root\"]}"
  [[ "$CODE" == 200 ]] || die "open a session for $root: HTTP $CODE: $BODY"
  SESSION=$(jq -r '.session // ""' <<<"$BODY")
  RELEASE=$(jq -r '.release // ""' <<<"$BODY")
  [[ -n "$SESSION" ]] || die "the session answer has no session: $BODY"
}

t_unknown_service() {
  stack_up e1-old
  capture A deploy nosuch
  assert_eq 1 "$RC" "moor deploy nosuch exits 1 (stdout: $(_clip "$OUT"))"
  assert_true "one line on stderr (got: $(_clip "$ERR"))" one_line
  assert_contains "$ERR" '"nosuch"' "the error names the service"
  # What to do: the line names the services there are, or says what to give.
  assert_match "$ERR" '(php|give|use|check|run )' "the error says what to do"
  unchanged "unknown service"
}

t_corrupt_blob() {
  stack_up e2-old
  local d="$T_TMP/corrupt"
  mkdir -p "$d"
  printf 'the real bytes %s\n' "$(date +%s%N)" >"$d/good"
  tr 'a-z' 'A-Z' <"$d/good" >"$d/bad"  # as long, other bytes
  tree_file "$d/tree" index.php "$d/good"
  open_session "$d/tree"
  local count
  count=$(release_count)
  # The pack says the good file's digest and size, and carries other bytes.
  pack_file "$d/pack" "$(sha256_of "$d/good")" "$d/bad"
  [[ $(stat -c %s "$d/good") == $(stat -c %s "$d/bad") ]] || die "test bug: the two files differ in size"
  api POST "/sessions/$SESSION/blobs" -H 'content-type: application/octet-stream' --data-binary "@$d/pack"
  assert_eq 400 "$CODE" "a pack whose bytes do not match the digest gets 400 (body: $BODY)"
  assert_contains "$BODY" corrupt "the 400 says the upload is corrupt"
  assert_contains "$BODY" "$(sha256_of "$d/good")" "the 400 names the blob"
  assert_false "the corrupt blob is not stored" test -e "$E_ROOT/deploy/content/blobs/sha256/$(sha256_of "$d/good")"
  api POST "/sessions/$SESSION/commit"
  local err
  err=$(tail -n 1 <<<"$BODY" | jq -r '.error // ""' 2>/dev/null)
  if [[ -n "$err" ]]; then pass "the commit of that session ends in an error: $err"; else
    fail "the commit of a session whose blob was refused did not end in an error (HTTP $CODE: $(_clip "$BODY"))"
  fi
  assert_not_contains "$BODY" '"state":"live"' "the commit never says live"
  assert_ne live "$(release_field "$RELEASE" state)" \
    "release $RELEASE is not live (state $(release_field "$RELEASE" state))"
  assert_eq "$count" "$(release_count)" "no further release was made"
  unchanged "corrupt blob"
}

t_missing_blob() {
  stack_up e3-old
  local d="$T_TMP/missing"
  mkdir -p "$d"
  printf 'never sent %s\n' "$RANDOM$RANDOM" >"$d/never"
  tree_file "$d/tree" index.php "$d/never"
  open_session "$d/tree"
  local blob tree
  blob=$(sha256_of "$d/never")
  tree=$(sha256_of "$d/tree")
  pack_file "$d/pack" "$tree" "$d/tree"
  api POST "/sessions/$SESSION/trees" -H 'content-type: application/octet-stream' --data-binary "@$d/pack"
  assert_eq 400 "$CODE" "a tree naming a blob never sent gets 400 (body: $BODY)"
  assert_contains "$BODY" missing "the answer says a blob is missing"
  assert_eq "sha256:$blob" "$(jq -r '.missing | join(" ")' <<<"$BODY" 2>/dev/null)" \
    "the answer's missing list is the blob's digest"
  assert_contains "$(jq -r '.message' <<<"$BODY" 2>/dev/null)" "$blob" "the message names the blob"
  assert_false "the tree is not stored" test -e "$E_ROOT/deploy/content/blobs/sha256/$tree"
  api POST "/sessions/$SESSION/commit"
  assert_not_contains "$BODY" '"state":"live"' "the commit of that session never says live ($(_clip "$BODY"))"
  unchanged "missing blob"
}

# make_certs DIR: a CA and a server certificate for IP 127.0.0.1 (openssl CLI).
make_certs() {
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=moor itest CA" \
    -keyout "$d/ca.key" -out "$d/ca.pem" >"$d/log" 2>&1 || return 1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" \
    >>"$d/log" 2>&1 || return 1
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$d/ext"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
    -extfile "$d/ext" -out "$d/server.pem" >>"$d/log" 2>&1
}

t_remote_tokens() {
  local d="$T_TMP/tls"
  make_certs "$d" || die "openssl could not make the certificates: $(tail -n 3 "$d/log" | tr '\n' '|')"
  daemon_stop
  daemon_start --deploy-addr 127.0.0.1:8443 --deploy-tls-cert "$d/server.pem" --deploy-tls-key "$d/server.key" ||
    die "the daemon does not start with --deploy-addr"
  stack_up e4-old
  set_marker e4-new

  MOOR_DEPLOY_TOKEN=bogus capture A deploy php --remote "$REMOTE" --cacert "$d/ca.pem"
  assert_eq 1 "$RC" "a remote deploy with a bogus token exits 1 (stderr: $(_clip "$ERR"))"
  assert_contains "$ERR" "bad or missing token" "the refusal says the token is bad"
  assert_match "$ERR" "401|refused" "the refusal is the 401's message"
  unchanged "bogus token"

  capture M deploy token create other --app otherapp
  assert_eq 0 "$RC" "a token for another app is made (stderr: $(_clip "$ERR"))"
  printf '%s\n' "$OUT" >"$d/other.token"
  capture A deploy php --remote "$REMOTE" --cacert "$d/ca.pem" --token-file "$d/other.token"
  assert_eq 1 "$RC" "a remote deploy with another app's token exits 1 (stderr: $(_clip "$ERR"))"
  assert_contains "$ERR" "otherapp" "the refusal names the token's app"
  unchanged "another app's token"

  capture M deploy token create ci --app dpl
  assert_eq 0 "$RC" "moor deploy token create ci --app dpl (stderr: $(_clip "$ERR"))"
  assert_match "$OUT" '^moor_[0-9a-f]+$' "the token is printed alone on stdout"
  printf '%s\n' "$OUT" >"$d/ci.token"
  local count
  count=$(release_count)
  capture A deploy php --remote "$REMOTE" --cacert "$d/ca.pem" --token-file "$d/ci.token"
  assert_eq 0 "$RC" "a remote deploy with the ci token succeeds (stderr: $(_clip "$ERR"))"
  wait_for 30 "the new marker e4-new is served (last: $(page_marker))" marker_is e4-new
  local rel
  rel=$(live_release)
  assert_ne "$OLD_LIVE" "$rel" "a new release is live ($rel)"
  assert_eq $((count + 1)) "$(release_count)" "one release was added"
  assert_match "$(release_field "$rel" who)" '^ci' "the ledger says the ci token deployed it"

  # Without --cacert, the node's certificate is not trusted.
  set_marker e4-third
  MOOR_DEPLOY_TOKEN=$(cat "$d/ci.token") capture A deploy php --remote "$REMOTE"
  assert_ne 0 "$RC" "a remote deploy that cannot verify the node's certificate fails (stderr: $(_clip "$ERR"))"
  assert_eq "$rel" "$(live_release)" "the live release is unchanged after the untrusted attempt"
  capture A down -v
  assert_eq 0 "$RC" "moor down -v (stderr: $(_clip "$ERR"))"
}

t_unchanged_tree() {
  stack_up e5-old
  local count sent
  count=$(release_count)
  sent=$(release_field "$OLD_LIVE" bytes_sent)
  capture A deploy php
  assert_eq 0 "$RC" "a deploy of the unchanged tree succeeds (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT" "up to date" "it is reported up to date"
  assert_not_contains "$ERR" "sent:" "nothing is sent"
  assert_eq "$count" "$(release_count)" "no release was added ($(releases_json | jq -c 'map([.release, .state])'))"
  assert_eq "$sent" "$(release_field "$OLD_LIVE" bytes_sent)" "the live release's bytes_sent is unchanged"
  unchanged "unchanged tree"
}

app_setup images
ecase "an unknown service: exit 1, one line saying what to do, nothing changed" t_unknown_service
ecase "a blob whose bytes do not match its digest: 400 corrupt, commit fails, nothing changed" t_corrupt_blob
ecase "a tree naming a blob never sent: 400 naming it, nothing changed" t_missing_blob
ecase "an unchanged tree: up to date, no release, nothing sent" t_unchanged_tree
ecase "TLS endpoint: bogus token 401, another app's token refused, the app's token deploys" t_remote_tokens
finish

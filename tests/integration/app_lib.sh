# shellcheck shell=bash
# Helpers for the app-file integration tests (tests/integration/app_*_test.sh): `moor up`,
# `down`, `scale`, `app ps` against a private daemon with discovery, sourced after
# engine_lib.sh (and before any case). It sources discovery_lib.sh for the Consul API
# helpers, the request loop and the catalog leak check.
#
# Usage, in a test script:
#   source "$(dirname "$0")/engine_lib.sh"
#   source "$(dirname "$0")/app_lib.sh"
#   app_setup [images]     # daemon with DNS + Consul API on the namespace's loopback;
#                          # "images": also import moor/php-fpm:8.2 and moor/nginx:1.22
#   t_x() { app_copy stack; A up -d --wait; ... }
#   ecase "what it checks" t_x
#   finish

APP_FIX="$T_LIB_DIR/fixtures/app"
APP_MAKE_IMAGES="$MOOR_SRC/scripts/make-images.sh"
APP_DIR=""     # the app's directory (a copy of a fixture dir, made by app_copy)
APP_FILE=""    # its moor.yaml

# The stacks run the moor/* images: the host's php-fpm and nginx (discovery_lib's own
# containers) are not used, so their presence is not required here.
DISC_PHP_BIN=${DISC_PHP_BIN:-true}
DISC_NGINX_BIN=${DISC_NGINX_BIN:-true}
source "$T_LIB_DIR/discovery_lib.sh"

# app_setup [images]: the daemon with discovery on the namespace's loopback and the busybox
# image ($E_IMG = eimg:1); with "images", moor/php-fpm:8.2 and moor/nginx:1.22 from the
# cached rootfs tarballs (make-images.sh; the script must have run `make-images.sh
# --no-import` before it entered its namespace). Ends the script on failure.
app_setup() {
  if ! discovery_in_daemon; then
    T_FAIL=1
    T_FAILED_CASES+=("moor daemon has no --consul-addr: discovery is not in this build ($MOOR_BIN)")
    finish
  fi
  if ! grep -qE '^ +up ' <<<"$("$MOOR" --help 2>&1)"; then
    T_FAIL=1
    T_FAILED_CASES+=("this moor has no 'up' command ($MOOR_BIN)")
    finish
  fi
  E_DAEMON_FLAGS=(--dns-addr "$DISC_DNS_ADDR" --consul-addr "$DISC_CONSUL_ADDR" --node-name mtest)
  DISC_ON=1
  engine_setup
  if [[ "${1:-}" == images ]]; then
    local t0=$SECONDS
    if ! "$APP_MAKE_IMAGES" --moor "$MOOR" --root "$E_ROOT" >"$T_TMP/make-images.out" 2>&1; then
      say "make-images.sh failed: $(tail -n 5 "$T_TMP/make-images.out" | tr '\n' '|')"
      T_FAIL=1
      T_FAILED_CASES+=("importing the moor/* images failed")
      finish
    fi
    say "images imported in $((SECONDS - t0)) s: $(grep -o 'moor/[a-z-]*:[^ ]*' "$T_TMP/make-images.out" | sort -u | tr '\n' ' ')"
  fi
}

# app_copy FIXTURE: copies fixtures/app/FIXTURE to the test's temp dir (readable by the
# containers' users) and points APP_DIR / APP_FILE at it.
app_copy() {
  APP_DIR="$T_TMP/app-$1"
  rm -rf "$APP_DIR"
  cp -r "$APP_FIX/$1" "$APP_DIR" || die "copy fixture $1"
  chmod -R a+rX "$APP_DIR"
  APP_FILE="$APP_DIR/moor.yaml"
}

# A ARGS...: the CLI with --file $APP_FILE after the command words, run in the app's
# directory. `A up -d` → moor up --file FILE -d; `A app ps` → moor app ps --file FILE.
# (--file, not -f: in `moor app logs`, -f is --follow.)
A() {
  local words=("$1")
  shift
  if [[ "${words[0]}" == app ]]; then
    words+=("$1")
    shift
  fi
  (cd "$APP_DIR" && M "${words[@]}" --file "$APP_FILE" "$@")
}

# app_ps_json: `moor app ps --format json -a` of the app.
app_ps_json() { A app ps -a --format json 2>/dev/null; }
# svc_ids SERVICE: IDs of the app's containers of SERVICE (any state), sorted.
svc_ids() { M ps -aq --no-trunc --filter "label=moor.app.service=$1" 2>/dev/null | sort; }
# app_ids: IDs of every container labelled with the app (any state), sorted.
app_ids() { M ps -aq --no-trunc --filter "label=moor.app" 2>/dev/null | sort; }
# running_count SERVICE: running containers of SERVICE.
running_count() { M ps -q --filter "label=moor.app.service=$1" 2>/dev/null | grep -c .; }
# passing_n SERVICE: passing instances of SERVICE in the catalog.
passing_n() { capi "/v1/health/service/$1?passing=1" | jq 'length' 2>/dev/null; }
passing_n_is() { [[ "$(passing_n "$1")" == "$2" ]]; }
# wait_passing_n SECS SERVICE N: until exactly N instances of SERVICE pass.
wait_passing_n() { wait_for "$1" "$2: $3 passing (is $(passing_n "$2"))" passing_n_is "$2" "$3"; }
# started_at CONTAINER: State.StartedAt.
started_at() { ijq "$1" .State.StartedAt; }
# fingerprint: "NAME ID STARTEDAT RESTARTCOUNT" of every container of the app, sorted.
fingerprint() {
  local id
  for id in $(app_ids); do
    M inspect "$id" 2>/dev/null | jq -r '.[0] | "\(.Name) \(.Id) \(.State.StartedAt) \(.RestartCount)"'
  done | sort
}

# host_links: the host-side interface names of the test's namespace, sorted.
host_links() { ip -o link show 2>/dev/null | awk -F': ' '{ print $2 }' | sed 's/@.*//' | sort; }
# host_addrs: the IPv4 addresses of the test's namespace, sorted.
host_addrs() { ip -o -4 addr show 2>/dev/null | awk '{ print $2, $4 }' | sort; }

# app_nothing_made WHAT: no container, no network but the defaults, no volume.
app_nothing_made() {
  assert_eq "" "$(M ps -aq | tr '\n' ' ')" "$1: no container was created"
  assert_eq "" "$(M network ls --format '{{.Name}}' 2>/dev/null | grep -vxE 'bridge|host|none' | tr '\n' ' ')" \
    "$1: no network was created"
  assert_eq "" "$(M volume ls -q | tr '\n' ' ')" "$1: no volume was created"
}

# shellcheck shell=bash
# Helpers for the deploy integration tests (tests/integration/deploy_*_test.sh), sourced
# after app_lib.sh: the fixture's page (fixtures/app/deploy: nginx → php-fpm printing
# "marker=X release=N …"), its marker file, and the ledger of its php service.
URL=${URL:-"http://127.0.0.1:8080/"}

# page_marker: the marker of one GET through nginx ("" on failure).
page_marker() { curl -sf --max-time 5 "$URL" 2>/dev/null | sed -n 's/^marker=\([^ ]*\) .*/\1/p'; }
marker_is() { [[ "$(page_marker)" == "$1" ]]; }
# set_marker X: the copied app's code now prints marker X.
set_marker() { printf '<?php define("MARKER", "%s");\n' "$1" >"$APP_DIR/code/public/marker.php"; }
# releases_json: `moor releases php --format json`.
releases_json() { A releases php --format json 2>/dev/null; }
# live_release: the release `moor releases` marks live.
live_release() { releases_json | jq -r '.[] | select(.live) | .release'; }

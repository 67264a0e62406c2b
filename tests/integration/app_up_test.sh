#!/usr/bin/env bash
# `moor up` end to end: fixtures/app/stack/moor.yaml — nginx (moor/nginx:1.22) in front of
# three php-fpm containers (moor/php-fpm:8.2) found through discovery (nginx's upstream is a
# template rendered by moor), a PHP page mounted read-only from the app's directory.
#
# Checks: the stack comes up and serves the page through nginx's published port; a request
# loop sees 0 failed requests while php is scaled 3 → 5 → 2 → 3, while a php container is
# SIGKILLed from the host (its restart policy brings it back, it registers again) and while
# an edited file changes php's environment (only php is replaced, one container at a time);
# a second `moor up` changes nothing; `moor down` leaves no container, mount, cgroup, veth,
# link, address, monitor, registration or network, and `down -v` removes the named volume.
#
# NETWORK: like app_images_test, on a cold run (no rootfs tarball in the cache) this test
# downloads from the Debian archive through the machine's apt configuration BEFORE it enters
# its private network namespace (`make-images.sh --no-import`). Everything after that runs
# in the test's own namespaces: images are imported from the cached tarballs, requests go
# to 127.0.0.1 and to the daemon's bridges there.

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images app_up_test

source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/app_lib.sh"

APP=upt
URL="http://127.0.0.1:8080/"
UPSTREAM=/etc/nginx/conf.d/upstream.conf

# page: one GET through nginx; prints "STATUS BODY-FIRST-LINE".
page() {
  local body code
  body=$(curl -s --max-time 5 -o - -w '\n%{http_code}' "$URL" 2>/dev/null)
  code=${body##*$'\n'}
  printf '%s %s\n' "$code" "$(head -n 1 <<<"$body")"
}
# page_ok GREETING: nginx answers 200 with a php container's line carrying GREETING.
page_ok() { [[ "$(page)" =~ ^200\ [0-9a-z.-]+\ greeting=$1$ ]]; }
# page_ok5 GREETING: five times in a row (right after a HUP an old nginx worker may answer).
page_ok5() { local i; for i in 1 2 3 4 5; do page_ok "$1" || return 1; done; }

# web_upstream: the servers of nginx's rendered upstream ("IP:PORT", sorted; "down" left out).
web_upstream() {
  cfile "$APP-web-1" "$UPSTREAM" | grep -v ' down;' | sed -n 's/^ *server \([0-9.]*:[0-9]*\).*/\1/p' | sort
}
# upstream_matches: nginx's upstream lists exactly the passing php instances.
upstream_matches() {
  local want
  want=$(passing_addrs php)
  [[ -n "$want" && "$(web_upstream)" == "$want" ]]
}
wait_upstream_matches() {
  wait_for "$1" "nginx's upstream = the passing php instances (upstream [$(web_upstream | tr '\n' ' ')], passing [$(passing_addrs php | tr '\n' ' ')])" upstream_matches
}

# up_ok: `moor up -d --wait` of the copied stack, then nginx serves GREETING.
up_ok() {
  capture A up -d --wait
  note_ids "$(app_ids)"
  [[ "$RC" == 0 ]] || die "moor up -d --wait: exit $RC: $(_clip "$ERR")"
  wait_for 20 "nginx serves the page (last: $(page))" page_ok5 "${1:-hello-v1}" ||
    die "web log: $(A app logs web 2>&1 | tail -n 5 | tr '\n' '|')"
}

# up_in_dir: `moor up -d` in the app's directory, the file found there (no -f).
up_in_dir() ( cd "$APP_DIR" && M up -d )

restarted_since() {
  local p
  p=$(ijq "$1" .State.Pid)
  [[ "$p" =~ ^[1-9][0-9]*$ && "$p" != "$2" ]] && status_is_e "$1" running
}

# ---------------------------------------------------------------------------------------

t_up() {
  app_copy stack
  capture A up -d --wait
  note_ids "$(app_ids)"
  assert_eq 0 "$RC" "moor up -d --wait succeeds (stderr: $(_clip "$ERR"))" || die "up failed"
  say "  info - up said: $(printf '%s' "$ERR$OUT" | tr '\n' '|' | cut -c1-400)"
  local first
  first=$(page)
  assert_match "$first" '^200 [0-9a-z.-]+ greeting=hello-v1$' "right after up --wait returns, nginx serves the PHP page"
  wait_for 20 "nginx serves the page" page_ok5 hello-v1 || die "no page"
  local body
  body=$(curl -s --max-time 5 "$URL")
  assert_contains "$body" "served by php 8.2" "the page ran on php 8.2, from the read-only mount"
  # all three php containers answer (nginx round-robins over the rendered upstream)
  local i hosts=""
  for ((i = 0; i < 30; i++)); do hosts+="$(page | awk '{ print $2 }')"$'\n'; done
  assert_eq 3 "$(printf '%s' "$hosts" | grep . | sort -u | grep -c .)" "three php containers answered ($(printf '%s' "$hosts" | sort -u | tr '\n' ' '))"

  capture A app ps
  assert_eq 0 "$RC" "moor app ps (stderr: $(_clip "$ERR"))"
  say "  info - app ps:"
  printf '%s\n' "$OUT" | sed 's/^/      /'
  local n
  for n in "$APP-php-1" "$APP-php-2" "$APP-php-3" "$APP-web-1"; do
    assert_match "$(grep -E "^$n " <<<"$OUT")" "^$n +(php|web) +running.* 1/1 passing" "app ps: $n runs and is registered (1/1 passing)"
  done
  assert_contains "$(grep "^$APP-web-1 " <<<"$OUT")" "127.0.0.1:8080->80/tcp" "app ps: web's published port"
  local js
  js=$(app_ps_json)
  assert_eq 4 "$(jq 'length' <<<"$js")" "app ps --format json: 4 containers"
  assert_eq "php:3 web:1" "$(jq -r 'group_by(.Service) | map("\(.[0].Service):\(length)") | join(" ")' <<<"$js")" "app ps --format json: 3 php, 1 web"
  assert_eq "1/1 passing" "$(jq -r '[.[].Registered] | unique | join(",")' <<<"$js")" "app ps --format json: every container registered and passing"

  assert_eq 3 "$(passing_n php)" "the catalog: 3 passing php instances"
  assert_eq 1 "$(passing_n web)" "the catalog: web is passing"
  wait_upstream_matches 5
  # the PHP page reports each container's hostname: they are the php containers
  local ids
  ids=$(svc_ids php | tr '\n' ' ')
  local h bad=""
  for h in $(printf '%s' "$hosts" | sort -u); do [[ " $ids" == *" $h"* ]] || bad+="$h "; done
  assert_eq "" "$bad" "every hostname that answered is one of php's containers"
  assert_eq "$APP" "$(M network inspect "${APP}_default" 2>/dev/null | jq -r '.[0].Labels["moor.app"] // ""')" \
    "the app's network ${APP}_default exists, labelled"
  assert_eq "$APP" "$(M volume inspect "${APP}_scratch" 2>/dev/null | jq -r '.[0].Labels["moor.app"] // ""')" \
    "the named volume ${APP}_scratch exists, labelled"
  assert_eq "true" "$(M inspect "$APP-php-1" | jq -r '[.[0].Mounts[] | select(.Destination == "/srv/www") | .RW == false] | .[0] // "none"')" \
    "the page's directory is mounted read-only"
  local logs
  logs=$(A app logs php 2>&1)
  assert_contains "$logs" "$APP-php-1 | " "moor app logs php: lines prefixed with the container's name"
  assert_contains "$logs" "ready to handle connections" "moor app logs php: php-fpm's start-up"
}

t_rolling() {
  app_copy stack
  up_ok hello-v1
  local web_id web_started php0
  web_id=$(svc_ids web)
  web_started=$(started_at "$web_id")
  php0=$(svc_ids php)
  wait_upstream_matches 10
  local out="$T_TMP/rolling.req" stopf="$T_TMP/rolling.stop"
  request_loop "$URL" "$stopf" "$out"
  sleep 2

  # 3 → 5 → 2 → 3
  capture A scale php=5
  assert_eq 0 "$RC" "moor scale php=5 (stderr: $(_clip "$ERR"))"
  note_ids "$(app_ids)"
  assert_eq 5 "$(running_count php)" "5 php containers run"
  wait_passing_n 30 php 5
  wait_upstream_matches 10
  assert_eq "" "$(comm -23 <(printf '%s\n' "$php0") <(svc_ids php) | tr '\n' ' ')" "scaling up kept the 3 containers there were"
  sleep 2
  capture A scale php=2
  assert_eq 0 "$RC" "moor scale php=2 (stderr: $(_clip "$ERR"))"
  assert_eq 2 "$(running_count php)" "2 php containers run"
  assert_eq 2 "$(svc_ids php | grep -c .)" "the others were removed, not just stopped"
  wait_passing_n 10 php 2
  wait_upstream_matches 10
  sleep 2
  capture A scale php=3
  assert_eq 0 "$RC" "moor scale php=3 (stderr: $(_clip "$ERR"))"
  note_ids "$(app_ids)"
  wait_passing_n 30 php 3
  wait_upstream_matches 10
  assert_eq "$APP-php-1 $APP-php-2 $APP-php-3" "$(jq -r '[.[] | select(.Service == "php") | .Name] | sort | join(" ")' <<<"$(app_ps_json)")" \
    "after 3 → 5 → 2 → 3: replicas 1, 2, 3"
  sleep 2

  # SIGKILL of a php container's main process from the host: restart: always brings it back
  local victim=$APP-php-2 pid addr
  pid=$(ijq "$victim" .State.Pid)
  kill -KILL "$pid" || fail "kill -9 $pid ($victim)"
  wait_for 30 "$victim restarted by its policy" restarted_since "$victim" "$pid"
  addr=$(addr_of "$victim" 9000)
  wait_for 30 "$victim ($addr) passing in /v1/health/service/php again" \
    eval "passing_addrs php | grep -qx '$addr'"
  wait_passing_n 30 php 3
  wait_upstream_matches 10
  assert_eq "$(all_ids php | sort -u | grep -c .)" "$(all_ids php | grep -c .)" "no duplicate php instance in the catalog"
  assert_true "$victim's RestartCount went up ($(ijq "$victim" .RestartCount))" test "$(ijq "$victim" .RestartCount)" -ge 1
  sleep 2

  # the file changes php's environment: only php is replaced, one container at a time
  local php1 fp_web
  php1=$(svc_ids php)
  sed -i 's/GREETING: hello-v1/GREETING: hello-v2/' "$APP_FILE"
  grep -q 'GREETING: hello-v2' "$APP_FILE" || die "could not edit $APP_FILE"
  local samples="$T_TMP/rolling.samples" sdone="$T_TMP/rolling.sdone"
  (
    while [[ ! -e "$sdone" ]]; do
      printf '%s %s\n' "$(passing_n php)" "$(running_count php)" >>"$samples"
      sleep 0.1
    done
  ) &
  track_pid $!
  local spid=$!
  capture A up -d
  touch "$sdone"
  wait "$spid"
  note_ids "$(app_ids)"
  assert_eq 0 "$RC" "moor up -d with php's new environment (stderr: $(_clip "$ERR"))"
  say "  info - up said: $(printf '%s' "$ERR$OUT" | tr '\n' '|' | cut -c1-600)"
  assert_eq "$web_id" "$(svc_ids web)" "nginx's container was not replaced"
  assert_eq "$web_started" "$(started_at "$web_id")" "nor restarted"
  assert_eq "" "$(comm -12 <(printf '%s\n' "$php1") <(svc_ids php) | tr '\n' ' ')" "every php container was replaced"
  assert_eq 3 "$(running_count php)" "3 php containers run after the replacement"
  assert_eq 3 "$(printf '%s\n' "$ERR$OUT" | grep -c 'replaces')" "up reported 3 replacements"
  assert_not_contains "$ERR$OUT" "$APP-web" "up did not touch web"
  local maxrun minpass
  maxrun=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$samples")
  minpass=$(awk 'BEGIN { m = 99 } $1 != "" && $1 < m { m = $1 } END { print m }' "$samples")
  say "  info - during the replacement ($(grep -c . "$samples") samples): at most $maxrun php running, at least $minpass passing"
  assert_true "one at a time: never more than 4 php containers ran ($maxrun)" test "$maxrun" -le 4
  assert_true "the old one left only once its replacement passed: never fewer than 3 passing ($minpass)" test "$minpass" -ge 3
  wait_passing_n 30 php 3
  wait_upstream_matches 10
  wait_for 20 "nginx serves greeting=hello-v2" page_ok5 hello-v2
  sleep 2
  request_loop_stop "$stopf"

  say "  info - $(req_total "$out") requests ($(req_rate "$out")/s), backends: $(req_backends "$out" | wc -l)"
  assert_true "the loop made requests ($(req_total "$out"))" test "$(req_total "$out")" -ge 100
  assert_eq 0 "$(req_failed "$out")" "no failed request across scale, SIGKILL and the rolling replacement ($(req_failures "$out"))" ||
    say "  web errors: $(A app logs web 2>&1 | grep -E '\[(error|warn|crit|alert)\]' | tail -n 4 | cut -c1-250 | tr '\n' '|')"
  assert_eq "greeting=hello-v2" "$(tail -n 20 "$out" | awk '{ print $4 }' | sort -u | tr '\n' ' ' | sed 's/ $//')" \
    "the last responses show the new environment"
  local old_after
  old_after=$(awk -v t="$(tail -n 20 "$out" | head -n 1 | cut -d' ' -f1)" '$1 >= t && $4 != "greeting=hello-v2"' "$out" | grep -c .)
  assert_eq 0 "$old_after" "no old-environment response at the end"
  assert_true "both environments were served during the loop" \
    test "$(awk '{ print $4 }' "$out" | grep -c 'greeting=hello-v1')" -ge 1
}

t_idempotent() {
  app_copy stack
  up_ok hello-v1
  local fp1
  fp1=$(fingerprint)
  assert_eq 4 "$(grep -c . <<<"$fp1")" "4 containers"
  sleep 1
  capture A up -d
  assert_eq 0 "$RC" "a second moor up -d (stderr: $(_clip "$ERR"))"
  say "  info - second up said: $(printf '%s' "$ERR$OUT" | tr '\n' '|' | cut -c1-300)"
  assert_contains "$ERR$OUT" "up to date" "it says the app is up to date"
  assert_not_contains "$ERR$OUT" "created" "and created nothing"
  assert_not_contains "$ERR$OUT" "removed" "and removed nothing"
  assert_eq "$fp1" "$(fingerprint)" "container IDs, StartedAt and restart counts unchanged"
  # the file found in the current directory (no -f) is the same app
  capture up_in_dir
  assert_eq 0 "$RC" "moor up -d in the app's directory, without -f (stderr: $(_clip "$ERR"))"
  assert_contains "$ERR$OUT" "up to date" "… is up to date too"
  assert_eq "$fp1" "$(fingerprint)" "… and changed nothing"
  capture A up -d --wait
  assert_eq 0 "$RC" "a third up, with --wait"
  assert_contains "$ERR$OUT" "up to date" "… is up to date too"
  assert_eq "$fp1" "$(fingerprint)" "… and changed nothing"
}

t_down() {
  local links0 addrs0
  links0=$(host_links)
  addrs0=$(host_addrs)
  app_copy stack
  up_ok hello-v1
  local ids
  ids=$(app_ids)
  note_ids "$ids"
  assert_eq 4 "$(grep -c . <<<"$ids")" "4 containers before down"
  capture A down
  assert_eq 0 "$RC" "moor down (stderr: $(_clip "$ERR"))"
  say "  info - down said: $(printf '%s' "$ERR$OUT" | tr '\n' '|' | cut -c1-400)"
  assert_eq "" "$(M ps -aq | tr '\n' ' ')" "no container left"
  capture M network inspect "${APP}_default"
  assert_ne 0 "$RC" "the app's network ${APP}_default is gone"
  assert_eq "" "$(M network ls --format '{{.Name}}' 2>/dev/null | grep -vxE 'bridge|host|none' | tr '\n' ' ')" "no network but the defaults"
  assert_eq "${APP}_scratch" "$(M volume ls -q | tr '\n' ' ' | sed 's/ $//')" "the named volume stays (down without -v)"
  wait_for 5 "the catalog is empty" _catalog_empty
  assert_eq "" "$(catalog_services | tr '\n' ' ')" "no service left in /v1/catalog/services"
  assert_eq "{}" "$(capi /v1/agent/services | jq -c .)" "no service left in /v1/agent/services"
  local id left=""
  for id in $ids; do
    [[ -n "$(capi "/v1/moor/registration/$id" 2>/dev/null | jq -r '.Instances[]? // empty' 2>/dev/null)" ]] && left+="$id "
  done
  assert_eq "" "$left" "no registration left for the removed containers"
  local l
  for _ in $(seq 20); do
    l=$(diff <(printf '%s\n' "$links0") <(host_links) | grep '^[<>]')
    [[ -z "$l" ]] && break
    sleep 0.2
  done
  assert_eq "" "$(printf '%s' "$l" | tr '\n' ' ')" "the namespace's links are those before up (no veth, no bridge left)"
  assert_eq "" "$(diff <(printf '%s\n' "$addrs0") <(host_addrs) | grep '^[<>]' | tr '\n' ' ')" "no address left on the host side"
  assert_eq "" "$(pgrep -af -- "--config $E_RUN/" | tr '\n' ' ')" "no monitor process of the daemon left"
  verify_clean "after moor down" && pass "no veth, mount, cgroup, IP lease or monitor left"

  capture A down
  assert_eq 0 "$RC" "a second moor down does nothing and succeeds (stderr: $(_clip "$ERR"))"
  capture A down -v
  assert_eq 0 "$RC" "moor down -v (stderr: $(_clip "$ERR"))"
  assert_eq "" "$(M volume ls -q | tr '\n' ' ')" "down -v removed the named volume"
}

app_setup images
ecase "up: pages served through nginx, app ps shows the containers registered" t_up
ecase "scale 3 → 5 → 2 → 3, SIGKILL + restart policy, env change replaces only php: 0 failed requests" t_rolling
ecase "a second moor up changes nothing" t_idempotent
ecase "moor down leaves nothing; down -v removes the volume" t_down
finish

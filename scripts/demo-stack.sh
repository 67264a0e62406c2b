#!/usr/bin/env bash
# The stack part of the demo (the last step of scripts/demo.sh; runs on its own too): a real
# PHP application, Debian's DokuWiki, served by nginx in front of two groups of php-fpm
# containers that nginx finds through moor's discovery — examples/wiki/moor.yaml:
#   php-wiki  3 containers × 192 MiB   page rendering (doku.php)
#   php-api   2 containers ×  96 MiB   /lib/exe/*.php (ajax, fetch, css, js, …)
#   web       nginx on 127.0.0.1:PORT, its upstreams rendered from the catalog
# The code is one directory on the host (examples/wiki/code), mounted read-only.
#
# What it does: makes the images and the code directory (scripts/make-images.sh, cached),
# starts `moor daemon` unless one already answers on the socket, runs
# `moor up -d --wait -f examples/wiki/moor.yaml`, checks pages through nginx with curl, and
# prints what to try. The stack is left running (stop it with the command printed at the end).
#
# Usage: sudo scripts/demo-stack.sh      (after scripts/setup.sh and scripts/build.sh release)
# Environment:
#   MOOR_DEMO_KEEP=0     take the stack down (and the daemon, if the demo started it) at the end
#   MOOR_BUILD_DIR       where moor was built (default: build/ of this checkout)
#   MOOR_DEMO_ROOT       moor's state dir (default /var/lib/moor)
#   MOOR_DEMO_EXEC_ROOT  the daemon's exec root, with its socket (default /run/moor)
#   WIKI_PORT            the port on 127.0.0.1 (default: 8080, else the next free one)
#   MOOR_DEMO_DAEMON_ARGS  extra `moor daemon` flags (e.g. "--dns-addr none")
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
exec </dev/null

say() { echo "stack: $*"; }
die() { echo "stack: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "run as root (the daemon makes namespaces, cgroups and a bridge)"
build=${MOOR_BUILD_DIR:-$repo/build}
MOOR=$build/cmd/moor/moor
[[ -x $MOOR ]] || die "no moor binary at $MOOR: run scripts/build.sh release (or set MOOR_BUILD_DIR)"
for c in curl jq; do command -v "$c" >/dev/null || die "$c is missing: run scripts/setup.sh"; done
KEEP=${MOOR_DEMO_KEEP:-1}
ROOT=${MOOR_DEMO_ROOT:-/var/lib/moor}
RUN=${MOOR_DEMO_EXEC_ROOT:-/run/moor}
SOCK=$RUN/moor.sock
APP=$repo/examples/wiki/moor.yaml
M() { "$MOOR" --root "$ROOT" -H "unix://$SOCK" "$@"; }
t_start=$SECONDS

# --- images and the code directory -------------------------------------------------------
say "images: scripts/make-images.sh (a first run builds them with mmdebstrap, a few minutes)"
bash scripts/make-images.sh --moor "$MOOR" --root "$ROOT" --code-dir "$repo/examples/wiki/code" 2>&1 |
  sed 's/^/  /' || die "making the images failed (see above)"

# --- the daemon --------------------------------------------------------------------------
started_daemon=""
if M version >/dev/null 2>&1; then
  say "daemon: using the moor daemon already answering on $SOCK"
else
  mkdir -p "$RUN" "$ROOT"
  log=$ROOT/demo-daemon.log
  # its own session, so it outlives this script (and a terminal that closes)
  # shellcheck disable=SC2086
  # Prometheus metrics on loopback (unless that port is taken) and every container's logs
  # shipped to a file (docs/metrics.md, docs/logs.md); a real setup names its Logstash /
  # syslog / Loki here.
  obs=(--log-output "file://$ROOT/logs/containers.jsonl")
  metrics_port=${MOOR_DEMO_METRICS_PORT:-9323}
  if (exec 3<>"/dev/tcp/127.0.0.1/$metrics_port") 2>/dev/null; then
    say "daemon: 127.0.0.1:$metrics_port is in use: metrics only on the socket"
    metrics_port=""
  else
    obs+=(--metrics-addr "127.0.0.1:$metrics_port")
  fi
  setsid "$MOOR" daemon --root "$ROOT" --exec-root "$RUN" -H "$SOCK" "${obs[@]}" \
    ${MOOR_DEMO_DAEMON_ARGS:-} \
    >>"$log" 2>&1 </dev/null &
  started_daemon=$!
  for _ in $(seq 200); do M version >/dev/null 2>&1 && break; sleep 0.05; done
  M version >/dev/null 2>&1 || { tail -5 "$log" >&2; die "the daemon did not start (log: $log)"; }
  echo "$started_daemon" >"$RUN/demo-daemon.pid"
  say "daemon: started moor daemon (pid $started_daemon, socket $SOCK, log $log)"
fi

stop_all() {
  M down -v -f "$APP" 2>&1 | sed 's/^/  /' || true
  if [[ -n "$started_daemon" ]]; then
    kill "$started_daemon" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$started_daemon" 2>/dev/null || break; sleep 0.05; done
    rm -f "$RUN/demo-daemon.pid"
  fi
}

# --- the port ----------------------------------------------------------------------------
port_busy() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
app_running() { [[ -n "$(M ps -q --filter label=moor.app=wiki 2>/dev/null)" ]]; }
if [[ -z "${WIKI_PORT:-}" ]]; then
  WIKI_PORT=8080
  # a port taken by something else than this stack: the next free one
  if ! app_running; then
    while port_busy "$WIKI_PORT" && ((WIKI_PORT < 8100)); do WIKI_PORT=$((WIKI_PORT + 1)); done
  fi
fi
export WIKI_PORT
URL=http://127.0.0.1:$WIKI_PORT

# --- up ----------------------------------------------------------------------------------
say "moor up -d --wait -f examples/wiki/moor.yaml   (WIKI_PORT=$WIKI_PORT)"
t0=$(date +%s%N)
rc=0
M up -d --wait -f "$APP" 2>&1 | sed 's/^/  /' || rc=$?
t1=$(date +%s%N)
if ((rc != 0)); then
  echo "stack: moor up failed (exit $rc); the containers:" >&2
  M ps -a --filter label=moor.app=wiki >&2 || true
  [[ $KEEP == 0 ]] && stop_all
  exit 1
fi
say "up in $(((t1 - t0) / 1000000)) ms"

# --- checks ------------------------------------------------------------------------------
fails=0
check() {  # WHAT PATH EXPECTED-TEXT: GET through nginx, status 200 and the text in the body
  local what=$1 path=$2 want=$3 out code
  out=$(mktemp)
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 "$URL$path" 2>&1) || code="error: $code"
  if [[ $code == 200 ]] && grep -qF -- "$want" "$out"; then
    printf '  ok    %-34s %s  200, %s bytes, has "%s"\n' "$what" "$path" "$(stat -c %s "$out")" "$want"
  else
    printf '  FAIL  %-34s %s  status %s, %s bytes, "%s" %s\n' "$what" "$path" "$code" \
      "$(stat -c %s "$out" 2>/dev/null || echo 0)" "$want" "$(grep -qF -- "$want" "$out" && echo found || echo missing)"
    fails=$((fails + 1))
  fi
  rm -f "$out"
}
say "checks through nginx at $URL:"
check "a page, rendered by php-wiki" "/doku.php?id=wiki:syntax" "Formatting Syntax"
check "another page" "/doku.php?id=wiki:dokuwiki" "DokuWiki"
check "the stylesheet, by php-api" "/lib/exe/css.php" "{"
check "the scripts, by php-api" "/lib/exe/js.php" "function"
check "a media file, by php-api" "/lib/exe/fetch.php?media=wiki:dokuwiki-128.png" "PNG"
check "a static file, by nginx" "/lib/tpl/dokuwiki/images/logo.png" "PNG"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$URL/conf/local.php" || true)
if [[ $code == 404 ]]; then echo "  ok    DokuWiki's config is not served   /conf/local.php  404"
else echo "  FAIL  DokuWiki's config is not served   /conf/local.php  status $code"; fails=$((fails + 1)); fi

echo
say "moor app ps"
(cd examples/wiki && M app ps 2>&1 | sed 's/^/  /') || true
say "memory limits per group:"
for id in $(M ps -q --filter label=moor.app=wiki); do
  M inspect "$id" | jq -r '.[0] | "\(.Config.Labels["moor.app.service"]) \(.Name | ltrimstr("/")) \(.HostConfig.Memory)"'
done | sort | awk '{ printf "  %-9s %-16s %d MiB\n", $1, $2, $3 / 1048576 }'
gw=$(M network inspect bridge 2>/dev/null | jq -r '.[0].IPAM.Config[0].Gateway // empty' || true)
gw=${gw:-10.89.0.1}
say "moor service ls   (the catalog nginx's upstreams are rendered from)"
M service ls 2>&1 | sed 's/^/  /' || true
if command -v dig >/dev/null; then
  say "dig @$gw php-wiki.service.moor +short   (moor's DNS: the passing instances)"
  if answer=$(dig @"$gw" php-wiki.service.moor +short +time=2 +tries=1 2>&1); then
    echo "$answer" | sed 's/^/  /'
  else
    echo "  no answer from $gw: $(echo "$answer" | grep -m1 -v '^$')"
  fi
fi

echo
if ((fails)); then
  say "FAILED: $fails check(s) through nginx failed; logs: moor app logs web / php-wiki / php-api"
  (cd examples/wiki && M app logs web 2>&1 | tail -n 20 | sed 's/^/  web: /') || true
  [[ $KEEP == 0 ]] && stop_all
  exit 1
fi
say "verified: DokuWiki pages are served through nginx by both php-fpm groups ($((SECONDS - t_start)) s in all)"

# What the seed paid an APM service and a Logstash container for: the php-fpm pools'
# numbers read by the daemon over FastCGI, and every container's lines shipped.
metrics=$(curl -s --max-time 10 --unix-socket "$SOCK" http://moor/metrics || true)
if grep -q '^moor_phpfpm_total_processes' <<<"$metrics"; then
  say "metrics: the php-fpm pools as Prometheus sees them (GET /metrics)"
  grep -E '^moor_phpfpm_(active|total)_processes|^moor_phpfpm_accepted_connections_total' <<<"$metrics" |
    sed 's/^/  /' | head -n 12 || true
fi
if [[ -n "$started_daemon" ]]; then
  say "logs: moor logship (every container's lines, labelled, to $ROOT/logs/containers.jsonl)"
  M logship 2>&1 | sed 's/^/  /'
fi

# the commands below as the user would type them: `moor` on the PATH, default state dirs
mo_alias=""
if [[ $ROOT != /var/lib/moor || $RUN != /run/moor || "$(command -v moor 2>/dev/null)" != "$MOOR" ]]; then
  mo_alias="alias moor='$MOOR --root $ROOT -H unix://$SOCK'"
fi
# a later `moor up` must see the same port, or it would move nginx back to 8080
[[ $WIKI_PORT == 8080 ]] || mo_alias="${mo_alias:+$mo_alias; }export WIKI_PORT=$WIKI_PORT"
if [[ $KEEP == 0 ]]; then
  say "MOOR_DEMO_KEEP=0: taking the stack down"
  stop_all
  say "stopped"
  exit 0
fi
cat <<EOF

DokuWiki runs at $URL/doku.php?id=wiki:syntax
Try (as root)${mo_alias:+, after: $mo_alias}
  cd $repo/examples/wiki
  curl -s '$URL/doku.php?id=wiki:syntax' | grep -o '<title>.*</title>'
  moor app ps                       # the app's containers, their state and registration
  moor app logs web                 # nginx's access log: which php-fpm container served what
  moor app logs php-wiki            # php-fpm's output
  moor stats --no-stream            # CPU, memory against each group's limit, IO
  curl -s --unix-socket $SOCK http://moor/metrics | grep phpfpm   # pools: active/idle, listen queue, slow requests
  moor logship                      # log shipping: delivered, lag, drops
  dig @$gw php-wiki.service.moor    # moor's DNS: one A record per passing php-wiki container
  moor service ls                   # the catalog nginx's upstreams are rendered from
  moor scale php-wiki=5             # two more; nginx's upstream follows within a second
  moor exec wiki-web-1 cat /etc/nginx/conf.d/upstreams.conf
  kill -9 \$(moor inspect -f '{{.State.Pid}}' wiki-php-api-1)   # restart: always brings it back
Stop it:
  moor down                         # add -v to drop the wiki's data volume too
EOF
if [[ -n "$started_daemon" ]]; then
  echo "  kill $started_daemon                        # the daemon this demo started (pid also in $RUN/demo-daemon.pid)"
fi

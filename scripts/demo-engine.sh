#!/usr/bin/env bash
# The engine part of the demo (called by demo.sh inside a private network and mount
# namespace, so the bridge, veths and mounts it makes vanish with it): starts `moor
# daemon`, runs the image built by the demo, serves a page on a published port, kills the
# daemon with SIGKILL while the container keeps serving, and restarts it.
#   demo-engine.sh MOOR_BINARY STORE_ROOT WORK_DIR
set -euo pipefail
MOOR=$1 ROOT=$2 WORK=$3
SOCK="$WORK/run/moor.sock"
M() { "$MOOR" --root "$ROOT" -H "unix://$SOCK" "$@"; }
ip link set lo up
start_daemon() {
  "$MOOR" daemon --root "$ROOT" --exec-root "$WORK/run" -H "$SOCK" >>"$WORK/daemon.log" 2>&1 &
  DPID=$!
  for _ in $(seq 100); do [[ -S $SOCK ]] && M version >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "engine: the daemon did not start:"; tail -5 "$WORK/daemon.log"; exit 1
}
# GET / with bash's /dev/tcp (no HTTP client needed); prints the body.
fetch() {
  local body
  body=$(timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080; printf "GET / HTTP/1.0\r\n\r\n" >&3; cat <&3' \
    2>/dev/null | sed '1,/^\r\?$/d')
  echo "${body:-(no answer)}"
}
trap 'M rm -f web api1 api2 lb >/dev/null 2>&1 || true; kill "${DPID:-}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

start_daemon
echo "engine: moor daemon started (pid $DPID, socket $SOCK)"
echo "engine: moor run --rm demo/app:1"
M run --rm demo/app:1 | sed 's/^/  /'
M run -d --name web -p 127.0.0.1:8080:8080 --restart always --memory 32m demo/busybox:1 \
  sh -c 'mkdir -p /www; echo "hello from $(hostname), served by a moor container" >/www/index.html;
         exec httpd -f -p 8080 -h /www' >/dev/null
echo "engine: moor run -d --name web -p 127.0.0.1:8080:8080 … httpd; GET / at once:"
echo "  $(fetch)"
echo "engine: moor ps"
M ps | sed 's/^/  /'
echo "engine: address $(M inspect -f '{{.NetworkSettings.IPAddress}}' web) on the default bridge network"
kill -9 "$DPID"; wait "$DPID" 2>/dev/null || true
echo "engine: daemon killed with SIGKILL; the container still serves: $(fetch)"
start_daemon
echo "engine: daemon restarted; it found the container again:"
M ps --format '  {{.Names}}: {{.Status}}'
M rm -f web >/dev/null
echo "engine: removed; try the same by hand with: moor daemon & moor run … (docs/engine.md)"

# Service discovery: two instances of "api" register once their HTTP check passes; DNS,
# the Consul API and a template inside a third container follow them.
echo "discovery: two httpd containers labelled moor.service=api with an HTTP check"
for n in 1 2; do
  M run -d --name "api$n" -l moor.service=api -l moor.check=http:/ --expose 8080 demo/busybox:1 \
    sh -c 'mkdir -p /www; echo "api on $(hostname)" >/www/index.html; exec httpd -f -p 8080 -h /www' >/dev/null
done
M run -d --name lb -l 'moor.template.up=/up.ctmpl:/etc/upstream.conf' -l moor.reload.signal=none \
  demo/busybox:1 sh -c 'printf "{{range service \"api\"}}server {{.Address}}:{{.Port}};\n{{end}}" >/up.ctmpl;
                        exec sleep 600' >/dev/null
for _ in $(seq 50); do [[ "$(M service ls 2>/dev/null | grep -c '2/2')" == 1 ]] && break; sleep 0.1; done
echo "discovery: moor service ls"
M service ls | sed 's/^/  /'
echo "discovery: moor dns query api.service.moor SRV"
M dns query api.service.moor SRV | sed 's/^/  /'
echo "discovery: from inside a container (its resolver is moor's DNS): nslookup api.service.moor"
M run --rm demo/busybox:1 busybox nslookup api.service.moor 2>&1 | grep -E '^Address: 10' | sed 's/^/  /'
M exec lb sh -c 'for i in $(seq 30); do [ -s /etc/upstream.conf ] && break; sleep 0.1; done'
echo "discovery: /etc/upstream.conf rendered in the lb container from the catalog:"
M exec lb cat /etc/upstream.conf | sed 's/^/  /'
M stop -t 1 api2 >/dev/null
echo "discovery: after moor stop api2 (deregistered before its stop signal):"
M exec lb sh -c 'sleep 0.5; cat /etc/upstream.conf' | sed 's/^/  /'
M rm -f api1 api2 lb >/dev/null
echo "discovery: see docs/discovery.md (labels, checks, DNS names, the Consul API, templates)"

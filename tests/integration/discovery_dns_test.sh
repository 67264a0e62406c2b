#!/usr/bin/env bash
# The discovery DNS server as containers and the host's tools see it: the daemon's
# default address (the bridge's gateway, port 53), containers resolving NAME.service.moor
# through their generated resolv.conf, dig for A / SRV / tag / container / reverse, and
# forwarding of other names to the test's own upstream resolver (dnsmasq on loopback of
# the test's namespace).
source "$(dirname "$0")/engine_lib.sh"

UPSTREAM_PORT=5399
E_DAEMON_FLAGS=(--dns-upstream "127.0.0.1:$UPSTREAM_PORT")
GW=10.89.0.1

start_upstream() {
  dnsmasq --no-daemon --no-resolv --no-hosts --port="$UPSTREAM_PORT" --listen-address=127.0.0.1 \
    --bind-interfaces --address=/upstream.test/192.0.2.77 --pid-file="$T_TMP/dnsmasq.pid" \
    >"$T_TMP/dnsmasq.log" 2>&1 &
  UP_PID=$!
}

d() { dig +time=2 +tries=1 +short "@$GW" "$@" 2>&1; }
sorted() { tr ' ' '\n' | grep . | sort | tr '\n' ' '; }

t_records() {
  local i
  for i in 1 2 3; do
    M run -d --name "web$i" -l moor.service=web -l moor.service.tags="$([[ $i == 1 ]] && echo canary || echo stable)" \
      --expose 80 "$E_IMG" httpd -f -p 80 -h /www >/dev/null || die "run web$i"
  done
  wait_for 10 "3 web instances in DNS" web_count_is 3
  local ips
  ips="$(ip_of web1) $(ip_of web2) $(ip_of web3)"
  assert_eq "$(sorted <<<"$ips")" "$(d web.service.moor | sorted)" "A: every passing instance"
  assert_eq "$(ip_of web1)" "$(d canary.web.service.moor)" "TAG.NAME: only the tagged instance"
  local srv
  srv=$(d web.service.moor SRV)
  assert_eq 3 "$(grep -c ' 80 ' <<<"$srv")" "SRV: one record per instance with port 80"
  assert_contains "$srv" "web2.container.moor." "SRV targets name the containers"
  assert_eq 3 "$(dig +time=2 +tries=1 "@$GW" web.service.moor SRV | grep -A5 'ADDITIONAL SECTION' | grep -c 'IN.A')" \
    "SRV answers carry the targets' A records"
  assert_eq "$(sorted <<<"$ips")" "$(d _web._tcp.service.moor SRV | awk '{print $4}' | while read -r t; do d "$t"; done | sorted)" \
    "_web._tcp SRV targets resolve to the instances"
  assert_eq "$(ip_of web2)" "$(d web2.container.moor)" "CONTAINER.container.moor"
  local rev
  rev=$(awk -F. '{print $4"."$3"."$2"."$1".in-addr.arpa"}' <<<"$(ip_of web3)")
  assert_eq "web3.container.moor." "$(d "$rev" PTR)" "reverse lookup of a container IP"
  assert_contains "$(dig +time=2 +tries=1 "@$GW" nosuch.service.moor)" "NXDOMAIN" "unknown service: NXDOMAIN"
  assert_eq "$(sorted <<<"$ips")" "$(dig +tcp +short "@$GW" web.service.moor | sorted)" "the same over TCP"
  # From inside a container, through its resolv.conf.
  M run --rm --name client "$E_IMG" nslookup web.service.moor >"$T_TMP/ns.out" 2>&1
  assert_eq "$(sorted <<<"$ips")" "$(grep -A9 '^Name:' "$T_TMP/ns.out" | grep -oE '10\.89\.[0-9.]+' | sorted)" \
    "a container resolves NAME.service.moor through its resolv.conf"
  # A stopped instance leaves DNS before it stops.
  M stop -t 1 web2 >/dev/null
  assert_eq "$(sorted <<<"$(ip_of web1) $(ip_of web3)")" "$(d web.service.moor | sorted)" "a stopped instance is gone"
  M rm -f web1 web2 web3 >/dev/null
  assert_contains "$(dig +time=2 +tries=1 "@$GW" web.service.moor)" "NXDOMAIN" "no instances left: NXDOMAIN"
}
web_count_is() { [[ "$(d web.service.moor | grep -c .)" == "$1" ]]; }

t_forwarding() {
  start_upstream
  wait_for 5 "dnsmasq upstream to answer" bash -c "dig +short +time=1 +tries=1 @127.0.0.1 -p $UPSTREAM_PORT upstream.test | grep -q 192.0.2.77"
  M run -d --name fwd "$E_IMG" sleep 60 >/dev/null || die "run fwd"   # brings the bridge up
  assert_eq "192.0.2.77" "$(d upstream.test)" "other names are forwarded to the upstream"
  M run --rm "$E_IMG" nslookup upstream.test >"$T_TMP/fwd.out" 2>&1
  assert_contains "$(cat "$T_TMP/fwd.out")" "192.0.2.77" "containers get forwarded answers too"
  kill "$UP_PID" 2>/dev/null; wait "$UP_PID" 2>/dev/null
  assert_contains "$(dig +time=4 +tries=1 "@$GW" upstream.test)" "SERVFAIL" "upstream down: SERVFAIL"
  M rm -f fwd >/dev/null
}

for tool in dig dnsmasq; do
  command -v "$tool" >/dev/null || { fail "missing $tool (scripts/setup.sh installs dnsutils, dnsmasq-base)"; finish; }
done
engine_setup
ecase "A, SRV, tags, containers, reverse; resolv.conf in containers" t_records
ecase "forwarding to the upstream resolver" t_forwarding
finish

#!/usr/bin/env bash
# A real Consul client library (Debian's python3-consul, unchanged) against moor's
# Consul-compatible API on TCP: a container registered by moor, an external service with a
# TTL check, blocking queries, KV with cas/recurse/keys, deregistration. And the same
# catalog through `moor service` / `moor kv`.
source "$(dirname "$0")/engine_lib.sh"

E_DAEMON_FLAGS=(--consul-addr 127.0.0.1:8500 --dns-addr 127.0.0.1:8600 --dns-upstream 127.0.0.1:9)
PY=/usr/bin/python3

t_python_consul() {
  if ! "$PY" -c 'import consul' 2>/dev/null; then
    fail "python3-consul is not installed (scripts/setup.sh installs it)"
    return
  fi
  M run -d --name web1 -l moor.service=web -l moor.check=http:/ --expose 80 "$E_IMG" \
    httpd -f -p 80 -h /www >/dev/null || die "run web1"
  wait_for 10 "web to be passing" web_passing
  local out
  out=$("$PY" "$T_LIB_DIR/fixtures/discovery/consul_client.py" 127.0.0.1 8500 web 2>&1)
  printf '%s\n' "$out" | sed 's/^/    /'
  if [[ "$out" == *"FAIL - "* || "$out" != *"ok - db is gone"* ]]; then
    fail "python3-consul against moor's API"
  else
    pass "python3-consul: registration, TTL, blocking query, KV and deregistration work unchanged"
  fi
  M rm -f web1 >/dev/null
}
web_passing() { [[ "$(curl -s "http://127.0.0.1:8500/v1/health/service/web?passing" | jq length)" == 1 ]]; }

t_cli() {
  assert_rc 0 "moor service register" M service register --name cache --id cache1 --address 192.0.2.20 \
    --port 6379 --tag main
  assert_contains "$(M service ls)" "cache" "moor service ls lists it"
  assert_eq "192.0.2.20" "$(M service inspect cache | jq -r '.[0].Service.Address')" "moor service inspect"
  assert_rc 0 "moor kv put" M kv put site/name moor
  assert_eq "moor" "$(M kv get site/name)" "moor kv get"
  assert_contains "$(M kv ls site/)" "site/name" "moor kv ls"
  assert_rc 0 "moor kv rm" M kv rm site/name
  assert_rc 1 "moor kv get of a removed key fails" M kv get site/name
  one_line || fail "the error is one line: $ERR"
  assert_rc 0 "moor service deregister" M service deregister cache1
  assert_rc 1 "deregistering it again fails" M service deregister cache1
  assert_contains "$ERR" "cache1" "naming the service"
  assert_rc 1 "register without a name fails" M service register --address 192.0.2.1 --port 1
  one_line || fail "the error is one line: $ERR"
  assert_eq "[]" "$(curl -s http://127.0.0.1:8500/v1/agent/services | jq -c '[.[]]')" "nothing left registered"
}

# deregister-critical-after, thresholds and a FastCGI-free exec check, through the API.
t_check_lifecycle() {
  local api=http://127.0.0.1:8500
  curl -sf -X PUT "$api/v1/agent/service/register" -d '{"Name":"gone","ID":"gone1","Address":"192.0.2.30",
    "Port":1,"Check":{"TTL":"1s","DeregisterCriticalServiceAfter":"2s","Status":"passing"}}' ||
    fail "register gone1"
  assert_eq 1 "$(curl -s "$api/v1/health/service/gone?passing" | jq length)" "starts passing (Status given)"
  wait_for 10 "gone1 to be deregistered after 1 s TTL + 2 s critical" \
    bash -c "[[ \$(curl -s $api/v1/agent/services | jq 'has(\"gone1\")') == false ]]"
  # A container with an exec check and success_before_passing=3: until its first pass a check
  # runs every 250 ms, so three passes take ≥ 0.5 s after the first probe.
  local t0=$EPOCHREALTIME
  M run -d --name ex1 -l moor.service=ex -l 'moor.check=exec:test -f /www/index.html' \
    -l moor.check.interval=1s -l moor.check.success_before_passing=3 --expose 80 "$E_IMG" \
    httpd -f -p 80 -h /www >/dev/null || die "run ex1"
  wait_for 15 "ex to be passing" bash -c "[[ \$(curl -s '$api/v1/health/service/ex?passing' | jq length) == 1 ]]"
  local took
  took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  assert_true "3 passes needed: registered after ${took} s (≥ 0.5 s)" awk -v t="$took" 'BEGIN { exit !(t >= 0.5) }'
  assert_eq docker "$(curl -s "$api/v1/health/service/ex" | jq -r '.[0].Checks[0].Type')" \
    "an exec check in a container has Consul's type for it"
  M exec ex1 rm /www/index.html
  wait_for 10 "ex to turn critical" bash -c "[[ \$(curl -s '$api/v1/health/service/ex?passing' | jq length) == 0 ]]"
  assert_eq 1 "$(curl -s "$api/v1/health/service/ex" | jq length)" "a critical instance stays listed (not passing)"
  M rm -f ex1 >/dev/null
}

engine_setup
ecase "checks: deregister-critical-after, success threshold, exec in the container" t_check_lifecycle
ecase "python3-consul, unchanged, against moor's API" t_python_consul
ecase "moor service / moor kv" t_cli
finish

#!/usr/bin/env bash
# Published ports: a connection made right after `moor run -d -p` returns is never
# refused or reset (the proxy holds it until the server listens), 200 times in a row on
# the same host port, each container removed after; ports on all addresses, a random
# host port, the container's address reached directly, and HTTP through busybox httpd.
source "$(dirname "$0")/engine_lib.sh"

CYCLES=${MOOR_ENGINE_PORT_CYCLES:-200}

t_run_then_connect() {
  local port=18100 i id got rc
  local ok=0 refused=0 reset=0 empty=0 runfail=0 rmfail=0 first=""
  for ((i = 1; i <= CYCLES; i++)); do
    id=$(M run -d -p "127.0.0.1:$port:8080" "$E_IMG" nc -ll -p 8080 -e echo hi 2>"$T_TMP/run.err")
    if [[ -z "$id" ]]; then
      runfail=$((runfail + 1))
      [[ -z "$first" ]] && first="cycle $i: run failed: $(cat "$T_TMP/run.err")"
      continue
    fi
    note_ids "$id"
    got=$(tcp_get "$port" 127.0.0.1 5)
    rc=$?
    case $rc in
      0) if [[ "$got" == hi ]]; then ok=$((ok + 1)); else
           reset=$((reset + 1)); [[ -z "$first" ]] && first="cycle $i: got [$got]"
         fi ;;
      1) refused=$((refused + 1)); [[ -z "$first" ]] && first="cycle $i: refused" ;;
      3) empty=$((empty + 1)); [[ -z "$first" ]] && first="cycle $i: closed without data" ;;
      *) reset=$((reset + 1)); [[ -z "$first" ]] && first="cycle $i: $got" ;;
    esac
    if ! M rm -f "$id" >/dev/null 2>"$T_TMP/rm.err"; then
      rmfail=$((rmfail + 1))
      [[ -z "$first" ]] && first="cycle $i: rm -f failed: $(cat "$T_TMP/rm.err")"
    fi
  done
  say "  info - $CYCLES cycles: ok=$ok refused=$refused reset=$reset empty=$empty runfail=$runfail rmfail=$rmfail"
  [[ -n "$first" ]] && say "  info - first problem: $first"
  assert_eq 0 "$refused" "no connection refused"
  assert_eq 0 "$reset" "no connection reset"
  assert_eq 0 "$empty" "no connection closed before the server answered"
  assert_eq 0 "$runfail" "every run -d -p on the reused host port succeeded"
  assert_eq 0 "$rmfail" "every rm -f succeeded"
  assert_eq "$CYCLES" "$ok" "every connection got the server's answer"
}

t_port_variants() {
  M run -d --name anyaddr -p 18200:8080 "$E_IMG" nc -ll -p 8080 -e echo any >/dev/null || die "run anyaddr"
  assert_eq any "$(tcp_get 18200)" "-p PORT:8080 (all addresses) answers on 127.0.0.1"
  M run -d --name randport -p 127.0.0.1::8080 "$E_IMG" nc -ll -p 8080 -e echo rand >/dev/null ||
    die "run randport"
  local hp
  hp=$(ijq randport '.NetworkSettings.Ports["8080/tcp"][0].HostPort')
  assert_match "$hp" '^[0-9]+$' "a random host port is in NetworkSettings.Ports"
  [[ "$hp" =~ ^[0-9]+$ ]] && assert_eq rand "$(tcp_get "$hp")" "and answers"
  local ip
  ip=$(ip_of randport)
  assert_match "$ip" '^10\.89\.' "the container has an address on the default bridge"
  wait_for 5 "the container answers on its own address" tcp_get 8080 "$ip"
  assert_eq rand "$(tcp_get 8080 "$ip")" "the container's address reached directly"
  assert_contains "$(M ps --format '{{.Ports}}' --filter name=randport)" "->8080/tcp" "ps shows the port"
}

t_httpd() {
  M run -d --name web -p 127.0.0.1:18300:80 "$E_IMG" httpd -f -p 80 -h /www >/dev/null || die "run web"
  local body
  body=$(/usr/bin/python3 -c '
import urllib.request
print(urllib.request.urlopen("http://127.0.0.1:18300/index.html", timeout=5).read().decode().strip())' 2>&1)
  assert_eq "hello from httpd" "$body" "an HTTP GET right after run -d gets the page"
  local i n=0
  for ((i = 0; i < 50; i++)); do
    /usr/bin/python3 -c '
import urllib.request
urllib.request.urlopen("http://127.0.0.1:18300/", timeout=5).read()' 2>/dev/null && n=$((n + 1))
  done
  assert_eq 50 "$n" "50 more GETs all succeed"
}

engine_setup
ecase "$CYCLES x run -d -p + immediate connect: never refused or reset" t_run_then_connect
ecase "ports: all addresses, random host port, container address" t_port_variants
ecase "busybox httpd behind a published port" t_httpd
finish

#!/usr/bin/env bash
# Debian's Prometheus finds moor containers through moor's Consul API (consul_sd_configs):
# two busybox httpd containers serving /metrics, labelled moor.service=app with an http
# check, become "up" targets with Consul's meta labels; a removed one disappears.
source "$(dirname "$0")/engine_lib.sh"
source "$(dirname "$0")/discovery_lib.sh"

PROM_BIN=${PROM_BIN:-/usr/bin/prometheus}
PROM_ADDR=127.0.0.1:9090

# run_app NAME: busybox httpd on 8080 with a static /metrics, service "app".
run_app() {
  M run -d --name "$1" -l moor.service=app -l moor.service.port=8080 -l moor.check=http:/metrics \
    -l moor.check.interval=1s -l moor.service.tags=metrics,"$1" -l moor.service.meta.team=moor \
    "$E_IMG" sh -c "printf 'moor_test_up{app=\"$1\"} 1\n' >/www/metrics; exec httpd -f -p 8080 -h /www"
}

# prom_start: Prometheus on $PROM_ADDR in the test's namespace, its own storage; PROM_PID.
prom_start() {
  local d="$T_TMP/prom"
  mkdir -p "$d/data"
  sed "s/@CONSUL@/$DISC_CONSUL_ADDR/" "$DISC_FIX/prometheus.yml" >"$d/prometheus.yml"
  "$PROM_BIN" --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
    --web.listen-address="$PROM_ADDR" --log.level=debug >"$d/log" 2>&1 &
  PROM_PID=$!
  track_pid "$PROM_PID"
  wait_for 30 "prometheus ready" curl -sf "http://$PROM_ADDR/-/ready"
}

targets() { curl -sf --max-time 5 "http://$PROM_ADDR/api/v1/targets?state=active"; }
# up_ids: instance ids of the targets Prometheus scrapes successfully, sorted.
up_ids() { targets | jq -r '.data.activeTargets[] | select(.health == "up") | .labels.instance_id' | sort; }
all_target_ids() { targets | jq -r '.data.activeTargets[].labels.instance_id' | sort; }
up_is() { [[ "$(up_ids | tr '\n' ' ')" == "$1" ]]; }
targets_are() { [[ "$(all_target_ids | tr '\n' ' ')" == "$1" ]]; }

t_prometheus() {
  need_discovery
  [[ -x "$PROM_BIN" ]] || skip "no $PROM_BIN (Debian package prometheus)"
  run_app a1 >/dev/null || die "run a1"
  run_app a2 >/dev/null || die "run a2"
  local ip1 ip2
  ip1=$(ip_of a1) ip2=$(ip_of a2)
  wait_passing 20 app "$ip1:8080 $ip2:8080" || die "app instances did not pass"
  assert_true "the Consul API answers on TCP $DISC_CONSUL_ADDR" capi_tcp /v1/catalog/services
  prom_start || die "prometheus did not start: $(tail -5 "$T_TMP/prom/log")"
  if ! wait_for 40 "both targets up (up: [$(up_ids | tr '\n' ' ')])" up_is "a1:8080 a2:8080 "; then
    say "  prometheus log (consul lines):"
    grep -i 'consul\|error' "$T_TMP/prom/log" | tail -8 | cut -c1-300 | sed 's/^/    | /'
    say "  targets: $(targets | head -c 1500)"
    die "prometheus did not scrape both containers"
  fi
  local t
  t=$(targets | jq -c '.data.activeTargets[] | select(.labels.instance_id == "a1:8080")')
  assert_eq app "$(jq -r .discoveredLabels.__meta_consul_service <<<"$t")" "__meta_consul_service"
  assert_eq "$ip1:8080" "$(jq -r .discoveredLabels.__address__ <<<"$t")" "__address__ is the container's address"
  assert_eq "$ip1" "$(jq -r .discoveredLabels.__meta_consul_service_address <<<"$t")" "__meta_consul_service_address"
  assert_eq 8080 "$(jq -r .discoveredLabels.__meta_consul_service_port <<<"$t")" "__meta_consul_service_port"
  assert_eq a1:8080 "$(jq -r .discoveredLabels.__meta_consul_service_id <<<"$t")" "__meta_consul_service_id"
  assert_eq mtest "$(jq -r .discoveredLabels.__meta_consul_node <<<"$t")" "__meta_consul_node (--node-name)"
  assert_eq dc1 "$(jq -r .discoveredLabels.__meta_consul_dc <<<"$t")" "__meta_consul_dc"
  assert_eq ",metrics,a1," "$(jq -r .discoveredLabels.__meta_consul_tags <<<"$t")" "__meta_consul_tags"
  assert_eq moor "$(jq -r .discoveredLabels.__meta_consul_service_metadata_team <<<"$t")" "service meta"
  assert_eq passing "$(jq -r .discoveredLabels.__meta_consul_health <<<"$t")" "__meta_consul_health"
  assert_eq app "$(jq -r .labels.service <<<"$t")" "relabelled service label"
  # the scraped sample
  local v
  v=$(curl -sf "http://$PROM_ADDR/api/v1/query" --data-urlencode 'query=moor_test_up{app="a2"}' |
    jq -r '.data.result[0].value[1]')
  assert_eq 1 "$v" "a2's metric was scraped"
  # remove one: the target goes
  local t0=$EPOCHREALTIME
  M rm -f a2 >/dev/null || fail "rm a2"
  wait_for 40 "a2's target gone (targets: [$(all_target_ids | tr '\n' ' ')])" targets_are "a1:8080 " &&
    say "  info - a2's target went $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after rm -f"
  assert_true "a1 still up" up_is "a1:8080 "
  kill "$PROM_PID" 2>/dev/null
  wait "$PROM_PID" 2>/dev/null
}

disc_setup
ecase "prometheus consul_sd finds and scrapes moor containers; a removed one disappears" t_prometheus
finish

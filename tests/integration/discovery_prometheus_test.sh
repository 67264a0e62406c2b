#!/usr/bin/env bash
# Debian's Prometheus finds moor containers: two busybox httpd containers serving /metrics,
# labelled moor.service=app with an http check, become "up" targets; a removed one
# disappears. Through the Consul API (consul_sd_configs, with Consul's meta labels) when
# the Prometheus build has it — Debian's 2.42.0+ds does not — and through moor's DNS (SRV
# records of app.service.moor; the scrapes resolve NAME.container.moor too) and through
# HTTP service discovery (moor's /v1/moor/prometheus-sd, in every build). A blocking
# query, what Consul clients watch with, wakes up when an instance goes.
DISC_DNS_ADDR=127.0.0.1:53   # resolv.conf has no port: Prometheus asks port 53
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

# prom_start CONFIG: Prometheus on $PROM_ADDR in the test's namespace, its own storage; PROM_PID.
prom_start() {
  local d="$T_TMP/prom"
  rm -rf "$d"
  mkdir -p "$d/data"
  sed "s/@CONSUL@/$DISC_CONSUL_ADDR/" "$DISC_FIX/$1" >"$d/prometheus.yml"
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

# two apps discovered and scraped, one removed (SD = consul | dns).
prom_flow() {
  local sd=$1
  run_app a1 >/dev/null || die "run a1"
  run_app a2 >/dev/null || die "run a2"
  local ip1 ip2
  ip1=$(ip_of a1) ip2=$(ip_of a2)
  wait_passing 20 app "$ip1:8080 $ip2:8080" || die "app instances did not pass"
  prom_start "$2" || die "prometheus did not start: $(tail -5 "$T_TMP/prom/log")"
  if ! wait_for 40 "both targets up" up_is "a1:8080 a2:8080 "; then
    say "  up: [$(up_ids | tr '\n' ' ')]; prometheus log:"
    grep -i 'consul\|dns\|error\|warn' "$T_TMP/prom/log" | tail -8 | cut -c1-300 | sed 's/^/    | /'
    say "  targets: $(targets | head -c 1500)"
    die "prometheus did not scrape both containers"
  fi
  local t
  t=$(targets | jq -c '.data.activeTargets[] | select(.labels.instance_id == "a1:8080")')
  if [[ $sd == consul ]]; then
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
  elif [[ $sd == http ]]; then
    assert_eq app "$(jq -r .discoveredLabels.__meta_moor_service <<<"$t")" "__meta_moor_service"
    assert_eq "$ip1:8080" "$(jq -r .discoveredLabels.__address__ <<<"$t")" "__address__ is the container's address"
    assert_eq ",metrics,a1," "$(jq -r .discoveredLabels.__meta_moor_tags <<<"$t")" "__meta_moor_tags"
    assert_eq moor "$(jq -r .discoveredLabels.__meta_moor_service_meta_team <<<"$t")" "__meta_moor_service_meta_team"
    assert_eq a1 "$(jq -r .discoveredLabels.__meta_moor_container <<<"$t")" "__meta_moor_container"
  else
    assert_eq app.service.moor "$(jq -r .discoveredLabels.__meta_dns_name <<<"$t")" "__meta_dns_name"
    assert_match "$(jq -r .discoveredLabels.__meta_dns_srv_record_target <<<"$t")" '^a1\.container\.moor\.?$' \
      "__meta_dns_srv_record_target is the container's name"
    assert_eq 8080 "$(jq -r .discoveredLabels.__meta_dns_srv_record_port <<<"$t")" "__meta_dns_srv_record_port"
  fi
  assert_eq app "$(jq -r .labels.service <<<"$t")" "relabelled service label"
  local v
  v=$(curl -sf "http://$PROM_ADDR/api/v1/query" --data-urlencode 'query=moor_test_up{app="a2"}' |
    jq -r '.data.result[0].value[1]')
  assert_eq 1 "$v" "a2's metric was scraped"
  local t0=$EPOCHREALTIME
  M rm -f a2 >/dev/null || fail "rm a2"
  wait_for 40 "a2's target gone (targets: [$(all_target_ids | tr '\n' ' ')])" targets_are "a1:8080 " &&
    say "  info - a2's target went $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s after rm -f"
  assert_true "a1 still up" up_is "a1:8080 "
  kill "$PROM_PID" 2>/dev/null
  wait "$PROM_PID" 2>/dev/null
}

t_consul_sd() {
  need_discovery
  [[ -x "$PROM_BIN" ]] || skip "no $PROM_BIN (Debian package prometheus)"
  promtool check config "$DISC_FIX/prometheus.yml" >/dev/null 2>&1 ||
    skip "this prometheus has no consul_sd_configs (Debian's build leaves it out)"
  assert_true "the Consul API answers on TCP $DISC_CONSUL_ADDR" capi_tcp_ok /v1/catalog/services
  prom_flow consul prometheus.yml
}

t_dns_sd() {
  need_discovery
  [[ -x "$PROM_BIN" ]] || skip "no $PROM_BIN (Debian package prometheus)"
  # our DNS is the resolver, in the test's own mount namespace only
  printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:2\n' >"$T_TMP/resolv.conf"
  mount --bind "$T_TMP/resolv.conf" /etc/resolv.conf || die "bind-mount resolv.conf"
  (prom_flow dns prometheus-dns.yml)
  local rc=$?
  umount /etc/resolv.conf
  return $rc
}

t_http_sd() {
  need_discovery
  [[ -x "$PROM_BIN" ]] || skip "no $PROM_BIN (Debian package prometheus)"
  prom_flow http prometheus-http.yml
}

# A blocking query (?index=N&wait=…) returns when the service changes, with a higher
# X-Consul-Index — how consul-template and Prometheus's consul SD watch.
t_blocking_query() {
  need_discovery
  run_app a1 >/dev/null || die "run a1"
  run_app a2 >/dev/null || die "run a2"
  wait_passing 20 app "$(ip_of a1):8080 $(ip_of a2):8080" || die "app instances did not pass"
  local idx
  idx=$(curl -sf -D - -o /dev/null "http://$DISC_CONSUL_ADDR/v1/health/service/app" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-consul-index" { print $2 }')
  assert_match "$idx" '^[1-9][0-9]*$' "X-Consul-Index on /v1/health/service/app"
  local t0=$EPOCHREALTIME out="$T_TMP/block.out"
  curl -sf -D "$out.h" "http://$DISC_CONSUL_ADDR/v1/health/service/app?index=$idx&wait=20s" >"$out" &
  track_pid $!
  local bp=$!
  sleep 1
  assert_true "the blocking query waits while nothing changes" kill -0 "$bp"
  M rm -f a2 >/dev/null || fail "rm a2"
  wait "$bp"
  local took
  took=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  assert_true "it returned soon after the change (${took} s)" awk -v t="$took" 'BEGIN { exit !(t < 5) }'
  assert_eq "a1:8080" "$(jq -r '[.[].Service.ID] | join(" ")' "$out")" "with the new instance list"
  local idx2
  idx2=$(tr -d '\r' <"$out.h" | awk -F': ' 'tolower($1) == "x-consul-index" { print $2 }')
  assert_true "and a higher index ($idx → $idx2)" test "${idx2:-0}" -gt "$idx"
}

capi_tcp_ok() { capi_tcp "$1" >/dev/null; }

disc_setup
ecase "prometheus consul_sd finds and scrapes moor containers; a removed one disappears" t_consul_sd
ecase "prometheus dns_sd (SRV app.service.moor) finds and scrapes them; a removed one disappears" t_dns_sd
ecase "prometheus http_sd (moor's /v1/moor/prometheus-sd) finds and scrapes them; a removed one disappears" t_http_sd
ecase "a blocking query on /v1/health/service/app returns on a change" t_blocking_query
finish

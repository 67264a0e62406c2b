#!/usr/bin/env bash
# Installs the Debian packages that moor's build, tests and demo need. Idempotent and quick
# when everything is there (one dpkg-query); runs `apt-get update` only when something is
# missing. Needs root (or sudo) only to install. Never reads stdin.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build ccache pkg-config make
  libgtest-dev libgmock-dev nlohmann-json3-dev libseccomp-dev libcap-dev
  # runtime tests and demo
  runc busybox-static iproute2 jq curl util-linux procps psmisc python3 coreutils findutils
  # engine tests (Docker is moor-runtime's client and peer)
  docker.io containerd
  # images: registry client, layers, store
  libcurl4-openssl-dev libarchive-dev libzstd-dev zlib1g-dev libisal-dev libssl-dev ca-certificates
  # image tests: a real registry, htpasswd, TLS certificates, token-auth JWTs, base images
  docker-registry apache2-utils openssl python3-jwt python3-cryptography zstd mmdebstrap
  # engine: state, netlink, nftables; other OCI runtimes the daemon can use
  libsqlite3-dev libnl-route-3-dev libnl-3-dev libnftables-dev crun
  # discovery: DNS wire format; real clients and peers for its tests and benchmark
  # (dig, dnsperf, dnsmasq as the peer DNS server, prometheus, nginx, php-fpm, a Consul client library)
  libldns-dev dnsutils dnsperf dnsmasq-base prometheus nginx-light php8.2-fpm python3-consul
  # apps: moor.yaml (YAML with line/column marks)
  libyaml-cpp-dev
  # bench/stack: wrk as the HTTP load generator, docker-compose as the peer of `moor up`
  wrk docker-compose
  # bench/deploy: rsync is the peer of `moor deploy`
  rsync
  # logship: rsyslog as a real syslog receiver (the tests run their own rsyslogd)
  rsyslog
)

missing=()
while read -r pkg status; do
  [[ "$status" == "installed" ]] || missing+=("$pkg")
done < <(
  for p in "${PACKAGES[@]}"; do
    s=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
    echo "$p ${s:-absent}"
  done
)

if ((${#missing[@]} == 0)); then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [[ $EUID -ne 0 ]]; then
  command -v sudo >/dev/null || { echo "setup: run as root to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo -n)
fi
export DEBIAN_FRONTEND=noninteractive
# Do not let package scripts start services (dockerd, containerd) during the install:
# tests start their own instances. Only added when the machine has no policy of its own.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$policy" >/dev/null
  "${SUDO[@]}" chmod 755 "$policy"
  added_policy=1
fi
cleanup() { if ((added_policy)); then "${SUDO[@]}" rm -f "$policy"; fi; }
trap cleanup EXIT
"${SUDO[@]}" apt-get update -q </dev/null
"${SUDO[@]}" apt-get install -y -q --no-install-recommends \
  -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" </dev/null
echo "setup: done"

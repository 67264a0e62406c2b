#!/usr/bin/env bash
# Configures and builds moor with ccache:
#   build/       release build (what the demo, benchmarks and integration tests use)
#   build-asan/  ASan + UBSan build (-DMOOR_SANITIZE=ON) whose unit tests CI runs
# Usage: scripts/build.sh [release|asan|all] (default all). Build dirs can be moved with
# MOOR_BUILD_DIR / MOOR_ASAN_BUILD_DIR; MOOR_JOBS sets ninja's -j (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
what=${1:-all}
jobs=${MOOR_JOBS:-2}
build_dir=${MOOR_BUILD_DIR:-$repo/build}
asan_dir=${MOOR_ASAN_BUILD_DIR:-$repo/build-asan}

# Cache hits across clones in other folders (CI builds a fresh clone elsewhere).
export CCACHE_BASEDIR=$repo
export CCACHE_NOHASHDIR=1
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}

configure_and_build() {  # DIR CMAKE_ARGS...
  local dir=$1; shift
  echo "build: $dir ($*)"
  cmake -S "$repo" -B "$dir" -G Ninja -Wno-dev "$@" >/dev/null
  ninja -C "$dir" -j "$jobs"
}

case $what in
  release|all) configure_and_build "$build_dir" -DCMAKE_BUILD_TYPE=Release ;;&
  asan|all) configure_and_build "$asan_dir" -DCMAKE_BUILD_TYPE=Debug -DMOOR_SANITIZE=ON ;;
  release) ;;
  *) echo "usage: $0 [release|asan|all]" >&2; exit 2 ;;
esac
if command -v ccache >/dev/null; then ccache --show-stats 2>/dev/null | grep -iE 'hits|misses' | head -3 || true; fi

# Sourced by the tests that use the base images (moor/php-fpm, moor/nginx, moor/dokuwiki),
# before engine_lib.sh moves the test into its private namespaces: makes sure the rootfs
# tarballs are cached (`make-images.sh --no-import`; a cold run downloads from the Debian
# archive through this machine's apt sources), once per test run.
#   prefetch_images TEST_NAME   (exits the test with "0 passed, 1 failed" when it cannot)
prefetch_images() {
  [[ -n "${MOOR_ENGINE_NS:-}" || -n "${MOOR_IMAGES_READY:-}" ]] && return 0
  local name=$1 here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  if [[ $EUID -ne 0 ]]; then
    echo "$name: needs root (mmdebstrap, namespaces)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  echo "$name: making sure the rootfs tarballs are cached (a cold run downloads from the Debian archive)"
  if ! "$here/../../scripts/make-images.sh" --no-import; then
    echo "$name: make-images.sh --no-import failed (see above): the Debian archive must be reachable through this machine's apt sources on a cold run" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
  export MOOR_IMAGES_READY=1
}

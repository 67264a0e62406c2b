#!/usr/bin/env bash
# Makes the demo stack's base images on this machine, with mmdebstrap, from the machine's own
# apt sources (nothing is pulled from an image registry):
#   moor/php-fpm:8.2          Debian bookworm, php8.2-fpm + the extensions DokuWiki uses
#   moor/dokuwiki:<version>   the same plus Debian's dokuwiki package (also tagged :latest)
#   moor/nginx:1.22           Debian bookworm, nginx-light
#
# Usage: scripts/make-images.sh [--moor PATH] [--root DIR] [--cache DIR] [--force] [--no-import]
#                               [--code-dir DIR]
#   --moor PATH   the moor CLI (default: build/cmd/moor/moor of this checkout, else `moor`)
#   --root DIR    moor's state dir holding the image store (default: /var/lib/moor)
#   --cache DIR   .deb cache, rootfs tarballs and scratch space (default: $MOOR_IMAGES_CACHE,
#                 else /var/cache/moor-images)
#   --force       rebuild every rootfs and re-import every image
#   --no-import   only make sure the rootfs tarballs are in the cache (needs no moor and no
#                 store; the integration test uses it before it leaves the host's network)
#   --code-dir DIR  also export DokuWiki's code from the dokuwiki rootfs into DIR, in Debian's
#                 layout: DIR/usr/share/dokuwiki, DIR/etc/dokuwiki, DIR/var/lib/dokuwiki
#                 (plugins, templates, ACL files and the initial data) and the libraries
#                 Debian's package loads from outside its tree (DIR/usr/share/php,
#                 DIR/usr/share/php-geshi, DIR/usr/share/javascript), owners kept — the
#                 host code directory examples/wiki mounts read-only. Redone only when the
#                 dokuwiki rootfs changed (DIR/.moor-code holds its inputs hash); a non-empty
#                 DIR that this script did not make is refused.
#
# Idempotent: each image carries the label moor.images.inputs=<sha256 of what it is made of:
# suite, apt sources, packages, config hook, import changes>; an image already in the store with
# that label is left alone, and a rootfs tarball already in the cache for that hash is imported
# without running mmdebstrap again. The Debian archive moving on (a security update) does not
# change the hash: use --force to pick it up.
# .deb files: the host's /var/cache/apt/archives is hard-linked into each new rootfs (when it is
# on the same filesystem as --cache) and every .deb downloaded is kept in CACHE/debs for the
# next build, so only a first build on a machine downloads from the Debian archive.
# Runs as root (mmdebstrap's root mode); installs nothing: scripts/setup.sh brings mmdebstrap,
# zstd and the rest.
# Prints one line per image: NAME SIZE TIME what-happened.
set -euo pipefail

SUITE=bookworm
SELF=$(readlink -f "$0")
SRC=$(cd "$(dirname "$SELF")/.." && pwd)

die() { echo "make-images: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# Hooks (mmdebstrap runs them as `SELF --hook NAME ROOTFS ...`)

hook_seed_debs() {  # ROOTFS DEBS HOSTCACHE: put the cached .debs where apt looks first
  local root=$1 debs=$2 host=$3 arch=$1/var/cache/apt/archives
  mkdir -p "$arch"
  find "$debs" -maxdepth 1 -name '*.deb' -exec ln -f -t "$arch" {} + 2>/dev/null ||
    find "$debs" -maxdepth 1 -name '*.deb' -exec cp -t "$arch" {} +
  # the host's own cache only when it can be hard-linked (copying it would cost more than it saves)
  if [[ -d "$host" ]]; then
    find "$host" -maxdepth 1 -name '*.deb' -exec ln -t "$arch" {} + 2>/dev/null || true
  fi
}

hook_save_debs() {  # ROOTFS DEBS HOSTCACHE: keep what was downloaded (before mmdebstrap cleans)
  local root=$1 debs=$2 host=$3 f b
  for f in "$root"/var/cache/apt/archives/*.deb; do
    [[ -e "$f" ]] || continue
    b=${f##*/}
    [[ -e "$debs/$b" || -e "$host/$b" ]] && continue
    ln -f "$f" "$debs/$b" 2>/dev/null || cp "$f" "$debs/$b"
  done
}

hook_php() {  # ROOTFS: php-fpm in the foreground, a pool on 0.0.0.0:9000 with ping and status
  local root=$1 etc=$1/etc/php/8.2/fpm
  sed -i -e 's|^pid = .*|; pid: none, php-fpm runs in the foreground (-F) as the container'"'"'s main process|' \
    -e 's|^error_log = .*|error_log = /proc/self/fd/2|' \
    -e 's|^;\?process_control_timeout = .*|process_control_timeout = 20s|' "$etc/php-fpm.conf"
  grep -q '^process_control_timeout = 20s' "$etc/php-fpm.conf" ||
    sed -i 's|^\[global\]|[global]\nprocess_control_timeout = 20s|' "$etc/php-fpm.conf"
  cat >"$etc/pool.d/www.conf" <<'EOF'
; moor/php-fpm: one pool for the container, reached over TCP by nginx and by moor's discovery
; (label moor.check=fastcgi:/ping). Override by mounting a file over this one.
[www]
user = www-data
group = www-data
listen = 0.0.0.0:9000
pm = dynamic
pm.max_children = 8
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 4
pm.max_requests = 1000
ping.path = /ping
ping.response = pong
pm.status_path = /status
; the container's environment reaches PHP (getenv), and what workers print reaches moor logs
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
EOF
  # Deploys (docs/design/deploy.md §3): release files never change, and each release has its
  # own path, so opcache never revalidates; SIGUSR2 (the reload) frees old releases' entries.
  cat >"$etc/conf.d/90-moor.ini" <<'EOF'
; moor/php-fpm: opcache for code deployed by `moor deploy` (read-only releases under
; /srv/releases/N, each at its own path). Never name /srv/releases/current in PHP: use __DIR__.
opcache.enable=1
opcache.validate_timestamps=0
opcache.revalidate_path=0
opcache.use_cwd=1
; two releases fit until the reload signal frees the old one
opcache.memory_consumption=128
realpath_cache_ttl=120
EOF
  # php8.2-opcache (a dependency of php8.2-fpm) must be installed and enabled for fpm
  chroot "$root" dpkg-query -W -f='${db:Status-Status}' php8.2-opcache 2>/dev/null | grep -qx installed ||
    { echo "make-images: php8.2-opcache is not installed in the php image" >&2; return 1; }
  [[ -e $etc/conf.d/10-opcache.ini ]] ||
    { echo "make-images: opcache is not enabled for php-fpm (no conf.d/10-opcache.ini)" >&2; return 1; }
}

hook_dokuwiki() {  # ROOTFS VERSIONFILE: php's config; the installed version (for the tag) to VERSIONFILE
  hook_php "$1"
  chroot "$1" dpkg-query -W -f='${Version}' dokuwiki >"$2"
}

hook_nginx() {  # ROOTFS: logs to the container's stdout/stderr
  local root=$1
  ln -sf /dev/stdout "$root/var/log/nginx/access.log"
  ln -sf /dev/stderr "$root/var/log/nginx/error.log"
}

if [[ "${1:-}" == --hook ]]; then
  name=$2
  shift 2
  "hook_$name" "$@"
  exit 0
fi

# ---------------------------------------------------------------------------------------
# Options

MOOR="" ROOT=/var/lib/moor CACHE=${MOOR_IMAGES_CACHE:-/var/cache/moor-images} FORCE=0 IMPORT=1 CODE_DIR=""
while (($#)); do
  case $1 in
    --moor) [[ $# -ge 2 ]] || die "--moor needs a path"; MOOR=$2; shift 2 ;;
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT=$2; shift 2 ;;
    --cache) [[ $# -ge 2 ]] || die "--cache needs a directory"; CACHE=$2; shift 2 ;;
    --force) FORCE=1; shift ;;
    --no-import) IMPORT=0; shift ;;
    --code-dir) [[ $# -ge 2 && -n "$2" ]] || die "--code-dir needs a directory"; CODE_DIR=$2; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$SELF" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \"$1\" (usage: make-images.sh [--moor PATH] [--root DIR] [--cache DIR] [--force] [--no-import] [--code-dir DIR])" ;;
  esac
done

[[ $EUID -eq 0 ]] || die "run as root (mmdebstrap builds the rootfs in root mode)"
command -v mmdebstrap >/dev/null || die "mmdebstrap is not installed: run scripts/setup.sh"
command -v zstd >/dev/null || die "zstd is not installed: run scripts/setup.sh"
if ((IMPORT)); then
  if [[ -z "$MOOR" ]]; then
    if [[ -x "$SRC/build/cmd/moor/moor" ]]; then MOOR=$SRC/build/cmd/moor/moor
    else MOOR=$(command -v moor) || die "no moor CLI found: build it (scripts/build.sh) or pass --moor PATH"
    fi
  fi
  [[ -x "$MOOR" ]] || die "--moor $MOOR is not an executable"
fi
mkdir -p "$CACHE/debs" "$CACHE/tars" "$CACHE/tmp" || die "cannot create the cache dir $CACHE (pass --cache DIR)"
CACHE=$(cd "$CACHE" && pwd)
HOST_DEBS=/var/cache/apt/archives

# ---------------------------------------------------------------------------------------
# The machine's apt sources for $SUITE, as one-line entries: deb822 *.sources and one-line
# sources.list / *.list, only `deb` entries whose suite is $SUITE or $SUITE-*, never a
# disabled file or stanza. No mirror host is written here.

host_sources() {
  /usr/bin/python3 - "$SUITE" /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources <<'EOF'
import os, re, sys
suite, files = sys.argv[1], sys.argv[2:]
ok = lambda s: s == suite or s.startswith(suite + "-")
out = []
for path in files:
    if not os.path.isfile(path):
        continue
    text = open(path, encoding="utf-8", errors="replace").read()
    if path.endswith(".sources"):
        for stanza in re.split(r"\n\s*\n", text):
            f, key = {}, None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    f[key] += "\n" + line.strip()
                    continue
                key, _, val = line.partition(":")
                key = key.strip().lower()
                f[key] = val.strip()
            if "deb" not in f.get("types", "").split() or f.get("enabled", "yes").lower() == "no":
                continue
            opts = []
            if f.get("signed-by") and "\n" not in f["signed-by"]:
                opts.append("signed-by=" + f["signed-by"])
            if f.get("architectures"):
                opts.append("arch=" + ",".join(f["architectures"].split()))
            o = "[" + " ".join(opts) + "] " if opts else ""
            for uri in f.get("uris", "").split():
                for s in f.get("suites", "").split():
                    if ok(s):
                        out.append("deb %s%s %s %s" % (o, uri, s, f.get("components", "main")))
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            m = re.match(r"deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$", line)
            if m and ok(m.group(3)):
                out.append(line)
print("\n".join(dict.fromkeys(out)))
EOF
}

mapfile -t SOURCES < <(host_sources)
((${#SOURCES[@]})) || die "no '$SUITE' entry in /etc/apt/sources.list{,.d}: add the Debian $SUITE archive to apt's sources"
# an apt proxy the machine is configured with applies to mmdebstrap's apt too
mapfile -t APTOPTS < <(apt-config dump 2>/dev/null | grep -iE '^Acquire::(https?|ftp)::Proxy ')

# ---------------------------------------------------------------------------------------
# The images

PHP_PKGS="php8.2-fpm php8.2-xml php8.2-gd php8.2-mbstring php8.2-intl"
PHP_CHANGES=(
  'CMD ["php-fpm8.2","-F"]'
  'EXPOSE 9000'
  'STOPSIGNAL SIGQUIT'
  'WORKDIR /var/www'
  'LABEL moor.service=php moor.service.port=9000 moor.check=fastcgi:/ping moor.check.body=pong'
)
NGINX_CHANGES=(
  'CMD ["nginx","-g","daemon off;"]'
  'EXPOSE 80'
  'STOPSIGNAL SIGQUIT'
  'LABEL moor.service=nginx moor.service.port=80'
)

# image SLUG NAME "PACKAGES" HOOK CHANGES...
declare -a SPECS=()
spec() { SPECS+=("$*"); }

total_start=$SECONDS
failed=0

human() { numfmt --to=iec --suffix=B --format=%.1f "$1" 2>/dev/null || echo "${1}B"; }

label_of() {  # NAME KEY: a label of an image in the store ("" when there is none)
  "$MOOR" --root "$ROOT" image inspect "$1" 2>/dev/null | jq -r --arg k "$2" '.[0].Config.Labels[$k] // ""' 2>/dev/null
}
size_of() { "$MOOR" --root "$ROOT" image inspect "$1" 2>/dev/null | jq -r '.[0].Size // 0' 2>/dev/null; }

build_rootfs() {  # SLUG PACKAGES HOOK OUT.tar.zst LOG
  local slug=$1 pkgs=$2 hook=$3 out=$4 log=$5 self_q
  self_q=$(printf '%q' "$SELF")
  local debs_q host_q
  debs_q=$(printf '%q' "$CACHE/debs")
  host_q=$(printf '%q' "$HOST_DEBS")
  local args=(
    --mode=root --variant=minbase
    --include="${pkgs// /,}"
    --aptopt='APT::Install-Recommends "false"'
    --aptopt='APT::Install-Suggests "false"'
    --dpkgopt=force-unsafe-io
    --dpkgopt='path-exclude=/usr/share/man/*'
    --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/doc/*'
    --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/locale/*'
    --skip=download/empty --skip=essential/unlink
    --setup-hook="$self_q --hook seed_debs \"\$1\" $debs_q $host_q"
    --customize-hook="$self_q --hook save_debs \"\$1\" $debs_q $host_q"
    --customize-hook="$self_q --hook $hook \"\$1\" $(printf '%q' "$CACHE/tmp/$slug.version")"
  )
  local o
  for o in "${APTOPTS[@]}"; do args+=(--aptopt="$o"); done
  rm -f "$CACHE/tmp/$slug.version"
  TMPDIR=$CACHE/tmp mmdebstrap "${args[@]}" "$SUITE" "${out%.tar.zst}.part.tar.zst" "${SOURCES[@]}" >"$log" 2>&1 ||
    return 1
  mv -f "${out%.tar.zst}.part.tar.zst" "$out"
}

ensure() {  # SLUG NAME "PACKAGES" HOOK CHANGES...
  local slug=$1 name=$2 pkgs=$3 hook=$4
  shift 4
  local changes=("$@") start=$SECONDS hash what
  hash=$( {
    echo "suite $SUITE $(dpkg --print-architecture)"
    printf 'source %s\n' "${SOURCES[@]}"
    echo "packages $pkgs"
    declare -f "hook_$hook" hook_php build_rootfs
    printf 'change %s\n' "${changes[@]}"
    echo "format 1"
  } | sha256sum | cut -c1-64)
  local tar=$CACHE/tars/$slug-${hash:0:16}.tar.zst
  local verfile=$CACHE/tars/$slug-${hash:0:16}.version
  TAR_OF[$slug]=$tar
  HASH_OF[$slug]=$hash

  if ((IMPORT && !FORCE)) && [[ "$(label_of "$name" moor.images.inputs)" == "$hash" ]]; then
    if [[ "$hook" == dokuwiki ]]; then  # the versioned tag too
      local v
      v=$(label_of "$name" org.opencontainers.image.version)
      [[ -n "$v" ]] && "$MOOR" --root "$ROOT" tag "$name" "moor/dokuwiki:$v" >/dev/null 2>&1
    fi
    printf '%-28s %9s %5ss  up to date\n' "$name" "$(human "$(size_of "$name")")" "$((SECONDS - start))"
    return 0
  fi
  what="rootfs from the cache"
  if ((FORCE)) || [[ ! -s "$tar" ]]; then
    local log=$CACHE/tmp/$slug.log
    if ! build_rootfs "$slug" "$pkgs" "$hook" "$tar" "$log"; then
      rm -f "${tar%.tar.zst}.part.tar.zst"
      echo "make-images: mmdebstrap failed for $name (log: $log); last lines:" >&2
      tail -n 5 "$log" | sed 's/^/  /' >&2
      echo "make-images: a first build downloads from the Debian archive through this machine's apt sources: check that they are reachable" >&2
      return 1
    fi
    [[ "$hook" == dokuwiki ]] && mv -f "$CACHE/tmp/$slug.version" "$verfile"
    # drop tarballs of older inputs
    find "$CACHE/tars" -maxdepth 1 -name "$slug-*" ! -name "$slug-${hash:0:16}.*" -delete
    what="built"
  fi
  if ((!IMPORT)); then
    printf '%-28s %9s %5ss  %s (tarball, not imported)\n' "$name" "$(human "$(stat -c %s "$tar")")" \
      "$((SECONDS - start))" "$what"
    return 0
  fi
  local version=""
  if [[ "$hook" == dokuwiki ]]; then
    version=$(cat "$verfile" 2>/dev/null) || true
    [[ -n "$version" ]] || { echo "make-images: $name: the dokuwiki version was not recorded; rerun with --force" >&2; return 1; }
    changes+=("LABEL org.opencontainers.image.version=${version//[^A-Za-z0-9._-]/_}")
  fi
  changes+=("LABEL moor.images.inputs=$hash")
  local cargs=() c
  for c in "${changes[@]}"; do cargs+=(-c "$c"); done
  if ! zstd -dcq "$tar" | "$MOOR" --root "$ROOT" image import "${cargs[@]}" -m "make-images.sh: $pkgs" - "$name" \
    >/dev/null 2>"$CACHE/tmp/$slug.import.err"; then
    echo "make-images: importing $name failed: $(tr '\n' ' ' <"$CACHE/tmp/$slug.import.err")" >&2
    return 1
  fi
  if [[ -n "$version" ]]; then
    "$MOOR" --root "$ROOT" tag "$name" "moor/dokuwiki:${version//[^A-Za-z0-9._-]/_}" >/dev/null ||
      { echo "make-images: tagging moor/dokuwiki:$version failed" >&2; return 1; }
  fi
  printf '%-28s %9s %5ss  %s, imported\n' "$name" "$(human "$(size_of "$name")")" "$((SECONDS - start))" "$what"
}

declare -A TAR_OF=() HASH_OF=()

# DokuWiki's code out of the dokuwiki rootfs, for stacks that mount it from the host.
export_code() {  # DIR
  local dir start=$SECONDS tar=${TAR_OF[dokuwiki]:-} hash=${HASH_OF[dokuwiki]:-}
  dir=$(realpath -m -- "$1")
  [[ "$dir" != / ]] || { echo "make-images: --code-dir / is not allowed: pick a directory of its own" >&2; return 1; }
  [[ -n "$tar" ]] || { echo "make-images: --code-dir: the dokuwiki image was not made" >&2; return 1; }
  local stamp=$dir/.moor-code
  if ((!FORCE)) && [[ -f "$stamp" && "$(cat "$stamp")" == "$hash" && -d "$dir/usr/share/dokuwiki" &&
    -d "$dir/etc/dokuwiki" && -d "$dir/var/lib/dokuwiki/data" && -d "$dir/usr/share/php-geshi" ]]; then
    printf '%-28s %9s %5ss  up to date\n' "code $dir" "$(du -sh "$dir" | cut -f1)B" "$((SECONDS - start))"
    return 0
  fi
  if [[ -d "$dir" && ! -f "$stamp" && -n "$(ls -A "$dir")" ]]; then
    echo "make-images: --code-dir $dir is not empty and was not made by make-images.sh: remove it or pick another directory" >&2
    return 1
  fi
  if [[ ! -s "$tar" ]]; then  # the image is in the store but its tarball was cleaned away
    local log=$CACHE/tmp/dokuwiki.log
    build_rootfs dokuwiki "$PHP_PKGS dokuwiki" dokuwiki "$tar" "$log" ||
      { echo "make-images: mmdebstrap failed for the dokuwiki code (log: $log)" >&2; return 1; }
  fi
  mkdir -p "$dir" || { echo "make-images: cannot create --code-dir $dir" >&2; return 1; }
  rm -rf "${dir:?}/usr" "${dir:?}/etc" "${dir:?}/var" "$stamp"
  if ! zstd -dcq "$tar" | tar -x -C "$dir" --numeric-owner --same-permissions \
    ./usr/share/dokuwiki ./usr/share/php ./usr/share/php-geshi ./usr/share/javascript \
    ./etc/dokuwiki ./var/lib/dokuwiki; then
    echo "make-images: extracting DokuWiki's code into $dir failed" >&2
    return 1
  fi
  echo "$hash" >"$stamp"
  printf '%-28s %9s %5ss  exported\n' "code $dir" "$(du -sh "$dir" | cut -f1)B" "$((SECONDS - start))"
}

ensure php-fpm moor/php-fpm:8.2 "$PHP_PKGS" php "${PHP_CHANGES[@]}" || failed=1
ensure dokuwiki moor/dokuwiki:latest "$PHP_PKGS dokuwiki" dokuwiki "${PHP_CHANGES[@]}" \
  'WORKDIR /usr/share/dokuwiki' || failed=1
ensure nginx moor/nginx:1.22 "nginx-light" nginx "${NGINX_CHANGES[@]}" || failed=1
if [[ -n "$CODE_DIR" ]]; then
  export_code "$CODE_DIR" || failed=1
fi

((failed)) && exit 1
echo "make-images: done in $((SECONDS - total_start))s"

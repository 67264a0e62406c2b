#!/usr/bin/env bash
# The demo stack's base images (scripts/make-images.sh): moor/php-fpm:8.2, moor/dokuwiki:<v>
# (also :latest) and moor/nginx:1.22, made with mmdebstrap from this machine's apt sources.
#
# NETWORK: on a cold run (no rootfs tarball in the cache yet) this test downloads from the
# Debian archive, through the machine's own apt configuration, BEFORE it enters its private
# network namespace (`make-images.sh --no-import`, about 2-4 minutes). Everything after that
# runs without network: the images are imported from the cached tarballs into the private
# daemon's store, and containers only talk over the test's own bridge.
# The cache is $MOOR_IMAGES_CACHE (default /var/cache/moor-images), shared with the script.
#
# Checks: import into a fresh store and a second run that changes nothing; php-fpm8.2 -t and
# nginx -t in containers; DokuWiki's code, config and data where Debian puts them and the PHP
# extensions it uses; a php-fpm container becomes a passing `php` service through the
# image's labels (moor.check=fastcgi:/ping); DokuWiki renders a page over FastCGI; nginx
# serves its default page; both stop gracefully on SIGQUIT.

source "$(dirname "$0")/images_prefetch.sh"
prefetch_images app_images_test

source "$(dirname "$0")/engine_lib.sh"

MAKE="$MOOR_SRC/scripts/make-images.sh"
PHP=moor/php-fpm:8.2
WIKI=moor/dokuwiki:latest
NGINX=moor/nginx:1.22

# fcgi HOST PORT SCRIPT_FILENAME SCRIPT_NAME QUERY: one FastCGI GET (the responder role, as
# nginx sends it); prints the CGI response (headers, blank line, body). Exit 1 on no answer.
fcgi() {
  /usr/bin/python3 - "$@" <<'EOF'
import socket, struct, sys
host, port, filename, name, query = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def rec(t, content, rid=1):
    pad = (8 - len(content) % 8) % 8
    return struct.pack(">BBHHBx", 1, t, rid, len(content), pad) + content + b"\0" * pad
def nv(k, v):
    k, v = k.encode(), v.encode()
    enc = lambda n: bytes([n]) if n < 128 else struct.pack(">I", n | 0x80000000)
    return enc(len(k)) + enc(len(v)) + k + v
params = {"SCRIPT_FILENAME": filename, "SCRIPT_NAME": name, "REQUEST_URI": name + ("?" + query if query else ""),
          "DOCUMENT_URI": name, "QUERY_STRING": query, "REQUEST_METHOD": "GET", "SERVER_PROTOCOL": "HTTP/1.1",
          "GATEWAY_INTERFACE": "CGI/1.1", "SERVER_NAME": "wiki.test", "SERVER_PORT": "80",
          "HTTP_HOST": "wiki.test", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": "0"}
body = b"".join(nv(k, v) for k, v in params.items())
s = socket.create_connection((host, port), timeout=10)
s.sendall(rec(1, struct.pack(">HB5x", 1, 0)) + rec(4, body) + rec(4, b"") + rec(5, b""))
out, buf = b"", b""
while True:
    b = s.recv(65536)
    if not b:
        break
    buf += b
    while len(buf) >= 8:
        _, t, _, clen, pad = struct.unpack(">BBHHBx", buf[:8])
        if len(buf) < 8 + clen + pad:
            break
        if t == 6:
            out += buf[8:8 + clen]
        buf = buf[8 + clen + pad:]
        if t == 3:
            sys.stdout.write(out.decode(errors="replace")); sys.exit(0)
sys.stdout.write(out.decode(errors="replace"))
sys.exit(0 if out else 1)
EOF
}

# passing_count SERVICE: instances of SERVICE whose checks all pass (the daemon's health API).
passing_count() {
  curl -s --max-time 5 --unix-socket "$E_SOCK" "http://moor/v1/health/service/$1?passing" | jq 'length' 2>/dev/null
}
passing_is() { [[ "$(passing_count "$1")" == "$2" ]]; }

t_import() {
  capture "$MAKE" --moor "$MOOR" --root "$E_ROOT"
  assert_eq 0 "$RC" "make-images.sh imports into a fresh store (stderr: $(_clip "$ERR"))"
  say "  info - $(printf '%s' "$OUT" | tr '\n' ';')"
  local img
  for img in "$PHP" "$WIKI" "$NGINX"; do
    assert_contains "$OUT" "$img" "a line for $img"
    assert_ne "" "$(M image inspect "$img" 2>/dev/null | jq -r '.[0].Id // ""')" "$img is in the store"
  done
  local v
  v=$(M image inspect "$WIKI" | jq -r '.[0].Config.Labels["org.opencontainers.image.version"] // ""')
  assert_match "$v" '^[0-9][A-Za-z0-9._-]*$' "dokuwiki's Debian version is a label ($v)"
  assert_eq "$(M image inspect "$WIKI" | jq -r '.[0].Id')" "$(M image inspect "moor/dokuwiki:$v" | jq -r '.[0].Id')" \
    "moor/dokuwiki:$v is the same image as :latest"
  assert_eq '["php-fpm8.2","-F"]|SIGQUIT|9000/tcp|fastcgi:/ping|php' \
    "$(M image inspect "$PHP" | jq -rc '.[0].Config | "\(.Cmd)|\(.StopSignal)|\(.ExposedPorts|keys|join(","))|\(.Labels["moor.check"])|\(.Labels["moor.service"])"')" \
    "php-fpm: CMD, STOPSIGNAL, EXPOSE, discovery labels"
  assert_eq '["nginx","-g","daemon off;"]|SIGQUIT|80/tcp' \
    "$(M image inspect "$NGINX" | jq -rc '.[0].Config | "\(.Cmd)|\(.StopSignal)|\(.ExposedPorts|keys|join(","))"')" \
    "nginx: CMD, STOPSIGNAL, EXPOSE"
}

t_rerun() {
  local ids_before
  ids_before=$(M images -q --no-trunc 2>/dev/null | sort | tr '\n' ' ')
  local start=$SECONDS
  capture "$MAKE" --moor "$MOOR" --root "$E_ROOT"
  assert_eq 0 "$RC" "a second run succeeds"
  assert_eq 3 "$(printf '%s\n' "$OUT" | grep -c 'up to date')" "a second run finds all 3 images up to date"
  assert_true "and takes under 15 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 15
  assert_eq "$ids_before" "$(M images -q --no-trunc 2>/dev/null | sort | tr '\n' ' ')" "no image changed"
}

t_config_tests() {
  capture M run --rm "$PHP" php-fpm8.2 -t
  assert_eq 0 "$RC" "php-fpm8.2 -t passes in $PHP (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT$ERR" "test is successful" "php-fpm says its config is fine"
  capture M run --rm "$WIKI" php-fpm8.2 -t
  assert_eq 0 "$RC" "php-fpm8.2 -t passes in $WIKI"
  capture M run --rm "$NGINX" nginx -t
  assert_eq 0 "$RC" "nginx -t passes in $NGINX (stderr: $(_clip "$ERR"))"
  assert_contains "$OUT$ERR" "test is successful" "nginx says its config is fine"
}

t_dokuwiki_layout() {
  capture M run --rm "$WIKI" sh -c '
    test -f /usr/share/dokuwiki/doku.php && echo code
    test "$(readlink /usr/share/dokuwiki/lib/tpl)" = /var/lib/dokuwiki/lib/tpl && echo tpl-link
    test -f /etc/dokuwiki/local.php && test -f /etc/dokuwiki/dokuwiki.php && echo conf
    test -d /var/lib/dokuwiki/data/pages/wiki && echo data
    test "$(stat -c %U /var/lib/dokuwiki/data)" = www-data && echo data-owner
    php -m | tr "A-Z" "a-z" | grep -xE "xml|gd|mbstring|intl|json|session" | sort | tr "\n" " "'
  assert_eq 0 "$RC" "inspecting the dokuwiki image (stderr: $(_clip "$ERR"))"
  local want
  for want in code tpl-link conf data data-owner; do assert_contains "$OUT" "$want" "dokuwiki: $want"; done
  for want in xml gd mbstring intl json session; do assert_contains "$OUT" "$want " "PHP extension $want"; done
  capture M run --rm "$PHP" sh -c 'test -e /usr/share/dokuwiki && echo has-app; echo ok'
  assert_eq ok "$OUT" "moor/php-fpm:8.2 has no application code (it is mounted or baked on top)"
}

t_php_service() {
  local id ip
  id=$(M run -d --name php1 "$PHP") || die "run $PHP"
  note_ids "$id"
  wait_for 40 "php1 is a passing 'php' service (fastcgi:/ping from the image's labels)" passing_is php 1
  ip=$(ip_of php1)
  local ping
  ping=$(fcgi "$ip" 9000 /ping /ping "")
  assert_contains "$ping" "pong" "FastCGI /ping answers pong on $ip:9000"
  assert_contains "$(fcgi "$ip" 9000 /status /status "")" "accepted conn" "pm.status_path /status answers"
  local start=$SECONDS
  M stop -t 20 php1 >/dev/null || fail "stop php1"
  assert_true "SIGQUIT stops php-fpm gracefully within 10 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 10
  assert_eq 0 "$(ijq php1 .State.ExitCode)" "php-fpm exits 0 on SIGQUIT"
  wait_for 20 "the stopped instance leaves the passing set" passing_is php 0
}

t_dokuwiki_page() {
  local id ip page
  id=$(M run -d --name wiki1 "$WIKI") || die "run $WIKI"
  note_ids "$id"
  wait_for 40 "wiki1 is a passing 'php' service" passing_is php 1
  ip=$(ip_of wiki1)
  page=$(fcgi "$ip" 9000 /usr/share/dokuwiki/doku.php /doku.php "id=wiki:syntax")
  assert_match "$page" 'Content-[Tt]ype: text/html' "doku.php answers with HTML"
  assert_contains "$page" "Formatting Syntax" "DokuWiki renders the wiki:syntax page"
  assert_contains "$page" "Debian DokuWiki" "with the Debian package's configuration (title)"
  assert_not_contains "$page" "Fatal error" "without PHP errors"
}

t_nginx() {
  local id ip body
  id=$(M run -d --name web1 "$NGINX") || die "run $NGINX"
  note_ids "$id"
  ip=$(ip_of web1)
  wait_for 20 "nginx answers on $ip:80" curl -sf --max-time 2 -o /dev/null "http://$ip/"
  body=$(curl -s --max-time 5 "http://$ip/")
  assert_contains "$body" "Welcome to nginx" "nginx serves its default page"
  assert_contains "$(M logs web1 2>&1)" '"GET / HTTP/1.1" 200' "the access log goes to the container's stdout"
  local start=$SECONDS
  M stop -t 20 web1 >/dev/null || fail "stop web1"
  assert_true "SIGQUIT stops nginx gracefully within 10 s ($((SECONDS - start)) s)" test $((SECONDS - start)) -lt 10
  assert_eq 0 "$(ijq web1 .State.ExitCode)" "nginx exits 0 on SIGQUIT"
}

engine_setup
ecase "make-images.sh imports the three images into a fresh store" t_import
ecase "a second make-images.sh run changes nothing" t_rerun
ecase "php-fpm8.2 -t and nginx -t in containers" t_config_tests
ecase "dokuwiki: Debian's layout and the PHP extensions it uses" t_dokuwiki_layout
ecase "php-fpm container: discovery passes fastcgi:/ping; /status; graceful stop" t_php_service
ecase "dokuwiki renders a page over FastCGI" t_dokuwiki_page
ecase "nginx container serves and stops gracefully" t_nginx
finish

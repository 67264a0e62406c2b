#!/usr/bin/env bash
# moor against a real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1:
# push / pull round trips over plain HTTP, TLS with a test CA (--cert-dir), htpasswd Basic
# auth with `moor login`, token auth with a small token server, cross-repository mounts,
# and a blob download cut off mid-transfer by a proxy (resumed with Range).
# Every server a case starts is stopped (and waited for) when the case ends.
source "$(dirname "$0")/lib.sh"

MOOR_BIN=${MOOR_BIN:-$MOOR_SRC/build/cmd/moor/moor}
REGISTRY_BIN=${REGISTRY_BIN:-/usr/bin/docker-registry}
PY=/usr/bin/python3  # Debian's python: python3-jwt and python3-cryptography

if [[ ! -x "$MOOR_BIN" ]]; then
  echo "$T_NAME: moor CLI not found: MOOR_BIN=$MOOR_BIN (build it, or set MOOR_BIN)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
for tool in "$REGISTRY_BIN" openssl htpasswd curl; do
  if ! command -v "$tool" >/dev/null; then
    echo "$T_NAME: missing tool $tool (run scripts/setup.sh)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

# ---------------------------------------------------------------------------------------
# Servers. Each case runs in a subshell; servers are its children, stopped by its EXIT trap.

SERVER_PIDS=()
stop_servers() {
  local p
  for p in "${SERVER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
  SERVER_PIDS=()
}
start_server() {  # LOG CMD...: start CMD in the background, remember its pid in $!
  local log=$1; shift
  "$@" >"$log" 2>&1 &
  SERVER_PIDS+=($!)
  track_pid $!
}

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [CURL_ARGS...]: the server answers (any HTTP status).
http_up() { curl -s -o /dev/null -m 2 "$@"; }

# start_registry NAME [EXTRA_YAML]: a registry on a free port; sets REG_PORT, REG (host:port),
# REG_DIR. EXTRA_YAML is added at the top level (auth:) or under http: via REG_HTTP_EXTRA.
start_registry() {
  local name=$1 extra=${2:-}
  REG_PORT=$(free_port)
  REG="127.0.0.1:$REG_PORT"
  REG_DIR="$T_TMP/$name"
  mkdir -p "$REG_DIR/data"
  cat >"$REG_DIR/config.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $REG_DIR/data
  delete:
    enabled: true
http:
  addr: $REG
  secret: moor-test-secret
${REG_HTTP_EXTRA:-}
$extra
EOF
  start_server "$REG_DIR/registry.log" "$REGISTRY_BIN" serve "$REG_DIR/config.yml"
  local scheme=http curl_args=()
  if [[ -n "${REG_HTTP_EXTRA:-}" ]]; then scheme=https; curl_args=(-k); fi
  wait_for 20 "registry $name on $REG" http_up "${curl_args[@]}" "$scheme://$REG/v2/" ||
    die "registry did not start: $(tail -5 "$REG_DIR/registry.log")"
}

# moor with a private root per "side" (push side: r1, pull side: r2) and a private
# docker config dir (DOCKER_CONFIG) per case.
m() {  # ROOTNAME ARGS...
  local root="$T_TMP/moor-$1"; shift
  DOCKER_CONFIG="$T_TMP/docker-config" timeout -k 5 300 "$MOOR_BIN" --root "$root" "$@"
}

# rootfs tarball of the test busybox (once per test run).
busybox_tar() {
  local tar="$T_TMP/busybox-rootfs.tar"
  if [[ ! -f "$tar" ]]; then
    tar -C "$(rootfs_cache)" --exclude=./.complete -cf "$tar.tmp" . && mv "$tar.tmp" "$tar"
  fi
  printf '%s\n' "$tar"
}

image_id() {  # ROOTNAME NAME: the image's ID (config digest) from inspect
  m "$1" image inspect "$2" 2>/dev/null | jq -r '.[0].Id // empty'
}

# import_busybox ROOTNAME NAME: moor image import of the busybox rootfs under NAME.
import_busybox() {
  capture m "$1" image import "$(busybox_tar)" "$2"
  [[ $RC == 0 ]] || die "image import $2 failed (exit $RC): $ERR"
}

# push_pull_roundtrip NAME [GLOBAL_FLAGS...]: push NAME from r1, pull it into a fresh r2,
# compare IDs, pull again (up to date).
push_pull_roundtrip() {
  local name=$1; shift
  local id1 id2
  id1=$(image_id r1 "$name")
  [[ -n "$id1" ]] || die "no image $name in r1"
  assert_rc 0 "push $name" m r1 "$@" push "$name"
  assert_contains "$OUT" "Pushed" "push uploads the layer"
  assert_match "$OUT" "digest: sha256:[0-9a-f]{64} size: [0-9]+" "push prints TAG: digest: … size: …"
  rm -rf "$T_TMP/moor-r2"
  assert_rc 0 "pull $name into an empty root" m r2 "$@" pull "$name"
  assert_contains "$OUT" "Status: Downloaded newer image for" "first pull downloads"
  assert_match "$OUT" "Digest: sha256:[0-9a-f]{64}" "pull prints the digest"
  id2=$(image_id r2 "$name")
  assert_eq "$id1" "$id2" "pulled image has the pushed image's ID (config digest)"
  assert_rc 0 "pull again" m r2 "$@" pull "$name"
  assert_contains "$OUT" "Status: Image is up to date for" "second pull is a no-op"
}

# ---------------------------------------------------------------------------------------
# Cases

t_http_anonymous() {
  trap stop_servers EXIT
  start_registry plain
  local name="$REG/test/busybox:v1"
  import_busybox r1 "$name"
  push_pull_roundtrip "$name"
  assert_rc 0 "push again" m r1 push "$name"
  assert_contains "$OUT" "Layer already exists" "second push uploads nothing"
  assert_not_contains "$OUT" "Pushed" "second push uploads nothing (no Pushed)"
  # Another repository of the same registry: the blobs are mounted, not uploaded.
  assert_rc 0 "tag into another repository" m r1 tag "$name" "$REG/other/copy:v1"
  assert_rc 0 "push to another repository" m r1 push "$REG/other/copy:v1"
  assert_contains "$OUT" "Mounted from test/busybox" "cross-repository mount"
  assert_rc 1 "pull of a missing tag fails" m r2 pull "$REG/test/busybox:nope"
  assert_contains "$ERR" "not found" "missing tag: the error says not found"
  assert_eq 1 "$(printf '%s\n' "$ERR" | grep -c .)" "missing tag: one error line"
  assert_rc 1 "pull from a port nobody listens on fails" m r2 pull "127.0.0.1:1/x/y:z"
  assert_contains "$ERR" "127.0.0.1:1" "unreachable registry: the error names it"
}

make_tls() {  # DIR: CA and a server certificate for 127.0.0.1 / localhost
  local d=$1
  mkdir -p "$d"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=moor test CA" \
    -keyout "$d/ca.key" -out "$d/ca.crt" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null || return 1
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$d/server.key" \
    -out "$d/server.csr" 2>/dev/null || return 1
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$d/ext.cnf"
  openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
    -days 2 -extfile "$d/ext.cnf" -out "$d/server.crt" 2>/dev/null
}

t_tls_with_test_ca() {
  trap stop_servers EXIT
  local pki="$T_TMP/pki"
  make_tls "$pki" || die "openssl failed"
  REG_HTTP_EXTRA="  tls:
    certificate: $pki/server.crt
    key: $pki/server.key"
  start_registry tls
  local name="$REG/tls/busybox:v1"
  import_busybox r1 "$name"
  assert_rc 1 "push without the CA fails" m r1 push "$name"
  assert_contains "$ERR" "cert" "untrusted certificate: the error says so"
  local certs="$T_TMP/certs.d"
  mkdir -p "$certs/$REG"
  cp "$pki/ca.crt" "$certs/$REG/ca.crt"
  push_pull_roundtrip "$name" --cert-dir "$certs"
}

t_basic_auth() {
  trap stop_servers EXIT
  htpasswd -Bbn tester s3cret >"$T_TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
  start_registry basic "auth:
  htpasswd:
    realm: moor-test
    path: $T_TMP/htpasswd"
  local name="$REG/auth/busybox:v1" cfg="$T_TMP/docker-config/config.json"
  import_busybox r1 "$name"
  assert_rc 1 "push without login fails" m r1 push "$name"
  assert_contains "$ERR" "moor login $REG" "no credentials: the error says to log in"
  capture bash -c "printf 'wrong\n' | DOCKER_CONFIG='$T_TMP/docker-config' '$MOOR_BIN' --root '$T_TMP/moor-r1' \
    login -u tester --password-stdin '$REG'"
  assert_eq 1 "$RC" "login with a wrong password fails"
  assert_contains "$ERR" "unauthorized" "wrong password: the error says unauthorized"
  assert_false "wrong password: nothing stored" test -s "$cfg"
  mkdir -p "$T_TMP/docker-config"
  echo '{"psFormat": "table {{.ID}}", "auths": {"keep.example": {"auth": "YTpi"}}}' >"$cfg"
  capture bash -c "printf 's3cret\n' | DOCKER_CONFIG='$T_TMP/docker-config' '$MOOR_BIN' --root '$T_TMP/moor-r1' \
    login -u tester --password-stdin '$REG'"
  assert_eq 0 "$RC" "login with the right password (stderr: $ERR)"
  assert_contains "$OUT" "Login Succeeded" "login says so"
  assert_eq "tester:s3cret" "$(jq -r --arg r "$REG" '.auths[$r].auth' "$cfg" | base64 -d)" \
    "credentials stored as base64 user:password under host:port"
  assert_eq "table {{.ID}}" "$(jq -r .psFormat "$cfg")" "other config fields kept"
  assert_eq "YTpi" "$(jq -r '.auths["keep.example"].auth' "$cfg")" "other registries kept"
  assert_eq 600 "$(stat -c %a "$cfg")" "config file mode 0600"
  push_pull_roundtrip "$name"
  # Stored credentials that are wrong: a clear failure, not a hang or a crash.
  jq --arg r "$REG" '.auths[$r].auth = ("tester:bad" | @base64)' "$cfg" >"$cfg.new" && mv "$cfg.new" "$cfg"
  rm -rf "$T_TMP/moor-r2"
  assert_rc 1 "pull with wrong stored credentials fails" m r2 pull "$name"
  assert_contains "$ERR" "unauthorized" "wrong credentials: the error says unauthorized"
  assert_contains "$ERR" "moor login" "wrong credentials: the error says what to do"
  assert_rc 0 "logout" m r1 logout "$REG"
  assert_eq "null" "$(jq -r --arg r "$REG" '.auths[$r]' "$cfg")" "logout removes the entry"
  assert_eq "YTpi" "$(jq -r '.auths["keep.example"].auth' "$cfg")" "logout keeps other registries"
  capture m r1 logout "$REG"
  assert_eq 0 "$RC" "a second logout succeeds, as Docker's does"
  assert_contains "$OUT" "Not logged in" "and says there was nothing to remove"
}

# A token server: GET /token?service=…&scope=… with Basic credentials from USERS (JSON
# {"user": "password"}); grants every requested action to a known user, nothing to
# anonymous requests; 401 on a wrong password. Signs RS256 with x5c = [signing cert],
# which the registry verifies against rootcertbundle.
write_token_server() {
  cat >"$1" <<'EOF'
import base64, json, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

port, key_file, cert_file, users_file, log_file = sys.argv[1:6]
key = open(key_file, "rb").read()
cert = x509.load_pem_x509_certificate(open(cert_file, "rb").read())
x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
users = json.load(open(users_file))

class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass
    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        url = urlparse(self.path)
        q = parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            if users.get(u) != p:
                with open(log_file, "a") as f:
                    f.write("denied %s\n" % u)
                return self.reply(401, {"details": "incorrect username or password"})
            user = u
        access = []
        for scope in q.get("scope", []):
            typ, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if user:
                access.append({"type": typ, "name": name, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": "moor-test-issuer", "sub": user or "", "aud": q.get("service", [""])[0],
                  "exp": now + 300, "nbf": now - 10, "iat": now, "jti": uuid.uuid4().hex,
                  "access": access}
        token = jwt.encode(claims, key, algorithm="RS256", headers={"x5c": x5c})
        with open(log_file, "a") as f:
            f.write("token %s %s\n" % (user or "-", " ".join(q.get("scope", []))))
        self.reply(200, {"token": token, "expires_in": 300})

ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()
EOF
}

t_token_auth() {
  trap stop_servers EXIT
  local pki="$T_TMP/token-pki"
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=moor test token signer" \
    -keyout "$pki/signer.key" -out "$pki/signer.crt" 2>/dev/null || die "openssl failed"
  echo '{"tester": "t0ken-pass"}' >"$pki/users.json"
  write_token_server "$pki/token_server.py"
  local tport
  tport=$(free_port)
  start_server "$pki/token_server.out" $PY "$pki/token_server.py" "$tport" "$pki/signer.key" \
    "$pki/signer.crt" "$pki/users.json" "$pki/token.log"
  wait_for 20 "token server" http_up "http://127.0.0.1:$tport/token" ||
    die "token server did not start: $(cat "$pki/token_server.out")"
  start_registry token "auth:
  token:
    realm: http://127.0.0.1:$tport/token
    service: moor-test-registry
    issuer: moor-test-issuer
    rootcertbundle: $pki/signer.crt"
  local name="$REG/tok/busybox:v1"
  import_busybox r1 "$name"
  assert_rc 1 "push with an anonymous token fails" m r1 push "$name"
  assert_contains "$ERR" "moor login" "anonymous push: the error says to log in"
  capture bash -c "printf 'nope\n' | DOCKER_CONFIG='$T_TMP/docker-config' '$MOOR_BIN' --root '$T_TMP/moor-r1' \
    login -u tester --password-stdin '$REG'"
  assert_eq 1 "$RC" "token login with a wrong password fails"
  assert_contains "$ERR" "incorrect username or password" "wrong password: the token server's reason is shown"
  capture bash -c "printf 't0ken-pass\n' | DOCKER_CONFIG='$T_TMP/docker-config' '$MOOR_BIN' \
    --root '$T_TMP/moor-r1' login -u tester --password-stdin '$REG'"
  assert_eq 0 "$RC" "token login (stderr: $ERR)"
  push_pull_roundtrip "$name"
  assert_true "a push token was requested" grep -q "token tester repository:tok/busybox:pull,push" "$pki/token.log"
  assert_true "a pull token was requested" grep -q "token tester repository:tok/busybox:pull$" "$pki/token.log"
}

# A proxy that forwards to the registry but cuts the first large blob response after
# CUT bytes (connection closed mid-body); later requests pass. Logs every request with its
# Range header.
write_cut_proxy() {
  cat >"$1" <<'EOF'
import http.client, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, upstream, cut, log_file = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
state = {"cut_done": False}
lock = threading.Lock()

class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def forward(self, method):
        with open(log_file, "a") as f:
            f.write("%s %s range=%s\n" % (method, self.path, self.headers.get("Range", "-")))
        body = None
        if self.headers.get("Content-Length"):
            body = self.rfile.read(int(self.headers["Content-Length"]))
        conn = http.client.HTTPConnection(upstream, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(method, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        self.send_response_only(resp.status, resp.reason)
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding"):
                self.send_header(k, v)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if method == "HEAD":
            return
        length = int(resp.getheader("Content-Length") or 0)
        cut_now = False
        with lock:
            if "/blobs/" in self.path and length > 2 * cut and not state["cut_done"]:
                state["cut_done"] = cut_now = True
        sent = 0
        while True:
            chunk = resp.read(65536)
            if not chunk:
                break
            if cut_now and sent + len(chunk) >= cut:
                self.wfile.write(chunk[: cut - sent])
                self.wfile.flush()
                with open(log_file, "a") as f:
                    f.write("cut %s after %d bytes\n" % (self.path, cut))
                return
            self.wfile.write(chunk)
            sent += len(chunk)
    def do_GET(self):
        self.forward("GET")
    def do_HEAD(self):
        self.forward("HEAD")

ThreadingHTTPServer(("127.0.0.1", port), Proxy).serve_forever()
EOF
}

t_resume_interrupted_pull() {
  trap stop_servers EXIT
  start_registry resume
  # A rootfs with 40 MiB of random (incompressible) data: one big layer.
  local big="$T_TMP/big-rootfs"
  mkdir -p "$big"
  cp -a "$(rootfs_cache)/." "$big/"
  rm -f "$big/.complete"
  head -c $((40 << 20)) /dev/urandom >"$big/random.bin"
  tar -C "$big" -cf "$T_TMP/big.tar" . || die "tar failed"
  rm -rf "$big"
  local name="$REG/big/image:v1"
  capture m r1 image import "$T_TMP/big.tar" "$name"
  [[ $RC == 0 ]] || die "image import failed: $ERR"
  assert_rc 0 "push the big image" m r1 push "$name"
  local pport cut=$((8 << 20))
  pport=$(free_port)
  write_cut_proxy "$T_TMP/proxy.py"
  start_server "$T_TMP/proxy.out" $PY "$T_TMP/proxy.py" "$pport" "$REG" "$cut" "$T_TMP/proxy.log"
  wait_for 20 "proxy" http_up "http://127.0.0.1:$pport/v2/" || die "proxy did not start: $(cat "$T_TMP/proxy.out")"
  local via="127.0.0.1:$pport/big/image:v1"
  rm -rf "$T_TMP/moor-r2"
  assert_rc 0 "pull through the cutting proxy succeeds" m r2 pull "$via"
  assert_true "the proxy cut a blob download" grep -q "^cut " "$T_TMP/proxy.log"
  assert_true "the retry asked for the rest with Range: bytes=$cut-" grep -q "range=bytes=$cut-" "$T_TMP/proxy.log"
  assert_eq "$(image_id r1 "$name")" "$(image_id r2 "$via")" "resumed pull has the pushed image's ID"
}

run_case "push and pull over plain HTTP, up to date, mounts, errors" t_http_anonymous
run_case "TLS with a test CA via --cert-dir" t_tls_with_test_ca
run_case "htpasswd Basic auth with moor login / logout" t_basic_auth
run_case "token auth with a token server" t_token_auth
run_case "interrupted blob download resumes with Range" t_resume_interrupted_pull
finish

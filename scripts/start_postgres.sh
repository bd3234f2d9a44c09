#!/usr/bin/env bash
# Start (or reuse) a throwaway PostgreSQL 15 cluster for qaware's store tests and benchmarks.
#
#   export QAWARE_TEST_POSTGRES_URL="$(scripts/start_postgres.sh)"   # start, print the URL
#   scripts/start_postgres.sh stop                                   # stop it
#
# The cluster lives in $QAWARE_PG_DIR (default /tmp/qaware-pg-$PORT), listens on 127.0.0.1 only
# (port $QAWARE_PG_PORT, default 55432), trusts loopback connections (no password: it is for
# tests, never for data you care about) and holds the database $QAWARE_PG_DB (default
# qaware_test). Idempotent: a running cluster is reused. As root, the server runs as the
# `postgres` OS user (PostgreSQL refuses to run as root). Messages go to stderr; stdout is only
# the URL, so the line above works.
set -euo pipefail

PORT="${QAWARE_PG_PORT:-55432}"
DB="${QAWARE_PG_DB:-qaware_test}"
DATA="${QAWARE_PG_DIR:-/tmp/qaware-pg-$PORT}"
PGBIN="${QAWARE_PG_BIN:-}"
if [[ -z "$PGBIN" ]]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [[ -x "$d/pg_ctl" ]]; then PGBIN="$d"; break; fi
  done
fi
if [[ -z "$PGBIN" || ! -x "$PGBIN/pg_ctl" ]]; then
  echo "start_postgres.sh: no PostgreSQL server binaries found (apt-get install postgresql-15," \
       "or set QAWARE_PG_BIN)" >&2
  exit 1
fi

log() { echo "start_postgres.sh: $*" >&2; }

# Run a command as the cluster's OS user: `postgres` when we are root, ourselves otherwise.
as_owner() {
  if [[ "$(id -u)" == 0 ]]; then
    if ! id postgres >/dev/null 2>&1; then
      log "running as root but there is no 'postgres' OS user to own the cluster"
      exit 1
    fi
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

if [[ "${1:-start}" == "stop" ]]; then
  if [[ -f "$DATA/PG_VERSION" ]]; then
    as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
  fi
  exit 0
fi

if ! "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PORT"; then
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initialising a new cluster in $DATA"
    mkdir -p "$DATA"
    if [[ "$(id -u)" == 0 ]]; then chown postgres: "$DATA"; fi
    chmod 700 "$DATA"
    as_owner "$PGBIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 \
      --no-instructions >&2
  fi
  log "starting the server on 127.0.0.1:$PORT (log: $DATA/server.log)"
  # The socket goes into the data dir: /var/run/postgresql may not exist or be writable.
  as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $DATA" >&2
fi

PSQL=("$PGBIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAq)
if [[ "$("${PSQL[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != "1" ]]; then
  log "creating database $DB"
  "${PSQL[@]}" -c "CREATE DATABASE \"$DB\"" >&2
fi
echo "postgresql://postgres@127.0.0.1:$PORT/$DB"

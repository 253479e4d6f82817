#!/usr/bin/env bash
# A throwaway PostgreSQL server on 127.0.0.1 for the tests and benchmarks.
#   postgres.sh install            install Debian's postgresql if it is missing
#   postgres.sh start <state-dir>  initdb + start; writes <state-dir>/env (DATABASE_URL for the tests)
#   postgres.sh stop <state-dir>   fast shutdown; fine when nothing runs
#   postgres.sh crash <state-dir>  immediate shutdown, as a crash would (for the fault tests); `start` brings
#                                  the same cluster back on the same port
# Postgres refuses to run as root, so the cluster belongs to the `postgres` user (created by the package).
set -euo pipefail

bin_dir() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$dir" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
}

run_as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/bash -c "$1"; else bash -c "$1"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

case "${1:-}" in
  install)
    if ! bin_dir >/dev/null; then
      echo "installing postgresql (Debian package)…" >&2
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    ;;
  start)
    state=${2:?usage: postgres.sh start <state-dir>}
    bin=$(bin_dir) || { echo "postgres.sh: PostgreSQL is not installed (run: $0 install)" >&2; exit 1; }
    port=${PG_PORT:-$(cat "$state/port" 2>/dev/null || free_port)}
    mkdir -p "$state/data"
    [ "$(id -u)" = 0 ] && chown -R postgres "$state"
    chmod 700 "$state/data"
    started=$(date +%s%N)
    if [ ! -f "$state/data/PG_VERSION" ]; then
      run_as_postgres "'$bin/initdb' -D '$state/data' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >'$state/initdb.log' 2>&1" ||
        { echo "postgres.sh: initdb failed:" >&2; tail -n 20 "$state/initdb.log" >&2; exit 1; }
    fi
    # fsync off: the data is thrown away after the run and the tests go faster without it.
    run_as_postgres "'$bin/pg_ctl' -D '$state/data' -l '$state/server.log' -w -t 60 \
      -o \"-c listen_addresses=127.0.0.1 -p $port -k /tmp -c fsync=off -c max_connections=200\" start >/dev/null" ||
      { echo "postgres.sh: the server did not start:" >&2; tail -n 20 "$state/server.log" >&2; exit 1; }
    echo "$port" >"$state/port"
    echo "export TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/postgres" >"$state/env"
    echo "postgres.sh: PostgreSQL ready on 127.0.0.1:$port in $(( ($(date +%s%N) - started) / 1000000 )) ms" >&2
    ;;
  stop)
    state=${2:?usage: postgres.sh stop <state-dir>}
    bin=$(bin_dir) || exit 0
    if [ -f "$state/data/postmaster.pid" ]; then
      run_as_postgres "'$bin/pg_ctl' -D '$state/data' -m fast -w stop >/dev/null" || true
    fi
    ;;
  crash)
    state=${2:?usage: postgres.sh crash <state-dir>}
    bin=$(bin_dir) || exit 0
    run_as_postgres "'$bin/pg_ctl' -D '$state/data' -m immediate -w stop >/dev/null" || true
    ;;
  *)
    echo "usage: $0 install | start <state-dir> | stop <state-dir> | crash <state-dir>" >&2
    exit 2
    ;;
esac

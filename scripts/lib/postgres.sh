# Sourced by scripts: starts a throwaway PostgreSQL server and sets
# PG_URL (a superuser URL on loopback) and pg_stop (a function that stops it
# and removes its files). Needs PostgreSQL's server binaries (Debian:
# postgresql); as root, the server runs as the postgres user.
start_postgres() {
  local pgbin port
  pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$pgbin" ] || { echo "PostgreSQL is not installed (apt-get install postgresql)" >&2; return 1; }
  PG_DIR=$(mktemp -d)
  PG_AS=()
  if [ "$(id -u)" = 0 ]; then chown postgres "$PG_DIR"; PG_AS=(runuser -u postgres --); fi
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${PG_AS[@]}" "$pgbin/initdb" -D "$PG_DIR/data" -U tierwatch --auth=trust >/dev/null
  "${PG_AS[@]}" "$pgbin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { cat "$PG_DIR/log" >&2; echo "PostgreSQL did not start" >&2; return 1; }
  PG_BIN=$pgbin
  PG_URL="postgres://tierwatch@127.0.0.1:$port/postgres"
  PG_VERSION=$("$pgbin/postgres" --version | awk '{print $3}')
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}

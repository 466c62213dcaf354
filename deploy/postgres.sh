#!/usr/bin/env bash
# A throwaway PostgreSQL on 127.0.0.1, for deploy/run.sh and for running the
# tests on PostgreSQL.
#
#   deploy/postgres.sh start DIR [PORT]   create a fresh cluster in DIR, start it on
#                                         127.0.0.1:PORT (default: a free port), and
#                                         print its SQLAlchemy URL on stdout
#   deploy/postgres.sh stop DIR           stop it, if it runs (DIR can then be deleted)
#   deploy/postgres.sh resume DIR         start a stopped one again, same data, same port
#   deploy/postgres.sh check              exit 0 if PostgreSQL can be started here,
#                                         else say what is missing and exit 3
#
# DIR must be a new or empty directory, e.g. from `mktemp -d`. As root, the
# server runs as the `postgres` user (PostgreSQL refuses to run as root), so
# DIR is given to that user and must be reachable by it: a directory of its
# own under /tmp is, one under pytest's private tmp_path is not.
#
# The server binaries are found in $PG_BINDIR, else in the newest
# /usr/lib/postgresql/*/bin (Debian's postgresql package), else on PATH.
#
# It is for tests and a local demo only: every connection from 127.0.0.1 is
# trusted without a password (initdb -A trust), and nothing listens anywhere
# else (no other address; the Unix socket is inside DIR).
#
# Example:
#   dir=$(mktemp -d) && url=$(deploy/postgres.sh start "$dir")
#   WSGIAUTH_DATABASE_URL=$url python3 serve.py
#   deploy/postgres.sh stop "$dir" && rm -rf "$dir"
set -euo pipefail

die() {
    echo "postgres.sh: $*" >&2
    exit "${status:-1}"
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

# Set $bindir to the directory holding initdb, pg_ctl and createdb.
find_bindir() {
    if [[ -n ${PG_BINDIR:-} ]]; then
        bindir=$PG_BINDIR
    elif compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
        bindir=$(dirname "$(printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
    elif command -v initdb >/dev/null; then
        bindir=$(dirname "$(command -v initdb)")
    else
        status=3 die "PostgreSQL server binaries not found (initdb, pg_ctl):" \
            "install them (Debian: apt-get install postgresql) or set PG_BINDIR"
    fi
    local tool
    for tool in initdb pg_ctl createdb; do
        [[ -x $bindir/$tool ]] || status=3 die "$bindir/$tool is missing"
    done
}

# Set the array $as_postgres: the command prefix that runs a program as the
# user who owns the cluster (postgres when we are root, else ourselves).
find_user() {
    as_postgres=()
    if [[ $(id -u) == 0 ]]; then
        id postgres >/dev/null 2>&1 ||
            status=3 die "running as root, but there is no 'postgres' user to run the server as"
        command -v runuser >/dev/null || status=3 die "running as root, but runuser is missing"
        as_postgres=(runuser -u postgres --)
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir=${1:?} port=${2:-}
    [[ -d $dir ]] || die "$dir is not a directory"
    [[ -z $(ls -A "$dir") ]] || die "$dir is not empty"
    dir=$(cd "$dir" && pwd)
    [[ -n $port ]] || port=$(free_port)
    if ((${#as_postgres[@]})); then
        chown postgres "$dir"
        "${as_postgres[@]}" test -w "$dir" ||
            die "the postgres user cannot reach $dir: use a directory of its own under /tmp"
    fi
    "${as_postgres[@]}" "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    # For resume: the clients know the server by its port.
    echo "$port" >"$dir/port"
    run_server "$dir"
    "${as_postgres[@]}" "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres wsgiauth ||
        { stop "$dir"; die "createdb failed"; }
    echo "postgresql+psycopg://postgres@127.0.0.1:$port/wsgiauth"
}

# Start the cluster in DIR on the port it was created for.
run_server() {
    local dir=$1 port
    port=$(cat "$dir/port")
    # -w: wait until it accepts connections. Only 127.0.0.1, and the Unix
    # socket in DIR rather than /var/run/postgresql.
    "${as_postgres[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null ||
        { tail -n 20 "$dir/server.log" >&2; die "the server did not start on port $port"; }
}

resume() {
    local dir=${1:?}
    [[ -f $dir/port ]] || die "$dir holds no cluster made by 'postgres.sh start'"
    run_server "$(cd "$dir" && pwd)"
}

stop() {
    local dir=${1:?}
    # Not running (never started, or stopped already): nothing to do.
    "${as_postgres[@]}" "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 || return 0
    # fast: disconnect the clients and stop now; -w: return once it has.
    "${as_postgres[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
}

case "${1:-} $#" in
"start 2" | "start 3" | "stop 2" | "resume 2" | "check 1") ;;
*) usage ;;
esac
find_bindir
find_user
case $1 in
start) start "$2" "${3:-}" ;;
stop) stop "$2" ;;
resume) resume "$2" ;;
esac

#!/usr/bin/env bash
# Run the whole deployment on loopback: a throwaway PostgreSQL, two serve.py
# processes on that one database, and nginx balancing between them.
#
#   deploy/run.sh [PORT]     nginx on http://127.0.0.1:PORT (default 8080; 0: any free port)
#
#   client ──> nginx 127.0.0.1:PORT ─┬─> serve.py 127.0.0.1:P1 ─┬─> PostgreSQL 127.0.0.1:P3
#                                    └─> serve.py 127.0.0.1:P2 ─┘
#
# It prints the URL once everything is up, and runs until Ctrl-C (or
# SIGTERM, or one of its processes dying); then it stops every process it
# started and deletes the database and the logs. Nothing listens on any
# address but 127.0.0.1.
#
# Each serve.py runs with --trusted-proxy 127.0.0.1, so waitress takes the
# client's address, scheme and host from nginx's X-Forwarded-* headers
# (deploy/nginx.conf.template), and from no one else's.
#
# It installs nothing. It needs:
#   - nginx (Debian: apt-get install nginx-light), found on PATH, in
#     /usr/sbin, or as $NGINX;
#   - the PostgreSQL server binaries (Debian: apt-get install postgresql;
#     see deploy/postgres.sh), and, as root, the postgres user they create;
#   - python3 ($PYTHON) with wsgiauth's dependencies and psycopg 3
#     (python3 -m pip install -e . 'psycopg[binary]').
# Settings (WSGIAUTH_*) are passed on to serve.py from the environment.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
python=${PYTHON:-python3}
listen_port=${1:-8080}

say() { echo "run.sh: $*" >&2; }

# --- what is missing -----------------------------------------------------------

missing=()
nginx=${NGINX:-$(command -v nginx || true)}
[[ -n $nginx ]] || [[ ! -x /usr/sbin/nginx ]] || nginx=/usr/sbin/nginx
[[ -n $nginx ]] || missing+=("nginx (Debian: apt-get install nginx-light)")
if ! command -v "$python" >/dev/null; then
    missing+=("$python")
elif ! problem=$(cd "$root" && "$python" -c 'import psycopg, waitress, wsgiauth.app' 2>&1); then
    missing+=("Python packages ($python -m pip install -e . 'psycopg[binary]'): ${problem##*$'\n'}")
fi
if ! problem=$("$here/postgres.sh" check 2>&1); then
    missing+=("PostgreSQL: ${problem#postgres.sh: }")
fi
if ((${#missing[@]})); then
    say "cannot start, missing:"
    printf '  - %s\n' "${missing[@]}" >&2
    exit 3
fi
if [[ ! $listen_port =~ ^[0-9]+$ ]] || ((listen_port > 65535)); then
    say "PORT must be a number from 0 to 65535, not '$listen_port'"
    exit 2
fi
listen_port=$((10#$listen_port)) # "08080" is 8080, not octal
if ((listen_port == 0)); then
    listen_port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
elif (: </dev/tcp/127.0.0.1/"$listen_port") 2>/dev/null; then
    say "something already listens on 127.0.0.1:$listen_port: choose another PORT (0: any free one)"
    exit 2
fi

# --- stopping everything, however we exit ----------------------------------------

work=$(mktemp -d "${TMPDIR:-/tmp}/wsgiauth-deploy.XXXXXX")
# The database gets a directory of its own: as root, the server runs as the
# postgres user, who cannot enter $work (mode 700).
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/wsgiauth-deploy-pg.XXXXXX")
pg_started=""
nginx_pid=""
app_pids=()

# shellcheck disable=SC2329 # invoked by the EXIT trap
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    # The front first, so that no request arrives at a stopping backend.
    if [[ -n $nginx_pid ]]; then
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    local pid
    for pid in "${app_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true # serve.py stops cleanly on SIGTERM
    done
    for pid in "${app_pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [[ -n $pg_started ]]; then
        "$here/postgres.sh" stop "$pgdir" || say "could not stop PostgreSQL in $pgdir"
    fi
    rm -rf "$work" "$pgdir"
    say "stopped"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Print the last lines of a log, to say why something did not start.
show() {
    say "the end of $1:"
    tail -n 20 "$1" | sed 's/^/    /' >&2
}

# Wait until something accepts connections on 127.0.0.1:$1; give up (1) if
# process $2 ends first or after 30 s.
wait_for_port() {
    local tries
    for ((tries = 0; tries < 300; tries++)); do
        if (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# Wait until serve.py on 127.0.0.1:$1 answers GET /health with 200, that
# is, until it reaches the database; give up (1) if process $2 ends first or
# after 30 s. (No proxy: the request must go straight to the port.)
wait_healthy() {
    local tries
    for ((tries = 0; tries < 300; tries++)); do
        if "$python" -c '
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
opener.open(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=5)
' "$1" 2>/dev/null; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# --- PostgreSQL --------------------------------------------------------------------

say "starting PostgreSQL"
pg_started=yes # even half-started, it must be stopped
db_url=$("$here/postgres.sh" start "$pgdir")

# --- two serve.py --------------------------------------------------------------------

app_ports=()
for number in 1 2; do
    log=$work/serve-$number.log
    : >"$log"
    # One after the other: each creates the tables it does not find, and two
    # doing so at once on a new database could collide.
    (
        cd "$root"
        export WSGIAUTH_DATABASE_URL=$db_url
        exec "$python" serve.py --host 127.0.0.1 --port 0 --trusted-proxy 127.0.0.1 2>"$log"
    ) &
    app_pids+=($!)
    # --port 0: it picks a free port and logs "Serving on http://127.0.0.1:P".
    port=""
    for ((tries = 0; tries < 300; tries++)); do
        port=$(sed -n 's|.*Serving on http://127\.0\.0\.1:\([0-9]*\).*|\1|p' "$log")
        [[ -z $port ]] || break
        kill -0 "${app_pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $port ]] || ! wait_healthy "$port" "${app_pids[-1]}"; then
        say "serve.py number $number did not start"
        show "$log"
        exit 1
    fi
    app_ports+=("$port")
done

# --- nginx -----------------------------------------------------------------------------

prefix=$work/nginx
mkdir -p "$prefix"
LISTEN_PORT=$listen_port APP_PORT_1=${app_ports[0]} APP_PORT_2=${app_ports[1]} PREFIX=$prefix \
    "$python" - "$here/nginx.conf.template" "$prefix/nginx.conf" <<'EOF'
import os, string, sys
names = ("LISTEN_PORT", "APP_PORT_1", "APP_PORT_2", "PREFIX")
template = open(sys.argv[1]).read()
# safe_substitute leaves nginx's own $variables alone.
text = string.Template(template).safe_substitute({name: os.environ[name] for name in names})
left = [name for name in names if "${" + name + "}" in text]
assert not left and "${" not in text, f"placeholders left: {left}"
open(sys.argv[2], "w").write(text)
EOF
"$nginx" -c "$prefix/nginx.conf" -p "$prefix" -e stderr &
nginx_pid=$!
if ! wait_for_port "$listen_port" "$nginx_pid"; then
    say "nginx did not start on 127.0.0.1:$listen_port"
    [[ ! -s $prefix/error.log ]] || show "$prefix/error.log"
    exit 1
fi

cat <<EOF

  wsgiauth is on http://127.0.0.1:$listen_port
    nginx      127.0.0.1:$listen_port ($prefix/nginx.conf)
    serve.py   127.0.0.1:${app_ports[0]} and 127.0.0.1:${app_ports[1]} (--trusted-proxy 127.0.0.1)
    database   $db_url
    logs       $work (deleted at exit)

  Ctrl-C stops everything.

EOF

# Until Ctrl-C or SIGTERM (the traps), or until one of them ends by itself.
wait -n "$nginx_pid" "${app_pids[@]}" || true
say "a process ended by itself; stopping the rest"
for log in "$work"/serve-*.log "$prefix/error.log"; do
    show "$log"
done
exit 1

#!/bin/sh
# The README's two commands:
#
#   ./dev.sh serve [serve.py options]   run the service (./dev.sh serve --help)
#   ./dev.sh test [pytest options]      run the tests
#
# Both work on a fresh Debian 12 whose only Python is the system python3. That
# python3 refuses `pip install` outside a virtual environment (PEP 668,
# "externally-managed-environment"), so this script makes one in .venv, installs
# wsgiauth into it when setup.cfg has changed since the last time, and runs
# there. It prints each command before running it.
set -eu
cd "$(dirname "$0")"

run() {
    echo "+ $*" >&2
    "$@"
}

case "${1:-}" in
    serve) extras="" ;;
    test) extras="[test]" ;;
    *)
        echo "usage: ./dev.sh serve [serve.py options] | ./dev.sh test [pytest options]" >&2
        exit 2
        ;;
esac
command=$1
shift

if ! command -v python3 >/dev/null; then
    echo "dev.sh: python3 is missing; install it (Debian: apt-get install python3)" >&2
    exit 1
fi

if [ ! -x .venv/bin/python ]; then
    # Debian keeps venv's pip bootstrap, ensurepip, in a package of its own.
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
            run apt-get update -q
            run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
        else
            echo "dev.sh: python3 cannot make a virtual environment; install python3-venv (sudo apt-get install python3-venv) and run again" >&2
            exit 1
        fi
    fi
    rm -rf .venv # what a failed attempt may have left
    run python3 -m venv .venv
fi

# One stamp per command: a copy of the setup.cfg that was installed.
stamp=.venv/installed-$command.cfg
if ! cmp -s setup.cfg "$stamp"; then
    run .venv/bin/python -m pip install --disable-pip-version-check -q -e ".$extras"
    cp setup.cfg "$stamp"
fi

if [ "$command" = serve ]; then
    echo "+ .venv/bin/python serve.py $*" >&2
    exec .venv/bin/python serve.py "$@"
fi
echo "+ .venv/bin/python -m pytest $*" >&2
exec .venv/bin/python -m pytest "$@"

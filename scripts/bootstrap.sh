#!/usr/bin/env bash
# First-run set-up behind `make run` / `make test` / `make bench`: system packages
# (installed with apt when we are root, otherwise named in a clear message) and the
# virtualenv in .venv (re-installed when pyproject.toml changes).
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"   # run | test | bench

missing=()
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
pg_bindir() {
    for v in 17 16 15; do [ -x "/usr/lib/postgresql/$v/bin/initdb" ] && { echo "/usr/lib/postgresql/$v/bin"; return; }; done
    command -v initdb >/dev/null 2>&1 && dirname "$(readlink -f "$(command -v initdb)")"
}

bindir="$(pg_bindir)"
if [ -z "$bindir" ]; then
    missing+=("postgresql")
    pgver=15  # what Debian 12's postgresql package brings
else
    pgver=$(basename "$(dirname "$bindir")")
fi
need_cmd psql postgresql-client
if [ "$mode" != run ]; then
    [ -f "/usr/share/postgresql/$pgver/extension/pgtap.control" ] || missing+=("postgresql-$pgver-pgtap")
    need_cmd caddy caddy
    need_cmd prometheus prometheus
    need_cmd redis-server redis-server
    need_cmd chromium chromium  # the dashboard's browser tests (Playwright drives it)
fi
if [ "$mode" = bench ]; then
    need_cmd wrk wrk
    need_cmd hyperfine hyperfine
    need_cmd pgbench postgresql-contrib
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing system packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${missing[@]}" >/dev/null
        # Debian's postgresql package creates and may start a default cluster; we never use it.
        if command -v pg_lsclusters >/dev/null 2>&1; then
            pg_lsclusters -h 2>/dev/null | awk '$4=="online"{print $1, $2}' | while read -r v c; do
                pg_ctlcluster "$v" "$c" stop || true
            done
        fi
    else
        echo "missing system packages: ${missing[*]}" >&2
        echo "install them with: sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is required (found: $("$python" --version 2>&1))" >&2
    exit 1
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
extras=""; [ "$mode" = test ] && extras="[test]"; [ "$mode" = bench ] && extras="[test,bench]"
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)-$mode"
if [ ! -f "$stamp" ]; then
    echo "installing Python dependencies into .venv ..."
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e ".$extras"
    touch "$stamp"
fi

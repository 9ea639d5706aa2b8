#!/usr/bin/env bash
# First-run set-up behind `make run` / `make test` / `make bench` / `make lock`: system
# packages (installed with apt when we are root, otherwise named in a clear message), uv
# (pinned, from PyPI, into .tools/) and the virtualenv in .venv, installed from uv.lock
# exactly: the same versions on every machine until `make lock` changes the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"   # run | test | bench | uv (uv alone, for `make lock`)
UV_VERSION=0.13.9
uv=.tools/uv/bin/uv

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "Python 3.11 or newer is required (found: $("$python" --version 2>&1))" >&2
    exit 1
fi

if [ "$("$uv" --version 2>/dev/null | cut -d' ' -f1-2)" != "uv $UV_VERSION" ]; then
    echo "installing uv $UV_VERSION into .tools/uv ..."
    rm -rf .tools/uv
    # (without the notes about this machine's optional local package folders)
    "$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore \
        --target .tools/uv "uv==$UV_VERSION" 2> >(grep -v "is ignored: it is neither" >&2)
fi
[ "$mode" = uv ] && exit 0

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
    need_cmd node nodejs  # postgrest-js, checked against the server (tests/api/postgrest_js)
    need_cmd npm npm
    [ -x /usr/sbin/pgbouncer ] || need_cmd pgbouncer pgbouncer  # tests/api/test_pgbouncer.py
fi
if [ "$mode" = bench ]; then
    need_cmd wrk wrk
    need_cmd hyperfine hyperfine
    need_cmd pgbench postgresql-contrib
    [ -x /usr/sbin/pgbouncer ] || need_cmd pgbouncer pgbouncer  # bench.scale_out
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

# A .venv made by another Python, or in another folder (its scripts start with that
# folder's path), cannot be repaired in place: rebuild it.
interpreter=$("$python" -c 'import os, sys; print(os.path.realpath(sys.executable), sys.version.split()[0])')
made_for="$(pwd -P)/.venv $interpreter"
if [ -e .venv ] && [ "$(cat .venv/.made-for 2>/dev/null)" != "$made_for" ]; then
    echo "rebuilding .venv: it was made for $(cat .venv/.made-for 2>/dev/null || echo 'another set-up'), not $made_for"
    rm -rf .venv
fi

extras=()
case "$mode" in
    test) extras=(--extra test) ;;
    bench) extras=(--extra test --extra bench) ;;
    run) extras=(--inexact) ;;  # keep what test/bench installed; add what run needs
esac
stamp=".venv/.synced-$(cat uv.lock pyproject.toml | sha256sum | cut -c1-16)-$mode"
if [ ! -f "$stamp" ]; then
    echo "installing Python dependencies from uv.lock into .venv ..."
    [ -n "${HOME:-}" ] || export UV_CACHE_DIR="$PWD/.tools/uv-cache"
    export UV_LINK_MODE=copy  # the cache is often on another file system: no hardlink warnings
    if ! UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=.venv \
        "$uv" sync --locked --quiet --python "${interpreter%% *}" "${extras[@]}"; then
        echo "uv sync failed. If it says the lockfile needs to be updated, pyproject.toml" >&2
        echo "changed since uv.lock was written: run \`make lock\` and commit uv.lock." >&2
        exit 1
    fi
    echo "$made_for" > .venv/.made-for
    rm -f .venv/.synced-*
    touch "$stamp"
fi

# postgrest-js for its compatibility test, exactly as package-lock.json pins it
js=tests/api/postgrest_js
if [ "$mode" != run ] && [ -f "$js/package-lock.json" ]; then
    js_stamp="$js/node_modules/.synced-$(sha256sum "$js/package-lock.json" | cut -c1-16)"
    if [ ! -f "$js_stamp" ]; then
        echo "installing postgrest-js from $js/package-lock.json ..."
        npm ci --prefix "$js" --no-audit --no-fund --loglevel=error >/dev/null
        touch "$js_stamp"
    fi
fi

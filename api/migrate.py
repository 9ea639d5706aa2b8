"""The migrator: versioned migrations, then repeatable function files.

``sql/migrations/NNNN_name.up.sql`` (golang-migrate naming) are applied in version order,
each in its own transaction, and recorded with name, checksum and time. An applied file
must never change. Then every ``sql/functions/**.sql`` file is applied, in path order and
each in its own transaction, when its checksum differs from the one recorded: a file with
an error rolls back, so the previous version of its functions stays callable.

Two migrators at once are serialised by an advisory lock: the second one waits, then
finds nothing left to do.

Ownership: from migration 0062 on, what a file creates in our schemas is handed to the
NOLOGIN role ``metrics_owner`` in the file's own transaction (``metrics_rpc.claim_ownership``),
so SECURITY DEFINER functions never run as the migrating superuser, new ones included.
(``CREATE OR REPLACE`` keeps the owner of an existing function by itself.)
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

SQL_ROOT = Path(__file__).resolve().parent.parent / "sql"
_MIGRATION_NAME = re.compile(r"^(?P<version>\d+)_(?P<name>[A-Za-z0-9_\-]+)\.up\.sql$")
_LOCK_KEY = 0x6D657472  # "metr": one advisory lock key for every migrator of a database
# after each file: new objects in our schemas go to metrics_owner (once 0062 created it)
_CLAIM_OWNERSHIP_SQL = """
do $$ begin
    if to_regprocedure('metrics_rpc.claim_ownership()') is not null then
        perform metrics_rpc.claim_ownership();
    end if;
end $$
"""
_STATE_SQL = """
create schema if not exists metrics_rpc;
revoke all on schema metrics_rpc from public;
create table if not exists metrics_rpc.schema_migrations (
    version    bigint primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now()
);
create table if not exists metrics_rpc.function_units (
    path       text primary key,
    checksum   text not null,
    applied_at timestamptz not null default now()
);
"""

Echo = Callable[[str], None]


class MigrationError(Exception):
    """A migration or function file cannot be applied; the message names the file (exit 1)."""


class DatabaseUnreachable(Exception):
    """The database cannot be reached or refuses us (exit 2)."""


@dataclass(frozen=True)
class SqlFile:
    key: str  # version number for migrations, relative path for function files
    label: str  # what we print: the file's path relative to sql/
    path: Path
    sql: str
    checksum: str


@dataclass(frozen=True)
class StatusLine:
    kind: str  # "migration" | "function"
    label: str
    state: str  # "applied" | "pending" | "changed" | "missing file"


def _read(path: Path, key: str, root: Path) -> SqlFile:
    data = path.read_bytes()
    return SqlFile(
        key=key,
        label=str(path.relative_to(root)),
        path=path,
        sql=data.decode("utf-8"),
        checksum=hashlib.sha256(data).hexdigest(),
    )


def load_migrations(root: Path = SQL_ROOT) -> list[SqlFile]:
    found: dict[int, SqlFile] = {}
    for path in sorted((root / "migrations").glob("*.up.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if not match:
            raise MigrationError(f"{path}: not named NNNN_name.up.sql")
        version = int(match["version"])
        if version in found:
            raise MigrationError(f"{path}: version {version} is also {found[version].path.name}")
        found[version] = _read(path, str(version), root)
    return [found[v] for v in sorted(found)]


def load_function_units(root: Path = SQL_ROOT) -> list[SqlFile]:
    base = root / "functions"
    return [
        _read(path, str(path.relative_to(base)), root) for path in sorted(base.rglob("*.sql"))
    ]


def _error_line(sql: str, exc: asyncpg.PostgresError) -> str:
    """``line N: message`` (plus PostgreSQL's context) for an error raised by ``sql``."""
    where = ""
    position = getattr(exc, "position", None)
    if position and str(position).isdigit():
        offset = int(position) - 1
        line = sql.count("\n", 0, offset) + 1
        where = f"line {line}: "
    detail = getattr(exc, "context", None) or getattr(exc, "detail", None)
    message = f"{where}{exc.__class__.__name__}: {exc}"
    return f"{message} ({detail})" if detail else message


async def connect(dsn: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(dsn, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else exc.__class__.__name__
        raise DatabaseUnreachable(f"cannot connect to the database: {reason}") from exc


async def _state_exists(conn: asyncpg.Connection) -> bool:
    found = await conn.fetchval("select to_regclass('metrics_rpc.function_units') is not null")
    return bool(found)


async def _applied(conn: asyncpg.Connection) -> tuple[dict[str, str], dict[str, str]]:
    if not await _state_exists(conn):
        return {}, {}
    migrations = {
        str(r["version"]): r["checksum"]
        for r in await conn.fetch("select version, checksum from metrics_rpc.schema_migrations")
    }
    functions = {
        r["path"]: r["checksum"]
        for r in await conn.fetch("select path, checksum from metrics_rpc.function_units")
    }
    return migrations, functions


def _check_history(migrations: Sequence[SqlFile], applied: dict[str, str]) -> None:
    for migration in migrations:
        recorded = applied.get(migration.key)
        if recorded is not None and recorded != migration.checksum:
            raise MigrationError(
                f"{migration.label}: already applied, but the file has changed since "
                "(migrations are append-only: add a new migration instead)"
            )


def _state(recorded: str | None, checksum: str) -> str:
    return "pending" if recorded is None else "applied" if recorded == checksum else "changed"


async def status(dsn: str, root: Path = SQL_ROOT) -> list[StatusLine]:
    conn = await connect(dsn)
    try:
        applied_migrations, applied_functions = await _applied(conn)
    finally:
        await conn.close()
    lines: list[StatusLine] = []
    migrations = load_migrations(root)
    for m in migrations:
        recorded = applied_migrations.get(m.key)
        state = _state(recorded, m.checksum)
        lines.append(StatusLine("migration", m.label, state))
    known = {m.key for m in migrations}
    lines += [
        StatusLine("migration", f"version {v}", "missing file")
        for v in sorted(applied_migrations, key=int)
        if v not in known
    ]
    for f in load_function_units(root):
        recorded = applied_functions.get(f.key)
        state = _state(recorded, f.checksum)
        lines.append(StatusLine("function", f.label, state))
    return lines


async def migrate(
    dsn: str,
    root: Path = SQL_ROOT,
    *,
    dry_run: bool = False,
    echo: Echo = print,
    notify_channel: str | None = "pgrst",
    authenticator_password: str | None = None,
) -> int:
    """Apply what is pending; return how many files were (or, dry-run, would be) applied."""
    migrations = load_migrations(root)
    functions = load_function_units(root)
    conn = await connect(dsn)
    try:
        await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
        try:
            applied_migrations, applied_functions = await _applied(conn)
            _check_history(migrations, applied_migrations)
            pending_migrations = [m for m in migrations if m.key not in applied_migrations]
            pending_functions = [
                f for f in functions if applied_functions.get(f.key) != f.checksum
            ]
            if dry_run:
                for item in (*pending_migrations, *pending_functions):
                    echo(f"would apply {item.label}")
                if not pending_migrations and not pending_functions:
                    echo("nothing to do")
                return len(pending_migrations) + len(pending_functions)
            await conn.execute(_STATE_SQL)
            for migration in pending_migrations:
                await _apply(conn, migration, echo, record=(
                    "insert into metrics_rpc.schema_migrations (version, name, checksum) "
                    "values ($1::bigint, $2, $3)",
                    int(migration.key), migration.path.name, migration.checksum,
                ))
            for unit in pending_functions:
                await _apply(conn, unit, echo, record=(
                    "insert into metrics_rpc.function_units (path, checksum) values ($1, $2) "
                    "on conflict (path) do update "
                    "set checksum = excluded.checksum, applied_at = now()",
                    unit.key, unit.checksum,
                ))
            if authenticator_password:
                await _set_authenticator_password(conn, authenticator_password)
            changed = len(pending_migrations) + len(pending_functions)
            if changed and notify_channel:
                await conn.execute("select pg_notify($1, 'reload schema')", notify_channel)
            if not changed:
                echo("nothing to do")
            return changed
        finally:
            await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)
    finally:
        await conn.close()


async def _apply(
    conn: asyncpg.Connection, item: SqlFile, echo: Echo, record: tuple[object, ...]
) -> None:
    started = time.perf_counter()
    statement, *args = record
    try:
        async with conn.transaction():
            await conn.execute(item.sql)
            await conn.execute(_CLAIM_OWNERSHIP_SQL)
            await conn.execute(str(statement), *args)
    except asyncpg.PostgresError as exc:
        raise MigrationError(f"{item.label}: {_error_line(item.sql, exc)}") from exc
    echo(f"applied {item.label} ({(time.perf_counter() - started) * 1000:.0f} ms)")


async def _set_authenticator_password(conn: asyncpg.Connection, password: str) -> None:
    # ALTER ROLE takes no bind parameters: quote the literal in the server.
    statement = await conn.fetchval(
        "select format('alter role authenticator password %L', $1::text)", password
    )
    await conn.execute(statement)

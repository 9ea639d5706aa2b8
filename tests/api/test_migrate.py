"""The migrator's rules, each shown against a real database (api/migrate.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api import migrate as m
from api.pgcluster import free_port
from tests.pgfixtures import ROOT, DbInfo


def _write(root: Path, relpath: str, text: str) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def sql_root(tmp_path: Path) -> Path:
    _write(tmp_path, "migrations/0001_things.up.sql",
           "create schema app;\ncreate table app.things (id int primary key);\n")
    _write(tmp_path, "migrations/0002_more.up.sql",
           "alter table app.things add column name text;\n")
    _write(tmp_path, "functions/app/count_things.sql",
           "create or replace function app.count_things() returns int\n"
           "language sql stable as $$ select 1 $$;\n")
    return tmp_path


@pytest.fixture
def empty_db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("mig", empty=True)
    yield info
    info.drop()


def run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", "migrate", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
    )


def test_from_empty_then_rerun_is_noop(empty_db: DbInfo, sql_root: Path) -> None:
    lines: list[str] = []
    assert run(m.migrate(empty_db.dsn, sql_root, echo=lines.append)) == 3
    assert [line.split(" (")[0] for line in lines] == [
        "applied migrations/0001_things.up.sql",
        "applied migrations/0002_more.up.sql",
        "applied functions/app/count_things.sql",
    ]
    assert empty_db.psql("select app.count_things()") == "1"
    recorded = empty_db.psql(
        "select string_agg(version || ':' || name, ',' order by version) "
        "from metrics_rpc.schema_migrations"
    )
    assert recorded == "1:0001_things.up.sql,2:0002_more.up.sql"
    again: list[str] = []
    assert run(m.migrate(empty_db.dsn, sql_root, echo=again.append)) == 0
    assert again == ["nothing to do"]


def test_dry_run_changes_nothing(empty_db: DbInfo, sql_root: Path) -> None:
    lines: list[str] = []
    assert run(m.migrate(empty_db.dsn, sql_root, dry_run=True, echo=lines.append)) == 3
    assert lines[0] == "would apply migrations/0001_things.up.sql"
    assert empty_db.psql("select to_regnamespace('app') is null "
                         "and to_regnamespace('metrics_rpc') is null") == "t"


def test_status_lists_applied_pending_changed(empty_db: DbInfo, sql_root: Path) -> None:
    run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    _write(sql_root, "migrations/0003_new.up.sql", "select 1;")
    _write(sql_root, "functions/app/count_things.sql",
           "create or replace function app.count_things() returns int\n"
           "language sql stable as $$ select 2 $$;\n")
    states = {line.label: line.state for line in run(m.status(empty_db.dsn, sql_root))}  # type: ignore[attr-defined]
    assert states == {
        "migrations/0001_things.up.sql": "applied",
        "migrations/0002_more.up.sql": "applied",
        "migrations/0003_new.up.sql": "pending",
        "functions/app/count_things.sql": "changed",
    }


def test_changed_applied_migration_is_refused(empty_db: DbInfo, sql_root: Path) -> None:
    run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    _write(sql_root, "migrations/0002_more.up.sql", "alter table app.things add column x int;")
    _write(sql_root, "migrations/0003_new.up.sql", "create table app.other (id int);")
    with pytest.raises(m.MigrationError, match=r"migrations/0002_more\.up\.sql: already applied"):
        run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    # refused before anything ran: 0003 was not applied either
    assert empty_db.psql("select to_regclass('app.other') is null") == "t"


def test_sql_error_rolls_back_and_names_file_and_line(empty_db: DbInfo, sql_root: Path) -> None:
    _write(sql_root, "migrations/0003_broken.up.sql",
           "create table app.half (id int);\n\nselect * from app.no_such_table;\n")
    with pytest.raises(m.MigrationError) as caught:
        run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    message = str(caught.value)
    assert message.startswith("migrations/0003_broken.up.sql: line 3:")
    assert "no_such_table" in message
    assert empty_db.psql("select to_regclass('app.half') is null") == "t"  # rolled back
    assert empty_db.psql("select max(version) from metrics_rpc.schema_migrations") == "2"


def test_broken_function_file_keeps_previous_version(empty_db: DbInfo, sql_root: Path) -> None:
    run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    _write(sql_root, "functions/app/count_things.sql",
           "drop function app.count_things();\n"
           "create function app.count_things() returns int\n"
           "language sql stable as $$ select count(*) from app.missing $$;\n")
    with pytest.raises(m.MigrationError, match=r"functions/app/count_things\.sql: line 3"):
        run(m.migrate(empty_db.dsn, sql_root, echo=lambda _: None))
    assert empty_db.psql("select app.count_things()") == "1"
    assert run(m.status(empty_db.dsn, sql_root))[-1].state == "changed"  # type: ignore[index]


def test_concurrent_migrators_apply_once(empty_db: DbInfo, sql_root: Path) -> None:
    # the first migration holds the lock long enough for the second migrator to queue
    _write(sql_root, "migrations/0001_things.up.sql",
           "select pg_sleep(1);\ncreate schema app;\n"
           "create table app.things (id int primary key);\n")

    async def both() -> list[object]:
        return list(await asyncio.gather(
            m.migrate(empty_db.dsn, sql_root, echo=lambda _: None),
            m.migrate(empty_db.dsn, sql_root, echo=lambda _: None),
            return_exceptions=True,
        ))

    results = asyncio.run(both())
    assert sorted(results) == [0, 3], results  # type: ignore[type-var]


def test_unreachable_database_exits_2_with_one_line() -> None:
    result = cli("--db-uri", f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_dry_run_on_the_real_files(empty_db: DbInfo) -> None:
    result = cli("--db-uri", empty_db.dsn, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "would apply migrations/0001_roles.up.sql" in result.stdout
    assert empty_db.psql("select to_regnamespace('metrics_rpc') is null") == "t"


def test_cli_sql_error_exits_1_naming_the_file(empty_db: DbInfo, sql_root: Path) -> None:
    _write(sql_root, "migrations/0003_broken.up.sql", "select 1;\nselec 2;\n")
    result = cli("--db-uri", empty_db.dsn, "--sql-dir", str(sql_root))
    assert result.returncode == 1
    assert "migrations/0003_broken.up.sql: line 2:" in result.stderr
    assert "Traceback" not in result.stderr
    status = cli("--db-uri", empty_db.dsn, "--sql-dir", str(sql_root), "--status")
    assert "pending       migration migrations/0003_broken.up.sql" in status.stdout

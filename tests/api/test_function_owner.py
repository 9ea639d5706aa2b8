"""The migrator keeps our objects owned by ``metrics_owner`` (api/migrate.py, migration
0062): functions replaced by a changed file, new functions and new tables all end up with
that NOLOGIN owner, never with the migrating superuser."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

from api import migrate as m
from tests.pgfixtures import ROOT, DbInfo

NEW_FUNCTION = """
CREATE OR REPLACE FUNCTION api.owner_probe() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$ SELECT current_user::text $$;
REVOKE ALL ON FUNCTION api.owner_probe() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION api.owner_probe() TO web_anon;
"""


def owner_of(db: DbInfo, regprocedure: str) -> str:
    return db.psql(f"select pg_get_userbyid(proowner) from pg_proc "
                   f"where oid = '{regprocedure}'::regprocedure")


def test_new_and_changed_files_keep_metrics_owner(
    make_db: Callable[..., DbInfo], tmp_path: Path,
) -> None:
    db = make_db("owner")  # migrated from the repository's sql/
    root = tmp_path / "sql"
    shutil.copytree(ROOT / "sql", root)
    (root / "functions" / "zz_probe").mkdir()
    (root / "functions" / "zz_probe" / "owner_probe.sql").write_text(NEW_FUNCTION)
    changed = root / "functions" / "metrics" / "get_agg_metric.sql"
    changed.write_text(changed.read_text() + "\n-- changed: applied again\n")
    (root / "migrations" / "0999_probe_table.up.sql").write_text(
        "CREATE TABLE metrics.owner_probe (id int PRIMARY KEY);\n")

    applied = asyncio.run(m.migrate(db.dsn, root, echo=lambda _: None, notify_channel=None))

    assert applied == 3
    assert owner_of(db, "api.owner_probe()") == "metrics_owner"
    assert owner_of(
        db, "api.get_agg_metric(text,text,interval,timestamptz,timestamptz)") == "metrics_owner"
    assert db.psql("select pg_get_userbyid(relowner) from pg_class "
                   "where oid = 'metrics.owner_probe'::regclass") == "metrics_owner"
    # and the new function runs as its owner, not as the superuser that created it
    assert db.psql("set role web_anon; select api.owner_probe()") == "metrics_owner"

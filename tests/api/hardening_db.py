"""Test-only SQL for the hardening tests: a few functions in ``api`` and a canary table
that hostile requests try (and fail) to reach."""

from __future__ import annotations

from typing import Any

from api.config import Settings
from tests.api.apiserver import JWT_SECRET, api_settings
from tests.pgfixtures import DbInfo

__all__ = ["JWT_SECRET", "canary_intact", "install", "settings"]

HARDENING_SQL = """
create table public.canary (id int primary key);
insert into public.canary values (1);

create function api.hardening_echo(p_text text default null) returns json
language sql stable as $$
    select json_build_object(
        'text', p_text,
        'role', current_user,
        'headers', current_setting('request.headers', true)::json,
        'claims', current_setting('request.jwt.claims', true)::json)
$$;

create function api.hardening_rows() returns table (id int, name text)
language sql stable as $$ values (1, 'a'), (2, 'b'), (3, 'c') $$;

create function api.hardening_sleep(p_seconds float8) returns int
language sql stable as $$ select 1 from pg_sleep(p_seconds) $$;

revoke all on function api.hardening_echo(text), api.hardening_rows(),
    api.hardening_sleep(float8) from public;
grant execute on function api.hardening_echo(text), api.hardening_rows(),
    api.hardening_sleep(float8) to web_anon, writer;
"""


def settings(db: DbInfo, **overrides: Any) -> Settings:
    """``api_settings`` for a hardening database: schema ``api`` exposed, test secret
    (``JWT_SECRET``), rate limits off unless overridden."""
    return api_settings(db, db_schemas=("api",), **overrides)


def install(db: DbInfo) -> None:
    db.psql(HARDENING_SQL)


def canary_intact(db: DbInfo) -> bool:
    return db.psql("select count(*) from public.canary") == "1"

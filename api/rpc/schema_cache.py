"""The schema cache: every callable function of the exposed schemas, read from pg_catalog.

One immutable ``SchemaCache`` value, built by ``load_schema_cache`` and swapped whole on
reload (``SchemaCacheHolder``). Besides the functions it carries the per-role settings
(``ALTER ROLE … SET statement_timeout``): ``SET ROLE`` does not apply them, so the
transaction stage applies them itself when it switches a connection to a role.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import asyncpg
import msgspec

Shape = Literal["scalar", "composite", "setof_scalar", "setof_composite", "void"]
Volatility = Literal["immutable", "stable", "volatile"]
SINGLE_UNNAMED_TYPES = ("json", "jsonb", "text", "bytea", "xml")
_VOLATILITY: dict[str, Volatility] = {"i": "immutable", "s": "stable", "v": "volatile"}


class Arg(msgspec.Struct, frozen=True):
    name: str  # "" for the single unnamed json/jsonb/text/bytea argument
    type: str  # format_type(): valid SQL type syntax, schema-qualified when needed
    has_default: bool
    variadic: bool = False


class Column(msgspec.Struct, frozen=True):
    name: str
    type: str


class Function(msgspec.Struct, frozen=True):
    schema: str
    name: str
    args: tuple[Arg, ...]  # input arguments in declaration order
    shape: Shape
    return_type: str
    columns: tuple[Column, ...]  # result columns; one column named like the function for scalars
    volatility: Volatility
    comment: str | None = None
    rows_estimate: float = 0.0  # pg_proc.prorows: ROWS of a set-returning function
    # derived from ``args`` once, by ``build_function`` (overload resolution reads them)
    arg_names: frozenset[str] = frozenset()
    required_args: frozenset[str] = frozenset()
    single_unnamed: Arg | None = None  # the lone unnamed argument: takes the whole body
    # the function returns a base type, so its one result column is named by an alias
    # (a scalar's column is the function's name; a single OUT parameter's, its own)
    returns_base_type: bool = False
    # ``SET metrics_rpc.cache_control = '…'`` in its definition: its HTTP cache policy
    cache_control: str | None = None

    @property
    def returns_set(self) -> bool:
        return self.shape in ("setof_scalar", "setof_composite")

    def column(self, name: str) -> Column | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None

    def signature(self) -> str:
        """``api.f(a => integer, b => text)`` as PostgREST lists overloads."""
        params = ", ".join(f"{a.name} => {a.type}" for a in self.args)
        return f"{self.schema}.{self.name}({params})"


class SchemaCache(msgspec.Struct, frozen=True):
    functions: dict[tuple[str, str], tuple[Function, ...]]  # (schema, name) → overloads
    role_settings: dict[str, tuple[tuple[str, str], ...]]  # role → ((setting, value), …)
    default_settings: dict[str, str]  # the authenticator's own value of every such setting
    # role → what session_settings returns, computed once (a role switch reads it)
    _session_settings: dict[str, tuple[tuple[str, str], ...]] = {}

    def overloads(self, schema: str, name: str) -> tuple[Function, ...]:
        return self.functions.get((schema, name), ())

    def names_in(self, schema: str) -> list[str]:
        return sorted({name for (sch, name) in self.functions if sch == schema})

    def all_functions(self) -> Iterable[Function]:
        for (_, _), overloads in sorted(self.functions.items()):
            yield from overloads

    def session_settings(self, role: str) -> tuple[tuple[str, str], ...]:
        """Settings to apply when a connection becomes ``role``: its own, others reset."""
        settings = self._session_settings.get(role)
        if settings is None:  # a role without settings of its own: all reset
            settings = _merge_settings(self.default_settings, ())
        return settings


def _merge_settings(defaults: Mapping[str, str],
                    own: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    mine = dict(own)
    return tuple(sorted((name, mine.get(name, value)) for name, value in defaults.items()))


# --- loading ------------------------------------------------------------------------------

FUNCTIONS_SQL = """
select n.nspname::text as schema, p.proname::text as name,
       p.provolatile::text as volatility, p.proretset as retset, p.prorows::float8 as rows,
       d.description as comment,
       coalesce(p.proargnames, '{}'::text[]) as arg_names,
       coalesce(p.proargmodes::text[], '{}'::text[]) as arg_modes,
       -- character(n) and bit(n) lose their length here (format_type gives length 1), so
       -- arguments of those types are cast to the varying types, as PostgREST does
       array(select case u.t when 'bpchar'::regtype then 'character varying'
                             when 'bpchar[]'::regtype then 'character varying[]'
                             when 'bit'::regtype then 'bit varying'
                             when 'bit[]'::regtype then 'bit varying[]'
                             else format_type(u.t, null) end
             from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality u(t, i)
             order by u.i) as arg_types,
       p.pronargdefaults::int as n_defaults,
       (select substr(c, length('metrics_rpc.cache_control=') + 1)
        from unnest(p.proconfig) c
        where split_part(c, '=', 1) = 'metrics_rpc.cache_control') as cache_control,
       format_type(p.prorettype, null) as return_type,
       rt.typtype::text as return_typtype,
       array(select a.attname::text from pg_attribute a
             where a.attrelid = rt.typrelid and a.attnum > 0 and not a.attisdropped
             order by a.attnum) as comp_names,
       array(select format_type(a.atttypid, a.atttypmod) from pg_attribute a
             where a.attrelid = rt.typrelid and a.attnum > 0 and not a.attisdropped
             order by a.attnum) as comp_types
from pg_proc p
join pg_namespace n on n.oid = p.pronamespace
-- a domain's base type (domains over domains too): a domain over a composite type
-- returns that type's columns
join lateral (
  with recursive chain(oid, base) as (
    select t.oid, t.typbasetype from pg_type t where t.oid = p.prorettype
    union all
    select t.oid, t.typbasetype from chain c join pg_type t on t.oid = c.base
  )
  select oid from chain where base = 0
) as b on true
join pg_type rt on rt.oid = b.oid
left join pg_description d
       on d.objoid = p.oid and d.classoid = 'pg_proc'::regclass and d.objsubid = 0
where n.nspname = any($1::text[])
  and p.prokind = 'f'
  and p.prorettype <> 'trigger'::regtype
order by n.nspname, p.proname, p.oid
"""

# Role-level settings a session may set (context 'user' or custom "x.y" names); the
# database-specific ones win over the ones for all databases.
ROLE_SETTINGS_SQL = """
select r.rolname::text as role, split_part(kv, '=', 1) as name,
       substr(kv, strpos(kv, '=') + 1) as value
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as kv
where s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
  and r.rolname <> current_user
  and (split_part(kv, '=', 1) like '%.%'
       or exists (select 1 from pg_settings g
                  where g.name = split_part(kv, '=', 1) and g.context = 'user'))
order by r.rolname, s.setdatabase
"""

DEFAULT_SETTINGS_SQL = """
select n as name, coalesce(current_setting(n, true), '') as value from unnest($1::text[]) n
"""


def build_function(row: Mapping[str, Any]) -> Function | None:
    """One ``FUNCTIONS_SQL`` row as a ``Function``; ``None`` when it cannot be exposed."""
    types: list[str] = list(row["arg_types"])
    modes: list[str] = list(row["arg_modes"]) or ["i"] * len(types)
    names: list[str] = list(row["arg_names"]) + [""] * (len(types) - len(row["arg_names"]))
    inputs = [(n, t, m) for n, t, m in zip(names, types, modes, strict=False) if m in "ibv"]
    outputs = [Column(n, t) for n, t, m in zip(names, types, modes, strict=False) if m in "obt"]
    n_defaults: int = row["n_defaults"]
    args = tuple(
        Arg(name=n, type=t, has_default=i >= len(inputs) - n_defaults, variadic=m == "v")
        for i, (n, t, m) in enumerate(inputs)
    )
    unnamed = [a for a in args if a.name == ""]
    if unnamed and not (len(args) == 1 and args[0].type in SINGLE_UNNAMED_TYPES):
        return None
    retset: bool = row["retset"]
    return_type: str = row["return_type"]
    name: str = row["name"]
    columns: tuple[Column, ...]
    if return_type == "void":
        shape: Shape = "void"
        columns = ()
    elif row["return_typtype"] == "c":
        shape = "setof_composite" if retset else "composite"
        columns = tuple(Column(n, t) for n, t in zip(row["comp_names"], row["comp_types"],
                                                    strict=False))
    elif return_type == "record" and outputs:
        shape = "setof_composite" if retset else "composite"
        columns = tuple(outputs)
    elif len(outputs) == 1:
        # a single OUT/INOUT parameter (or RETURNS TABLE with one column): an object per
        # row, keyed by the parameter's name, as PostgREST answers
        shape = "setof_composite" if retset else "composite"
        columns = tuple(outputs)
    else:
        shape = "setof_scalar" if retset else "scalar"
        columns = (Column(name, return_type),)
    return Function(
        schema=row["schema"], name=name, args=args, shape=shape,
        return_type=return_type, columns=columns,
        volatility=_VOLATILITY.get(row["volatility"], "volatile"),
        comment=row["comment"], rows_estimate=float(row["rows"] or 0.0),
        arg_names=frozenset(a.name for a in args),
        required_args=frozenset(a.name for a in args if not a.has_default),
        single_unnamed=args[0] if len(args) == 1 and args[0].name == "" else None,
        returns_base_type=shape != "void" and row["return_typtype"] != "c"
        and not (return_type == "record" and outputs),
        cache_control=row.get("cache_control") or None,
    )


def build_schema_cache(
    function_rows: Iterable[Mapping[str, Any]],
    role_setting_rows: Iterable[Mapping[str, Any]] = (),
    default_settings: Mapping[str, str] | None = None,
) -> SchemaCache:
    """The cache from catalog rows: pure, so it is tested without a database."""
    functions: dict[tuple[str, str], list[Function]] = {}
    for row in function_rows:
        fn = build_function(row)
        if fn is not None:
            functions.setdefault((fn.schema, fn.name), []).append(fn)
    role_settings: dict[str, dict[str, str]] = {}
    for row in role_setting_rows:
        role_settings.setdefault(row["role"], {})[row["name"]] = row["value"]
    defaults = dict(default_settings or {})
    own = {r: tuple(sorted(s.items())) for r, s in role_settings.items()}
    return SchemaCache(
        functions={key: tuple(fns) for key, fns in functions.items()},
        role_settings=own,
        default_settings=defaults,
        _session_settings={r: _merge_settings(defaults, s) for r, s in own.items()},
    )


async def load_schema_cache(conn: Any, schemas: Sequence[str]) -> SchemaCache:
    """Read the catalog over ``conn`` (an asyncpg connection of the authenticator role)."""
    function_rows = await conn.fetch(FUNCTIONS_SQL, list(schemas))
    setting_rows = await conn.fetch(ROLE_SETTINGS_SQL)
    names = sorted({r["name"] for r in setting_rows})
    default_rows = await conn.fetch(DEFAULT_SETTINGS_SQL, names) if names else []
    return build_schema_cache(
        function_rows, setting_rows, {r["name"]: r["value"] for r in default_rows}
    )


class SchemaCacheHolder:
    """The current cache (``None`` before the first load), replaced whole on reload."""

    def __init__(self) -> None:
        self.current: SchemaCache | None = None

    def replace(self, cache: SchemaCache) -> None:
        self.current = cache


class SchemaCacheLoader:
    """Loads the cache at start and on ``NOTIFY <channel>, 'reload schema'``.

    Holds one dedicated connection (never switched to another role) that LISTENs; when it
    drops (database restart) it reconnects with backoff and reloads. A failed reload keeps
    the previous cache. ``on_loaded`` receives every new cache; ``on_event`` a
    ``SchemaCacheLoaded`` / ``DatabaseUnavailable`` event for observability.
    """

    PING_SECONDS = 5.0

    def __init__(
        self,
        db_uri: str,
        schemas: Sequence[str],
        channel: str | None,
        on_loaded: Any,
        on_event: Any,
        statement_cache: bool = True,  # off behind PgBouncer (PGRST_DB_PREPARED_STATEMENTS)
    ) -> None:
        self._statement_cache_size = 100 if statement_cache else 0
        self._db_uri = db_uri
        self._schemas = tuple(schemas)
        self._channel = channel
        self._on_loaded = on_loaded
        self._on_event = on_event
        self._reload = asyncio.Event()
        self.connected = False

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.strip() in ("", "reload schema"):
            self._reload.set()

    async def run(self) -> None:
        from api.observability import DatabaseUnavailable

        backoff = 0.25
        while True:
            try:
                conn = await asyncpg.connect(
                    self._db_uri, timeout=5, statement_cache_size=self._statement_cache_size
                )
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.connected = False
                self._on_event(DatabaseUnavailable(str(exc) or type(exc).__name__))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            backoff = 0.25
            self.connected = True
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            try:
                if self._channel:
                    await conn.add_listener(self._channel, self._on_notify)
                self._reload.set()  # (re)connected: the schema may have changed meanwhile
                await self._serve(conn, lost)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._on_event(DatabaseUnavailable(str(exc) or type(exc).__name__))
            finally:
                self.connected = False
                with contextlib.suppress(Exception):
                    conn.terminate()

    async def _serve(self, conn: Any, lost: asyncio.Event) -> None:
        while not lost.is_set() and not conn.is_closed():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._reload.wait(), self.PING_SECONDS)
            if self._reload.is_set():
                self._reload.clear()
                await self._load(conn)
            else:
                await conn.fetchval("select 1", timeout=self.PING_SECONDS)

    async def _load(self, conn: Any) -> None:
        from api.observability import SchemaCacheLoaded

        started = time.perf_counter()
        try:
            cache = await load_schema_cache(conn, self._schemas)
        except (asyncpg.PostgresError, ValueError, KeyError) as exc:
            self._on_event(SchemaCacheLoaded(False, time.perf_counter() - started, error=str(exc)))
            return
        self._on_loaded(cache)
        count = sum(len(v) for v in cache.functions.values())
        self._on_event(SchemaCacheLoaded(True, time.perf_counter() - started, count))

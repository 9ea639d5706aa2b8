"""The one place that reads configuration.

PostgREST's own environment names where PostgREST has the setting (so our server can
replace a PostgREST container by changing the image only), ``METRICS_RPC_*`` otherwise.
An optional config file in PostgREST's format (``db-uri = "..."``, which is valid TOML)
is read first; environment variables override it, as in PostgREST.
"""

from __future__ import annotations

import enum
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
from limits import RateLimitItem, parse_many


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


# --- the typed values of settings that are more than a string or a number --------------
# Each has ``parse(text)``, raising ValueError with a short reason; ``Settings`` turns a
# string given for such a field into the type (so a bad value fails at start, naming the
# variable), whichever way the settings were built.


class TxEnd(enum.Enum):
    """``PGRST_DB_TX_END``: how a call's transaction ends, and whether ``Prefer: tx=``
    may change that."""

    COMMIT = "commit"
    COMMIT_ALLOW_OVERRIDE = "commit-allow-override"
    ROLLBACK = "rollback"
    ROLLBACK_ALLOW_OVERRIDE = "rollback-allow-override"

    @classmethod
    def parse(cls, text: str) -> TxEnd:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"must be one of {', '.join(m.value for m in cls)}") from None

    @property
    def rollback(self) -> bool:
        return self in (TxEnd.ROLLBACK, TxEnd.ROLLBACK_ALLOW_OVERRIDE)

    @property
    def allow_override(self) -> bool:
        return self in (TxEnd.COMMIT_ALLOW_OVERRIDE, TxEnd.ROLLBACK_ALLOW_OVERRIDE)


class QualifiedName(msgspec.Struct, frozen=True):
    """A function name such as ``PGRST_DB_PRE_REQUEST``: ``schema.fn`` or ``fn`` (then the
    first exposed schema, filled in by ``Settings``)."""

    schema: str | None
    name: str

    @classmethod
    def parse(cls, text: str) -> QualifiedName | None:
        text = text.strip()
        if not text:
            return None
        schema, dot, name = text.rpartition(".")
        name = name.strip('"')
        if not name or (dot and not schema.strip('"')):
            raise ValueError("expected fn or schema.fn")
        return cls(schema.strip('"') if dot else None, name)


_JSPATH_TOKEN = re.compile(
    r"""\.(?:"(?P<quoted>[^"]*)"|(?P<key>[A-Za-z0-9_$@-]+))"""
    r"""|\[(?P<index>-?\d+)\]"""
    r"""|\[\?\(@\s*(?P<op>==|!=|\^==|==\^|\*==)\s*"(?P<value>[^"]*)"\s*\)\]"""
)
_JSPATH_FILTERS: dict[str, Callable[[str, str], bool]] = {
    "==": lambda item, value: item == value,
    "!=": lambda item, value: item != value,
    "^==": lambda item, value: item.startswith(value),
    "==^": lambda item, value: item.endswith(value),
    "*==": lambda item, value: value in item,
}

JsPathStep = tuple[str, str | int]  # ("key", name) | ("index", n) | (op, value) for a filter


def parse_jspath(path: str) -> tuple[JsPathStep, ...]:
    """PostgREST's role-claim JSPath: ``.role``, ``$.a."b.c"[0]``, ``.roles[?(@ ^== "x")]``."""
    text = path.strip()
    text = text.removeprefix("$")
    steps: list[JsPathStep] = []
    pos = 0
    while pos < len(text):
        match = _JSPATH_TOKEN.match(text, pos)
        if match is None:
            raise ConfigError(f"PGRST_JWT_ROLE_CLAIM_KEY: cannot parse {path!r} at {pos}")
        if match["quoted"] is not None:
            steps.append(("key", match["quoted"]))
        elif match["key"] is not None:
            steps.append(("key", match["key"]))
        elif match["index"] is not None:
            steps.append(("index", int(match["index"])))
        else:
            steps.append((match["op"], match["value"]))
        pos = match.end()
    if not steps:
        raise ConfigError(f"PGRST_JWT_ROLE_CLAIM_KEY: empty path {path!r}")
    return tuple(steps)


def walk_jspath(value: Any, steps: Sequence[JsPathStep]) -> Any:
    """The value at ``steps`` inside ``value``, or None when any step is missing."""
    for kind, arg in steps:
        if kind == "key" and isinstance(value, dict):
            value = value.get(arg)
        elif kind == "index" and isinstance(value, list) and isinstance(arg, int):
            value = value[arg] if -len(value) <= arg < len(value) else None
        elif kind in _JSPATH_FILTERS and isinstance(value, list) and isinstance(arg, str):
            test = _JSPATH_FILTERS[kind]
            value = next((v for v in value if isinstance(v, str) and test(v, arg)), None)
        else:
            return None
        if value is None:
            return None
    return value


class JSPath(msgspec.Struct, frozen=True):
    """``PGRST_JWT_ROLE_CLAIM_KEY`` parsed: where the role is in the JWT claims."""

    text: str
    steps: tuple[JsPathStep, ...]

    @classmethod
    def parse(cls, text: str) -> JSPath:
        return cls(text, parse_jspath(text))

    def find(self, value: Any) -> Any:
        return walk_jspath(value, self.steps)


class RateLimits(msgspec.Struct, frozen=True):
    """``METRICS_RPC_RATE_LIMITS`` parsed: budget name (a role, ``ingest``, ``default``) →
    its limits; no budgets means rate limiting is off, an empty tuple a role without limit."""

    text: str
    budgets: tuple[tuple[str, tuple[RateLimitItem, ...]], ...]

    @property
    def enabled(self) -> bool:
        return bool(self.budgets)

    def as_dict(self) -> dict[str, tuple[RateLimitItem, ...]]:
        return dict(self.budgets)

    @classmethod
    def parse(cls, text: str) -> RateLimits:
        """``web_anon=60/minute;writer=10/second,600/minute;ingest=120/minute``.

        ``off`` (or an empty string) disables rate limiting. A ``;``-segment without ``=``
        adds to the previous role, so ``web_anon=10/second;60/minute`` reads as intended.
        """
        stripped = text.strip()
        if stripped.lower() in ("", "off", "none", "false"):
            return cls(text, ())
        out: dict[str, list[RateLimitItem]] = {}
        current: str | None = None
        for segment in (s.strip() for s in stripped.split(";")):
            if not segment:
                continue
            role, eq, limit = segment.partition("=")
            if eq:
                current = role.strip()
                if not current:
                    raise ValueError(f"missing role name in {segment!r}")
            elif current is None:
                raise ValueError(f"expected role=limit, got {segment!r}")
            else:
                limit = segment
            limit = limit.strip()
            if limit.lower() in ("off", "none", "unlimited"):
                out.setdefault(current, [])
                continue
            try:
                items = parse_many(limit)
            except ValueError:
                raise ValueError(f"invalid limit {limit!r} for {current!r}") from None
            out.setdefault(current, []).extend(items)
        return cls(text, tuple((role, tuple(items)) for role, items in out.items()))


class Duration(msgspec.Struct, frozen=True):
    """A length of time such as ``METRICS_RPC_DB_REPLICA_MAX_LAG``: ``5s``, ``500ms``,
    ``2m`` or a plain number of seconds (the syntax of ``parse_duration``)."""

    seconds: float

    @classmethod
    def parse(cls, text: str) -> Duration:
        return cls(parse_duration(text))


class Workers(msgspec.Struct, frozen=True):
    """``METRICS_RPC_WORKERS``: server processes, a number or ``auto`` (one per CPU)."""

    count: int

    @classmethod
    def parse(cls, text: str) -> Workers:
        text = text.strip().lower()
        if text == "auto":
            return cls(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)
        if not text.isdigit() or int(text) < 1:
            raise ValueError("expected a number of at least 1, or auto")
        return cls(int(text))


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # --- database -----------------------------------------------------------------
    db_uri: str = ""  # PGRST_DB_URI: connection string of the authenticator role
    db_schemas: tuple[str, ...] = ("api",)  # PGRST_DB_SCHEMAS: exposed schemas, first is default
    db_anon_role: str = "web_anon"  # PGRST_DB_ANON_ROLE: role for requests without a JWT
    db_max_rows: int | None = None  # PGRST_DB_MAX_ROWS: cap on rows of any result
    db_pool: int = 10  # PGRST_DB_POOL: connections in the pool
    db_pool_acquisition_timeout: float = 10.0  # PGRST_DB_POOL_ACQUISITION_TIMEOUT: seconds
    db_pre_request: QualifiedName | None = None  # PGRST_DB_PRE_REQUEST: run before each call
    db_channel: str = "pgrst"  # PGRST_DB_CHANNEL: NOTIFY channel for schema reloads
    db_channel_enabled: bool = True  # PGRST_DB_CHANNEL_ENABLED: listen for reloads
    db_tx_end: TxEnd = TxEnd.COMMIT  # PGRST_DB_TX_END: commit | rollback [-allow-override]
    db_prepared_statements: bool = True  # PGRST_DB_PREPARED_STATEMENTS: false for PgBouncer
    db_read_uris: tuple[str, ...] = ()  # METRICS_RPC_DB_READ_URIS: streaming replicas for reads
    db_replica_max_lag: Duration = Duration(5.0)  # METRICS_RPC_DB_REPLICA_MAX_LAG: else skipped
    # --- JWT ------------------------------------------------------------------------
    jwt_secret: str | None = None  # PGRST_JWT_SECRET: HS secret, JWK or JWKS (inline or @file)
    jwt_secret_is_base64: bool = False  # PGRST_JWT_SECRET_IS_BASE64
    jwt_aud: str | None = None  # PGRST_JWT_AUD: required audience when set
    jwt_role_claim_key: JSPath = JSPath(".role", (("key", "role"),))  # PGRST_JWT_ROLE_CLAIM_KEY
    jwt_cache_size: int = 1000  # METRICS_RPC_JWT_CACHE_SIZE: verified tokens kept (0 = off)
    # --- server ---------------------------------------------------------------------
    server_host: str = "!4"  # PGRST_SERVER_HOST: "!4" any IPv4, "*" any, or an address
    server_port: int = 3000  # PGRST_SERVER_PORT
    server_timing_enabled: bool = False  # PGRST_SERVER_TIMING_ENABLED: Server-Timing header
    admin_server_port: int | None = None  # PGRST_ADMIN_SERVER_PORT: /live /ready /metrics
    openapi_server_proxy_uri: str | None = None  # PGRST_OPENAPI_SERVER_PROXY_URI
    log_level: str = "error"  # PGRST_LOG_LEVEL: crit | error | warn | info | debug
    workers: Workers = Workers(1)  # METRICS_RPC_WORKERS: server processes (auto = CPUs)
    shutdown_grace: Duration = Duration(10.0)  # METRICS_RPC_SHUTDOWN_GRACE: drain on SIGTERM
    # --- hardening and rate limits (no PostgREST equivalent) ------------------------
    rate_limits: RateLimits = RateLimits.parse(  # METRICS_RPC_RATE_LIMITS
        "web_anon=60/minute;writer=600/minute"
    )
    rate_limit_storage: str = "memory://"  # METRICS_RPC_RATE_LIMIT_STORAGE
    rate_limit_fail_open: bool = True  # METRICS_RPC_RATE_LIMIT_FAIL_OPEN: storage down → allow
    trusted_proxies: tuple[str, ...] = ()  # METRICS_RPC_TRUSTED_PROXIES: addresses or CIDRs
    max_body_bytes: int = 16 * 1024 * 1024  # METRICS_RPC_MAX_BODY_BYTES: larger → 413
    max_url_length: int = 8192  # METRICS_RPC_MAX_URL_LENGTH: longer → 414
    max_header_bytes: int = 32768  # METRICS_RPC_MAX_HEADER_BYTES: request line + headers → 431
    header_timeout: float = 10.0  # METRICS_RPC_HEADER_TIMEOUT: seconds to send a request head
    send_timeout: float = 5.0  # METRICS_RPC_SEND_TIMEOUT: seconds per streamed chunk (0 = off)
    # --- remote-write ingest limits (docs/INGEST.md) -----------------------------------
    ingest_max_future: float = 600.0  # METRICS_RPC_INGEST_MAX_FUTURE: seconds ahead ("10m")
    ingest_max_label_name_length: int = 128  # METRICS_RPC_INGEST_MAX_LABEL_NAME_LENGTH
    ingest_max_label_value_length: int = 1024  # METRICS_RPC_INGEST_MAX_LABEL_VALUE_LENGTH
    ingest_max_labels_per_series: int = 30  # METRICS_RPC_INGEST_MAX_LABELS_PER_SERIES
    ingest_max_new_series_per_request: int = 20_000  # METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST
    ingest_max_new_series_per_minute: int = 200_000  # METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_MINUTE
    # --- response cache (docs/CACHING.md) -----------------------------------------
    cache_enabled: bool = True  # METRICS_RPC_CACHE: on | off (HTTP caching headers stay)
    cache_bytes: int = 64 * 1024 * 1024  # METRICS_RPC_CACHE_BYTES: memory storage bound (LRU)
    cache_storage: str = "memory://"  # METRICS_RPC_CACHE_STORAGE: memory:// or redis://…
    # --- tools that are clients of the API ----------------------------------------
    api_url: str = "http://localhost:3000"  # METRICS_RPC_API_URL
    token: str | None = None  # METRICS_RPC_TOKEN: writer JWT used by collector / backfill
    migrate_db_uri: str | None = None  # METRICS_RPC_MIGRATE_DB_URI: owner role for migrations
    authenticator_password: str | None = None  # METRICS_RPC_AUTHENTICATOR_PASSWORD
    sql_dir: str | None = None  # METRICS_RPC_SQL_DIR: the sql/ folder (default: next to api/)

    def __post_init__(self) -> None:
        """A string given for a typed field (``Settings(db_tx_end="rollback")``) is parsed
        here, once; a bad one is a ``ConfigError`` naming the variable."""
        for field in msgspec.structs.fields(self):
            value = getattr(self, field.name)
            kind = _parsed_type(field.type)
            if kind is not None and isinstance(value, str):
                try:
                    value = kind.parse(value)
                except ConfigError:
                    raise
                except ValueError as exc:
                    raise ConfigError(f"{ENV_NAMES[field.name]}: {exc}") from None
                msgspec.structs.force_setattr(self, field.name, value)
        pre = self.db_pre_request
        if pre is not None and pre.schema is None and self.db_schemas:
            msgspec.structs.force_setattr(
                self, "db_pre_request", QualifiedName(self.db_schemas[0], pre.name)
            )

    @property
    def bind_host(self) -> str:
        """PostgREST's special host values mapped to what a socket bind understands."""
        any_v4 = "0.0.0.0"  # noqa: S104 - binding to all interfaces is what "!4" asks for
        return {"!4": any_v4, "*4": any_v4, "!6": "::", "*6": "::", "*": "::"}.get(
            self.server_host, self.server_host
        )


# field name → environment variable
ENV_NAMES: dict[str, str] = {
    "db_uri": "PGRST_DB_URI",
    "db_schemas": "PGRST_DB_SCHEMAS",
    "db_anon_role": "PGRST_DB_ANON_ROLE",
    "db_max_rows": "PGRST_DB_MAX_ROWS",
    "db_pool": "PGRST_DB_POOL",
    "db_pool_acquisition_timeout": "PGRST_DB_POOL_ACQUISITION_TIMEOUT",
    "db_pre_request": "PGRST_DB_PRE_REQUEST",
    "db_channel": "PGRST_DB_CHANNEL",
    "db_channel_enabled": "PGRST_DB_CHANNEL_ENABLED",
    "db_tx_end": "PGRST_DB_TX_END",
    "db_prepared_statements": "PGRST_DB_PREPARED_STATEMENTS",
    "db_read_uris": "METRICS_RPC_DB_READ_URIS",
    "db_replica_max_lag": "METRICS_RPC_DB_REPLICA_MAX_LAG",
    "jwt_secret": "PGRST_JWT_SECRET",
    "jwt_secret_is_base64": "PGRST_JWT_SECRET_IS_BASE64",
    "jwt_aud": "PGRST_JWT_AUD",
    "jwt_role_claim_key": "PGRST_JWT_ROLE_CLAIM_KEY",
    "jwt_cache_size": "METRICS_RPC_JWT_CACHE_SIZE",
    "server_host": "PGRST_SERVER_HOST",
    "server_port": "PGRST_SERVER_PORT",
    "server_timing_enabled": "PGRST_SERVER_TIMING_ENABLED",
    "admin_server_port": "PGRST_ADMIN_SERVER_PORT",
    "openapi_server_proxy_uri": "PGRST_OPENAPI_SERVER_PROXY_URI",
    "log_level": "PGRST_LOG_LEVEL",
    "workers": "METRICS_RPC_WORKERS",
    "shutdown_grace": "METRICS_RPC_SHUTDOWN_GRACE",
    "rate_limits": "METRICS_RPC_RATE_LIMITS",
    "rate_limit_storage": "METRICS_RPC_RATE_LIMIT_STORAGE",
    "rate_limit_fail_open": "METRICS_RPC_RATE_LIMIT_FAIL_OPEN",
    "trusted_proxies": "METRICS_RPC_TRUSTED_PROXIES",
    "max_body_bytes": "METRICS_RPC_MAX_BODY_BYTES",
    "max_url_length": "METRICS_RPC_MAX_URL_LENGTH",
    "max_header_bytes": "METRICS_RPC_MAX_HEADER_BYTES",
    "header_timeout": "METRICS_RPC_HEADER_TIMEOUT",
    "send_timeout": "METRICS_RPC_SEND_TIMEOUT",
    "ingest_max_future": "METRICS_RPC_INGEST_MAX_FUTURE",
    "ingest_max_label_name_length": "METRICS_RPC_INGEST_MAX_LABEL_NAME_LENGTH",
    "ingest_max_label_value_length": "METRICS_RPC_INGEST_MAX_LABEL_VALUE_LENGTH",
    "ingest_max_labels_per_series": "METRICS_RPC_INGEST_MAX_LABELS_PER_SERIES",
    "ingest_max_new_series_per_request": "METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST",
    "ingest_max_new_series_per_minute": "METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_MINUTE",
    "cache_enabled": "METRICS_RPC_CACHE",
    "cache_bytes": "METRICS_RPC_CACHE_BYTES",
    "cache_storage": "METRICS_RPC_CACHE_STORAGE",
    "api_url": "METRICS_RPC_API_URL",
    "token": "METRICS_RPC_TOKEN",
    "migrate_db_uri": "METRICS_RPC_MIGRATE_DB_URI",
    "authenticator_password": "METRICS_RPC_AUTHENTICATOR_PASSWORD",
    "sql_dir": "METRICS_RPC_SQL_DIR",
}
CONFIG_FILE_ENV = "METRICS_RPC_CONFIG"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


_DURATION = re.compile(r"^(?P<n>\d+(?:\.\d+)?)\s*(?P<unit>ms|[smhdw]?)$")
_UNIT_SECONDS = {"": 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0,
                 "w": 604800.0}


def parse_duration(text: str) -> float:
    """``600``, ``1.5``, ``500ms``, ``30s``, ``10m``, ``1h``, ``7d``, ``2w`` → seconds."""
    match = _DURATION.match(text.strip().lower())
    if not match:
        raise ValueError(f"not a duration: {text!r} (use e.g. 30s, 10m, 1h, 7d)")
    return float(match["n"]) * _UNIT_SECONDS[match["unit"]]


def _file_key_to_env(key: str) -> str:
    """``db-uri`` → ``PGRST_DB_URI``; ``metrics-rpc-rate-limits`` → ``METRICS_RPC_RATE_LIMITS``."""
    name = key.strip().upper().replace("-", "_")
    return name if name.startswith("METRICS_RPC_") else f"PGRST_{name}"


def read_config_file(path: Path) -> dict[str, str]:
    """A PostgREST config file as environment-style names → string values."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    out: dict[str, str] = {}
    for key, value in data.items():
        if isinstance(value, bool):
            out[_file_key_to_env(key)] = "true" if value else "false"
        elif isinstance(value, list):
            out[_file_key_to_env(key)] = ",".join(str(v) for v in value)
        else:
            out[_file_key_to_env(key)] = str(value)
    return out


def _parsed_type(annotation: Any) -> Any:
    """The type with a ``parse`` classmethod in a field's annotation (``X`` or ``X | None``)."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    for option in options:
        if isinstance(option, type) and callable(getattr(option, "parse", None)):
            return option
    return None


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _convert(annotation: Any, raw: str, default: Any) -> Any:
    """A raw setting as its field's type; raises ValueError with a short reason."""
    raw = raw.strip()
    optional = _is_union(annotation) and type(None) in typing.get_args(annotation)
    if optional:
        if raw == "":
            return None
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is tuple:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if _parsed_type(annotation) is not None:
        return annotation.parse(raw)
    if annotation is bool:
        lowered = raw.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueError("expected true or false")
    if annotation is int:
        return int(raw)
    if annotation is float:  # every float setting is a duration in seconds
        return parse_duration(raw)
    return raw if raw != "" or default is None else default


def load_settings(
    env: Mapping[str, str] | None = None, config_file: Path | None = None, **overrides: Any
) -> Settings:
    """Settings from an optional config file, then the environment, then ``overrides``."""
    env = dict(os.environ if env is None else env)
    file_path = config_file or (Path(env[CONFIG_FILE_ENV]) if env.get(CONFIG_FILE_ENV) else None)
    values: dict[str, str] = read_config_file(file_path) if file_path else {}
    values.update({k: v for k, v in env.items() if k.startswith(("PGRST_", "METRICS_RPC_"))})
    defaults = Settings()
    annotations = typing.get_type_hints(Settings)
    kwargs: dict[str, Any] = {}
    for field, env_name in ENV_NAMES.items():
        if env_name in values:
            raw = values[env_name]
            try:
                kwargs[field] = _convert(annotations[field], raw, getattr(defaults, field))
            except ValueError as exc:
                if isinstance(exc, ConfigError):
                    raise
                raise ConfigError(f"{env_name}: invalid value {raw.strip()!r} ({exc})") from None
    kwargs.update(overrides)
    settings = Settings(**kwargs)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not settings.db_schemas:
        raise ConfigError("PGRST_DB_SCHEMAS: at least one schema is required")
    if settings.db_pool < 1:
        raise ConfigError("PGRST_DB_POOL: must be at least 1")
    for field in ("ingest_max_label_name_length", "ingest_max_label_value_length",
                  "ingest_max_labels_per_series", "ingest_max_new_series_per_request",
                  "ingest_max_new_series_per_minute"):
        if getattr(settings, field) < 1:
            raise ConfigError(f"{ENV_NAMES[field]}: must be at least 1")
    if settings.cache_bytes < 0:
        raise ConfigError("METRICS_RPC_CACHE_BYTES: must be 0 or more")
    if not settings.cache_storage.startswith(("memory://", "redis://", "rediss://")):
        raise ConfigError("METRICS_RPC_CACHE_STORAGE: expected memory:// or redis://…")
    if (settings.workers.count > 1 and settings.rate_limits.enabled
            and settings.rate_limit_storage.startswith("memory")):
        raise ConfigError(
            f"METRICS_RPC_WORKERS={settings.workers.count} with METRICS_RPC_RATE_LIMIT_STORAGE="
            f"{settings.rate_limit_storage} would give every worker its own limits: set "
            "METRICS_RPC_RATE_LIMIT_STORAGE=redis://host:6379/0 (or METRICS_RPC_WORKERS=1)"
        )

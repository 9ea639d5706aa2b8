"""The one place that reads configuration.

PostgREST's own environment names where PostgREST has the setting (so our server can
replace a PostgREST container by changing the image only), ``METRICS_RPC_*`` otherwise.
An optional config file in PostgREST's format (``db-uri = "..."``, which is valid TOML)
is read first; environment variables override it, as in PostgREST.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

TX_END_MODES = ("commit", "commit-allow-override", "rollback", "rollback-allow-override")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    # --- database -----------------------------------------------------------------
    db_uri: str = ""  # PGRST_DB_URI: connection string of the authenticator role
    db_schemas: tuple[str, ...] = ("api",)  # PGRST_DB_SCHEMAS: exposed schemas, first is default
    db_anon_role: str = "web_anon"  # PGRST_DB_ANON_ROLE: role for requests without a JWT
    db_max_rows: int | None = None  # PGRST_DB_MAX_ROWS: cap on rows of any result
    db_pool: int = 10  # PGRST_DB_POOL: connections in the pool
    db_pool_acquisition_timeout: float = 10.0  # PGRST_DB_POOL_ACQUISITION_TIMEOUT: seconds
    db_pre_request: str | None = None  # PGRST_DB_PRE_REQUEST: function run before each call
    db_channel: str = "pgrst"  # PGRST_DB_CHANNEL: NOTIFY channel for schema reloads
    db_channel_enabled: bool = True  # PGRST_DB_CHANNEL_ENABLED: listen for reloads
    db_tx_end: str = "commit"  # PGRST_DB_TX_END: commit | rollback [-allow-override]
    db_prepared_statements: bool = True  # PGRST_DB_PREPARED_STATEMENTS
    # --- JWT ------------------------------------------------------------------------
    jwt_secret: str | None = None  # PGRST_JWT_SECRET: HS secret, JWK or JWKS (inline or @file)
    jwt_secret_is_base64: bool = False  # PGRST_JWT_SECRET_IS_BASE64
    jwt_aud: str | None = None  # PGRST_JWT_AUD: required audience when set
    jwt_role_claim_key: str = ".role"  # PGRST_JWT_ROLE_CLAIM_KEY: JSPath of the role claim
    jwt_cache_size: int = 1000  # METRICS_RPC_JWT_CACHE_SIZE: verified tokens kept (0 = off)
    # --- server ---------------------------------------------------------------------
    server_host: str = "!4"  # PGRST_SERVER_HOST: "!4" any IPv4, "*" any, or an address
    server_port: int = 3000  # PGRST_SERVER_PORT
    server_timing_enabled: bool = False  # PGRST_SERVER_TIMING_ENABLED: Server-Timing header
    admin_server_port: int | None = None  # PGRST_ADMIN_SERVER_PORT: /live /ready /metrics
    openapi_server_proxy_uri: str | None = None  # PGRST_OPENAPI_SERVER_PROXY_URI
    log_level: str = "error"  # PGRST_LOG_LEVEL: crit | error | warn | info | debug
    # --- hardening and rate limits (no PostgREST equivalent) ------------------------
    rate_limits: str = "web_anon=60/minute;writer=600/minute"  # METRICS_RPC_RATE_LIMITS
    rate_limit_storage: str = "memory://"  # METRICS_RPC_RATE_LIMIT_STORAGE
    rate_limit_fail_open: bool = True  # METRICS_RPC_RATE_LIMIT_FAIL_OPEN: storage down → allow
    trusted_proxies: tuple[str, ...] = ()  # METRICS_RPC_TRUSTED_PROXIES: addresses or CIDRs
    max_body_bytes: int = 16 * 1024 * 1024  # METRICS_RPC_MAX_BODY_BYTES: larger → 413
    max_url_length: int = 8192  # METRICS_RPC_MAX_URL_LENGTH: longer → 414
    # --- remote-write ingest limits (docs/INGEST.md) -----------------------------------
    ingest_max_future: float = 600.0  # METRICS_RPC_INGEST_MAX_FUTURE: seconds ahead ("10m")
    ingest_max_label_name_length: int = 128  # METRICS_RPC_INGEST_MAX_LABEL_NAME_LENGTH
    ingest_max_label_value_length: int = 1024  # METRICS_RPC_INGEST_MAX_LABEL_VALUE_LENGTH
    ingest_max_labels_per_series: int = 30  # METRICS_RPC_INGEST_MAX_LABELS_PER_SERIES
    ingest_max_new_series_per_request: int = 20_000  # METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST
    ingest_max_new_series_per_minute: int = 200_000  # METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_MINUTE
    # --- tools that are clients of the API ----------------------------------------
    api_url: str = "http://localhost:3000"  # METRICS_RPC_API_URL
    token: str | None = None  # METRICS_RPC_TOKEN: writer JWT used by collector / backfill
    migrate_db_uri: str | None = None  # METRICS_RPC_MIGRATE_DB_URI: owner role for migrations
    authenticator_password: str | None = None  # METRICS_RPC_AUTHENTICATOR_PASSWORD
    sql_dir: str | None = None  # METRICS_RPC_SQL_DIR: the sql/ folder (default: next to api/)

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
    "rate_limits": "METRICS_RPC_RATE_LIMITS",
    "rate_limit_storage": "METRICS_RPC_RATE_LIMIT_STORAGE",
    "rate_limit_fail_open": "METRICS_RPC_RATE_LIMIT_FAIL_OPEN",
    "trusted_proxies": "METRICS_RPC_TRUSTED_PROXIES",
    "max_body_bytes": "METRICS_RPC_MAX_BODY_BYTES",
    "max_url_length": "METRICS_RPC_MAX_URL_LENGTH",
    "ingest_max_future": "METRICS_RPC_INGEST_MAX_FUTURE",
    "ingest_max_label_name_length": "METRICS_RPC_INGEST_MAX_LABEL_NAME_LENGTH",
    "ingest_max_label_value_length": "METRICS_RPC_INGEST_MAX_LABEL_VALUE_LENGTH",
    "ingest_max_labels_per_series": "METRICS_RPC_INGEST_MAX_LABELS_PER_SERIES",
    "ingest_max_new_series_per_request": "METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_REQUEST",
    "ingest_max_new_series_per_minute": "METRICS_RPC_INGEST_MAX_NEW_SERIES_PER_MINUTE",
    "api_url": "METRICS_RPC_API_URL",
    "token": "METRICS_RPC_TOKEN",
    "migrate_db_uri": "METRICS_RPC_MIGRATE_DB_URI",
    "authenticator_password": "METRICS_RPC_AUTHENTICATOR_PASSWORD",
    "sql_dir": "METRICS_RPC_SQL_DIR",
}
CONFIG_FILE_ENV = "METRICS_RPC_CONFIG"
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


_DURATION_FIELDS = ("ingest_max_future",)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """``10m``, ``30s``, ``500ms``, ``1h`` or plain seconds → seconds."""
    text = text.strip().lower()
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit):
            number, scale = text[: -len(unit)], _DURATION_UNITS[unit]
            break
    else:
        number, scale = text, 1.0
    seconds = float(number) * scale
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError("expected a duration like 10m, 30s or 600")
    return seconds


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


def _convert(field: str, env_name: str, raw: str, default: Any) -> Any:
    raw = raw.strip()
    try:
        if field in ("db_schemas", "trusted_proxies"):
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if isinstance(default, bool):
            lowered = raw.lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise ValueError("expected true or false")
        if field in _DURATION_FIELDS:
            return parse_duration(raw)
        if field in ("db_max_rows", "admin_server_port"):
            return int(raw) if raw else None
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{env_name}: invalid value {raw!r} ({exc})") from exc
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
    kwargs: dict[str, Any] = {}
    for field, env_name in ENV_NAMES.items():
        if env_name in values:
            kwargs[field] = _convert(field, env_name, values[env_name], getattr(defaults, field))
    kwargs.update(overrides)
    settings = Settings(**kwargs)
    _validate(settings)
    return settings


def _validate(settings: Settings) -> None:
    if not settings.db_schemas:
        raise ConfigError("PGRST_DB_SCHEMAS: at least one schema is required")
    if settings.db_tx_end not in TX_END_MODES:
        raise ConfigError(f"PGRST_DB_TX_END: must be one of {', '.join(TX_END_MODES)}")
    if settings.db_pool < 1:
        raise ConfigError("PGRST_DB_POOL: must be at least 1")
    for field in ("ingest_max_label_name_length", "ingest_max_label_value_length",
                  "ingest_max_labels_per_series", "ingest_max_new_series_per_request",
                  "ingest_max_new_series_per_minute"):
        if getattr(settings, field) < 1:
            raise ConfigError(f"{ENV_NAMES[field]}: must be at least 1")

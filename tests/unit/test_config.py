"""Configuration: PostgREST names, the config file, overrides and validation (api/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import (
    ConfigError,
    JSPath,
    QualifiedName,
    RateLimits,
    Settings,
    TxEnd,
    load_settings,
)


def test_defaults_follow_postgrest() -> None:
    settings = load_settings({})
    assert settings.db_schemas == ("api",)
    assert settings.db_anon_role == "web_anon"
    assert settings.server_port == 3000
    assert settings.db_channel == "pgrst"
    assert settings.rate_limits == RateLimits.parse("web_anon=60/minute;writer=600/minute")
    assert settings.db_tx_end is TxEnd.COMMIT
    assert settings.jwt_role_claim_key == JSPath.parse(".role")
    assert settings.db_pre_request is None
    assert settings.bind_host == "0.0.0.0"


def test_environment_names() -> None:
    settings = load_settings({
        "PGRST_DB_URI": "postgresql://authenticator@db/metrics",
        "PGRST_DB_SCHEMAS": "api, api_v2",
        "PGRST_DB_MAX_ROWS": "500",
        "PGRST_SERVER_TIMING_ENABLED": "true",
        "PGRST_DB_POOL_ACQUISITION_TIMEOUT": "2.5",
        "METRICS_RPC_TRUSTED_PROXIES": "10.0.0.0/8,127.0.0.1",
        "UNRELATED": "x",
    })
    assert settings.db_uri == "postgresql://authenticator@db/metrics"
    assert settings.db_schemas == ("api", "api_v2")
    assert settings.db_max_rows == 500
    assert settings.server_timing_enabled is True
    assert settings.db_pool_acquisition_timeout == 2.5
    assert settings.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")


def test_postgrest_config_file_then_environment_wins(tmp_path: Path) -> None:
    conf = tmp_path / "postgrest.conf"
    conf.write_text(
        '# a PostgREST config file\n'
        'db-uri = "postgresql://authenticator@file/metrics"\n'
        'db-schemas = "api"\n'
        'server-port = 3001\n'
        'db-max-rows = 100\n'
        'metrics-rpc-rate-limits = "off"\n'
    )
    settings = load_settings({"PGRST_SERVER_PORT": "3002"}, config_file=conf)
    assert settings.db_uri == "postgresql://authenticator@file/metrics"
    assert settings.server_port == 3002
    assert settings.db_max_rows == 100
    assert not settings.rate_limits.enabled
    via_env = load_settings({"METRICS_RPC_CONFIG": str(conf)})
    assert via_env.server_port == 3001


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PGRST_SERVER_PORT": "http"}, "PGRST_SERVER_PORT"),
        ({"PGRST_DB_TX_END": "maybe"}, "PGRST_DB_TX_END"),
        ({"PGRST_DB_POOL": "0"}, "PGRST_DB_POOL"),
        ({"PGRST_SERVER_TIMING_ENABLED": "perhaps"}, "PGRST_SERVER_TIMING_ENABLED"),
        ({"PGRST_DB_SCHEMAS": " , "}, "PGRST_DB_SCHEMAS"),
        ({"PGRST_DB_PRE_REQUEST": "api."}, "PGRST_DB_PRE_REQUEST"),
        ({"PGRST_JWT_ROLE_CLAIM_KEY": "role"}, "PGRST_JWT_ROLE_CLAIM_KEY"),
        ({"METRICS_RPC_RATE_LIMITS": "web_anon=lots"}, "METRICS_RPC_RATE_LIMITS"),
        ({"METRICS_RPC_RATE_LIMITS": "=1/second"}, "METRICS_RPC_RATE_LIMITS"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_settings(env)
    assert str(info.value).startswith(message + ":")
    assert "\n" not in str(info.value)  # one line


def test_typed_settings_are_parsed_once() -> None:
    settings = load_settings({
        "PGRST_DB_TX_END": "rollback-allow-override",
        "PGRST_DB_PRE_REQUEST": "check_request",
        "PGRST_DB_SCHEMAS": "api_v2,api",
        "PGRST_JWT_ROLE_CLAIM_KEY": '.app."meta.data".roles[0]',
        "METRICS_RPC_RATE_LIMITS": "web_anon=10/second;60/minute;writer=off",
    })
    assert settings.db_tx_end is TxEnd.ROLLBACK_ALLOW_OVERRIDE
    assert settings.db_tx_end.rollback and settings.db_tx_end.allow_override
    # an unqualified pre-request function lives in the first exposed schema
    assert settings.db_pre_request == QualifiedName("api_v2", "check_request")
    assert settings.jwt_role_claim_key.steps == (
        ("key", "app"), ("key", "meta.data"), ("key", "roles"), ("index", 0)
    )
    budgets = settings.rate_limits.as_dict()
    assert [str(item) for item in budgets["web_anon"]] == ["10 per 1 second", "60 per 1 minute"]
    assert budgets["writer"] == ()


def test_qualified_pre_request_keeps_its_schema() -> None:
    settings = load_settings({"PGRST_DB_PRE_REQUEST": '"auth".check'})
    assert settings.db_pre_request == QualifiedName("auth", "check")


def test_strings_given_in_code_become_the_types() -> None:
    settings = Settings(db_tx_end="commit-allow-override", rate_limits="off",  # type: ignore[arg-type]
                        jwt_role_claim_key=".r", db_pre_request="pre")  # type: ignore[arg-type]
    assert settings.db_tx_end is TxEnd.COMMIT_ALLOW_OVERRIDE
    assert not settings.rate_limits.enabled
    assert settings.jwt_role_claim_key.find({"r": "writer"}) == "writer"
    assert settings.db_pre_request == QualifiedName("api", "pre")
    with pytest.raises(ConfigError, match=r"^PGRST_DB_TX_END: must be one of"):
        Settings(db_tx_end="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as info:
        Settings(jwt_role_claim_key="role")  # type: ignore[arg-type]
    assert str(info.value) == "PGRST_JWT_ROLE_CLAIM_KEY: cannot parse 'role' at 0"


def test_empty_optional_values_are_unset() -> None:
    settings = load_settings({"PGRST_DB_MAX_ROWS": "", "PGRST_ADMIN_SERVER_PORT": "",
                              "PGRST_DB_PRE_REQUEST": ""})
    assert settings.db_max_rows is None
    assert settings.admin_server_port is None
    assert settings.db_pre_request is None


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("db-uri = \n")
    with pytest.raises(ConfigError, match=r"bad\.conf"):
        load_settings({}, config_file=bad)


# --- scale-out settings ------------------------------------------------------------------


def test_durations_read_units_and_plain_seconds() -> None:
    from api.config import Duration

    assert Duration.parse("5s").seconds == 5.0
    assert Duration.parse("500ms").seconds == 0.5
    assert Duration.parse("2m").seconds == 120.0
    assert Duration.parse("3").seconds == 3.0
    with pytest.raises(ValueError, match="duration"):
        Duration.parse("soon")


def test_scale_out_settings_from_the_environment() -> None:
    settings = load_settings({
        "METRICS_RPC_WORKERS": "3", "METRICS_RPC_RATE_LIMITS": "off",
        "METRICS_RPC_DB_READ_URIS": "postgresql://a/x, postgresql://b/x",
        "METRICS_RPC_DB_REPLICA_MAX_LAG": "250ms", "METRICS_RPC_SHUTDOWN_GRACE": "30s",
        "PGRST_DB_PREPARED_STATEMENTS": "false",
    })
    assert settings.workers.count == 3
    assert settings.db_read_uris == ("postgresql://a/x", "postgresql://b/x")
    assert settings.db_replica_max_lag.seconds == 0.25
    assert settings.shutdown_grace.seconds == 30.0
    assert settings.db_prepared_statements is False
    assert load_settings({"METRICS_RPC_WORKERS": "auto", "METRICS_RPC_RATE_LIMITS": "off"}
                         ).workers.count >= 1


def test_workers_with_memory_rate_limits_are_refused_naming_redis() -> None:
    with pytest.raises(ConfigError, match="METRICS_RPC_RATE_LIMIT_STORAGE=redis://"):
        load_settings({"METRICS_RPC_WORKERS": "2"})
    assert load_settings({"METRICS_RPC_WORKERS": "2",
                          "METRICS_RPC_RATE_LIMIT_STORAGE": "redis://r:6379/0"}).workers.count == 2
    with pytest.raises(ConfigError, match="METRICS_RPC_WORKERS"):
        load_settings({"METRICS_RPC_WORKERS": "none"})

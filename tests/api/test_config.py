"""Configuration: PostgREST names, the config file, overrides and validation (api/config.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config import ConfigError, load_settings


def test_defaults_follow_postgrest() -> None:
    settings = load_settings({})
    assert settings.db_schemas == ("api",)
    assert settings.db_anon_role == "web_anon"
    assert settings.server_port == 3000
    assert settings.db_channel == "pgrst"
    assert settings.rate_limits == "web_anon=60/minute;writer=600/minute"
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
    assert settings.rate_limits == "off"
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
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(env)


def test_unreadable_config_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.conf"
    bad.write_text("db-uri = \n")
    with pytest.raises(ConfigError, match=r"bad\.conf"):
        load_settings({}, config_file=bad)

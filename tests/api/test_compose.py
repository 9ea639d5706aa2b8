"""docker-compose.yml, Dockerfile, .env.example, deploy/prometheus.yml: checked by parsing,
since no Docker engine runs here."""

from __future__ import annotations

import ipaddress
import re
import shlex
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.config import ENV_NAMES, load_settings
from api.ratelimit import parse_rate_limits, parse_trusted_proxies

ROOT = Path(__file__).resolve().parents[2]
API_REPLICAS = ("api-1", "api-2")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def env_example() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def test_services(services: dict[str, dict[str, Any]]) -> None:
    assert set(services) == {"db", "db-replica", "migrate", "redis", *API_REPLICAS, "caddy",
                             "prometheus"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["db-replica"]["image"] == services["db"]["image"]
    assert services["redis"]["image"].startswith("redis:")
    assert services["caddy"]["image"].startswith("caddy:2")


def test_every_long_running_service_has_a_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, service in services.items():
        if name == "migrate":
            assert "healthcheck" not in service
            continue
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert check.get("interval") and check.get("timeout") and check.get("retries"), name


def test_api_replicas_are_ready_checked_and_identical(
    services: dict[str, dict[str, Any]],
) -> None:
    one, two = (services[name] for name in API_REPLICAS)
    assert one == two
    assert one["command"] == ["serve"]
    assert "/ready" in " ".join(one["healthcheck"]["test"])
    assert one["image"] == services["migrate"]["image"]
    assert "ports" not in one, "replicas are reached through Caddy only"


def dependencies(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, service in services.items():
        deps = service.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use conditions"
        out[name] = {dep: spec["condition"] for dep, spec in deps.items()}
    return out


def test_start_order_by_conditions(services: dict[str, dict[str, Any]]) -> None:
    deps = dependencies(services)
    assert deps["db"] == {} and deps["redis"] == {}
    assert deps["db-replica"] == {"db": "service_healthy"}
    assert deps["migrate"] == {"db": "service_healthy"}
    for replica in API_REPLICAS:
        assert deps[replica] == {
            "db": "service_healthy",
            "migrate": "service_completed_successfully",
            "redis": "service_healthy",
        }
    assert deps["caddy"] == dict.fromkeys(API_REPLICAS, "service_healthy")
    assert deps["prometheus"] == {"caddy": "service_healthy"}
    order = list(TopologicalSorter({k: set(v) for k, v in deps.items()}).static_order())
    assert order.index("db") < order.index("migrate") < order.index("api-1")
    assert order.index("api-2") < order.index("caddy") < order.index("prometheus")
    for name, conditions in deps.items():
        for dep, condition in conditions.items():
            if condition == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep}'s health"


def test_migrate_is_one_shot(services: dict[str, dict[str, Any]]) -> None:
    migrate = services["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    env = migrate["environment"]
    assert env["METRICS_RPC_MIGRATE_DB_URI"].startswith("postgres://postgres:")
    assert "METRICS_RPC_AUTHENTICATOR_PASSWORD" in env


def test_prometheus_is_optional(services: dict[str, dict[str, Any]]) -> None:
    assert services["prometheus"]["profiles"] == ["prometheus"]
    assert all("profiles" not in s for n, s in services.items() if n != "prometheus")


def test_api_settings_are_real_settings(services: dict[str, dict[str, Any]]) -> None:
    env = services["api-1"]["environment"]
    known = set(ENV_NAMES.values())
    assert set(env) <= known, set(env) - known
    assert env["METRICS_RPC_RATE_LIMIT_STORAGE"].startswith("redis://redis:6379")
    assert env["PGRST_DB_URI"].startswith("postgres://authenticator:")
    assert env["PGRST_DB_URI"].endswith("@db:5432/metrics")
    defaults = re.fullmatch(r"\$\{METRICS_RPC_RATE_LIMITS:-(.*)\}", env["METRICS_RPC_RATE_LIMITS"])
    assert defaults is not None
    assert parse_rate_limits(defaults[1]).keys() == {"web_anon", "writer", "ingest"}
    # the values (with placeholders filled in) load as settings
    filled = {k: re.sub(r"\$\{[^}]*\}", "x" * 40, str(v)) for k, v in env.items()}
    filled["METRICS_RPC_RATE_LIMITS"] = defaults[1]
    filled["METRICS_RPC_RATE_LIMIT_FAIL_OPEN"] = "true"
    filled["PGRST_JWT_AUD"] = ""
    filled["METRICS_RPC_WORKERS"] = "2"
    settings = load_settings(filled)
    assert settings.server_port == 3000
    assert settings.workers.count == 2  # with Redis rate limits, as load_settings requires
    assert settings.db_read_uris == (filled["METRICS_RPC_DB_READ_URIS"],)
    assert settings.db_read_uris[0].endswith("@db-replica:5432/metrics")
    assert settings.shutdown_grace.seconds < _seconds(services["api-1"]["stop_grace_period"])


def _seconds(text: str) -> float:
    return float(text.removesuffix("s"))


def test_the_read_replica_streams_from_the_primary(services: dict[str, dict[str, Any]]) -> None:
    replica = services["db-replica"]
    script = replica["command"][0]
    assert "pg_basebackup -h db" in script and " -R " in script and "exec postgres" in script
    assert replica["user"] == "postgres"
    primary_init = [v for v in services["db"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert primary_init, "the primary must allow replication connections"
    hba_script = (ROOT / primary_init[0].split(":")[0]).read_text()
    assert "host replication" in hba_script


def test_only_caddy_is_trusted_and_only_caddy_is_published(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    caddy_ip = services["caddy"]["networks"]["edge"]["ipv4_address"]
    subnet = ipaddress.ip_network(compose["networks"]["edge"]["ipam"]["config"][0]["subnet"])
    assert ipaddress.ip_address(caddy_ip) in subnet
    trusted = services["api-1"]["environment"]["METRICS_RPC_TRUSTED_PROXIES"]
    assert parse_trusted_proxies(trusted.split(",")) == (ipaddress.ip_network(caddy_ip),)
    published = [name for name, s in services.items() if s.get("ports")]
    assert published == ["caddy"]
    assert compose["networks"]["backend"]["internal"] is True
    for name in ("db", "redis", "migrate"):
        assert services[name]["networks"] == ["backend"], name


def test_caddy_points_at_the_replicas(services: dict[str, dict[str, Any]]) -> None:
    caddy = services["caddy"]
    upstreams = caddy["environment"]["CADDY_UPSTREAMS"].split()
    assert upstreams == [f"{name}:3000" for name in API_REPLICAS]
    assert "./Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    caddyfile = (ROOT / "Caddyfile").read_text()
    assert "{$CADDY_UPSTREAMS:api-1:3000 api-2:3000}" in caddyfile
    assert "{$CADDY_INTERNAL_ADDRESS::8080}" in caddyfile
    assert "health_uri /ready" in caddyfile


def test_secrets_come_from_env(compose: dict[str, Any]) -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {"POSTGRES_PASSWORD", "AUTHENTICATOR_PASSWORD", "PGRST_JWT_SECRET"}
    example = env_example()
    referenced = set(re.findall(r"\$\{(\w+)", text)) | {"METRICS_RPC_TOKEN"}
    assert referenced <= set(example), referenced - set(example)
    for key in required:
        assert example[key].startswith("change-me"), f"{key} must be a placeholder"
    assert compose["secrets"]["metrics_rpc_token"] == {"environment": "METRICS_RPC_TOKEN"}
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    dockerignore = (ROOT / ".dockerignore").read_text().splitlines()
    assert ".env" in dockerignore and ".git" in dockerignore


def test_example_secret_is_accepted_by_the_api() -> None:
    from api.rpc.auth import Authenticator

    example = env_example()
    Authenticator(load_settings({"PGRST_JWT_SECRET": example["PGRST_JWT_SECRET"]}))


def test_prometheus_config_remote_writes_through_caddy(
    services: dict[str, dict[str, Any]],
) -> None:
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    (target,) = config["remote_write"]
    assert target["url"] == "http://caddy:8080/api/v1/write"
    assert target["authorization"]["credentials_file"] == "/run/secrets/metrics_rpc_token"
    assert "metrics_rpc_token" in services["prometheus"]["secrets"]
    scraped = config["scrape_configs"][1]["static_configs"][0]["targets"]
    assert scraped == [f"{name}:3000" for name in API_REPLICAS]


def test_dockerfile_pins_the_uv_of_bootstrap() -> None:
    """One uv version: the image's build stage uses the one scripts/bootstrap.sh installs."""
    bootstrap = re.search(r"^UV_VERSION=(\S+)$", (ROOT / "scripts/bootstrap.sh").read_text(),
                          re.MULTILINE)
    image = re.search(r"^ARG UV_VERSION=(\S+)$", (ROOT / "Dockerfile").read_text(),
                      re.MULTILINE)
    assert bootstrap and image
    assert image.group(1) == bootstrap.group(1)


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            keyword, _, rest = line.strip().partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert froms == ["python:3.11-slim AS build", "python:3.11-slim"]
    runs = [rest for keyword, rest in instructions if keyword == "RUN"]
    # the image installs the locked versions, as make run/test do, never a fresh resolve
    assert any("uv sync --locked" in run and "--no-dev" in run for run in runs)
    assert not any("pip install ." in run for run in runs)
    assert ("COPY", "pyproject.toml uv.lock README.md ./") in instructions
    assert ("COPY", "--from=build /opt/venv /opt/venv") in instructions
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "uv.lock" not in ignored
    assert ("ENTRYPOINT", '["metrics-rpc"]') in instructions
    assert ("CMD", '["serve"]') in instructions
    assert any(k == "USER" and rest != "root" for k, rest in instructions)
    env = " ".join(rest for keyword, rest in instructions if keyword == "ENV")
    assert "METRICS_RPC_SQL_DIR=/app/sql" in shlex.split(env)
    copies = [rest for keyword, rest in instructions if keyword == "COPY"]
    assert "sql ./sql" in copies and "api ./api" in copies

"""The ``metrics-rpc`` console script: token minting and clear refusals (api/cli.py)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import jwt

from tests.pgfixtures import ROOT

SECRET = "a-test-secret-that-is-long-enough-0123456789"


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "METRICS_RPC_"))}
    return subprocess.run(
        [sys.executable, "-m", "api", *args], capture_output=True, text=True, cwd=ROOT,
        env={**clean, **env}, timeout=60, check=False,
    )


def test_token_is_signed_with_the_configured_secret() -> None:
    result = cli("token", "--role", "writer", "--sub", "ops", "--exp", "2h",
                 "--claim", "team=data", PGRST_JWT_SECRET=SECRET, PGRST_JWT_AUD="metrics")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"], audience="metrics")
    assert claims["role"] == "writer"
    assert claims["sub"] == "ops"
    assert claims["team"] == "data"
    assert 7190 <= claims["exp"] - claims["iat"] <= 7200


def test_token_without_secret_is_a_clear_error() -> None:
    result = cli("token", "--role", "writer", "--sub", "ops")
    assert result.returncode == 2
    assert "PGRST_JWT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_without_database_uri_refuses() -> None:
    result = cli("serve", PGRST_JWT_SECRET=SECRET)
    assert result.returncode == 2
    assert "PGRST_DB_URI" in result.stderr


def test_serve_refuses_a_short_hs_secret() -> None:
    result = cli("serve", PGRST_DB_URI="postgresql://authenticator@127.0.0.1:1/x",
                 PGRST_JWT_SECRET="too-short")
    assert result.returncode == 2
    assert "32" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_names_the_variable() -> None:
    result = cli("serve", PGRST_SERVER_PORT="http")
    assert result.returncode == 2
    assert "PGRST_SERVER_PORT" in result.stderr


def test_token_refuses_a_short_secret() -> None:
    """``token`` reads the secret as the API does: one it would refuse mints nothing."""
    result = cli("token", "--role", "writer", "--sub", "ops", PGRST_JWT_SECRET="too-short")
    assert result.returncode == 2
    assert "32" in result.stderr
    assert "Traceback" not in result.stderr


def test_token_reads_the_secret_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt-secret"
    secret_file.write_text(SECRET + "\n")
    result = cli("token", "--role", "writer", "--sub", "ops", PGRST_JWT_SECRET=f"@{secret_file}")
    assert result.returncode == 0, result.stderr
    claims = jwt.decode(result.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["role"] == "writer"


def test_token_takes_an_unpadded_base64url_secret() -> None:
    raw = b"\xfb\xff" + SECRET.encode()  # bytes that base64url writes with - and _
    encoded = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    result = cli("token", "--role", "writer", "--sub", "ops", PGRST_JWT_SECRET=encoded,
                 PGRST_JWT_SECRET_IS_BASE64="true")
    assert result.returncode == 0, result.stderr
    assert jwt.decode(result.stdout.strip(), raw, algorithms=["HS256"])["role"] == "writer"


def test_every_flag_has_help_text() -> None:
    import argparse

    from api.cli import _parser

    missing: list[str] = []

    def walk(parser: argparse.ArgumentParser, path: str) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(_parser(), "metrics-rpc")
    assert missing == []


def test_serve_help_names_the_port_variable() -> None:
    result = cli("serve", "--help")
    assert result.returncode == 0
    assert "--port" in result.stdout
    assert "PGRST_SERVER_PORT" in result.stdout

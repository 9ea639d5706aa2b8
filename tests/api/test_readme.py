"""Every example of the README that talks to ``make run`` works as written.

The curl and psql commands are taken from the README's ``sh`` code blocks and run with
bash against ``metrics-rpc dev`` and its demo data, started here on a free port in a
folder of its own: only ``localhost:3000`` is rewritten to that port, and ``$TOKEN`` is
the writer token the banner prints. Each must answer 2xx with data.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.devprocess import Dev
from tests.pgfixtures import ROOT

README = ROOT / "README.md"
README_PORT = "localhost:3000"
# psql examples against the dev database find its port in .data/pg/port
DEV_PSQL = ".data/pg/port"


def readme_examples() -> list[str]:
    """The curl commands to the README's API and psql commands to its dev database,
    continuation lines joined, in README order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", README.read_text(), flags=re.MULTILINE | re.DOTALL)
    examples = []
    for block in blocks:
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = line.strip()
            if (command.startswith("curl ") and README_PORT in command) or (
                command.startswith("psql ") and DEV_PSQL in command
            ):
                examples.append(command)
    return examples


EXAMPLES = readme_examples()


class DevForReadme:
    def __init__(self, dev: Dev, cwd: Path) -> None:
        self.dev = dev
        self.cwd = cwd  # holds .data/, as the repository does after `make run`
        found = re.search(r"export TOKEN=(\S+)", dev.output)
        assert found, f"no writer token in the banner:\n{dev.output}"
        self.token = found.group(1)

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        command = command.replace(README_PORT, f"localhost:{self.dev.port}")
        # the status code on a line of its own after the body
        command = re.sub(r"^curl ", "curl -sS -w '\\n%{http_code}' ", command)
        env = {**os.environ, "TOKEN": self.token}
        return subprocess.run(["bash", "-c", command], cwd=self.cwd, env=env,
                              capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def dev() -> Iterator[DevForReadme]:
    cwd = ROOT / ".data" / f"readme-{os.getpid()}"  # short: the server's socket lives in it
    shutil.rmtree(cwd, ignore_errors=True)
    cwd.mkdir(parents=True)
    process = Dev(cwd / ".data")
    try:
        process.wait_ready()
        yield DevForReadme(process, cwd)
    finally:
        output = process.stop(signal.SIGTERM)
        shutil.rmtree(cwd, ignore_errors=True)
    assert "Traceback" not in output, output


def test_the_readme_has_its_examples() -> None:
    assert sum(e.startswith("curl ") for e in EXAMPLES) >= 6
    assert sum(e.startswith("psql ") for e in EXAMPLES) >= 1
    assert any("$TOKEN" in e for e in EXAMPLES)


@pytest.mark.parametrize("command", EXAMPLES, ids=[f"{i}-{e.split()[0]}"
                                                   for i, e in enumerate(EXAMPLES)])
def test_readme_example_answers_with_data(dev: DevForReadme, command: str) -> None:
    result = dev.run(command)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    if command.startswith("psql "):
        rows = re.search(r"^\((\d+) rows?\)$", result.stdout, flags=re.MULTILINE)
        assert rows and int(rows.group(1)) > 0, f"{command}\n{result.stdout}"
        return
    body, _, status = result.stdout.rpartition("\n")
    assert status.startswith("2"), f"{command}\n{status}\n{body}"
    if status == "204":  # a writer call to a void function: its effect is the data
        assert "/rpc/add_excluded_address" in command, command
        value = json.loads(re.findall(r"-d '(.*?)'", command)[0])["p_value"]
        listed = httpx.get(f"{dev.dev.base}/rpc/get_excluded_addresses",
                           params={"value": f"eq.{value}"})
        assert [row["value"] for row in listed.json()] == [value]
        return
    if "text/csv" in command:
        assert len(body.splitlines()) >= 2, f"{command}: header only\n{body}"
    else:
        assert json.loads(body), f"{command}: empty answer {body!r}"

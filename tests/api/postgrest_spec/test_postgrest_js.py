"""postgrest-js (Supabase's PostgREST client, unchanged, the version pinned in
``tests/api/postgrest_js/package-lock.json``, installed by ``scripts/bootstrap.sh``) against
the real server: the calls a dashboard makes with it, on the PostgREST spec fixture."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.api.apiserver import ApiServer

JS = Path(__file__).resolve().parent.parent / "postgrest_js"


@pytest.fixture(scope="module")
def results(spec_server: ApiServer) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is installed by scripts/bootstrap.sh"
    assert (JS / "node_modules" / "@supabase" / "postgrest-js").is_dir(), (
        "run scripts/bootstrap.sh test (npm ci in tests/api/postgrest_js)")
    done = subprocess.run([node, "calls.mjs", spec_server.base_url, spec_server.writer_token],
                          cwd=JS, capture_output=True, text=True, timeout=120, check=True)
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def test_scalar_results_by_post_and_get(results: dict[str, Any]) -> None:
    assert (results["scalar"]["data"], results["scalar"]["status"]) == (3, 200)
    assert results["scalar_get"]["data"] == 3


def test_filters_select_and_order_on_a_set(results: dict[str, Any]) -> None:
    assert results["set_filtered"]["data"] == [{"id": 5}, {"id": 4}]


def test_exact_count_with_head_and_with_a_range(results: dict[str, Any]) -> None:
    assert (results["count_head"]["count"], results["count_head"]["data"]) == (15, None)
    page = results["count_range"]
    assert (page["data"], page["count"], page["status"]) == ([{"id": 3}, {"id": 4}], 15, 206)


def test_single_and_maybe_single(results: dict[str, Any]) -> None:
    assert results["single"]["data"] == {"id": 2, "name": "Windows 10", "client_id": 1}
    assert (results["maybe_single_none"]["data"], results["maybe_single_none"]["error"]) == (
        None, None)


def test_table_record_and_composite_domain_shapes(results: dict[str, Any]) -> None:
    assert results["one_column_table"]["data"] == [{"a": "A"}]
    assert [r["id"] for r in results["setof_record"]["data"]] == [1, 2]
    assert results["composite_domain"]["data"] == {"x": 10, "y": 5}


def test_csv(results: dict[str, Any]) -> None:
    assert results["csv"]["data"] == "id\n3\n4"


def test_errors_reach_the_client_as_postgrest_errors(results: dict[str, Any]) -> None:
    assert (results["unknown"]["status"], results["unknown"]["error"]["code"]) == (404,
                                                                                    "PGRST202")
    raised = results["raised"]
    assert (raised["status"], raised["error"]["code"], raised["error"]["hint"]) == (
        402, "PT402", "Upgrade your plan")
    assert results["denied"]["status"] == 401


def test_writer_token_and_rollback(results: dict[str, Any]) -> None:
    assert results["writer"]["data"] == "Privileged hello to jdoe"
    assert results["rollback"]["status"] == 200 and isinstance(results["rollback"]["data"], int)

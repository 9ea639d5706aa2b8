"""A streamed result (a function declared ROWS >= 10000, sent as PostgreSQL COPYs its
pre-rendered rows) has the very bytes of the same call answered in one piece (``json_agg``
or the CSV body), for every media type, select, filter, order and page; the response GUCs,
errors before the first row and an unread (HEAD) stream behave as for any call.

Each ``*_streamed`` function has a twin ``*_whole`` with the same body declared ROWS 100,
which the API answers in one statement: the twins' bodies must be byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest

from api.rpc.query import PROBE_ROWS
from tests.api import hardening_db as hardening
from tests.api.apiserver import ApiServer, serving
from tests.pgfixtures import DbInfo

LARGE = 4 * PROBE_ROWS + 7  # more than the probe answers: the COPY path
ROWS_BODY = r"""
    select i, 'row ' || i || case i % 6
            when 0 then E'\\back\\slash' when 1 then E'quote " and \t tab'
            when 2 then E'new\nline\r' when 3 then E'\x01 ctl \u00e9 \u2603' when 4 then ','
            else '' end,
        case when i % 7 = 0 then null else array['a', null, 'b"c'] end,
        case when i % 3 = 0 then E'{"a" : [1, 2],\n "b": null}'::json else to_json(i) end
    from generate_series(1, p_rows) as i
"""
VALUES_BODY = """
    select case when i % 4 = 0 then null else array[i, i + 1] end
    from generate_series(1, p_rows) as i
"""
RANGE_BODY = """
begin
    perform set_config('response.status', '203', true);
    perform set_config('response.headers', '[{"x-stream": "yes"}]', true);
    if p_interval < interval '1 second' then
        raise exception 'interval too small' using errcode = 'P0001';
    end if;
    return query select b from generate_series(p_from, p_to, p_interval) as b
        where p_interval < interval '1 day';
end
"""


def _sql() -> str:
    out = []
    for kind, rows in (("streamed", 10000), ("whole", 100)):
        out.append(f"""
create function api.rows_{kind}(p_rows int)
returns table (id int, label text, tags text[], doc json)
language sql stable rows {rows} as $${ROWS_BODY}$$;
create function api.values_{kind}(p_rows int) returns setof int[]
language sql stable rows {rows} as $${VALUES_BODY}$$;
create function api.numbered_{kind}(p_rows int) returns table (_n int, ordinality text)
language sql stable rows {rows} as $$
    select i, 'n' || i from generate_series(1, p_rows) as i
$$;
""")
    out.append(f"""
create function api.range_streamed(p_from timestamptz, p_to timestamptz, p_interval interval)
returns table (bucket timestamptz) language plpgsql stable rows 10000 as $${RANGE_BODY}$$;
""")
    out.append("""
create table public.stream_writes (n int);
create function api.write_streamed(p_rows int) returns table (id int)
language plpgsql volatile security definer rows 10000 as $$
begin
    insert into public.stream_writes values (p_rows);
    return query select i from generate_series(1, p_rows) as i;
end $$;
""")
    out.append("grant execute on all functions in schema api to web_anon;")
    return "\n".join(out)


@pytest.fixture(scope="module")
def db(make_db: Callable[..., DbInfo]) -> Iterator[DbInfo]:
    info = make_db("streambytes")
    hardening.install(info)
    info.psql(_sql())
    yield info
    info.drop()


@pytest.fixture(scope="module")
def server(db: DbInfo) -> Iterator[ApiServer]:
    with serving(hardening.settings(db, db_pool=1), db=db) as api:
        yield api


def twins(server: ApiServer, kind: str, query: str,
          headers: dict[str, str] | None = None) -> tuple[httpx.Response, httpx.Response]:
    streamed = httpx.get(f"{server.base_url}/rpc/{kind}_streamed?{query}", headers=headers,
                         timeout=60)
    whole = httpx.get(f"{server.base_url}/rpc/{kind}_whole?{query}", headers=headers,
                      timeout=60)
    assert streamed.status_code == whole.status_code == 200, (streamed.text, whole.text)
    assert streamed.headers["content-type"] == whole.headers["content-type"]
    return streamed, whole


@pytest.mark.parametrize("query", [
    f"p_rows={LARGE}",
    f"p_rows={LARGE}&select=n:id,label,doc",
    f"p_rows={LARGE}&select=id,label::text&order=id.desc&id=lt.{LARGE - 3}",
    f"p_rows={LARGE}&limit=12000&offset=5",
    f"p_rows={LARGE}&limit=12000",
    "p_rows=169",  # the probe's answer
    "p_rows=0",
])
def test_streamed_json_is_byte_for_byte_the_whole_answer(server: ApiServer, query: str) -> None:
    streamed, whole = twins(server, "rows", query)
    assert "content-length" not in streamed.headers or query.endswith(("=169", "=0"))
    assert streamed.content == whole.content


@pytest.mark.parametrize("query", [f"p_rows={LARGE}", "p_rows=0", "p_rows=3"])
def test_streamed_csv_is_byte_for_byte_the_whole_answer(server: ApiServer, query: str) -> None:
    streamed, whole = twins(server, "rows", query, {"Accept": "text/csv"})
    assert streamed.content == whole.content


def test_streamed_arrays_keep_json_aggs_separators(server: ApiServer) -> None:
    # json_agg puts "\n " before an array element but not before a null
    streamed, whole = twins(server, "values", f"p_rows={LARGE}")
    assert streamed.content.startswith(b"[[1,2], \n [2,3], \n [3,4], null, \n [5,6]")
    assert streamed.content == whole.content


def test_columns_named_like_the_row_number_are_streamed_as_any(server: ApiServer) -> None:
    # the COPY tells its first row by the function's own row number (WITH ORDINALITY),
    # named _n; a function with columns of that name is numbered by a window instead
    streamed, whole = twins(server, "numbered", f"p_rows={LARGE}")
    assert streamed.content.startswith(b'[{"_n":1,"ordinality":"n1"}, \n {"_n":2,')
    assert streamed.content == whole.content


WEEK = "p_from=2026-01-01T00:00:00%2B00:00&p_to=2026-01-08T00:00:00%2B00:00"


def test_response_gucs_of_a_streamed_result_lead_the_response(server: ApiServer) -> None:
    # a week at one minute: known to be large, so no probe: the COPY path
    response = httpx.get(f"{server.base_url}/rpc/range_streamed?{WEEK}&p_interval=1 minute",
                         timeout=60)
    assert response.status_code == 203
    assert response.headers["x-stream"] == "yes"
    assert len(response.json()) == 7 * 24 * 60 + 1


def test_response_gucs_of_an_empty_streamed_result(server: ApiServer) -> None:
    # no row to lead: the GUCs are read once the COPY has ended
    response = httpx.get(f"{server.base_url}/rpc/range_streamed?{WEEK}&p_interval=1 day",
                         timeout=60)
    assert (response.status_code, response.content) == (203, b"[]")
    assert response.headers["x-stream"] == "yes"


def test_an_error_before_the_first_row_is_an_error_response(server: ApiServer) -> None:
    response = httpx.get(
        f"{server.base_url}/rpc/range_streamed?p_from=2026-01-01T00:00:00%2B00:00"
        "&p_to=2026-02-01T00:00:00%2B00:00&p_interval=1 millisecond", timeout=60)
    assert response.status_code == 400
    assert response.json()["message"] == "interval too small"


def test_a_nul_in_an_inlined_argument_is_refused_like_a_bound_one(server: ApiServer) -> None:
    response = httpx.get(f"{server.base_url}/rpc/range_streamed?{WEEK}&p_interval=1 minute"
                         "&bucket=neq.%00", timeout=60)
    assert response.status_code == 400


def test_an_unread_stream_leaves_the_pool_usable(server: ApiServer) -> None:
    # HEAD reads no body: the COPY is stopped and its connection dropped (a pool of one)
    head = httpx.head(f"{server.base_url}/rpc/rows_streamed?p_rows={LARGE}", timeout=60)
    assert head.status_code == 200
    assert head.content == b""
    streamed, whole = twins(server, "rows", f"p_rows={LARGE}")
    assert streamed.content == whole.content


def test_a_streamed_write_is_committed_once_the_body_is_sent(
    db: DbInfo, server: ApiServer,
) -> None:
    # POST to a VOLATILE function: no probe (never run twice), a read-write COPY
    response = httpx.post(f"{server.base_url}/rpc/write_streamed", json={"p_rows": LARGE},
                          timeout=60)
    assert response.status_code == 200
    assert [row["id"] for row in response.json()] == list(range(1, LARGE + 1))
    assert db.psql(f"select count(*) from public.stream_writes where n = {LARGE}") == "1"

"""api/errors.py: the closed set of errors, its one renderer and the SQLSTATE → HTTP map."""

from __future__ import annotations

import re

import msgspec
import pytest

from api.errors import (
    ApiError,
    DatabaseError,
    DatabaseUnavailable,
    DbConnectionError,
    HttpProtocolError,
    PgrstParseError,
    RaisedError,
    error_classes,
    from_postgres,
    status_for_sqlstate,
)

CODE = re.compile(r"^(PGRST\d{3}|MRPC\d{3}|PT\d{3}|[0-9A-Z]{5})$")


@pytest.mark.parametrize("cls", error_classes(), ids=lambda c: c.__name__)
def test_every_error_class_has_a_postgrest_style_code_and_status(cls: type[ApiError]) -> None:
    assert CODE.match(cls.code), cls.code
    assert 300 <= cls.status <= 599
    assert cls.__doc__, "each case says what it is for"


def test_the_set_is_closed_and_named() -> None:
    names = [cls.__name__ for cls in error_classes()]
    assert len(names) == len(set(names))
    assert {"DatabaseUnavailable", "DbConnectionError", "RateLimitUnavailable",
            "RaisedError", "DatabaseError", "NoSchemaCache"} <= set(names)
    # the 503 cases a client may retry as is
    retryable = {cls.__name__ for cls in error_classes() if cls.retryable}
    assert retryable == {"DatabaseUnavailable", "DbConnectionError", "NoSchemaCache",
                         "RateLimitUnavailable"}


def test_render_is_postgrest_shaped() -> None:
    rendered = DbConnectionError("connection refused").render([("ratelimit-limit", "5")])
    assert rendered.status == 503
    assert msgspec.json.decode(rendered.body) == {
        "code": "PGRST000", "details": "connection refused", "hint": None,
        "message": "Database connection error. Retrying the connection.",
    }
    headers = dict(rendered.headers)
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["proxy-status"] == "PostgREST; error=PGRST000"
    assert headers["retry-after"] == "1"
    assert headers["ratelimit-limit"] == "5"
    assert headers["content-length"] == str(len(rendered.body))


def test_framework_errors_keep_their_status() -> None:
    error = HttpProtocolError(400, "Bad Request")
    assert (error.status, error.code) == (400, "MRPC400")


# --- SQLSTATE → HTTP --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sqlstate", "message", "authenticated", "status"),
    [
        ("23505", "", True, 409), ("23503", "", True, 409), ("25006", "", True, 405),
        ("42501", "", False, 401), ("42501", "", True, 403),
        ("42883", "function f() does not exist", True, 404),
        ("42883", "function xmlagg(x) does not exist", True, 406),
        ("42P01", "", True, 404), ("22P02", "", True, 400), ("22023", "", True, 400),
        ("22023", 'role "x" does not exist', True, 401), ("P0001", "", True, 400),
        ("21000", "UPDATE requires a WHERE clause", True, 400), ("21000", "", True, 500),
        ("57014", "canceling statement due to statement timeout", True, 500),
        ("08006", "", True, 503), ("53300", "", True, 503), ("53400", "", True, 500),
        ("57P01", "", True, 503), ("57P02", "", True, 503), ("57P03", "", True, 503),
        ("57P04", "", True, 500), ("PT402", "", True, 402), ("PT999", "", True, 500),
        ("PTabc", "", True, 500), ("XX000", "", True, 500), ("42703", "", True, 400),
    ],
)
def test_status_for_sqlstate(sqlstate: str, message: str, authenticated: bool,
                             status: int) -> None:
    assert status_for_sqlstate(sqlstate, message, authenticated=authenticated) == status


def test_a_database_going_away_is_a_retryable_503() -> None:
    for sqlstate in ("57P03", "57P01", "08006", "53300"):
        error = from_postgres(sqlstate, "the database system is shutting down", None, None,
                              authenticated=False)
        assert isinstance(error, DatabaseUnavailable) and error.retryable
        assert (error.status, error.code, error.headers) == (503, sqlstate, {"Retry-After": "1"})


def test_pt503_is_raised_on_purpose_and_not_retryable() -> None:
    error = from_postgres("PT503", "come back later", None, None, authenticated=True)
    assert isinstance(error, RaisedError) and not error.retryable
    assert (error.status, error.code, error.headers) == (503, "PT503", {"Retry-After": "1"})


def test_other_database_errors() -> None:
    anon = from_postgres("42501", "permission denied", None, None, authenticated=False)
    assert type(anon) is DatabaseError
    assert (anon.status, anon.headers) == (401, {"WWW-Authenticate": "Bearer"})
    authed = from_postgres("42501", "permission denied", "d", "h", authenticated=True)
    assert (authed.status, authed.headers, authed.details, authed.hint) == (403, {}, "d", "h")


def test_raise_pgrst_gives_full_control() -> None:
    error = from_postgres("PGRST", '{"code":"123","message":"Custom","details":"d"}',
                          '{"status":418,"headers":{"X-Teapot":"yes"}}', None,
                          authenticated=True)
    assert isinstance(error, RaisedError)
    assert (error.status, error.code, error.message, error.details, error.hint) == (
        418, "123", "Custom", "d", None)
    assert error.headers == {"X-Teapot": "yes"}
    bad = from_postgres("PGRST", "not json", None, None, authenticated=True)
    assert isinstance(bad, PgrstParseError)
    assert bad.details == "Invalid JSON value for MESSAGE: 'not json'"
    no_detail = from_postgres("PGRST", '{"code":"1","message":"m"}', None, None,
                              authenticated=True)
    assert isinstance(no_detail, PgrstParseError)
    assert no_detail.details == "DETAIL is missing in the RAISE statement"

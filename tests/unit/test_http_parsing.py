"""Ids and cursors are parsed exactly as the OpenAPI document's patterns say, no looser; so are
Content-Type headers and query strings."""

from __future__ import annotations

import uuid

import pytest
from chalice.app import MultiDict

from chalicelib.api import http
from chalicelib.domain.errors import ValidationError

ID = uuid.UUID("6f1c2b1e-59a4-4f0b-9a3e-2d2f4b1c9e10")


def test_an_id_in_canonical_form_parses() -> None:
    assert http.parse_id(str(ID)) == ID
    assert http.parse_id(str(ID).upper()) == ID


@pytest.mark.parametrize("text", ["{" + str(ID) + "}", ID.hex, f"urn:uuid:{ID}", f" {ID}", "not-a-uuid"])
def test_other_spellings_of_an_id_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        http.parse_id(text)


def test_a_cursor_round_trips_and_only_its_own_form_is_accepted() -> None:
    cursor = http.encode_cursor(ID)
    assert cursor is not None
    assert len(cursor) == 22
    assert http.decode_cursor(cursor) == ID
    for bad in (cursor + "==", cursor[:10] + "!" + cursor[10:], cursor[:-1], "x" * 40):
        with pytest.raises(ValidationError):
            http.decode_cursor(bad)


@pytest.mark.parametrize("text", ["0", "101", "-1", "1.0", "²", "9" * 5000, "0" * 4400 + "5"])
def test_a_limit_out_of_range_is_a_validation_error_however_long(text: str) -> None:
    """int() refuses more than 4,300 digits with a ValueError of its own: that was a 500."""
    with pytest.raises(ValidationError) as refused:
        http.parse_limit(text)
    assert refused.value.details[0].field == "limit"


def test_a_limit_in_range_parses_with_the_routes_bounds() -> None:
    assert (http.parse_limit(None), http.parse_limit("100")) == (http.DEFAULT_PAGE, 100)
    assert (http.parse_limit("1000", 1000, 10), http.parse_limit(None, 1000, 10)) == (1000, 10)


JSON_TYPES = [
    "application/json",
    "APPLICATION/Json",
    "application/json; charset=utf-8",
    "application/json;CHARSET=UTF-8",
    'application/json; charset="utf-8"',
    "application/json;",
    " application/json ; charset = utf-8 ",
]
OTHER_TYPES = [
    None,
    "",
    "text/plain",
    "application/json; charset=latin-1",
    "application/json; charset=utf8",
    "application/json; charset",
    "application/json; q=1",
    "application/json; charset=utf-8; charset=utf-8",
    "application/jsonp",
    "application/json-patch+json",
    "text/plain, application/json",
    "*/*",
]


@pytest.mark.parametrize("content_type", JSON_TYPES)
def test_json_with_no_charset_or_utf_8_is_declared_json(content_type: str) -> None:
    assert http.declares_json(content_type)


@pytest.mark.parametrize("content_type", OTHER_TYPES)
def test_anything_else_is_not(content_type: str | None) -> None:
    assert not http.declares_json(content_type)


def test_query_values_name_unknown_and_repeated_parameters() -> None:
    query = MultiDict({"limit": ["5", "6"], "cursor": ["c"], "colour": ["red"], "page": ["1", "2"]})
    values, errors = http.query_values(query, {"limit", "cursor"})
    assert values == {"cursor": "c"}
    assert [(e.field, e.message) for e in errors] == [
        ("colour", "is not a known query parameter"),
        ("limit", "is given more than once"),
        ("page", "is not a known query parameter"),
    ]
    assert http.query_values(None, {"limit"}) == ({}, [])

"""Ids and cursors are parsed exactly as the OpenAPI document's patterns say, no looser."""

from __future__ import annotations

import uuid

import pytest

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

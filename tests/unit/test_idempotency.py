"""The pure rules of Idempotency-Key: what a key may be, what makes two requests the same, how
long a key lives and which answers are kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.errors import ValidationError
from chalicelib.domain.idempotency import LIFETIME, KeyRecord, fingerprint, is_kept, parse_key

BODY = b'{"firstName": "Ada", "metadata": {"a": 1, "b": [1, 2]}}'


@pytest.mark.parametrize("key", ["k", "k" * 255, " spaced out ", "~!@#$%^&*()_+{}|:\"<>?`-=[]\\;',./"])
def test_a_key_is_1_to_255_printable_ascii_characters(key: str) -> None:
    assert parse_key(key) == key


@pytest.mark.parametrize("key", ["", "k" * 256, "é", "\t", "\n", "\x00", "\x7f", "ｋ"])
def test_anything_else_is_refused_naming_the_header(key: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_key(key)
    assert [d.field for d in refused.value.details] == ["Idempotency-Key"]


def test_no_header_is_no_key() -> None:
    assert parse_key(None) is None


def test_a_json_body_counts_as_the_value_it_holds() -> None:
    respelled = b'{ "metadata" : {"b": [1,2], "a": 1},\n "firstName":"Ada" }'
    assert fingerprint("POST", "/user", BODY) == fingerprint("post", "/user", respelled)
    assert fingerprint("POST", "/user", BODY) == fingerprint("POST", "/user", BODY.decode())


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/user", BODY),
        ("POST", "/user/import", BODY),
        ("POST", "/user", b'{"firstName": "Ada", "metadata": {"a": 1, "b": [2, 1]}}'),  # order in a list
        ("POST", "/user", b'{"firstName": "Ada", "metadata": {"a": 1.5, "b": [1, 2]}}'),
        ("POST", "/user", b""),
    ],
)
def test_another_method_path_or_body_is_another_request(method: str, path: str, body: bytes) -> None:
    assert fingerprint("POST", "/user", BODY) != fingerprint(method, path, body)


def test_a_body_that_is_not_json_counts_as_its_bytes() -> None:
    assert fingerprint("POST", "/user", b"{not json") == fingerprint("POST", "/user", b"{not json")
    assert fingerprint("POST", "/user", b"{not json") != fingerprint("POST", "/user", b"{not  json")
    assert fingerprint("POST", "/user", b"[" * 100_000) != fingerprint("POST", "/user", b"[" * 99_999)
    # A path and a body cannot trade characters and collide.
    assert fingerprint("POST", "/user", b"x") != fingerprint("POST", "/userx", b"")


def test_a_key_lives_24_hours() -> None:
    created = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    record = KeyRecord("f", created, None)
    assert timedelta(hours=24) == LIFETIME
    assert record.is_live(created + LIFETIME - timedelta(microseconds=1))
    assert not record.is_live(created + LIFETIME)


@pytest.mark.parametrize("status", [200, 201, 204, 400, 403, 404, 409, 415, 429, 500, 503])
def test_only_a_2xx_answer_is_kept(status: int) -> None:
    assert is_kept(status) is (status < 300)

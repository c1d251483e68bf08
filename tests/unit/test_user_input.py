"""Validation of a client's user JSON: every rule, each error naming its field."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from chalicelib.api.user_input import MAX_NAME_LENGTH, parse_new_user, parse_user_patch
from chalicelib.domain.errors import ValidationError
from chalicelib.domain.users import UserFields

# 12:00 UTC on 1 March 2026: already 2 March in Kiritimati (+14), still 1 March in Pago Pago (-11).
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
VALID = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-12-10", "timezone": "Europe/London"}
CURRENT = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London")


def errors_of(payload: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_new_user(payload, NOW)
    return {d.field: d.message for d in caught.value.details}


def errors_of_patch(payload: Any, current: UserFields = CURRENT) -> dict[str, str]:
    with pytest.raises(ValidationError) as caught:
        parse_user_patch(payload, current, NOW)
    return {d.field: d.message for d in caught.value.details}


def test_a_valid_user() -> None:
    fields = parse_new_user(VALID, NOW)
    assert fields == UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London", None)


def test_anniversary_is_optional_and_may_be_null() -> None:
    assert parse_new_user({**VALID, "anniversaryDate": "2015-08-01"}, NOW).anniversary_date == date(
        2015, 8, 1
    )
    assert parse_new_user({**VALID, "anniversaryDate": None}, NOW).anniversary_date is None


def test_names_are_stripped_of_surrounding_whitespace() -> None:
    fields = parse_new_user({**VALID, "firstName": "  Ada ", "lastName": "\tKing\u00a0"}, NOW)
    assert (fields.first_name, fields.last_name) == ("Ada", "King")


def test_names_keep_letters_of_every_script() -> None:
    names = {"firstName": "Zoë-Ngọc", "lastName": "O'Brien 山田 محمد 😀"}
    fields = parse_new_user({**VALID, **names}, NOW)
    assert (fields.first_name, fields.last_name) == (names["firstName"], names["lastName"])


BIDI = "must not contain bidirectional controls (U+200E, U+200F, U+061C, U+202A-U+202E, U+2066-U+2069)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("x" * (MAX_NAME_LENGTH + 1), f"must be at most {MAX_NAME_LENGTH} characters"),
        ("Ada\nLovelace", "must not contain control or unassigned characters"),
        ("Ada\x00", "must not contain control or unassigned characters"),
        ("Ada\x1b[31m", "must not contain control or unassigned characters"),
        ("Ada\u0085King", "must not contain control or unassigned characters"),  # C1 control
        ("Ada\ue000", "must not contain control or unassigned characters"),  # private use
        ("Ada\U000e0080", "must not contain control or unassigned characters"),  # unassigned
        (None, "must be a string"),
        (42, "must be a string"),
        (["Ada"], "must be a string"),
        ({"first": "Ada"}, "must be a string"),
        (True, "must be a string"),
        # Nothing visible: a zero-width space, word joiner, BOM, Hangul fillers, braille blank,
        # ideographic space, a lone combining accent.
        *[
            (blank, "must contain a visible character")
            for blank in ("\u200b", "\u2060", "\ufeff", "\u3164", "\u115f\u1160", "\uffa0", "\u2800")
        ],
        ("\u200b\u3000\u200b", "must contain a visible character"),
        ("\u0301", "must contain a visible character"),
        # Bidirectional controls, anywhere in a name that has visible characters too.
        *[
            (f"Ada{control}Lovelace", BIDI)
            for control in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068")
        ],
        ("\u2069Ada", BIDI),
        ("Ada\u200e", BIDI),
        ("Ada\u200f", BIDI),
        ("\u061cAda", BIDI),
    ],
)
@pytest.mark.parametrize("field", ["firstName", "lastName"])
def test_bad_names(field: str, value: Any, message: str) -> None:
    assert errors_of({**VALID, field: value}) == {field: message}


def test_names_may_join_and_mark_letters() -> None:
    """Zero-width joiners, combining marks and Arabic letters are parts of real names."""
    names = {"firstName": "\u0645\u062d\u0645\u062f", "lastName": "\u0928\u094d\u200d\u092f Zoe\u0308 \u200c"}
    fields = parse_new_user({**VALID, **names}, NOW)
    assert (fields.first_name, fields.last_name) == (names["firstName"], names["lastName"])


def test_a_name_of_exactly_the_maximum_length_is_fine() -> None:
    name = "é" * MAX_NAME_LENGTH
    assert parse_new_user({**VALID, "lastName": name}, NOW).last_name == name


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Mars/Olympus_Mons", "is not a known IANA time zone"),
        ("../../etc/passwd", "is not a known IANA time zone"),
        ("/etc/localtime", "is not a known IANA time zone"),
        ("localtime", "is not a known IANA time zone"),
        ("america/new_york", "is not a known IANA time zone"),
        ("", "is not a known IANA time zone"),
        ("Europe/London ", "is not a known IANA time zone"),
        ("+02:00", "is not a known IANA time zone"),
        (None, "must be a string"),
        (1, "must be a string"),
    ],
)
def test_bad_timezones(value: Any, message: str) -> None:
    assert errors_of({**VALID, "timezone": value}) == {"timezone": message}


BAD_DATES = [
    ("2023-02-29", "is not a real calendar date"),
    ("1990-13-01", "is not a real calendar date"),
    ("1990-04-31", "is not a real calendar date"),
    ("0000-01-01", "is not a real calendar date"),
    ("2026-03-02", "must not be in the future"),  # tomorrow in London
    ("9999-12-31", "must not be in the future"),
    ("0001-01-01", "must not be before 1900-01-01"),
    ("1899-12-31", "must not be before 1900-01-01"),
    ("10/12/1990", "must be a date as YYYY-MM-DD"),
    ("1990-12-10T00:00:00", "must be a date as YYYY-MM-DD"),
    ("19901210", "must be a date as YYYY-MM-DD"),
    ("1990-1-5", "must be a date as YYYY-MM-DD"),
    (" 1990-12-10", "must be a date as YYYY-MM-DD"),
    ("١٩٩٠-١٢-١٠", "must be a date as YYYY-MM-DD"),  # Arabic-Indic digits
    ("", "must be a date as YYYY-MM-DD"),
    (None, "must be a date as YYYY-MM-DD"),
    (19901210, "must be a date as YYYY-MM-DD"),
    (["1990-12-10"], "must be a date as YYYY-MM-DD"),
]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("dateOfBirth", v, m) for v, m in BAD_DATES]
    + [("anniversaryDate", v, m) for v, m in BAD_DATES if v is not None],  # null clears it
)
def test_bad_dates(field: str, value: Any, message: str) -> None:
    assert errors_of({**VALID, field: value}) == {field: message}


def test_the_earliest_date_is_1900_01_01() -> None:
    fields = parse_new_user({**VALID, "dateOfBirth": "1900-01-01", "anniversaryDate": "1900-01-01"}, NOW)
    assert (fields.date_of_birth, fields.anniversary_date) == (date(1900, 1, 1), date(1900, 1, 1))


def test_an_anniversary_before_the_birth_is_refused() -> None:
    assert errors_of({**VALID, "anniversaryDate": "1990-12-09"}) == {
        "anniversaryDate": "must not be before dateOfBirth"
    }
    assert parse_new_user({**VALID, "anniversaryDate": "1990-12-10"}, NOW).anniversary_date == date(
        1990, 12, 10
    )


def test_a_patch_keeps_the_anniversary_after_the_birth() -> None:
    current = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London", date(2015, 8, 1))
    assert errors_of_patch({"anniversaryDate": "1980-01-01"}, current) == {
        "anniversaryDate": "must not be before dateOfBirth"
    }
    assert errors_of_patch({"dateOfBirth": "2016-01-01"}, current) == {
        "dateOfBirth": "must not be after the anniversaryDate kept (2015-08-01)"
    }
    assert errors_of_patch({"dateOfBirth": "2016-01-01", "anniversaryDate": "2015-01-01"}, current) == {
        "anniversaryDate": "must not be before dateOfBirth"
    }
    moved = parse_user_patch({"dateOfBirth": "2016-01-01", "anniversaryDate": None}, current, NOW)
    assert (moved.date_of_birth, moved.anniversary_date) == (date(2016, 1, 1), None)
    # Stored before the rule, an out-of-order pair blocks no change that leaves both dates alone.
    legacy = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London", date(1980, 1, 1))
    assert parse_user_patch({"firstName": "Augusta"}, legacy, NOW).first_name == "Augusta"


def test_the_future_is_judged_in_the_users_own_zone() -> None:
    # At NOW it is already 2 March in Kiritimati but still 1 March in Pago Pago.
    kiritimati = parse_new_user({**VALID, "timezone": "Pacific/Kiritimati", "dateOfBirth": "2026-03-02"}, NOW)
    assert kiritimati.date_of_birth == date(2026, 3, 2)
    assert errors_of({**VALID, "timezone": "Pacific/Pago_Pago", "dateOfBirth": "2026-03-02"}) == {
        "dateOfBirth": "must not be in the future"
    }
    born_today = parse_new_user({**VALID, "timezone": "Pacific/Pago_Pago", "dateOfBirth": "2026-03-01"}, NOW)
    assert born_today.date_of_birth == date(2026, 3, 1)


def test_required_fields() -> None:
    assert errors_of({}) == {
        "firstName": "is required",
        "lastName": "is required",
        "dateOfBirth": "is required",
        "timezone": "is required",
    }


@pytest.mark.parametrize("name", ["id", "createdAt", "first_name", "email", "FirstName"])
def test_unknown_fields_are_refused(name: str) -> None:
    assert errors_of({**VALID, name: "x"}) == {name: "is not a known field"}


@pytest.mark.parametrize("payload", [[], [VALID], "Ada", 42, None, True])
def test_the_body_must_be_an_object(payload: Any) -> None:
    assert errors_of(payload) == {"body": "must be a JSON object"}
    assert errors_of_patch(payload) == {"body": "must be a JSON object"}


def test_every_bad_field_is_named_at_once() -> None:
    errors = errors_of({"firstName": "", "dateOfBirth": "2023-02-29", "timezone": "Nowhere", "extra": 1})
    assert set(errors) == {"firstName", "lastName", "dateOfBirth", "timezone", "extra"}


def test_a_patch_changes_only_what_it_names() -> None:
    assert parse_user_patch({}, CURRENT, NOW) == CURRENT
    assert parse_user_patch({"lastName": " King "}, CURRENT, NOW).last_name == "King"
    changed = parse_user_patch({"timezone": "Asia/Tokyo", "anniversaryDate": "2015-08-01"}, CURRENT, NOW)
    assert changed == UserFields("Ada", "Lovelace", date(1990, 12, 10), "Asia/Tokyo", date(2015, 8, 1))


def test_a_patch_can_clear_the_anniversary() -> None:
    current = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London", date(2015, 8, 1))
    assert parse_user_patch({"anniversaryDate": None}, current, NOW).anniversary_date is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"firstName": None}, "firstName"),
        ({"dateOfBirth": None}, "dateOfBirth"),
        ({"timezone": None}, "timezone"),
        ({"lastName": ""}, "lastName"),
        ({"id": "x"}, "id"),
    ],
)
def test_a_patch_cannot_clear_a_required_field(payload: dict[str, Any], field: str) -> None:
    assert set(errors_of_patch(payload)) == {field}


def test_a_patch_judges_the_future_in_the_zone_it_ends_up_in() -> None:
    current = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Pacific/Pago_Pago")
    # Given together with a new zone, the new zone decides ...
    moved = parse_user_patch({"timezone": "Pacific/Kiritimati", "dateOfBirth": "2026-03-02"}, current, NOW)
    assert moved.date_of_birth == date(2026, 3, 2)
    # ... and without one, the user's current zone does.
    with pytest.raises(ValidationError):
        parse_user_patch({"dateOfBirth": "2026-03-02"}, current, NOW)


def test_a_patch_of_the_zone_alone_cannot_leave_a_date_in_the_future() -> None:
    # Born "today" in Kiritimati, where it is already 2 March; in Pago Pago it is 1 March.
    current = UserFields("Ada", "Lovelace", date(2026, 3, 2), "Pacific/Kiritimati")
    assert errors_of_patch({"timezone": "Pacific/Pago_Pago"}, current) == {
        "dateOfBirth": "must not be in the future in the new time zone"
    }
    # In Tongatapu (+13) it is 2 March too: fine.
    assert parse_user_patch({"timezone": "Pacific/Tongatapu"}, current, NOW).timezone == "Pacific/Tongatapu"


# --- externalId and metadata (issue 15) ------------------------------------------------------


def test_external_id_and_metadata_are_kept_as_given() -> None:
    metadata = {"plan": "pro", "nested": {"list": [1, 2.5, None, True, "é"]}}
    fields = parse_new_user({**VALID, "externalId": "CRM 42/é", "metadata": metadata}, NOW)
    assert (fields.external_id, fields.metadata) == ("CRM 42/é", metadata)
    assert parse_new_user(VALID, NOW).external_id is None
    assert parse_new_user({**VALID, "externalId": None, "metadata": None}, NOW).metadata is None


def test_a_patch_changes_or_clears_them_and_keeps_the_rest() -> None:
    current = UserFields("Ada", "Lovelace", date(1990, 12, 10), "Europe/London", None, "crm-1", {"a": "1"})
    assert parse_user_patch({"firstName": "Augusta"}, current, NOW).metadata == {"a": "1"}
    cleared = parse_user_patch({"externalId": None, "metadata": None}, current, NOW)
    assert (cleared.external_id, cleared.metadata, cleared.first_name) == (None, None, "Ada")
    assert parse_user_patch({"metadata": {}}, current, NOW).metadata == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must be 1 to 128 characters"),
        ("x" * 129, "must be 1 to 128 characters"),
        (" x", "must not start or end with whitespace"),
        ("a\nb", "must not contain control or unassigned characters"),
        (7, "must be a string"),
    ],
)
def test_bad_external_ids(value: Any, message: str) -> None:
    assert errors_of({**VALID, "externalId": value}) == {"externalId": message}


def test_metadata_up_to_4096_bytes_of_compact_utf8_json() -> None:
    exactly = {"k": "é" * 2044}  # {"k":"…"} is 8 bytes + 4,088: 4,096
    assert parse_new_user({**VALID, "metadata": exactly}, NOW).metadata == exactly
    over = {"k": "é" * 2044 + "x"}
    assert errors_of({**VALID, "metadata": over}) == {
        "metadata": "must be at most 4096 bytes as compact JSON, not 4097"
    }


@pytest.mark.parametrize(
    "value",
    [[1], "x", 3, {"deep": [{"s": "\u0000"}]}, {"\ud800": 1}, {"x": float("nan")}, {"x": float("inf")}],
)
def test_metadata_that_is_not_an_object_or_that_jsonb_cannot_hold(value: Any) -> None:
    assert set(errors_of({**VALID, "metadata": value})) == {"metadata"}


def test_an_imported_user_needs_an_external_id() -> None:
    from chalicelib.api.user_input import parse_imported_user

    assert parse_imported_user({**VALID, "externalId": "e"}, NOW).external_id == "e"
    for payload in (VALID, {**VALID, "externalId": None}):
        with pytest.raises(ValidationError) as caught:
            parse_imported_user(payload, NOW)
        assert [(d.field, d.message) for d in caught.value.details] == [("externalId", "is required")]

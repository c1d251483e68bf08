"""Endpoints, pure: the pair's key, rotation's grace, what a stage lets an endpoint name, and
one event's fate from its endpoints' outcomes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.delivery import Outcome, Verdict
from chalicelib.domain.endpoints import (
    AttemptFacts,
    Destination,
    DestinationRules,
    DestinationType,
    Endpoint,
    EndpointFields,
    EndpointStats,
    Secret,
    delivery_key,
    endpoint_stats,
    take_slots,
)
from chalicelib.domain.fate import Fate, after_posts

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OK = Outcome(Verdict.SUCCESS, 200)
BUSY = Outcome(Verdict.TRANSIENT, 503, "Service Unavailable")
GONE = Outcome(Verdict.PERMANENT, 410, "Gone")


def an_endpoint(types: tuple[str, ...] | None = None) -> Endpoint:
    fields = EndpointFields(Destination(DestinationType.WEBHOOK, "https://x.example.com/"), types)
    return Endpoint(uuid.uuid4(), fields, (Secret("whsec_b2xk", NOW),), True, 1, NOW, NOW)


def test_the_built_in_endpoint_keeps_the_events_key_and_each_other_has_a_stable_one_of_its_own() -> None:
    key, one, two = str(uuid.uuid4()), uuid.uuid4(), uuid.uuid4()
    assert delivery_key(key, None) == key
    assert delivery_key(key, one) == delivery_key(key, one) != delivery_key(key, two)
    assert uuid.UUID(delivery_key(key, one)).version == 5


def test_a_rotation_signs_with_both_until_the_grace_ends_and_a_second_one_shortens_nothing() -> None:
    endpoint = an_endpoint()
    rotated = endpoint.rotate("whsec_bmV3", timedelta(hours=1), NOW)
    assert [s.value for s in rotated.secrets_in_force(NOW)] == ["whsec_bmV3", "whsec_b2xk"]
    assert [s.value for s in rotated.secrets_in_force(NOW + timedelta(hours=1))] == ["whsec_bmV3"]
    again = rotated.rotate("whsec_dGhpcmQ=", timedelta(days=1), NOW + timedelta(minutes=1))
    expiries = {s.value: s.expires_at for s in again.secrets}
    assert expiries == {
        "whsec_dGhpcmQ=": None,
        "whsec_bmV3": NOW + timedelta(minutes=1, days=1),
        "whsec_b2xk": NOW + timedelta(hours=1),  # its own grace, not lengthened
    }
    assert [s.value for s in endpoint.rotate("whsec_bmV3", timedelta(0), NOW).secrets] == ["whsec_bmV3"]


def test_an_endpoint_takes_its_types_while_enabled() -> None:
    assert an_endpoint().takes("anything")
    assert an_endpoint(("birthday",)).takes("birthday")
    assert not an_endpoint(("birthday",)).takes("trial-ending")


@pytest.mark.parametrize(
    ("destination", "allowed"),
    [
        (Destination(DestinationType.SQS, "https://sqs.eu-west-1.amazonaws.com/123456789012/team-a"), True),
        (Destination(DestinationType.SQS, "https://sqs.us-east-1.amazonaws.com/123456789012/team-a"), False),
        (Destination(DestinationType.SNS, "arn:aws:sns:eu-west-1:123456789012:team-b"), True),
        (Destination(DestinationType.SNS, "arn:aws:sns:eu-west-1:999999999999:team-b"), False),
        (Destination(DestinationType.EVENTBRIDGE, "team"), True),
        (
            Destination(DestinationType.EVENTBRIDGE, "arn:aws:events:eu-west-1:123456789012:event-bus/team"),
            True,
        ),
        (Destination(DestinationType.EVENTBRIDGE, "default"), False),
    ],
)
def test_a_stage_allows_the_aws_targets_it_lists(destination: Destination, allowed: bool) -> None:
    rules = DestinationRules(
        "eu-west-1",
        (
            "arn:aws:sqs:eu-west-1:123456789012:team-*",
            "arn:aws:sns:*:123456789012:team-*",
            "arn:aws:events:eu-west-1:123456789012:event-bus/team",
        ),
        private_urls=False,
    )
    assert (rules.problem(destination) is None) is allowed
    assert DestinationRules("eu-west-1").problem(destination) is None  # the local stage takes any


def test_one_events_fate_from_its_endpoints_outcomes() -> None:
    assert after_posts([("", OK), ("endpoint a", OK)], 1, 10) == (Fate.COMPLETED, "")
    assert after_posts([("", OK), ("endpoint a", BUSY), ("endpoint b", GONE)], 1, 10) == (
        Fate.DEFERRED,
        "endpoint a: HTTP 503: Service Unavailable; endpoint b: HTTP 410: Gone",
    )
    assert after_posts([("endpoint a", BUSY)], 10, 10) == (
        Fate.FAILED,
        "endpoint a: gave up after 10 attempts: HTTP 503: Service Unavailable",
    )
    assert after_posts([("", GONE)], 1, 10) == (Fate.FAILED, "HTTP 410: Gone")  # as it always read


def test_take_slots_lets_a_few_tenths_of_a_second_of_the_rate_through_at_once_then_spaces_them() -> None:
    slots = take_slots(NOW, NOW, 10, 20)
    assert (len(slots.at), slots.tat) == (5, NOW + timedelta(milliseconds=500))  # 0, 100, ..., 400 ms
    assert slots.at == [NOW] * 5  # all within the burst
    nothing = take_slots(slots.tat, NOW, 10, 5)  # nothing more now
    assert (nothing.at, nothing.tat) == ([], slots.tat)
    later = take_slots(slots.tat, NOW + timedelta(milliseconds=150), 10, 5)
    assert (len(later.at), later.tat) == (1, slots.tat + timedelta(milliseconds=100))
    idle = take_slots(NOW - timedelta(hours=1), NOW, 1, 3)  # idle: from now
    assert (idle.at, idle.tat) == ([NOW], NOW + timedelta(seconds=1))


def test_slots_a_second_ahead_are_taken_each_at_its_own_time() -> None:
    slots = take_slots(NOW, NOW, 5, 10, timedelta(seconds=1))  # 0.4 s's, a second's, one
    assert slots.tat == NOW + timedelta(milliseconds=1600)
    assert slots.at == [NOW] * 3 + [NOW + timedelta(milliseconds=ms) for ms in (200, 400, 600, 800, 1000)]
    later = NOW + timedelta(milliseconds=300)  # another container, a moment later: what is left
    rest = take_slots(slots.tat, later, 5, 10, timedelta(seconds=1))
    assert (rest.at, rest.tat) == (
        [NOW + timedelta(milliseconds=1200)],
        slots.tat + timedelta(milliseconds=200),
    )


def test_held_deliveries_wait_each_for_a_slot_of_its_own() -> None:
    slots = take_slots(NOW, NOW, 5, 10)  # 3 now (0.4 s's and one), 7 held
    assert (len(slots.at), slots.tat) == (3, NOW + timedelta(milliseconds=600))
    assert slots.waits == [timedelta(milliseconds=ms) for ms in (200, 400, 600, 800, 1000, 1200, 1400)]
    assert take_slots(NOW, NOW, 5, 3).waits == []  # none held


def test_take_slots_never_lets_more_than_the_window_and_four_tenths_of_a_second_through() -> None:
    tat, sent = NOW, []
    for tick in range(400):  # every 25 ms for 10 s, asking for 7 each time
        now = NOW + timedelta(milliseconds=25 * tick)
        slots = take_slots(tat, now, 20, 7)
        assert len(slots.at) + len(slots.waits) == 7  # every delivery either goes or waits
        tat, sent = slots.tat, sent + [now] * len(slots.at)
    window = [t for t in sent if t < NOW + timedelta(seconds=10)]
    assert len(window) <= 20 * 10.4 + 1  # a tenth of a second under the promise: the network's jitter
    assert len(window) >= 20 * 10  # and the limit is used


def test_the_stats_count_every_attempt_and_name_the_last_failure() -> None:
    facts = [
        AttemptFacts(NOW + timedelta(seconds=n), ok, float(ms), None if ok else f"HTTP {code}")
        for n, (ok, ms, code) in enumerate(
            [(True, 10, 200), (False, 500, 503), (True, 20, 200), (False, 30, 429), (True, 40, 200)]
        )
    ]
    stats = endpoint_stats(facts)
    assert (stats.deliveries, stats.successes, stats.failures) == (5, 3, 2)
    assert (stats.p50_ms, stats.p95_ms) == (30.0, 500.0)
    assert (stats.last_error, stats.last_error_at) == ("HTTP 429", NOW + timedelta(seconds=3))
    assert endpoint_stats([]) == EndpointStats(0, 0, 0, None, None, None, None)

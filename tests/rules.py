"""Hypothesis strategies for recurrence rules and schedules, shared by the property tests."""

from __future__ import annotations

from datetime import date, time

from hypothesis import reject
from hypothesis import strategies as st

from chalicelib.domain.recurrence import WEEKDAYS, Freq, Recurrence, RuleError, parse

FREQS = list(Freq)


@st.composite
def rule_texts(draw: st.DrawFn, *, freqs: list[Freq] = FREQS, count: bool = True) -> str:
    """An RRULE value this API accepts (most of the time: callers `parse` and assume)."""
    freq = draw(st.sampled_from(freqs))
    parts = [f"FREQ={freq.value}"]
    if draw(st.booleans()):
        parts.append(f"INTERVAL={draw(st.integers(1, 4))}")
    if count and draw(st.integers(0, 4)) == 0:
        parts.append(f"COUNT={draw(st.integers(1, 30))}")
    elif draw(st.integers(0, 4)) == 0:
        until = draw(st.dates(date(2026, 1, 1), date(2034, 12, 31)))
        parts.append(f"UNTIL={until:%Y%m%d}")
    if draw(st.integers(0, 2)) == 0:
        months = draw(st.lists(st.integers(1, 12), min_size=1, max_size=4, unique=True))
        parts.append("BYMONTH=" + ",".join(map(str, months)))
    if freq is not Freq.WEEKLY and draw(st.integers(0, 2)) == 0:
        days = draw(
            st.lists(
                st.sampled_from([1, 2, 15, 28, 29, 30, 31, -1, -2, -28, -29, -30, -31]),
                min_size=1,
                max_size=3,
                unique=True,
            )
        )
        parts.append("BYMONTHDAY=" + ",".join(map(str, days)))
    if draw(st.booleans()):
        ordinals = freq in (Freq.MONTHLY, Freq.YEARLY) and draw(st.booleans())
        limit = 5 if freq is Freq.MONTHLY else 53
        weekday = st.sampled_from(WEEKDAYS)
        if ordinals:
            ordinal = st.integers(1, min(limit, 5)).flatmap(lambda n: st.sampled_from([n, -n]))
            items = st.tuples(ordinal, weekday).map(lambda t: f"{t[0]}{t[1]}")
        else:
            items = weekday
        parts.append("BYDAY=" + ",".join(draw(st.lists(items, min_size=1, max_size=3, unique=True))))
    if len(parts) > 1 and any(p.startswith("BY") for p in parts) and draw(st.integers(0, 3)) == 0:
        positions = draw(st.lists(st.sampled_from([1, 2, 3, -1, -2]), min_size=1, max_size=2, unique=True))
        parts.append("BYSETPOS=" + ",".join(map(str, positions)))
    if draw(st.integers(0, 3)) == 0:
        parts.append(f"WKST={draw(st.sampled_from(WEEKDAYS))}")
    return ";".join(parts)


@st.composite
def rules(draw: st.DrawFn, **kwargs: object) -> Recurrence:
    text = draw(rule_texts(**kwargs))  # type: ignore[arg-type]
    try:
        return parse(text)
    except RuleError:
        reject()


starts = st.dates(date(2016, 1, 1), date(2030, 12, 31))
times = st.times().map(lambda t: time(t.hour, t.minute))

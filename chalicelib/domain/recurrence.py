"""Recurrence rules: the RFC 5545 RRULE subset schedules accept, expanded over local dates.

Ours rather than dateutil's `rrule` because RFC 7529's SKIP (what a rule does with a date that
does not exist: 31 April, 29 February in a common year) needs the invalid dates a rule names,
which RFC 5545 expanders drop before anyone can see them. dateutil stays the independent
expansion the tests compare against (`invalid=omit` is exactly RFC 5545).

Each period (a day, a week from WKST, a month or a year, every INTERVAL-th from `start`'s)
yields its candidate dates by the RFC 5545 table of BYxxx parts that expand or limit; a
candidate that does not exist is dropped (`omit`) or moved to the nearest date before
(`backward`) or after (`forward`) it; BYSETPOS picks from the period's sorted dates; dates before
`start` or after UNTIL are dropped; a date two candidates map to is yielded once.
COUNT is left to the planner: a date that a DST rule drops is not an occurrence.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
MAX_COUNT = 10_000
MAX_INTERVAL = 1_000
_HORIZON = timedelta(days=401 * 366)
"""A rule that yields nothing for 400 years never will: the Gregorian calendar repeats
every 400 years."""


_LAST_PERIOD = date(9999, 12, 31) - timedelta(days=3660)
"""Periods stop a decade short of the calendar's end, so no date arithmetic overflows."""


class Freq(StrEnum):
    DAILY = "DAILY"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    YEARLY = "YEARLY"


class InvalidDate(StrEnum):
    OMIT = "omit"
    BACKWARD = "backward"
    FORWARD = "forward"


class RuleError(ValueError):
    """A recurrence rule this API does not take; `part` is the RRULE part at fault."""

    def __init__(self, part: str, message: str) -> None:
        super().__init__(f"{part}: {message}")
        self.part = part
        self.message = message


@dataclass(frozen=True)
class WeekdayNum:
    weekday: int
    """0 = Monday, as `date.weekday()`."""
    ordinal: int | None = None
    """The n-th (negative: from the end) in the month or year; None for every one."""

    def text(self) -> str:
        return f"{self.ordinal or ''}{WEEKDAYS[self.weekday]}"


@dataclass(frozen=True)
class Recurrence:
    freq: Freq
    interval: int = 1
    count: int | None = None
    until: date | None = None
    by_day: tuple[WeekdayNum, ...] = ()
    by_month_day: tuple[int, ...] = ()
    by_month: tuple[int, ...] = ()
    by_set_pos: tuple[int, ...] = ()
    wkst: int = 0

    def text(self) -> str:
        """The canonical RRULE value: parts in a fixed order, defaults left out."""
        parts = [f"FREQ={self.freq.value}"]
        if self.interval != 1:
            parts.append(f"INTERVAL={self.interval}")
        if self.count is not None:
            parts.append(f"COUNT={self.count}")
        if self.until is not None:
            parts.append(f"UNTIL={self.until:%Y%m%d}")
        for name, values in (
            ("BYMONTH", self.by_month),
            ("BYMONTHDAY", self.by_month_day),
            ("BYDAY", tuple(d.text() for d in self.by_day)),
            ("BYSETPOS", self.by_set_pos),
        ):
            if values:
                parts.append(f"{name}={','.join(str(v) for v in values)}")
        if self.wkst != 0:
            parts.append(f"WKST={WEEKDAYS[self.wkst]}")
        return ";".join(parts)


# parsing ------------------------------------------------------------------------------------

_KNOWN = ("FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYSETPOS", "WKST")


def parse(value: str) -> Recurrence:
    """An RRULE value (`FREQ=MONTHLY;BYDAY=-1FR`), checked part by part."""
    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[len("RRULE:") :]
    parts: dict[str, str] = {}
    for item in text.split(";"):
        name, sep, raw = item.partition("=")
        name = name.strip().upper()
        if not sep or not name:
            raise RuleError(name or "recurrence", "each part must be NAME=VALUE, separated by ';'")
        if name not in _KNOWN:
            raise RuleError(name, f"is not a part this API takes (only {', '.join(_KNOWN)})")
        if name in parts:
            raise RuleError(name, "is given more than once")
        parts[name] = raw.strip().upper()
    if "FREQ" not in parts:
        raise RuleError("FREQ", "is required")
    try:
        freq = Freq(parts["FREQ"])
    except ValueError:
        raise RuleError("FREQ", f"must be one of {', '.join(Freq)}") from None
    if "COUNT" in parts and "UNTIL" in parts:
        raise RuleError("UNTIL", "cannot be given with COUNT")
    rule = Recurrence(
        freq=freq,
        interval=_int(parts, "INTERVAL", 1, MAX_INTERVAL) or 1,
        count=_int(parts, "COUNT", 1, MAX_COUNT),
        until=_until(parts.get("UNTIL")),
        by_day=_by_day(parts.get("BYDAY"), freq),
        by_month_day=_ints(parts, "BYMONTHDAY", 31, signed=True),
        by_month=_ints(parts, "BYMONTH", 12, signed=False),
        by_set_pos=_ints(parts, "BYSETPOS", 366, signed=True),
        wkst=_weekday(parts["WKST"], "WKST") if "WKST" in parts else 0,
    )
    if rule.by_month_day and freq is Freq.WEEKLY:
        raise RuleError("BYMONTHDAY", "cannot be used with FREQ=WEEKLY (RFC 5545)")
    if rule.by_set_pos and not (rule.by_day or rule.by_month_day or rule.by_month):
        raise RuleError("BYSETPOS", "needs another BY part to pick from (RFC 5545)")
    return rule


def _int(parts: dict[str, str], name: str, low: int, high: int) -> int | None:
    raw = parts.get(name)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise RuleError(name, f"must be a whole number from {low} to {high}")
    return int(raw)


def _ints(parts: dict[str, str], name: str, high: int, *, signed: bool) -> tuple[int, ...]:
    raw = parts.get(name)
    if raw is None:
        return ()
    values = []
    for item in raw.split(","):
        body = item[1:] if signed and item[:1] in "+-" and len(item) > 1 else item
        if not body.isascii() or not body.isdigit() or not 1 <= int(body) <= high:
            span = f"±1 to ±{high}" if signed else f"1 to {high}"
            raise RuleError(name, f"values must be whole numbers from {span}, separated by commas")
        values.append(-int(body) if item.startswith("-") else int(body))
    return tuple(sorted(set(values)))


def _until(raw: str | None) -> date | None:
    if raw is None:
        return None
    if len(raw) != 8 or not raw.isascii() or not raw.isdigit():
        raise RuleError("UNTIL", "must be a date, YYYYMMDD (local, inclusive)")
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise RuleError("UNTIL", "is not a date that exists") from None


def _weekday(raw: str, part: str) -> int:
    if raw not in WEEKDAYS:
        raise RuleError(part, f"must be one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(raw)


def _by_day(raw: str | None, freq: Freq) -> tuple[WeekdayNum, ...]:
    if raw is None:
        return ()
    found = []
    limit = 5 if freq is Freq.MONTHLY else 53
    for item in raw.split(","):
        head, code = item[:-2], item[-2:]
        weekday = _weekday(code, "BYDAY")
        ordinal = None
        if head:
            body = head[1:] if head[0] in "+-" else head
            if not body.isascii() or not body.isdigit() or not 1 <= int(body) <= limit:
                raise RuleError("BYDAY", f"an ordinal must be from ±1 to ±{limit} under FREQ={freq.value}")
            if freq not in (Freq.MONTHLY, Freq.YEARLY):
                raise RuleError("BYDAY", "ordinals (like -1FR) are for FREQ=MONTHLY or YEARLY only")
            ordinal = -int(body) if head[0] == "-" else int(body)
        found.append(WeekdayNum(weekday, ordinal))
    return tuple(sorted(set(found), key=lambda d: (d.ordinal or 0, d.weekday)))


# expansion ----------------------------------------------------------------------------------


def expand(
    rule: Recurrence, start: date, invalid: InvalidDate, since: date | None = None, until: date | None = None
) -> Iterator[date]:
    """The rule's dates on or after `start` (and `since`), ascending, each once, through UNTIL
    (and `until`, which only saves expanding further).

    `since` only skips ahead (periods wholly before it are not expanded); a rule with COUNT
    must be expanded from `start`, since the count runs from there."""
    since = max(start, since or start)
    last: date | None = None
    horizon = _plus(since, _HORIZON)
    ends = [d for d in (rule.until, until) if d is not None]
    end = min(ends) if ends else None
    for period in _periods(rule, start, since):
        if period > horizon or (end is not None and period > _plus(end, timedelta(days=31))):
            return
        for day in _pick(_candidates(rule, start, period, invalid), rule.by_set_pos):
            if day < since or (last is not None and day <= last):
                continue
            if end is not None and day > end:
                return
            last = day
            horizon = _plus(day, _HORIZON)
            yield day


def _periods(rule: Recurrence, start: date, since: date) -> Iterator[date]:
    """The first day of every INTERVAL-th period from `start`'s, from one before `since`'s
    (a `backward` date may land in the period before its own)."""
    n = rule.interval
    if rule.freq is Freq.DAILY:
        k = max(0, (since - start).days // n - 1)
        day = start + timedelta(days=k * n)
        while day <= _LAST_PERIOD:
            yield day
            day += timedelta(days=n)
    elif rule.freq is Freq.WEEKLY:
        first = start - timedelta(days=(start.weekday() - rule.wkst) % 7)
        k = max(0, (since - first).days // 7 // n - 1)
        week = first + timedelta(weeks=k * n)
        while week <= _LAST_PERIOD:
            yield week
            week += timedelta(weeks=n)
    elif rule.freq is Freq.MONTHLY:
        origin = start.year * 12 + start.month - 1
        k = max(0, (since.year * 12 + since.month - 1 - origin) // n - 1)
        index = origin + k * n
        while index < _LAST_PERIOD.year * 12:
            yield date(index // 12, index % 12 + 1, 1)
            index += n
    else:
        k = max(0, (since.year - start.year) // n - 1)
        year = start.year + k * n
        while year < _LAST_PERIOD.year:
            yield date(year, 1, 1)
            year += n


def _candidates(rule: Recurrence, start: date, period: date, invalid: InvalidDate) -> list[date]:
    if rule.freq is Freq.DAILY:
        return [period] if _passes_daily(rule, period) else []
    if rule.freq is Freq.WEEKLY:
        weekdays = {d.weekday for d in rule.by_day} or {start.weekday()}
        days = [period + timedelta(days=i) for i in range(7)]
        return [
            d for d in days if d.weekday() in weekdays and (not rule.by_month or d.month in rule.by_month)
        ]
    if rule.freq is Freq.MONTHLY:
        if rule.by_month and period.month not in rule.by_month:
            return []
        return _in_month(rule, start, period.year, period.month, invalid, year_ordinals=False)
    months = rule.by_month or (
        tuple(range(1, 13)) if rule.by_month_day or (rule.by_day and not rule.by_month) else (start.month,)
    )
    if rule.by_day and not rule.by_month and not rule.by_month_day:
        return _weekdays_in(rule.by_day, date(period.year, 1, 1), date(period.year, 12, 31))
    found: list[date] = []
    for month in months:
        found += _in_month(rule, start, period.year, month, invalid, year_ordinals=not rule.by_month)
    return found


def _in_month(
    rule: Recurrence, start: date, year: int, month: int, invalid: InvalidDate, *, year_ordinals: bool
) -> list[date]:
    """A MONTHLY period's dates, or one month of a YEARLY period's."""
    if rule.by_month_day:
        days = _month_days(year, month, rule.by_month_day, invalid)
        if rule.by_day:
            days = [d for d in days if _matches_by_day(d, rule.by_day, year_ordinals)]
        return days
    if rule.by_day:
        return _weekdays_in(rule.by_day, date(year, month, 1), _last_of(year, month))
    return _month_days(year, month, (start.day,), invalid)


def _month_days(year: int, month: int, values: tuple[int, ...], invalid: InvalidDate) -> list[date]:
    """The dates BYMONTHDAY values name in a month; those that do not exist per `invalid`."""
    length = calendar.monthrange(year, month)[1]
    found = []
    for value in values:
        day = value if value > 0 else length + 1 + value
        if 1 <= day <= length:
            found.append(date(year, month, day))
        elif invalid is InvalidDate.BACKWARD:
            found.append(_last_of(year, month) if day > length else date(year, month, 1) - timedelta(days=1))
        elif invalid is InvalidDate.FORWARD:
            found.append(_last_of(year, month) + timedelta(days=1) if day > length else date(year, month, 1))
    return sorted(set(found))


def _passes_daily(rule: Recurrence, day: date) -> bool:
    """Under DAILY every BY part limits real days: a BYMONTHDAY names no date to move."""
    if rule.by_month and day.month not in rule.by_month:
        return False
    if rule.by_day and day.weekday() not in {d.weekday for d in rule.by_day}:
        return False
    if rule.by_month_day:
        length = calendar.monthrange(day.year, day.month)[1]
        return any(v == day.day or length + 1 + v == day.day for v in rule.by_month_day)
    return True


def _weekdays_in(by_day: tuple[WeekdayNum, ...], first: date, last: date) -> list[date]:
    """BYDAY expanded over [first, last]: every such weekday, or the n-th from either end."""
    found: set[date] = set()
    for spec in by_day:
        offset = (spec.weekday - first.weekday()) % 7
        days = [
            first + timedelta(days=offset + 7 * i) for i in range(((last - first).days - offset) // 7 + 1)
        ]
        if spec.ordinal is None:
            found.update(days)
        elif -len(days) <= spec.ordinal <= len(days):
            found.add(days[spec.ordinal - 1 if spec.ordinal > 0 else spec.ordinal])
    return sorted(found)


def _matches_by_day(day: date, by_day: tuple[WeekdayNum, ...], year_ordinals: bool) -> bool:
    for spec in by_day:
        if spec.weekday != day.weekday():
            continue
        if spec.ordinal is None:
            return True
        first, last = (
            (date(day.year, 1, 1), date(day.year, 12, 31))
            if year_ordinals
            else (day.replace(day=1), _last_of(day.year, day.month))
        )
        if day in _weekdays_in((spec,), first, last):
            return True
    return False


def _pick(days: list[date], positions: tuple[int, ...]) -> list[date]:
    days = sorted(set(days))
    if not positions:
        return days
    return sorted({days[p - 1 if p > 0 else p] for p in positions if -len(days) <= p <= len(days)})


def _plus(day: date, span: timedelta) -> date:
    return day + span if date.max - day > span else date.max


def _last_of(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])

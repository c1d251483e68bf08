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

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from functools import lru_cache

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


@lru_cache(maxsize=4096)
def parse(value: str) -> Recurrence:
    """An RRULE value (`FREQ=MONTHLY;BYDAY=-1FR`), checked part by part. Cached: every schedule
    read from the store parses its rule, and a team's schedules share a few rules."""
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
# Dates are proleptic Gregorian ordinals (`date.toordinal()`) inside: integer arithmetic, and a
# `date` made only for what is yielded. Periods are ordinals too (DAILY, WEEKLY), month indexes
# (year * 12 + month - 1, MONTHLY) or years (YEARLY).

_LAST = _LAST_PERIOD.toordinal()
_LENGTHS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def expand(
    rule: Recurrence, start: date, invalid: InvalidDate, since: date | None = None, until: date | None = None
) -> Iterator[date]:
    """The rule's dates on or after `start` (and `since`), ascending, each once, through UNTIL
    (and `until`, which only saves expanding further).

    `since` only skips ahead (periods wholly before it are not expanded); a rule with COUNT
    must be expanded from `start`, since the count runs from there."""
    first = max(start, since or start).toordinal()
    ends = [d.toordinal() for d in (rule.until, until) if d is not None]
    end = min(ends) if ends else None
    horizon = first + _HORIZON.days
    last = 0
    candidates = _candidates(rule, start.toordinal(), invalid)
    for period, period_start in _periods(rule, start, first):
        if period_start > horizon or (end is not None and period_start > end + 31):
            return
        for day in _pick(candidates.of(period), rule.by_set_pos):
            if day < first or day <= last:
                continue
            if end is not None and day > end:
                return
            last = day
            horizon = day + _HORIZON.days
            yield date.fromordinal(day)


def _periods(rule: Recurrence, start: date, since: int) -> Iterator[tuple[int, int]]:
    """(period, the ordinal of its first day) for every INTERVAL-th period from `start`'s, from
    the one before `since`'s (a `backward` date may land in the period before its own)."""
    n = rule.interval
    if rule.freq is Freq.DAILY or rule.freq is Freq.WEEKLY:
        step = n if rule.freq is Freq.DAILY else 7 * n
        origin = start.toordinal()
        if rule.freq is Freq.WEEKLY:
            origin -= (start.weekday() - rule.wkst) % 7
        day = origin + max(0, (since - origin) // step - 1) * step
        while day <= _LAST:
            yield day, day
            day += step
    elif rule.freq is Freq.MONTHLY:
        origin = start.year * 12 + start.month - 1
        found = date.fromordinal(since)
        index = origin + max(0, (found.year * 12 + found.month - 1 - origin) // n - 1) * n
        while index < _LAST_PERIOD.year * 12:
            yield index, date(index // 12, index % 12 + 1, 1).toordinal()
            index += n
    else:
        year = start.year + max(0, (date.fromordinal(since).year - start.year) // n - 1) * n
        while year < _LAST_PERIOD.year:
            yield year, date(year, 1, 1).toordinal()
            year += n


@lru_cache(maxsize=4096)
def _candidates(rule: Recurrence, start: int, invalid: InvalidDate) -> _Candidates:
    """Worked out once per (rule, start, policy): planning asks the same series again and again."""
    return _Candidates(rule, start, invalid)


class _Candidates:
    """A period's candidate dates by the RFC 5545 table of BY parts that expand or limit, with
    what the rule fixes worked out once."""

    def __init__(self, rule: Recurrence, start: int, invalid: InvalidDate) -> None:
        self.rule = rule
        self.invalid = invalid
        begin = date.fromordinal(start)
        self.start_day = begin.day
        self.start_month = begin.month
        self.months = frozenset(rule.by_month)
        self.weekdays = frozenset(d.weekday for d in rule.by_day)
        plain = all(d.ordinal is None for d in rule.by_day)
        self.plain_weekdays = self.weekdays if plain else None
        # WEEKLY: the offsets of the rule's weekdays from the week's first day (WKST).
        days = self.weekdays or {begin.weekday()}
        self.week_offsets = sorted((d - rule.wkst) % 7 for d in days)
        f = rule.freq
        self.of: Callable[[int], list[int]] = (
            self._daily if f is Freq.DAILY else self._weekly if f is Freq.WEEKLY
            else self._monthly if f is Freq.MONTHLY else self._yearly
        )  # fmt: skip
        """The candidate dates of one period."""

    def _daily(self, day: int) -> list[int]:
        rule = self.rule
        if not (rule.by_month or rule.by_day or rule.by_month_day):
            return [day]
        found = date.fromordinal(day)
        if self.months and found.month not in self.months:
            return []
        if self.weekdays and (day - 1) % 7 not in self.weekdays:
            return []
        if rule.by_month_day:  # under DAILY it only filters real days: no date is named to move
            length = _length(found.year, found.month)
            if not any(v == found.day or length + 1 + v == found.day for v in rule.by_month_day):
                return []
        return [day]

    def _weekly(self, week: int) -> list[int]:
        days = [week + offset for offset in self.week_offsets]
        if self.months:
            days = [d for d in days if date.fromordinal(d).month in self.months]
        return days

    def _monthly(self, index: int) -> list[int]:
        year, month = divmod(index, 12)
        month += 1
        if self.months and month not in self.months:
            return []
        return self._in_month(year, month, year_ordinals=False)

    def _yearly(self, year: int) -> list[int]:
        rule = self.rule
        if rule.by_day and not rule.by_month and not rule.by_month_day:
            return _weekdays_in(rule.by_day, date(year, 1, 1).toordinal(), date(year, 12, 31).toordinal())
        if rule.by_month:
            months: tuple[int, ...] = rule.by_month
        elif rule.by_month_day or rule.by_day:
            months = tuple(range(1, 13))
        else:
            months = (self.start_month,)
        found: list[int] = []
        for month in months:
            found += self._in_month(year, month, year_ordinals=not rule.by_month)
        return found

    def _in_month(self, year: int, month: int, *, year_ordinals: bool) -> list[int]:
        """A MONTHLY period's dates, or one month of a YEARLY period's."""
        rule = self.rule
        if rule.by_month_day:
            days = _month_days(year, month, rule.by_month_day, self.invalid)
            if rule.by_day:
                days = [d for d in days if self._matches_by_day(d, year_ordinals)]
            return days
        first = date(year, month, 1).toordinal()
        if rule.by_day:
            return _weekdays_in(rule.by_day, first, first + _length(year, month) - 1)
        return _month_days(year, month, (self.start_day,), self.invalid)

    def _matches_by_day(self, day: int, year_ordinals: bool) -> bool:
        if self.plain_weekdays is not None:
            return (day - 1) % 7 in self.plain_weekdays
        found = date.fromordinal(day)
        if year_ordinals:
            first, last = date(found.year, 1, 1).toordinal(), date(found.year, 12, 31).toordinal()
        else:
            first = day - found.day + 1
            last = first + _length(found.year, found.month) - 1
        return any(
            day in _weekdays_in((spec,), first, last)
            for spec in self.rule.by_day
            if spec.weekday == (day - 1) % 7
        )


def _length(year: int, month: int) -> int:
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        return 29
    return _LENGTHS[month - 1]


def _month_days(year: int, month: int, values: tuple[int, ...], invalid: InvalidDate) -> list[int]:
    """The dates BYMONTHDAY values name in a month; those that do not exist per `invalid`: to
    the nearest date before (`backward`) or after (`forward`) the day they name, or none."""
    length = _length(year, month)
    first = date(year, month, 1).toordinal()
    found = set()
    for value in values:
        day = value if value > 0 else length + 1 + value
        if 1 <= day <= length:
            found.add(first + day - 1)
        elif invalid is InvalidDate.BACKWARD:
            found.add(first + length - 1 if day > length else first - 1)
        elif invalid is InvalidDate.FORWARD:
            found.add(first + length if day > length else first)
    return sorted(found)


def _weekdays_in(by_day: tuple[WeekdayNum, ...], first: int, last: int) -> list[int]:
    """BYDAY expanded over the days [first, last]: every such weekday, or the n-th from either
    end; in order."""
    return [first + offset for offset in _weekday_offsets(by_day, (first - 1) % 7, last - first + 1)]


@lru_cache(maxsize=1024)
def _weekday_offsets(by_day: tuple[WeekdayNum, ...], first_weekday: int, days: int) -> tuple[int, ...]:
    """The offsets from a span's first day that BYDAY names: they depend only on the span's
    first weekday and length (a month has 28 shapes, a year 14)."""
    found: set[int] = set()
    for spec in by_day:
        earliest = (spec.weekday - first_weekday) % 7
        if earliest >= days:
            continue
        count = (days - 1 - earliest) // 7 + 1
        if spec.ordinal is None:
            found.update(range(earliest, days, 7))
        else:
            index = spec.ordinal - 1 if spec.ordinal > 0 else count + spec.ordinal
            if 0 <= index < count:
                found.add(earliest + 7 * index)
    return tuple(sorted(found))


def _pick(days: list[int], positions: tuple[int, ...]) -> list[int]:
    """The period's dates in order, or the BYSETPOS positions among them."""
    if len(days) > 1:
        days = sorted(set(days))
    if not positions:
        return days
    return sorted({days[p - 1 if p > 0 else p] for p in positions if -len(days) <= p <= len(days)})

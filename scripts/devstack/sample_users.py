"""A reproducible USERS.json for the simulator: the same file for the same --count and --seed.

    .venv/bin/python -m scripts.devstack.sample_users --count 10000 --seed 1 --out users.json

Zones are weighted towards populous ones but include the awkward ones (30- and 45-minute
offsets, Lord Howe's half-hour DST, zones without DST, both hemispheres); about one user in
1,461 is born on 29 February, as in life, plus a few more so that every file has some; one in
ten has an anniversary.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ZONES = {
    "America/New_York": 12,
    "America/Chicago": 6,
    "America/Denver": 3,
    "America/Los_Angeles": 8,
    "America/Sao_Paulo": 5,
    "America/St_Johns": 2,
    "America/Mexico_City": 3,
    "Europe/London": 6,
    "Europe/Berlin": 5,
    "Europe/Paris": 4,
    "Europe/Moscow": 3,
    "Africa/Lagos": 3,
    "Africa/Cairo": 2,
    "Asia/Tehran": 2,
    "Asia/Kolkata": 10,
    "Asia/Kathmandu": 2,
    "Asia/Shanghai": 8,
    "Asia/Tokyo": 4,
    "Asia/Jakarta": 4,
    "Australia/Sydney": 3,
    "Australia/Adelaide": 2,
    "Australia/Lord_Howe": 1,
    "Pacific/Auckland": 2,
    "Pacific/Chatham": 1,
    "UTC": 2,
}
FIRST = ["Ada", "Bo", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kemal", "Lia", "Mo"]
LAST = ["Abe", "Banda", "Costa", "Diaz", "Eze", "Fischer", "Gupta", "Haddad", "Ito", "Jensen", "Kim"]
BORN_FROM, BORN_TO = date(1940, 1, 1), date(2005, 12, 31)
LATEST_ANNIVERSARY = date(2024, 12, 31)
LEAP_DAY_EXTRA = 1 / 500


def users(count: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    zones, weights = list(ZONES), list(ZONES.values())
    out = []
    for i in range(count):
        born = _day(rng, BORN_FROM, BORN_TO)
        if rng.random() < LEAP_DAY_EXTRA:
            born = date(rng.choice(range(1940, 2005, 4)), 2, 29)
        user: dict[str, Any] = {
            "ref": f"u{i:06d}",
            "firstName": rng.choice(FIRST),
            "lastName": rng.choice(LAST),
            "dateOfBirth": born.isoformat(),
            "timezone": rng.choices(zones, weights)[0],
        }
        if rng.random() < 0.1:
            married = _day(rng, born + timedelta(days=18 * 365), LATEST_ANNIVERSARY)
            user["anniversaryDate"] = married.isoformat()
        out.append(user)
    return out


def _day(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randrange((last - first).days + 1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="default: stdout")
    args = parser.parse_args(argv)
    text = json.dumps(users(args.count, args.seed), indent=0) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

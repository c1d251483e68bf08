"""libical's expansion of recurrence rules (the reference C implementation, with RFC 7529's
RSCALE/SKIP), for the tests to compare ours against.

Run with Debian's own Python, which has PyGObject and libical's introspection data
(`apt-get install gir1.2-ical-3.0`; `make test` installs it): reads JSON lines
{"rule": "RSCALE=GREGORIAN;SKIP=BACKWARD;FREQ=...", "start": "YYYYMMDD", "n": N} and prints for
each a JSON list of YYYYMMDD dates, or null when libical refuses the rule.
"""

import json
import sys

import gi

gi.require_version("ICalGLib", "3.0")
from gi.repository import ICalGLib  # noqa: E402


def expand(rule: str, start: str, n: int) -> list[str] | None:
    recurrence = ICalGLib.Recurrence.new_from_string(rule)
    try:
        iterator = ICalGLib.RecurIterator.new(recurrence, ICalGLib.Time.new_from_string(start))
    except TypeError:  # the constructor returned NULL: a rule libical does not take
        return None
    found: list[str] = []
    while len(found) < n:
        instant = iterator.next()
        if instant.is_null_time():
            break
        found.append(instant.as_ical_string())
    return found


for line in sys.stdin:
    query = json.loads(line)
    print(json.dumps(expand(query["rule"], query["start"], query["n"])), flush=True)

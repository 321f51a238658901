"""Timestamps and durations: ISO 8601 in, integers out (ClickHouse 18.16 has no DateTime64)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

_FRACTION = re.compile(r"(\.\d+)")
_DURATION = re.compile(
    r"^P(?:(?P<y>\d+(?:\.\d+)?)Y)?(?:(?P<mo>\d+(?:\.\d+)?)M)?(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<mi>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_timestamp(value: str) -> datetime:
    """Parse an xAPI timestamp (ISO 8601 with offset; any number of fraction digits) to aware UTC."""
    try:
        # The usual form (2026-11-28T10:00:00.123Z) parsed in C: the sink parses one per statement.
        parsed = datetime.fromisoformat(value)
    except ValueError:
        text = value.strip().replace("z", "Z")
        text = text[:-1] + "+00:00" if text.endswith("Z") else text
        # Beyond 6 fraction digits (xAPI allows more precision than microseconds): truncated, as fromisoformat does.
        text = _FRACTION.sub(lambda m: m.group(1)[:7], text, count=1)
        parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_micros(value: datetime) -> int:
    """Microseconds since the Unix epoch (negative before 1970)."""
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def timestamp_micros(value: str) -> int:
    """Microseconds since the epoch of an xAPI timestamp string."""
    return to_micros(parse_timestamp(value))


def format_timestamp(value: datetime) -> str:
    """xAPI-style UTC timestamp with millisecond precision, e.g. ``2026-11-28T10:00:00.123Z``."""
    # isoformat is C all the way (strftime cost several microseconds a call; each POST formats two).
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def now_timestamp() -> str:
    """The current time as an xAPI timestamp."""
    return format_timestamp(datetime.now(UTC))


def duration_seconds(value: str) -> float | None:
    """Seconds in an ISO 8601 duration (years as 365 d, months as 30 d); None if unparseable."""
    match = _DURATION.match(value or "")
    if not match or value in ("P", "PT"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    scale = {"y": 365 * 86400, "mo": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "mi": 60, "s": 1}
    return sum(parts[k] * scale[k] for k in parts)


def http_date(micros: int) -> str:
    """An HTTP date (RFC 7231) for microseconds since the epoch, for Last-Modified."""
    from email.utils import format_datetime

    return format_datetime(datetime.fromtimestamp(micros / 1_000_000, UTC), usegmt=True)

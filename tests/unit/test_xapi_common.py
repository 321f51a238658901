"""The shared xAPI data types (Data 4.x): language tags, IRIs, UUIDs, timestamps, durations."""

from __future__ import annotations

import pytest

from lrs.core.util.timeparse import parse_timestamp
from lrs.core.xapi.common import is_duration, is_iri, is_language_tag, is_uuid, timestamp_problem


@pytest.mark.parametrize(
    "tag",
    ["en", "en-US", "en-GB", "zh-Hans-CN", "und", "es-419", "de-CH-1996", "sl-rozaj-biske", "x-private",
     "en-US-x-twain", "i-klingon", "zh-min-nan", "sgn-BE-FR", "EN-us", "hy-Latn-IT-arevela", "ar-afb",
     "en-a-bbb-x-a-ccc", "tlh"],
)
def test_language_tags_accepted(tag: str) -> None:
    assert is_language_tag(tag)


@pytest.mark.parametrize(
    "tag",
    ["", "a12345678", "e", "en_US", "en-", "-en", "en--US", "abcdefghi", "en-US-", "12", "en-a", "x", "en US",
     "de-419-DE"],
)
def test_language_tags_rejected(tag: str) -> None:
    assert not is_language_tag(tag)


@pytest.mark.parametrize(
    "iri",
    ["http://example.com", "https://example.com/a?b=c#d", "urn:uuid:6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e",
     "mailto:x@example.com", "http://example.com/فعل/خواندن", "tag:example.com,2024:x", "ftp://a/b"],
)
def test_iris_accepted(iri: str) -> None:
    assert is_iri(iri)


@pytest.mark.parametrize(
    "iri",
    ["", "example.com/path", "not.a.valid.iri.com/verb", "ab=c://should.fail.com", "http:", "http://exa mple.com",
     "/relative/path", "#fragment", "1http://x", "http://x/<y>", "should fail"],
)
def test_iris_rejected(iri: str) -> None:
    assert not is_iri(iri)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e", True),
        ("AA97B177-9383-4934-8543-0F91A7A02836", True),
        ("00000000-0000-0000-0000-000000000000", True),
        ("AA97B177-9383-4934-8543-0F91A7A028368", False),
        ("MA97B177-9383-4934-8543-0F91A7A02836", False),
        ("6c3e4a8e27cb4ec6a2a14b1dcb2c3f2e", False),
        ("{6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e}", False),
        ("", False),
    ],
)
def test_uuids(value: str, ok: bool) -> None:
    assert is_uuid(value) is ok


VALID_TIMESTAMPS = [
    "2013-05-18T05:32:34.804Z",
    "2013-05-18T05:32:34.804+00:00",
    "2008-09-15T15:53:00.601+00:00",
    "2023-05-04T12:00:00-05:00",
    "2013-05-18T05:32:34.804123456Z",
    "2013-05-18T05:32:34Z",
    "2013-05-18T05:32Z",
    "2013-05-18T05:32:34.804+0530",
    "20130518T053234Z",
    "20130518T053234.5+0100",
    "2031-11-28T15:46:41.609Z",
    "2013-05-18t05:32:34z",
]


@pytest.mark.parametrize("value", VALID_TIMESTAMPS)
def test_timestamps_accepted_and_parseable_downstream(value: str) -> None:
    assert timestamp_problem(value, require_offset=True) is None
    # Whatever validation accepts, the stream workers must be able to turn into a point in time.
    assert parse_timestamp(value).tzinfo is not None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("should fail", "ISO 8601"),
        ("01/011/2015", "ISO 8601"),
        ("2013-05-18", "ISO 8601"),
        ("2013-05-18 05:32:34Z", "ISO 8601"),
        ("2013-02-30T05:32:34Z", "valid date"),
        ("2013-05-18T25:32:34Z", "valid date"),
        ("2013-05-18T05:32:34+25:00", "valid date"),
        ("2013-05-18T05:32:34+05:75", "valid date"),
        ("2008-09-15T15:53:00.601-00", "-00:00"),
        ("2008-09-15T15:53:00.601-0000", "-00:00"),
        ("2008-09-15T15:53:00.601-00:00", "-00:00"),
        ("2013-05-18T05:32:34,804Z", "ISO 8601"),
        ("2013-05-18T05:32:34.Z", "ISO 8601"),
    ],
)
def test_timestamps_rejected(value: str, reason: str) -> None:
    problem = timestamp_problem(value, require_offset=False)
    assert problem is not None and reason in problem


def test_whole_string_must_match() -> None:
    # A trailing newline or non-ASCII digits must not slip through the patterns.
    assert not is_uuid("6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e\n")
    assert not is_language_tag("en\n")
    assert not is_duration("PT1S\n")
    assert not is_iri("http://example.com\n")
    assert timestamp_problem("2020-01-01T00:00:00Z\n", require_offset=False) is not None
    assert timestamp_problem("\u0662\u0660\u0662\u0660-01-01T00:00:00Z", require_offset=False) is not None


def test_timestamp_offset_required_only_when_asked() -> None:
    assert timestamp_problem("2013-05-18T05:32:34.804", require_offset=False) is None
    assert "time zone" in (timestamp_problem("2013-05-18T05:32:34.804", require_offset=True) or "")


@pytest.mark.parametrize(
    "value",
    ["PT1H0M0.1S", "PT4H35M59.14S", "PT16559.14S", "P3Y1M29DT4H35M59.14S", "P3Y", "P4W", "P1DT12H36M0.12567S",
     "PT0S", "P0D", "P1M", "PT1M", "P0.5Y", "PT0.25H"],
)
def test_durations_accepted(value: str) -> None:
    assert is_duration(value)


@pytest.mark.parametrize(
    "value",
    ["", "P", "PT", "should fail", "PA1H0M0S", "P4W1D", "1H", "PT1H2", "P1H", "P16559.14S", "P0003-01-29T04:35:59",
     "PT1.5H30M", "-PT1H", "PT1,5S", "P1DT", "pt1h"],
)
def test_durations_rejected(value: str) -> None:
    assert not is_duration(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-28T10:00:00.123Z", "2026-11-28T10:00:00.123000+00:00"),
        ("2026-11-28T10:00:00Z", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T10:00:00.123456789Z", "2026-11-28T10:00:00.123456+00:00"),  # truncated, never rounded
        ("2026-11-28T10:00:00.123456789+02:00", "2026-11-28T08:00:00.123456+00:00"),
        ("2026-11-28T10:00:00.123z", "2026-11-28T10:00:00.123000+00:00"),
        (" 2026-11-28T10:00:00Z ", "2026-11-28T10:00:00+00:00"),
        ("2026-11-28T12:30:00.5+02:30", "2026-11-28T10:00:00.500000+00:00"),
        ("2026-11-28T10:00:00", "2026-11-28T10:00:00+00:00"),  # no offset: read as UTC
    ],
)
def test_timestamps_parse_to_the_same_utc_instant_by_either_path(value: str, expected: str) -> None:
    assert parse_timestamp(value).isoformat() == expected

"""Shared xAPI data types (Data 4.x): IRIs, language maps and tags, UUIDs, mbox, timestamps, durations, extensions.

Every check is a plain function (usable on its own) wrapped into an ``Annotated`` type for the models.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictStr, ValidationInfo
from pydantic_core import PydanticCustomError

from lrs.core.xapi.errors import RULE_ERROR

V1 = "1.0.3"
V2 = "2.0.0"

# ---------------------------------------------------------------------------------------------- errors / base


def rule_error(reason: str, path: Sequence[str | int] = (), *, show_value: bool = True) -> PydanticCustomError:
    """A broken xAPI rule; ``path`` locates it below the validated value (e.g. ``("objectType",)``).

    The offending value is appended to the message unless ``show_value`` is False (the reason names it).
    """
    context = {"reason": reason, "path": tuple(path), "show_value": show_value}
    return PydanticCustomError(RULE_ERROR, "{reason}", context)


def spec_version(info: ValidationInfo | None) -> str:
    """The xAPI version the statement is validated against (``validate_statement(version=...)``)."""
    context = info.context if info is not None else None
    return (context or {}).get("version", V1)


def absent() -> Any:
    """The default of an optional property: None while the property is absent.

    Data 2.2.s4.b1.b1: the LRS MUST reject Statements with any null values (except inside extensions). An
    optional property is declared with its own type (no None in it) and this default: absent, it is None without
    being validated; given as null, it fails its type, which ``errors.py`` words as "must not be null". (A model
    validator looking for nulls in every object cost a sixth of the validation's CPU.)
    """
    return Field(default=None)


class XAPIModel(BaseModel):
    """Base of every xAPI object: strict JSON types, no unknown properties, no null values (see :func:`absent`)."""

    # Data 2.2.s4.b1: reject wrong data types (no "1" for 1, no "true" for true) and unknown properties.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# Validated objects that repeat, by xAPI version and JSON text: at most this many of a kind held (the oldest go).
REPEATS_HELD = 4096


class ValidatedOnce:
    """A cache of an object kind that repeats across statements (a course's Activities appear in the object and
    the context of every statement about it; a handful of Verbs in all of them): the same JSON under the same xAPI
    version is validated once and its (frozen) model shared. Validation is a pure function of the two, so a hit
    is what validating again would give; an invalid object is never held and fails every time."""

    def __init__(self) -> None:
        self.held: dict[tuple[str, bytes], Any] = {}

    def __call__(self, data: Any, handler: Any, info: ValidationInfo) -> Any:
        """The body of a model's ``model_validator(mode="wrap")``."""
        if not isinstance(data, dict):
            return handler(data)
        try:
            key = (spec_version(info), orjson.dumps(data))
        except orjson.JSONEncodeError:  # not JSON-encodable (nested too deep): validate, never hold
            return handler(data)
        found = self.held.get(key)
        if found is None:
            found = handler(data)
            if len(self.held) >= REPEATS_HELD:
                del self.held[next(iter(self.held))]  # dicts keep insertion order: the oldest
            self.held[key] = found
        return found


# ---------------------------------------------------------------------------------------------- IRIs

# RFC 3987: an absolute IRI starts with a scheme; spaces, controls and these delimiters are never allowed.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IRI_FORBIDDEN = re.compile(r"[\x00-\x20\x7f<>\"{}|\\^`]")
# RFC 3986 3.2.2: in an authority, square brackets enclose the whole host as an IP literal, nothing else.
_AUTHORITY = re.compile(r"//([^/?#]*)")
_IP_LITERAL_HOST = re.compile(r"^(?:[^@\[\]]*@)?\[([^\[\]]+)\](?::[0-9]*)?$")
_IPV_FUTURE = re.compile(r"^[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$")


# Statements repeat the same IRIs and language tags (verbs, activity types, extension keys, "en-US"):
# checking each distinct string once per process removes most of the Python time of validation.
@functools.lru_cache(maxsize=65536)
def is_iri(value: str) -> bool:
    """Best-effort absolute IRI check (Data 2.2.s4.b6): a scheme, something after it, no forbidden characters,
    and an IP-literal host (``http://[::1]/x``) well formed."""
    match = _SCHEME.match(value)
    if not match or len(value) <= match.end() or _IRI_FORBIDDEN.search(value):
        return False
    authority = _AUTHORITY.match(value, match.end())
    return authority is None or _host_brackets_ok(authority.group(1))


def _host_brackets_ok(authority: str) -> bool:
    """True if ``authority`` has no square brackets, or they enclose a valid IPv6 address or IPvFuture host."""
    if "[" not in authority and "]" not in authority:
        return True
    literal = _IP_LITERAL_HOST.match(authority)
    if literal is None:
        return False
    host = literal.group(1)
    if _IPV_FUTURE.match(host):
        return True
    address, _, zone = host.partition("%25")  # RFC 6874 zone id, e.g. [fe80::1%25eth0]
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return False
    return "%" not in address and ("%25" not in host or bool(zone))


def _check_iri(value: str) -> str:
    # Data 2.2.s4.b1.b8: reject IRL or IRI values without a scheme (and other non-IRI strings).
    if not is_iri(value):
        raise rule_error("must be an absolute IRI with a scheme, e.g. http://example.com/x")
    return value


IRI = Annotated[StrictStr, AfterValidator(_check_iri)]
# IRLs (resolvable IRIs) and URIs get the same best-effort check.
IRL = IRI
URI = IRI

# ---------------------------------------------------------------------------------------------- UUIDs

# Data 4.4: UUIDs MUST be in the standard string form (any version / variant, either case).
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def is_uuid(value: str) -> bool:
    """True for a UUID in standard 8-4-4-4-12 hex form."""
    return bool(_UUID.fullmatch(value))


def _check_uuid(value: str) -> str:
    # Data 4.4: a UUID MUST be in standard string form.
    if not is_uuid(value):
        raise rule_error("must be a UUID in standard form, e.g. 6c3e4a8e-27cb-4ec6-a2a1-4b1dcb2c3f2e")
    return value


UUID = Annotated[StrictStr, AfterValidator(_check_uuid)]

# ---------------------------------------------------------------------------------------------- mbox / sha1

# RFC 5322 addr-spec without its specials and whitespace (a [domain literal] aside); lengths RFC 5321 4.5.3.1.
_MAILTO = re.compile(r'^mailto:[^@\s<>()\[\]\\,;:"]{1,64}@(?:[^@\s<>()\[\]\\,;:"?#/]+|\[[^@\s\[\]\\]+\])$')
MAX_ADDRESS = 254  # RFC 5321 4.5.3.1.3: a path is at most 256 octets including its angle brackets
_SHA1 = re.compile(r"^[0-9a-fA-F]{40}$")


def _check_mailto(value: str) -> str:
    # Data 2.4.2.3: mbox is a mailto IRI, "mailto:email address"; RFC 5321: an address of at most 254 characters.
    if len(value) > len("mailto:") + MAX_ADDRESS:
        raise rule_error(f"must be a mailto: IRI with an address of at most {MAX_ADDRESS} characters",
                         show_value=False)
    if not _MAILTO.fullmatch(value):
        raise rule_error("must be a mailto: IRI, e.g. mailto:learner@example.com")
    return value


def _check_sha1(value: str) -> str:
    # Data 2.4.2.3: mbox_sha1sum is the hex-encoded SHA1 hash of a mailto IRI.
    if not _SHA1.fullmatch(value):
        raise rule_error("must be a hex-encoded SHA1 hash (40 hexadecimal characters)")
    return value


MailtoIRI = Annotated[StrictStr, AfterValidator(_check_mailto)]
Sha1Hex = Annotated[StrictStr, AfterValidator(_check_sha1)]

# ---------------------------------------------------------------------------------------------- language tags

# RFC 5646 section 2.2.8: grandfathered tags that do not follow the general grammar.
_GRANDFATHERED = frozenset({
    "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux", "i-mingo",
    "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de", "art-lojban",
    "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan", "zh-xiang",
})
_PRIVATEUSE = r"x(?:-[a-z0-9]{1,8})+"
# RFC 5646 section 2.1 ABNF: language [-script] [-region] *(-variant) *(-extension) [-privateuse].
_LANGTAG = re.compile(
    r"^(?:"
    r"(?:[a-z]{2,3}(?:-[a-z]{3}){0,3}|[a-z]{4}|[a-z]{5,8})"
    r"(?:-[a-z]{4})?"
    r"(?:-(?:[a-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*"
    r"(?:-[0-9a-wy-z](?:-[a-z0-9]{2,8})+)*"
    rf"(?:-{_PRIVATEUSE})?"
    rf"|{_PRIVATEUSE})$"
)


@functools.lru_cache(maxsize=4096)
def is_language_tag(value: str) -> bool:
    """True for a well-formed RFC 5646 language tag (``en``, ``en-US``, ``zh-Hans-CN``, ``und``, ...)."""
    lowered = value.lower()
    return lowered in _GRANDFATHERED or bool(_LANGTAG.fullmatch(lowered))


def _check_language_tag(value: str) -> str:
    # Data 2.4.6: context.language is an RFC 5646 language tag.
    if not is_language_tag(value):
        raise rule_error("must be an RFC 5646 language tag, e.g. en-US")
    return value


def _check_language_map(value: dict[str, str]) -> dict[str, str]:
    # Data 2.2.s4.b2 / 4.2: language map keys MUST be RFC 5646 language tags.
    for key in value:
        if not is_language_tag(key):
            raise rule_error(f"key {key!r} is not an RFC 5646 language tag (e.g. en-US)")
    return value


LanguageTag = Annotated[StrictStr, AfterValidator(_check_language_tag)]
LanguageMap = Annotated[dict[str, StrictStr], AfterValidator(_check_language_map)]

# ---------------------------------------------------------------------------------------------- extensions


def _check_extensions(value: dict[str, Any]) -> dict[str, Any]:
    # Data 4.1.s3.b1: the keys of an extensions map MUST be IRIs (values may be any JSON, including null).
    for key in value:
        if not is_iri(key):
            raise rule_error(f"key {key!r} is not an absolute IRI (extension keys must be IRIs with a scheme)")
    return value


Extensions = Annotated[dict[str, Any], AfterValidator(_check_extensions)]

# ---------------------------------------------------------------------------------------------- timestamps

# ISO 8601 extended (2024-05-04T17:00:00.123+02:00) and basic (20240504T170000.123+0200) formats; the
# extended form also takes a colon-less offset (+0200), which many clients send.
_TIMESTAMP_EXTENDED = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})[Tt](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?$",
    re.ASCII,
)
_TIMESTAMP_BASIC = re.compile(
    r"^(?P<y>\d{4})(?P<mo>\d{2})(?P<d>\d{2})[Tt](?P<h>\d{2})(?P<mi>\d{2})(?:(?P<s>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?P<om>\d{2})?)?$",
    re.ASCII,
)


def timestamp_problem(value: str, *, require_offset: bool) -> str | None:
    """Why ``value`` is not an acceptable xAPI Timestamp, or None if it is.

    ISO 8601 combined date and time (extended or basic format, '.' fractions), optional offset unless
    ``require_offset``; the "unknown offset" forms -00, -0000 and -00:00 are refused (RFC 3339 4.3).
    """
    match = _TIMESTAMP_EXTENDED.fullmatch(value) or _TIMESTAMP_BASIC.fullmatch(value)
    if not match:
        return "must be an ISO 8601 timestamp, e.g. 2024-05-04T17:00:00.000Z"
    g = match.groupdict()
    try:
        datetime(int(g["y"]), int(g["mo"]), int(g["d"]), int(g["h"]), int(g["mi"]), int(g["s"] or 0))
        if g["sign"]:
            if int(g["om"] or 0) > 59:
                raise ValueError("offset minutes")
            timezone(timedelta(hours=int(g["oh"]), minutes=int(g["om"] or 0)))
    except ValueError:
        return "must be an ISO 8601 timestamp with a valid date, time and offset"
    if g["sign"] == "-" and int(g["oh"]) == 0 and int(g["om"] or 0) == 0:
        return "must not use the unknown-offset form -00:00; use Z or +00:00 for UTC"
    if require_offset and not g["tz"]:
        return "must include a time zone offset (Z or +hh:mm)"
    return None


def _check_timestamp(value: str, info: ValidationInfo) -> str:
    # Data 4.5: a Timestamp MUST be ISO 8601; 2.0 makes the time zone (SHOULD* in 1.0.3) mandatory.
    problem = timestamp_problem(value, require_offset=spec_version(info) == V2)
    if problem:
        raise rule_error(problem)
    return value


Timestamp = Annotated[StrictStr, AfterValidator(_check_timestamp)]

# ---------------------------------------------------------------------------------------------- durations

_NUM = r"\d+(?:\.\d+)?"
_DURATION = re.compile(
    rf"^P(?:{_NUM}W|(?=\d|T\d)(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)$",
    re.ASCII,
)
_DURATION_PARTS = re.compile(rf"{_NUM}[YMWDHS]", re.ASCII)


def is_duration(value: str) -> bool:
    """True for an ISO 8601:2004 4.4.3.2 duration (``PT1H30M``, ``P4W``, ``PT0.12567S``), '.' fractions."""
    if not _DURATION.fullmatch(value):
        return False
    # ISO 8601: only the lowest-order component may have a decimal fraction.
    parts = _DURATION_PARTS.findall(value)
    return all("." not in part for part in parts[:-1])


def _check_duration(value: str) -> str:
    # Data 4.6: a Duration MUST use the ISO 8601:2004(E) 4.4.3.2 format (not the alternative 4.4.3.3 format).
    if not is_duration(value):
        raise rule_error("must be an ISO 8601 duration, e.g. PT1H30M or PT45.5S")
    return value


Duration = Annotated[StrictStr, AfterValidator(_check_duration)]

# ---------------------------------------------------------------------------------------------- versions

_VERSIONS = {V1: re.compile(r"^1\.0(\.\d+)?$", re.ASCII), V2: re.compile(r"^(1\.0|2\.0)(\.\d+)?$", re.ASCII)}


def _check_version(value: str, info: ValidationInfo) -> str:
    # Data 2.4.10: reject a version that does not start with 1.0. (2.0 also accepts 2.0.x).
    version = spec_version(info)
    if not _VERSIONS[version].fullmatch(value):
        allowed = "1.0.x" if version == V1 else "1.0.x or 2.0.x"
        raise rule_error(f"must be {allowed} for xAPI {version}")
    return value


StatementVersion = Annotated[StrictStr, AfterValidator(_check_version)]

# ---------------------------------------------------------------------------------------------- misc strings

_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+\-]+/[A-Za-z0-9!#$&^_.+\-]+\s*(;.*)?$", re.DOTALL)
_SHA2 = re.compile(r"^(?:[0-9a-fA-F]{56}|[0-9a-fA-F]{64}|[0-9a-fA-F]{96}|[0-9a-fA-F]{128})$")


def _check_media_type(value: str) -> str:
    # Data 2.4.11: contentType is an Internet Media Type (RFC 2046), type/subtype[; parameters].
    if not _MEDIA_TYPE.fullmatch(value):
        raise rule_error("must be an Internet Media Type, e.g. text/plain")
    return value


def _check_sha2(value: str) -> str:
    # Data 2.4.11: sha2 is the hex SHA-2 hash (224, 256, 384 or 512 bits) of the attachment data.
    if not _SHA2.fullmatch(value):
        raise rule_error("must be a hex-encoded SHA-2 hash (56, 64, 96 or 128 hexadecimal characters)")
    return value


MediaType = Annotated[StrictStr, AfterValidator(_check_media_type)]
Sha2Hex = Annotated[StrictStr, AfterValidator(_check_sha2)]

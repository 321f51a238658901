"""Document identity: resources, Kafka keys, ETags and concurrency headers."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"
RESOURCES = (STATE, ACTIVITY_PROFILE, AGENT_PROFILE)

JSON_TYPE = "application/json"
DEFAULT_TYPE = "application/octet-stream"

# An If-Match / If-None-Match condition: None (header absent), "*" or the list of entity tags (unquoted).
ETagCondition = str | list[str] | None


@dataclass(frozen=True)
class DocumentSet:
    """The documents that share one Kafka key: a tenant's resource for one activity and/or agent.

    Every write to a document of the set (and a multi-document DELETE of the set) lands on one partition,
    so the single worker owning that partition serializes them.
    """

    tenant: str
    resource: str
    activity_id: str = ""
    agent: str = ""

    def key(self) -> bytes:
        """The Kafka message key ``tenant|resource|activityId|agentIFI``."""
        return f"{self.tenant}|{self.resource}|{self.activity_id}|{self.agent}".encode()


def etag_of(content: bytes) -> str:
    """The ETag value (unquoted): lowercase SHA-1 hex of the exact bytes (xAPI 1.0.3 Communication 3.1)."""
    return hashlib.sha1(content).hexdigest()  # noqa: S324 - mandated by the spec, not used for security


def quoted(etag: str) -> str:
    """An ETag as sent in the ``ETag`` header."""
    return f'"{etag}"'


def parse_etag_header(value: str | None) -> ETagCondition:
    """Parse an If-Match / If-None-Match header: None, ``"*"`` or a list of unquoted tags.

    Weak tags (``W/"..."``) compare by their value; unquoted tags are tolerated.
    """
    if value is None:
        return None
    text = value.strip()
    if text == "*":
        return "*"
    tags = []
    for part in text.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        tag = tag.strip().strip('"').lower()
        if tag:
            tags.append(tag)
    return tags


def media_type(content_type: str | None) -> str:
    """The media type of a Content-Type header, lowercase and without parameters ("" if absent)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json_type(content_type: str | None) -> bool:
    """True for ``application/json`` (with any parameters, e.g. a charset)."""
    return media_type(content_type) == JSON_TYPE

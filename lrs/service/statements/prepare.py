"""Make validated statements ready to store: ids, stored, timestamp, authority, version.

The stored JSON is the client's statement plus these LRS-owned properties; nothing else is changed.
"""

from __future__ import annotations

import uuid
from typing import Any

from lrs.service.auth.credentials import Client

# Properties the LRS sets itself; they never take part in "same statement?" comparisons.
LRS_OWNED = ("stored", "authority", "version")


def authority_for(client: Client) -> dict[str, Any]:
    """The authority Agent of statements stored with this client's credentials."""
    return {
        "objectType": "Agent",
        "name": client.name,
        "account": {"homePage": f"https://lrs.local/tenants/{client.tenant}", "name": client.key},
    }


def prepare(statement: dict[str, Any], *, client: Client, stored: str, version: str) -> dict[str, Any]:
    """A copy of ``statement`` with the LRS-owned properties set."""
    prepared = dict(statement)
    prepared["id"] = str(prepared.get("id") or uuid.uuid4()).lower()
    prepared.setdefault("timestamp", stored)
    prepared["stored"] = stored
    prepared["authority"] = authority_for(client)
    prepared.setdefault("version", version)
    return prepared


def comparable(statement: dict[str, Any], *, keep_timestamp: bool) -> dict[str, Any]:
    """The parts of a statement that decide whether two statements with one id are the same."""
    result = {k: v for k, v in statement.items() if k not in LRS_OWNED}
    result["id"] = str(result.get("id", "")).lower()
    if not keep_timestamp:
        result.pop("timestamp", None)
    return result

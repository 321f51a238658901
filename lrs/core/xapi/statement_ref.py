"""The Statement Reference (Data 2.4.4.3), used as a Statement's object and as context.statement."""

from __future__ import annotations

from typing import Literal

from lrs.core.xapi.common import UUID, XAPIModel


class StatementRef(XAPIModel):
    """A pointer to another, pre-existing Statement (the LRS need not check that it exists)."""

    # Data 2.4.4.3.s4.b1-b2: objectType MUST be "StatementRef" and "id" MUST be the UUID of a Statement.
    objectType: Literal["StatementRef"]
    id: UUID

"""The Verb (Data 2.4.3)."""

from __future__ import annotations

from lrs.core.xapi.common import IRI, LanguageMap, XAPIModel, absent

VOIDED = "http://adlnet.gov/expapi/verbs/voided"


class Verb(XAPIModel):
    """The action of the Actor: an IRI and an optional language map to display it."""

    id: IRI
    display: LanguageMap = absent()

    @property
    def is_voiding(self) -> bool:
        """True for the reserved verb that voids another statement (Data 2.3.2)."""
        return self.id == VOIDED

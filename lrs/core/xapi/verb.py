"""The Verb (Data 2.4.3)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationInfo, ValidatorFunctionWrapHandler, model_validator

from lrs.core.xapi.common import IRI, LanguageMap, ValidatedOnce, XAPIModel, absent

VOIDED = "http://adlnet.gov/expapi/verbs/voided"
_VERBS = ValidatedOnce()


class Verb(XAPIModel):
    """The action of the Actor: an IRI and an optional language map to display it."""

    id: IRI
    display: LanguageMap = absent()

    # A handful of Verbs appear in every statement: each distinct one validated once.
    @model_validator(mode="wrap")
    @classmethod
    def _validated_once(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return _VERBS(data, handler, info)

    @property
    def is_voiding(self) -> bool:
        """True for the reserved verb that voids another statement (Data 2.3.2)."""
        return self.id == VOIDED

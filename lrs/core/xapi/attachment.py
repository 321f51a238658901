"""Attachments (Data 2.4.11)."""

from __future__ import annotations

from pydantic import StrictInt, field_validator

from lrs.core.xapi.common import IRI, IRL, LanguageMap, MediaType, Sha2Hex, XAPIModel, absent, rule_error


class Attachment(XAPIModel):
    """Metadata of a file attached to a Statement (its data travels in a multipart part or at fileUrl)."""

    usageType: IRI
    display: LanguageMap
    description: LanguageMap = absent()
    contentType: MediaType
    length: StrictInt
    sha2: Sha2Hex
    fileUrl: IRL = absent()

    # Data 2.4.11.s2: "length" is the length of the attachment data in octets (an integer, so never negative).
    @field_validator("length")
    @classmethod
    def _length_not_negative(cls, value: int) -> int:
        if value < 0:
            raise rule_error("must not be negative")
        return value

"""Activities (Data 2.4.4.1): Activity, Activity Definition, interaction types and components."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, StrictStr, ValidationInfo, ValidatorFunctionWrapHandler, model_validator

from lrs.core.xapi.actor import IFI_PROPERTIES
from lrs.core.xapi.common import IRI, IRL, Extensions, LanguageMap, ValidatedOnce, XAPIModel, absent, rule_error

INTERACTION_TYPES = (
    "true-false", "choice", "fill-in", "long-fill-in", "matching",
    "performance", "sequencing", "likert", "numeric", "other",
)
# Data 2.4.4.1.s15 table 2: the interaction component lists each interactionType supports.
COMPONENT_LISTS: dict[str, tuple[str, ...]] = {
    "choices": ("choice", "sequencing"),
    "scale": ("likert",),
    "source": ("matching",),
    "target": ("matching",),
    "steps": ("performance",),
}
INTERACTION_PROPERTIES = ("correctResponsesPattern", *COMPONENT_LISTS)
_ACTIVITIES = ValidatedOnce()


class InteractionComponent(XAPIModel):
    """One choice, scale point, source, target or step of an interaction (Data 2.4.4.1.s15)."""

    id: StrictStr
    description: LanguageMap = absent()


def _unique_ids(components: list[InteractionComponent]) -> list[InteractionComponent]:
    # Data 2.4.4.1.s16.b1: within an array of interaction components, all id values MUST be distinct.
    seen: set[str] = set()
    for i, component in enumerate(components):
        if component.id in seen:
            raise rule_error(f"duplicate interaction component id {component.id!r}", (i, "id"), show_value=False)
        seen.add(component.id)
    return components


ComponentList = Annotated[list[InteractionComponent], AfterValidator(_unique_ids)]


class ActivityDefinition(XAPIModel):
    """Metadata of an Activity (Data 2.4.4.1.s2), including the interaction properties (s8)."""

    name: LanguageMap = absent()
    description: LanguageMap = absent()
    type: IRI = absent()
    moreInfo: IRL = absent()
    # Data 2.4.4.1.s13.b1: interaction Activities MUST have a valid interactionType (case-sensitive).
    interactionType: Literal[INTERACTION_TYPES] = absent()  # type: ignore[valid-type]
    correctResponsesPattern: list[StrictStr] = absent()
    choices: ComponentList = absent()
    scale: ComponentList = absent()
    source: ComponentList = absent()
    target: ComponentList = absent()
    steps: ComponentList = absent()
    extensions: Extensions = absent()

    # Data 2.4.4.1.s8: correctResponsesPattern and the component lists belong to interaction Activities,
    # which MUST have an interactionType; s15 table 2: each component list is supported only by its
    # interactionTypes. (One validator for both: a Python call per definition is most of what either costs.)
    @model_validator(mode="after")
    def _interaction_properties_match_type(self) -> ActivityDefinition:
        if self.interactionType is None:
            # Only properties present in the JSON can be set (a null fails its type): most definitions have none.
            if not self.model_fields_set.isdisjoint(INTERACTION_PROPERTIES):
                for prop in INTERACTION_PROPERTIES:
                    if getattr(self, prop) is not None:
                        raise rule_error(f"\"{prop}\" is only allowed with an interactionType", ("interactionType",))
            return self
        for prop, kinds in COMPONENT_LISTS.items():
            if getattr(self, prop) is not None and self.interactionType not in kinds:
                raise rule_error(
                    f"is not supported by interactionType {self.interactionType!r} (only by {', '.join(kinds)})",
                    (prop,),
                )
        return self


class Activity(XAPIModel):
    """A thing acted on (Data 2.4.4.1): the default kind of Statement object."""

    objectType: Literal["Activity"] = absent()
    id: IRI
    definition: ActivityDefinition = absent()

    # A course's Activities repeat in the object and context of its statements: each distinct one validated once.
    @model_validator(mode="wrap")
    @classmethod
    def _validated_once(cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
        return _ACTIVITIES(data, handler, info)

    # Data 2.4.4.2.s1.b1: an Agent or Group used as an Object MUST specify objectType
    # (without one the object is read as an Activity, which has no IFI or members).
    @model_validator(mode="before")
    @classmethod
    def _agent_without_object_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and "objectType" not in data and any(
            key in data for key in (*IFI_PROPERTIES, "member")
        ):
            raise rule_error("an Agent or Group used as an object must set objectType ('Agent' or 'Group')",
                             ("objectType",))
        return data

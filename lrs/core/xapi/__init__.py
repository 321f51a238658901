"""xAPI statement models and validation (xAPI 1.0.3 and 2.0.0).

The HTTP layer calls :func:`validate_statements`; stream processors use :func:`actor_ifi`.
"""

from lrs.core.xapi.activity import Activity, ActivityDefinition, InteractionComponent
from lrs.core.xapi.actor import Account, Agent, Group, actor_ifi
from lrs.core.xapi.attachment import Attachment
from lrs.core.xapi.context import Context, ContextActivities, ContextAgent, ContextGroup
from lrs.core.xapi.errors import XAPIValidationError
from lrs.core.xapi.result import Result, Score
from lrs.core.xapi.statement import Statement, SubStatement
from lrs.core.xapi.statement_ref import StatementRef
from lrs.core.xapi.validate import normalize_statement, validate_actor, validate_statement, validate_statements
from lrs.core.xapi.verb import VOIDED, Verb

__all__ = [
    "VOIDED",
    "Account",
    "Activity",
    "ActivityDefinition",
    "Agent",
    "Attachment",
    "Context",
    "ContextActivities",
    "ContextAgent",
    "ContextGroup",
    "Group",
    "InteractionComponent",
    "Result",
    "Score",
    "Statement",
    "StatementRef",
    "SubStatement",
    "Verb",
    "XAPIValidationError",
    "actor_ifi",
    "normalize_statement",
    "validate_actor",
    "validate_statement",
    "validate_statements",
]

"""xAPI statement models and validation (xAPI 1.0.3 and 2.0.0).

The HTTP layer calls :func:`validate_statements`; stream processors use :func:`actor_ifi`.
"""

from lrs.xapi.activity import Activity, ActivityDefinition, InteractionComponent
from lrs.xapi.actor import Account, Agent, Group, actor_ifi
from lrs.xapi.attachment import Attachment
from lrs.xapi.context import Context, ContextActivities, ContextAgent, ContextGroup
from lrs.xapi.errors import XAPIValidationError
from lrs.xapi.result import Result, Score
from lrs.xapi.statement import Statement, SubStatement
from lrs.xapi.statement_ref import StatementRef
from lrs.xapi.validate import normalize_statement, validate_actor, validate_statement, validate_statements
from lrs.xapi.verb import VOIDED, Verb

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

"""The xAPI Document resources (State, Activity Profile, Agent Profile): keys, merge rules, commands.

Writes travel as commands over Kafka to one writer per document set (``streams/documents.py``);
the pure decision logic lives in :mod:`lrs.core.documents.commands` so it is unit-testable.
"""

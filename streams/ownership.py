"""Which worker runs a group-wide periodic job: the one that owns partition 0 of a topic.

Partition assignment is the group's only shared view of who does what, so periodic jobs that one worker is
enough for (clock ticks, clean-ups) run where partition 0 of their topic is assigned, and move with it.

Superseded by Faust's own leader election: ``@app.timer(interval, on_leader=True)`` runs a job on the one worker
holding the leader topic (``{worker_app_id}-__assignor-__leader``, created by ``lrs migrate``). New jobs use that;
this module goes once its last callers (streams/refresh.py: the analytics tick and clean-up) have moved.
"""

from __future__ import annotations

import faust
from faust.types import TP


def owns_first_partition(app: faust.App, topic: str) -> bool:
    """True if this worker is currently assigned partition 0 of ``topic``."""
    return TP(topic, 0) in app.consumer.assignment()

"""The phases of ``lrs bench``, one module each; every phase is ``run(suite)`` and adds rows to the report.

``PHASES`` is the order a run takes (``--only`` selects among them); ``profile`` runs last, only with
``--profile-seconds``. The ``queries`` phase is a series of steps on one big tenant: :mod:`.analytics`,
:mod:`.get` and :mod:`.dashboards` (see :mod:`.queries`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lrs.tools.bench.phases import freshness, ingest, profile, queries, ralph, soak, stream

if TYPE_CHECKING:
    from lrs.tools.bench.suite import Suite

Phase = Callable[["Suite"], None]

PHASES: dict[str, Phase] = {
    "ingest": ingest.run,
    "freshness": freshness.run,
    "ralph": ralph.run,
    "stream": stream.run,
    "queries": queries.run,
    "soak": soak.run,
}
PROFILE: Phase = profile.run

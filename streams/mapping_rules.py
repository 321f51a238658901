"""Per-tenant course mapping rules, read from ClickHouse and cached for a short time.

Shared by the sink (which stores ``course_id``/``module_id`` with each statement) and the analytics marker
(which must name the same slices), so both map a batch with the same rules.
"""

from __future__ import annotations

import threading
import time

from lrs.core.config import Settings
from lrs.core.store.clickhouse import ClickHouse
from streams.mapping import DEFAULT_RULES, MappingRules


class MappingRulesStore:
    """``rules_for(tenant)``: the tenant's rules, at most ``mapping_rules_cache_s`` old."""

    def __init__(self, settings: Settings, clickhouse: ClickHouse) -> None:
        self.ttl = settings.mapping_rules_cache_s
        self.clickhouse = clickhouse
        self._cache: dict[str, tuple[float, MappingRules]] = {}
        self._lock = threading.Lock()

    def rules_for(self, tenant: str) -> MappingRules:
        """The rules that apply to ``tenant`` (defaults when it declared none)."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(tenant)
        if cached and now - cached[0] < self.ttl:
            return cached[1]
        rows = self.clickhouse.run("mapping_rules_get", {"tenant": tenant})
        rules = DEFAULT_RULES
        if rows:
            course_types, module_types = rows[0]
            rules = MappingRules(course_types=tuple(course_types) or DEFAULT_RULES.course_types,
                                 module_types=tuple(module_types) or DEFAULT_RULES.module_types)
        with self._lock:
            self._cache[tenant] = (now, rules)
        return rules

"""Prometheus metrics of the HTTP LRS (served on their own port, never the xAPI one: lrs/service/metrics_export.py)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("lrs_http_requests_total", "HTTP requests", ["method", "route", "status"])
REQUEST_LATENCY = Histogram("lrs_http_request_seconds", "HTTP request latency", ["method", "route"])
STATEMENTS_ACCEPTED = Counter("lrs_statements_accepted_total", "Statements acknowledged to clients", ["tenant"])
STATEMENTS_REJECTED = Counter("lrs_statements_rejected_total", "Statements refused", ["reason"])
PRODUCE_LATENCY = Histogram(
    "lrs_produce_seconds", "Time from produce to broker acknowledgement (per request)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
CONSISTENCY_WAIT = Histogram(
    "lrs_consistency_wait_seconds", "Time GETs waited for the sink to catch up with this process",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
)
CHECKS_SKIPPED = Counter(
    "lrs_conflict_checks_skipped_total", "Statements accepted without a conflict check (ClickHouse down)", ["reason"]
)

"""Prometheus metrics of the stream workers."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PROCESSED = Counter("lrs_worker_events_processed_total", "Messages consumed and written", ["processor"])
POISON_MESSAGES = Counter("lrs_worker_poison_messages_total", "Unreadable messages skipped", ["reason"])
INSERT_LATENCY = Histogram(
    "lrs_worker_insert_seconds", "ClickHouse batch write latency", ["table"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INSERT_ERRORS = Counter("lrs_worker_insert_errors_total", "Failed ClickHouse writes (retried)", ["table"])
BATCH_SIZE = Histogram("lrs_worker_batch_size", "Messages per sink batch", buckets=(1, 10, 100, 500, 1000, 2000, 5000))
ERASURES = Counter("lrs_worker_erasures_total", "GDPR erasures applied by the sink")
# Lag, visible even while ClickHouse is down (the batch being retried does not advance these).
LAST_WRITTEN_STORED = Gauge("lrs_worker_last_written_stored_seconds",
                            "xAPI 'stored' time (Unix s) of the newest statement this worker wrote to ClickHouse")
SINK_QUEUED_BYTES = Gauge("lrs_worker_sink_queued_bytes",
                          "Bytes of messages waiting in the sink's intake (about LRS_SINK_BATCH_LIMIT_BYTES at most)")
SINK_STALLED = Gauge("lrs_worker_sink_stalled_seconds", "How long the current batch has been failing to write (0: ok)")
# Statements are immutable (streams/conflicts.py): a later, different statement with a stored id is kept out.
STATEMENT_CONFLICTS = Counter("lrs_worker_statement_conflicts_total",
                              "Statements kept out because a different statement with the same id was stored first "
                              "(recorded in statement_conflicts)")
STATEMENT_DUPLICATES = Counter("lrs_worker_statement_duplicates_total",
                               "The same statement accepted twice under one id (by two LRS processes): first kept")
ERASED_ON_ARRIVAL = Counter("lrs_worker_erased_on_arrival_total",
                            "Statements kept out because they name a learner whose erasure was requested after they "
                            "were stored (a redelivered message, or one published after the erasure message)")
ERASURE_FAILURES = Counter("lrs_worker_erasure_failures_total",
                           "Erasure attempts that failed or timed out (each is retried with back-off)")
ANALYTICS_ROUND = Histogram(
    "lrs_worker_analytics_round_seconds", "Analytics refresh: one tenant's step of a round (learners: their rows "
    "recomputed; derive: the course tables written and published)", ["step"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ANALYTICS_ROUND_SLICES = Histogram("lrs_worker_analytics_round_slices", "Analytics slices (courses) per refresh round",
                                   buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
ANALYTICS_PAUSED = Counter("lrs_worker_analytics_paused_seconds_total",
                           "Time the analytics refresh paused between rounds to make way for a sink that is behind")

"""The one settings object. Every process reads it once at start-up and passes it down.

Environment variables use the prefix ``LRS_`` (e.g. ``LRS_KAFKA_BOOTSTRAP=broker:9092``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration for the LRS, the stream workers, the embedded stack and the CLI."""

    model_config = SettingsConfigDict(env_prefix="LRS_", extra="ignore")

    # --- embedded local stack (``lrs stack up``) -------------------------------------------
    state_dir: Path = Field(Path(".lrs"), description="Pid files, logs and ClickHouse data of the local stack.")
    broker_port: int = Field(19092, description="Client port of the embedded Kafka broker (node 1); node i uses "
                             "broker_port + 2*(i-1), its KRaft controller the port after that.")
    brokers: int = Field(1, ge=1, le=9, description="Nodes of the embedded Kafka cluster (`lrs stack up --brokers`).")
    kafka_lib_dir: Path = Field(Path(sys.prefix) / "share" / "kafka-broker" / "lib", description="Class path of "
                                "the embedded Kafka broker, filled by scripts/setup.sh from Maven Central.")
    clickhouse_tcp_port: int = Field(19000, description="Native-protocol port of the embedded ClickHouse.")
    clickhouse_http_port: int = Field(18123, description="HTTP port of the embedded ClickHouse.")
    clickhouse_replicas: int = Field(
        1, ge=1, le=3, description="Replicas of the embedded ClickHouse (`lrs stack up --cluster`: 2, one shard, "
        "with ZooKeeper); replica i uses clickhouse_tcp_port + 2*(i-1) (its interserver port the one after) and "
        "clickhouse_http_port + i-1.")
    clickhouse_malloc_conf: str = Field(
        "oversize_threshold:0", description="MALLOC_CONF of the embedded ClickHouse (jemalloc): allocations over 8 MiB "
        "(a column of an insert or merge) come from the normal arenas, whose freed pages are reused for 10 s, instead "
        "of an arena that hands its pages back to the kernel at once; every insert then paid for fresh zeroed pages "
        "(docs/benchmarks.md). Empty: jemalloc's defaults.")
    clickhouse_spread_parts: bool = Field(
        True, description="After migrations, the embedded ClickHouse's table directories get ext4's top-directory "
        "flag (chattr +T), so its parts spread over the disk's block groups instead of filling the groups beside "
        "their table, where ext4 without a journal checks every recently freed inode before each new file "
        "(lrs/tools/stack/clickhouse.py, docs/benchmarks.md). No effect on other file systems.")
    zookeeper_port: int = Field(12181, description="Client port of the embedded ZooKeeper (cluster stack only).")
    clickhouse_log_queries: bool = Field(
        False, description="The embedded ClickHouse logs every query in system.query_log (its CPU, rows read and "
        "written): what `lrs bench` splits the server's CPU by.")

    # --- where the services are (defaults point at the embedded stack) ----------------------
    kafka_bootstrap: str = Field("", description="Kafka bootstrap servers; default: the embedded broker.")
    clickhouse_url: str = Field(
        "", description="clickhouse-driver DSN, e.g. clickhouse://default:@host:9000/lrs; default: embedded. "
        "With replicas, list the others for fail-over: ...:9000/lrs?alt_hosts=host2:9000,host3:9000."
    )
    clickhouse_cluster: str = Field(
        "", description="ClickHouse cluster name (remote_servers); empty = single node. Set: `lrs migrate` creates "
        "Replicated* tables ON CLUSTER and every client writes with insert_quorum and reads with "
        "select_sequential_consistency (docs/deployment.md).")
    clickhouse_insert_quorum: int = Field(
        2, ge=0, description="With a cluster: replicas that must hold an insert before it is acknowledged "
        "(insert_quorum); 0 or 1 = no quorum (then reads are not sequentially consistent).")
    clickhouse_quorum_timeout_s: float = Field(
        10.0, gt=0, description="With a cluster: how long an insert waits for its quorum before it fails "
        "(insert_quorum_timeout); the writer then retries, deduplicated by ClickHouse.")

    # --- TLS / SASL to a managed Kafka (ClickHouse TLS goes in the DSN: ?secure=True&ca_certs=...) ------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="How the LRS, workers and CLI talk to Kafka (kafka-python and Faust/aiokafka).")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism with SASL_PLAINTEXT / SASL_SSL.")
    kafka_sasl_username: str = Field("", description="SASL user.")
    kafka_sasl_password: SecretStr = Field(SecretStr(""), description="SASL password (or a file: "
                                           "LRS_KAFKA_SASL_PASSWORD_FILE).")
    kafka_ssl_cafile: str = Field("", description="CA bundle for the brokers' certificates; empty = the system's.")
    kafka_ssl_certfile: str = Field("", description="Client certificate (mutual TLS), PEM.")
    kafka_ssl_keyfile: str = Field("", description="Client key (mutual TLS), PEM.")

    # --- topics ----------------------------------------------------------------------------
    statements_topic: str = "xapi.statements"
    documents_topic: str = Field("xapi.documents", description="Commands for the State/Profile documents.")
    document_results_keep_s: float = Field(
        7 * 24 * 3600.0, description="How long document command results are kept (>= the topic's retention)."
    )
    dead_letter_topic: str = Field("xapi.deadletter", description="Unreadable messages, with the reason.")
    topic_partitions: int = Field(6, description="Partitions created for our topics (unit of parallelism).")
    topic_replication: int = Field(
        -1, description="Replication factor of created topics; -1 = the broker's default.replication.factor.")

    # --- HTTP LRS --------------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    metrics_port: int = Field(0, description="Prometheus port of `lrs serve` (every HTTP worker process); 0 = not "
                              "served. Never on the xAPI port: metrics name tenants.")
    metrics_host: str = Field("127.0.0.1", description="Address the Prometheus ports of `lrs serve` and `lrs worker` "
                              "bind (0.0.0.0 only inside a private network, as in docker-compose.yml).")
    xapi_default_version: Literal["1.0.3", "2.0.0"] = Field(
        "2.0.0", description="X-Experience-API-Version sent in responses to requests that lack the header."
    )
    http_socket_per_process: bool = Field(
        True, description="With `lrs serve --workers N`, each process accepts on its own socket (SO_REUSEPORT), so "
        "the kernel spreads connections over the processes (lrs/service/serving.py); off: uvicorn's one shared "
        "socket, where the process that wakes first takes every waiting connection.")
    max_body_bytes: int = Field(16 * 1024 * 1024, description="Requests larger than this get 413 (counted as the "
                                "body streams in, chunked or not).")
    max_header_bytes: int = Field(64 * 1024, description="Request line plus headers larger than this get 431.")
    produce_timeout_s: float = Field(5.0, description="How long the LRS waits for the broker before 503.")
    kafka_linger_ms: int = Field(
        2, ge=0, le=1000, description="How long the LRS's producer holds a message for others to share its produce "
        "request (kafka-python's linger_ms): each request costs the LRS and the broker CPU, so under concurrent "
        "single-statement POSTs a longer wait costs less per statement; every POST waits up to this long more.")
    kafka_compression: Literal["none", "lz4", "zstd", "gzip", "snappy"] = Field(
        "lz4", description="How the LRS's producer compresses statement messages (kafka-python's compression_type): "
        "the broker and the workers then decompress them too.")
    kafka_message_bytes: int = Field(
        512 * 1024, ge=1024, description="A request's statements travel as one Kafka message up to this many bytes "
        "(serialized; a larger request is cut into several, a larger statement travels alone): one message is in "
        "Kafka wholly or not at all by itself.")
    kafka_share_messages: bool = Field(
        True, description="Requests of one client whose statements fit one Kafka message and reach the producer in "
        "the same turn of the LRS's event loop (as concurrent POSTs answered by one id lookup do) are sent as one "
        "message of up to 64 KiB (lrs/service/publisher.py): under concurrent single-statement POSTs, a message per "
        "request cost the producer, the broker and the stream worker more than the statement in it.")
    kafka_transactions: bool = Field(
        True, description="A request of several messages is written in one Kafka transaction (group-committed; "
        "lrs/service/transactions.py), answered once its commit markers are in its partitions, and workers read "
        "read_committed (streams/read_committed.py).")
    kafka_transaction_timeout_s: float = Field(
        10.0, description="Kafka aborts a transaction left open this long (a crashed LRS); read_committed "
        "consumers wait at most this long behind it.")
    consistency_wait_s: float = Field(
        5.0, description="Bounded wait on GET until the sink has passed what this process produced."
    )
    credentials_cache_s: float = Field(2.0, description="How long verified credentials are cached.")
    more_token_keys: str = Field(
        "", description="Comma-separated HMAC keys of GET /statements `more` tokens: the first signs, all verify "
        "(rotate by prepending a new key; keep the old one at least more_token_ttl_s). Empty: a random key shared "
        "by the processes of this host (<state_dir>/run/more-token.key); set it when several hosts serve one LRS.")
    more_token_ttl_s: float = Field(
        7 * 24 * 3600.0, description="How long a `more` token stays valid (xAPI asks for at least 24 hours).")
    document_wait_s: float = Field(
        10.0, description="How long a document write waits for the worker's result before 503."
    )

    # --- client compatibility: CORS (lrs/service/cors.py), document preconditions (docs/clients.md) ---
    cors_origins: str = Field(
        "*", description="Comma-separated origins (scheme://host[:port]) browsers may call the xAPI from; "
        "'*' = any, '' = none. Credentials are Basic auth headers, never cookies.")
    cors_tenant_origins: str = Field(
        "", description='JSON object narrowing origins per tenant or credential key, e.g. {"acme": '
        '["https://lms.acme.com"], "key:0a1b2c": ["https://cdn.example"]}: their requests from other origins get 403.')
    profile_put_requires_precondition: bool = Field(
        False, description="xAPI 1.0.x: a PUT creating an Activity/Agent Profile without If-Match/If-None-Match "
        "gets 400 (the ADL 1.0.3 conformance suite tests this) instead of being created (the spec's LRS rules; "
        "TinCanPython relies on it). See docs/clients.md.")

    # --- stream workers --------------------------------------------------------------------
    worker_app_id: str = Field("lrs-streams", description="Faust app id = Kafka consumer group.")
    worker_metrics_port: int = Field(0, description="Prometheus port of a worker; 0 = not served.")
    sink_batch_size: int = Field(
        500, description="Messages per sink batch at most; a message holds one or more whole requests' statements "
        "(up to kafka_message_bytes); sink_batch_limit_bytes bounds a batch's bytes.")
    worker_stream_buffer: int = Field(
        64, ge=1, description="Messages a worker's agent takes from Kafka ahead of what it handles (Faust's "
        "stream_buffer_maxsize, 4,096 by default): behind a stalled or lagging sink the worker holds at most these "
        "plus two sink batches; the rest of the backlog waits in Kafka, not in the worker's memory.")
    sink_batch_within_s: float = Field(0.2, description="How long a message waits for more to join its sink batch "
                                       "(from when it was queued; under load a batch starts as soon as the last "
                                       "one is written); a batch still growing then waits on (sink_batch_max_wait_s).")
    sink_batch_max_wait_s: float = Field(
        0.5, ge=0, description="Longest a message of a sink batch that is still growing (a message came within twice "
        "worker_fetch_max_wait_ms) waits for more: each ClickHouse insert has a large fixed cost, so a steady trickle "
        "is written in fewer, larger inserts (streams/batching.py); at most sink_batch_within_s when idle.")
    sink_batch_bytes: int = Field(
        1024 * 1024, ge=1, description="A sink batch still growing past sink_batch_within_s stops waiting once its "
        "messages hold this many bytes (about 1,000 statements); messages already queued join it up to "
        "sink_batch_limit_bytes.")
    sink_batch_limit_bytes: int = Field(
        8 * 1024 * 1024, ge=1, description="A sink batch closes once its messages hold this many bytes, and the "
        "sink's intake queues about this many more: with a lagging sink, the worker's memory stays bounded by these "
        "(a batch decoded takes several times its bytes) and the backlog waits in Kafka (streams/batching.py).")
    worker_fetch_min_bytes: int = Field(
        64 * 1024, ge=1, description="A worker's Kafka fetch waits for this many bytes (or worker_fetch_max_wait_ms): "
        "one fetch per message under single-statement POSTs cost the worker more than the message "
        "(streams/consumer.py).")
    worker_fetch_max_wait_ms: int = Field(
        50, ge=0, le=1500, description="The longest a worker's Kafka fetch waits to fill up to worker_fetch_min_bytes: "
        "a message waits at most this long more before the worker reads it.")
    sink_retry_max_s: float = Field(10.0, description="Longest back-off between ClickHouse insert retries.")
    conflict_margin_s: float = Field(300.0, description="How much earlier than a statement's `stored` time the "
                                     "sink's conflict checks look for other versions of its id: the clocks of the "
                                     "LRS, worker and ClickHouse hosts may differ, and a replica may lag "
                                     "(streams/conflicts.py).")
    recent_versions_keep_s: float = Field(21600.0, description="How long statement_versions_recent keeps the "
                                          "versions inserted in a 10-minute slot; a batch stored longer ago is "
                                          "checked against the whole history instead.")
    erasure_timeout_s: float = Field(600.0, description="How long one erasure attempt waits for its ClickHouse "
                                     "mutations before it counts as failed and is retried (streams/erasure.py).")
    erasure_retry_initial_s: float = Field(5.0, description="Back-off after an erasure's first failed attempt; "
                                           "doubles per attempt up to erasure_retry_max_s.")
    erasure_retry_max_s: float = Field(600.0, description="Longest back-off between erasure attempts.")
    erasure_poll_s: float = Field(1.0, description="How often the worker group's leader moves erasure requests "
                                  "forward.")
    kafka_session_timeout_s: float = Field(
        10.0, description="Group session timeout of the workers: how soon a crashed worker's partitions move.")
    worker_produce_timeout_s: float = Field(
        30.0, gt=0, description="How long a worker's message to Kafka (an analytics marker, a dead letter) may wait "
        "for the broker before it fails and is sent again; Faust's own default, 20 minutes, held the sink that long "
        "when a delivery was lost in a broker restart.")

    gc_thresholds: str = Field(
        "10000,100,100", pattern=r"^\d+,\d+,\d+$", description="CPython collector thresholds of the LRS and "
        "worker processes, comma-separated (lrs/core/util/gctune.py; the interpreter's default is 700,10,10).")
    malloc_arenas: int = Field(
        2, ge=0, description="How many heap arenas glibc may keep in an LRS or worker process (0: glibc's default, "
        "8 per core): each thread's arena keeps what it freed for reuse, so memory follows every arena's high-water "
        "mark (lrs/core/util/malloctune.py).")
    malloc_trim_s: float = Field(
        30.0, ge=0, description="How often an LRS or worker process hands the free pages of its heap back to the "
        "system (malloc_trim; 0: never).")
    gil_switch_interval_ms: float = Field(
        0.5, gt=0, le=100, description="How long a busy Python thread of the LRS and worker processes may hold the "
        "interpreter before a waiting thread gets it (sys.setswitchinterval; the interpreter's default is 5 ms): a "
        "worker thread rebuilding a course would otherwise delay each of the sink's network round trips by up to "
        "that long (lrs/core/util/gctune.py).")
    worker_event_loop: Literal["uvloop", "asyncio"] = Field(
        "uvloop", description="The stream worker's event loop: uvloop (libuv, in C; the LRS's uvicorn picks it "
        "too) or asyncio's own (its selector loop in Python).")

    debug: bool = Field(False, description="CLI: print the traceback of a failure, not only its one-line message.")

    # --- analytics (streams/refresh.py; definitions in docs/metrics.md) ----------------------
    mapping_rules_cache_s: float = Field(10.0, description="How long workers cache a tenant's course mapping rules.")
    analytics_dirty_topic: str = Field("analytics.dirty", description="Dirty (tenant, course) slice markers.")
    analytics_at_risk_topic: str = Field("learners.at_risk", description="Learners who became at risk/dropped.")
    analytics_refresh_s: float = Field(0.25, description="Debounce: markers collected this long per recompute.")
    analytics_busy_share: float = Field(
        0.5, gt=0, le=1, description="Most of the worker's time the refresh may take while its sink is behind: "
        "after a round that took D seconds it pauses D*(1/share-1), collecting markers (bounded by "
        "analytics_max_pause_s); no pause while the sink keeps up.")
    analytics_max_pause_s: float = Field(10.0, ge=0, description="Upper bound of that pause.")
    analytics_tick_s: float = Field(
        60.0, description="Timer re-marking slices behind their tenant's clock (safety net; wall-clock mode).")
    analytics_clock: Literal["event", "wall"] = Field("event", description="Statuses: tenant watermark or now.")
    analytics_lateness_s: float = Field(3600.0, description="Event-time clock = latest statement time minus this.")
    analytics_wall_stale_s: float = Field(300.0, description="Wall-clock mode: recompute slices older than this.")
    analytics_session_cap_s: float = Field(1800.0, description="Gaps above this end a session (time-on-task cap).")
    analytics_at_risk_days: float = Field(3.0, description="Not completed and inactive this long: at_risk.")
    analytics_dropped_days: float = Field(7.0, description="Not completed and inactive this long: dropped.")
    analytics_active_days: float = Field(7.0, description="Window of the 'active' learner counts.")
    analytics_cleanup_s: float = Field(
        600.0, description="Every so often, delete superseded slice versions older than this; 0 = never.")
    analytics_certificate_verbs: str = Field(
        "http://id.tincanapi.com/verb/earned", description="Comma-separated verb IRIs that mean 'certified'.")
    analytics_certificate_types: str = Field(
        "", description="Comma-separated activity types whose presence in a statement means 'certified'.")

    @model_validator(mode="before")
    @classmethod
    def _secret_files(cls, data: object) -> object:
        """``LRS_<NAME>_FILE=/run/secrets/x``: the setting's value is that file's content (Docker/Kubernetes
        secrets), unless ``LRS_<NAME>`` itself is given. Read once, here, like every other setting."""
        if not isinstance(data, dict):
            return data
        for name in cls.model_fields:
            path = os.environ.get(f"LRS_{name.upper()}_FILE")
            if path and name not in data and f"LRS_{name.upper()}" not in os.environ:
                data[name] = Path(path).read_text(encoding="utf-8").strip()
        return data

    @model_validator(mode="after")
    def _default_endpoints(self) -> Settings:
        # Endpoints default to the embedded stack so the CLI works with zero configuration.
        if not self.kafka_bootstrap:
            self.kafka_bootstrap = ",".join(f"127.0.0.1:{self.broker_port + 2 * i}" for i in range(self.brokers))
        if not self.clickhouse_url:
            self.clickhouse_url = f"clickhouse://default:@127.0.0.1:{self.clickhouse_tcp_port}/lrs"
            if self.clickhouse_replicas > 1:  # fail over to the other embedded replicas
                self.clickhouse_url += "?alt_hosts=" + ",".join(
                    f"127.0.0.1:{self.clickhouse_tcp_port + 2 * i}" for i in range(1, self.clickhouse_replicas))
        return self

    @property
    def clickhouse_database(self) -> str:
        """The database named in ``clickhouse_url``."""
        path = self.clickhouse_url.rsplit("/", 1)[-1].split("?", 1)[0]
        return path or "default"


def settings_env(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment (``base``, default this process's) that makes a child ``lrs`` process use ``settings``."""
    env = dict(os.environ if base is None else base)
    for name in Settings.model_fields:
        value = getattr(settings, name)
        env[f"LRS_{name.upper()}"] = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
    return env

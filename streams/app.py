"""The Faust application: agents that consume the statements topic.

Run with ``lrs worker``. Any number of workers can run side by side: they share the topic's
partitions as one consumer group (``worker_app_id``).
"""

from __future__ import annotations

import asyncio
import logging

import faust

from lrs.core.config import Settings
from lrs.core.kafka.security import ssl_context, uses_sasl
from lrs.core.retry import retry_forever
from lrs.core.util.malloctune import trim_every
from streams import metrics
from streams.batching import LingerQueue
from streams.conflicts import forget_old_versions
from streams.consumer import worker_transport
from streams.deadletter import dead_letter_key, dead_letter_value
from streams.documents import DocumentWriter, apply_with_retry
from streams.refresh import SliceRefresher, attach_analytics
from streams.sink import BatchResult, DecodedBatch, Message, StatementSink

log = logging.getLogger(__name__)

# A sink message queued longer than this means the sink is behind (so does a full intake: a backlog waits in Kafka,
# and the intake's oldest message is never old), and the analytics refresh pauses between rounds only then.
# Not 1 s: a batch written while a round loads ClickHouse can take a second or more, and right after a round (when
# this is asked) the refresh always paused at 1 s (lrs bench at 1M: 5.4 s p99 against 5.6 s).
SINK_LAGGING_S = 5.0


def broker_url(bootstrap: str) -> str:
    """Faust's broker URL for a comma-separated bootstrap list."""
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """Faust's (aiokafka's) form of the Kafka TLS / SASL settings (lrs.core.kafka.security); None = plaintext."""
    context = ssl_context(settings)
    if uses_sasl(settings):
        return faust.SASLCredentials(username=settings.kafka_sasl_username,
                                     password=settings.kafka_sasl_password.get_secret_value(),
                                     ssl_context=context, mechanism=settings.kafka_sasl_mechanism)
    return faust.SSLCredentials(context) if context is not None else None


def create_app(settings: Settings, sink: StatementSink | None = None) -> faust.App:
    """Build the Faust app with the sink agent bound to ``settings``."""
    app = faust.App(
        settings.worker_app_id,
        broker=broker_url(settings.kafka_bootstrap),
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.kafka_session_timeout_s,
        broker_heartbeat_interval=1,
        # Bounds how long a marker or dead letter waits for delivery: the sink's retry loop then sends it again.
        producer_request_timeout=settings.worker_produce_timeout_s,
        broker_commit_every=10_000,
        broker_commit_interval=0.5,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_allow_declare=False,
        web_enabled=False,
        web_bind="127.0.0.1",
        store="memory://",
        broker_credentials=broker_credentials(settings),
        # Faust buffers up to 4,096 messages per agent by default: a lagging sink held them all (30-minute soak:
        # the worker grew from 230 to 820 MB, docs/benchmarks.md); the backlog belongs in Kafka.
        stream_buffer_maxsize=settings.worker_stream_buffer,
    )
    worker_transport(app, settings)  # read_committed (under the LRS's transactions), fetches that wait to fill
    statements = app.topic(settings.statements_topic, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(settings.dead_letter_topic, key_serializer="raw", value_serializer="raw")
    sink = sink or StatementSink(settings)
    intakes: list[LingerQueue[faust.types.EventT]] = []  # the sink agent's intake, once it runs

    def sink_lagging() -> bool:
        # A backlog (the intake full, more waiting in Kafka) or a message queued longer than this: the sink no longer
        # keeps up, and the analytics make way for it.
        return not intakes or intakes[-1].behind(SINK_LAGGING_S)

    analytics = attach_analytics(app, settings, SliceRefresher(settings, rules=sink.rules), sink_lagging)

    @app.agent(statements, name="sink")
    async def store_statements(stream: faust.StreamT) -> None:
        # The agent only queues events; one writer writes them in partition order, so the next batch fills while
        # ClickHouse takes this one (streams/batching.py). Offsets are acked (and so committed) only after
        # ClickHouse has the batch.
        intake: LingerQueue[faust.types.EventT] = LingerQueue(
            settings.sink_batch_size, settings.sink_batch_within_s, max_wait_s=settings.sink_batch_max_wait_s,
            # Messages reach the intake a fetch at a time: a gap shorter than two fetch waits is still a trickle.
            quiet_s=2 * settings.worker_fetch_max_wait_ms / 1000, max_bytes=settings.sink_batch_bytes,
            limit_bytes=settings.sink_batch_limit_bytes, size=lambda event: len(event.message.value or b""))
        intakes[:] = [intake]
        metrics.SINK_QUEUED_BYTES.set_function(lambda: intake.queued_bytes)
        manual = stream.noack()

        async def decode_next() -> tuple[list[faust.types.EventT], DecodedBatch]:
            events = await intake.next_batch()
            batch = [Message(e.message.partition, e.message.offset, e.message.value) for e in events]
            return events, await asyncio.get_running_loop().run_in_executor(None, sink.decode_batch, batch)

        async def write_and_ack(events: list[faust.types.EventT], decoded: DecodedBatch) -> None:
            result = await write_with_retry(sink, decoded, settings.sink_retry_max_s)
            for dead in result.dead:  # kept with the reason, before the offsets are committed
                await dead_letters.send(key=dead_letter_key(settings.statements_topic, dead.message),
                                        value=dead_letter_value(settings.statements_topic, dead))
            # Before the ack: a crash here redelivers the batch, and so re-marks its analytics slices.
            await analytics.mark(result.touched)
            if result.erased_slices:  # recompute the courses of erased learners without them
                await analytics.send(result.erased_slices)
            for event in events:
                await manual.ack(event)

        async def write_forever() -> None:
            ahead = asyncio.ensure_future(decode_next())
            try:
                while True:
                    events, decoded = await ahead
                    # The next batch is taken and decoded while ClickHouse takes this one: the sink's Python work
                    # and ClickHouse's insert overlap instead of taking turns (one batch ahead at most).
                    ahead = asyncio.ensure_future(decode_next())
                    await write_and_ack(events, decoded)
            finally:
                ahead.cancel()

        writing = asyncio.ensure_future(write_forever())
        try:
            async for event in manual.events():
                if writing.done():
                    writing.result()  # raises what stopped the writer: the agent fails as it did before
                if not intake.full():
                    await intake.put(event)
                    continue
                put = asyncio.ensure_future(intake.put(event))  # wait for room, or for the writer to fail
                await asyncio.wait({put, writing}, return_when=asyncio.FIRST_COMPLETED)
                if not put.done():
                    put.cancel()
                    writing.result()
        finally:
            writing.cancel()

    documents = app.topic(settings.documents_topic, key_serializer="raw", value_serializer="raw")
    writer = DocumentWriter(settings)

    @app.agent(documents, name="documents")
    async def apply_documents(stream: faust.StreamT) -> None:
        # One command at a time in partition order: this worker is the single writer of its partitions'
        # document sets; the offset is acked only after the document and result rows are written.
        manual = stream.noack()
        async for event in manual.events():
            await apply_with_retry(writer, event.message.value, settings.sink_retry_max_s)
            await manual.ack(event)

    # One worker is enough: Faust's leader (the holder of the leader topic that `lrs migrate` creates).
    @app.timer(3600.0, on_leader=True)
    async def forget_old_document_results() -> None:
        try:
            await asyncio.get_running_loop().run_in_executor(None, writer.cleanup)
        except Exception as exc:  # only costs disk; the next hour tries again
            log.warning("document results cleanup failed (%s: %s)", type(exc).__name__, exc)

    @app.timer(600.0, on_leader=True)
    async def forget_old_statement_versions() -> None:
        # The sink's conflict checks read the last hours of versions only (streams/conflicts.py).
        try:
            await asyncio.get_running_loop().run_in_executor(None, forget_old_versions, sink.clickhouse, settings)
        except Exception as exc:  # only costs disk and a slower check; the next pass tries again
            log.warning("dropping old statement versions failed (%s: %s)", type(exc).__name__, exc)

    if settings.malloc_trim_s > 0:
        @app.task
        async def hand_back_free_memory() -> None:
            # Every worker: what its batches and rounds freed goes back to the system (lrs/core/util/malloctune.py).
            await trim_every(settings.malloc_trim_s)

    @app.timer(settings.erasure_poll_s, on_leader=True)
    async def apply_erasures() -> None:
        # One worker (the group's leader) moves GDPR erasures forward (streams/erasure.py); each pass is short and
        # never waits for ClickHouse's mutations, and the sink only queues requests.
        loop = asyncio.get_running_loop()
        try:
            for request, work in await loop.run_in_executor(None, sink.eraser.step):
                await analytics.send_learners(work)  # recompute without the learner, then done
                await loop.run_in_executor(None, sink.eraser.finish, request)
        except Exception as exc:  # the requests keep their recorded state; the next pass goes on from it
            log.warning("erasure pass failed (%s: %s)", type(exc).__name__, exc)

    return app


def faust_worker(app: faust.App) -> faust.Worker:
    """The Faust worker that runs ``app``: warnings and errors logged, no terminal spinner.

    Faust's spinner sets the root logger to DEBUG (only its handler stays at the given level), so aiokafka and
    clickhouse-driver built a log record for every fetch and every block sent, to be thrown away: 5-7 % of a
    worker's Python time in ``lrs bench`` profiles (docs/benchmarks.md).
    """
    worker = faust.Worker(app, loglevel="WARNING", quiet=True)
    worker.spinner = None
    return worker


async def write_with_retry(sink: StatementSink, batch: DecodedBatch, max_backoff_s: float) -> BatchResult:
    """Write a decoded batch, retrying with jittered capped exponential back-off until ClickHouse accepts it.

    Never drops a batch: while ClickHouse is down the agent stops taking messages, so memory stays
    bounded by the batches in hand (this one, the next decoded, a full intake) plus the consumer's fetch buffer.
    """
    loop = asyncio.get_running_loop()
    # Any ClickHouse or network failure: the same batch again; the gauge shows how long it has been failing.
    result = await retry_forever(lambda: loop.run_in_executor(None, sink.write_decoded, batch), "ClickHouse write",
                                 max_backoff_s, logger=log, on_failure=metrics.SINK_STALLED.set)
    metrics.SINK_STALLED.set(0)
    return result

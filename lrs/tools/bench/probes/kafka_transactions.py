"""Probe (not part of ``lrs bench``): what Kafka transactions would cost the LRS's write path.

A request here is 4 messages of 25 statements (one per partition, as ``lrs.core.kafka.envelope`` groups them),
produced by one sequential caller to a one-node local Kafka: as idempotent sends (what the LRS does), as one
transaction per request, and as one transaction per 8 requests (a group commit). Prints requests/s, latency
percentiles with their sample counts, and the broker's CPU per request. Figures: docs/architecture.md.

    python -m lrs.tools.bench.probes.kafka_transactions [STATE_DIR]
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from lrs.core.config import Settings
from lrs.tools.stack.process import free_port_run, free_ports
from lrs.tools.stack.stack import LocalStack

REQUESTS = 600
PARTITIONS = 4
TOPIC = "probe.transactions"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _measure(run_once: Callable[[], None], rounds: int, per_round: int, broker_pid: int) -> dict[str, float]:
    """Time ``rounds`` calls of ``run_once`` (each ``per_round`` requests), after one warm-up pass."""
    for _ in range(2):  # the first pass warms the broker's JIT and the producer
        latencies = []
        cpu_before, started = _cpu_seconds(broker_pid), time.perf_counter()
        for _ in range(rounds):
            began = time.perf_counter()
            run_once()
            latencies.append(time.perf_counter() - began)
        wall, cpu = time.perf_counter() - started, _cpu_seconds(broker_pid) - cpu_before
    requests = rounds * per_round
    return {"requests_per_s": round(requests / wall), "latency_p50_ms": round(_percentile(latencies, 0.5) * 1000, 2),
            "latency_p99_ms": round(_percentile(latencies, 0.99) * 1000, 2), "samples": len(latencies),
            "broker_cpu_ms_per_request": round(cpu * 1000 / requests, 3)}


def main(state_dir: Path) -> dict[str, dict[str, float]]:
    """Start a one-node stack in ``state_dir``, run the three variants, stop it; return the figures."""
    ch_tcp, ch_http = free_ports(2)
    settings = Settings(state_dir=state_dir, broker_port=free_port_run(2, exclude=(ch_tcp, ch_http)),
                        clickhouse_tcp_port=ch_tcp, clickhouse_http_port=ch_http)
    stack = LocalStack(settings)
    stack.up()
    try:
        admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
        try:
            admin.create_topics([NewTopic(TOPIC, PARTITIONS, -1)])
        except TopicAlreadyExistsError:
            pass
        finally:
            admin.close()
        message = json.dumps({"statements": [{"id": str(uuid.uuid4()), "x": "y" * 600} for _ in range(25)]}).encode()
        common = {"bootstrap_servers": settings.kafka_bootstrap, "acks": "all", "linger_ms": 2,
                  "compression_type": "lz4"}
        idempotent = KafkaProducer(enable_idempotence=True, **common)
        transactional = KafkaProducer(transactional_id=f"probe-{uuid.uuid4().hex}", **common)
        transactional.init_transactions()

        def idempotent_request() -> None:
            for future in [idempotent.send(TOPIC, message, partition=p) for p in range(PARTITIONS)]:
                future.get(10)

        def transaction(requests: int) -> Callable[[], None]:
            def run() -> None:
                transactional.begin_transaction()
                for _ in range(requests):
                    for partition in range(PARTITIONS):
                        transactional.send(TOPIC, message, partition=partition)
                transactional.commit_transaction()
            return run

        broker_pid = stack.pid("broker") or 0
        results = {
            "idempotent sends": _measure(idempotent_request, REQUESTS, 1, broker_pid),
            "one transaction per request": _measure(transaction(1), REQUESTS, 1, broker_pid),
            "one transaction per 8 requests": _measure(transaction(8), REQUESTS // 8, 8, broker_pid),
        }
        idempotent.close()
        transactional.close()
        return results
    finally:
        stack.down()


if __name__ == "__main__":
    figures = main(Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/lrs-probe-transactions"))
    for label, row in figures.items():
        print(f"{label}: {row}")

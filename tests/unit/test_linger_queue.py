"""The sink's intake (streams/batching.py): batches close by size or by their first item's age, never lose an item."""

from __future__ import annotations

import asyncio

import pytest

from streams.batching import LingerQueue


def run(coro):
    return asyncio.run(coro)


def test_a_young_batch_waits_only_for_the_rest_of_its_first_items_linger():
    async def scenario() -> tuple[list[int], float]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.4)
        for i in range(7):
            await q.put(i)
        await asyncio.sleep(0.2)  # the writer was busy for half the linger
        start = asyncio.get_running_loop().time()
        return await q.next_batch(), asyncio.get_running_loop().time() - start

    batch, waited = run(scenario())
    assert batch == list(range(7))
    assert 0.1 < waited < 0.35


def test_the_linger_counts_from_when_the_first_item_was_queued():
    async def scenario() -> tuple[list[int], float]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.3)
        await q.put(1)
        await q.put(2)
        await asyncio.sleep(0.4)  # the writer was busy longer than the linger
        start = asyncio.get_running_loop().time()
        batch = await q.next_batch()
        return batch, asyncio.get_running_loop().time() - start

    batch, waited = run(scenario())
    assert batch == [1, 2]
    assert waited < 0.1  # no second wait: the batch had waited its linger while queued


def test_a_full_batch_closes_without_waiting_and_keeps_the_rest_in_order():
    async def scenario() -> list[list[int]]:
        q: LingerQueue[int] = LingerQueue(3, linger_s=10.0)
        for i in range(3):
            await q.put(i)
        first = await asyncio.wait_for(q.next_batch(), 1.0)
        for i in range(3, 5):
            await q.put(i)
        await asyncio.sleep(0.05)
        await q.put(5)
        second = await asyncio.wait_for(q.next_batch(), 1.0)
        return [first, second]

    assert run(scenario()) == [[0, 1, 2], [3, 4, 5]]


def test_items_arriving_within_the_linger_join_the_batch_later_ones_start_the_next():
    async def scenario() -> list[list[int]]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.2)

        async def produce() -> None:
            await q.put(1)
            await asyncio.sleep(0.05)
            await q.put(2)  # within the first item's linger
            await asyncio.sleep(0.4)
            await q.put(3)  # after it

        task = asyncio.ensure_future(produce())
        batches = [await q.next_batch(), await q.next_batch()]
        await task
        return batches

    assert run(scenario()) == [[1, 2], [3]]


def test_put_waits_while_full_and_resumes_when_a_batch_is_taken():
    async def scenario() -> tuple[bool, list[int], list[int]]:
        q: LingerQueue[int] = LingerQueue(2, linger_s=0.0)
        await q.put(1)
        await q.put(2)
        assert q.full()
        blocked = asyncio.ensure_future(q.put(3))
        await asyncio.sleep(0.05)
        was_blocked = not blocked.done()
        first = await q.next_batch()
        await asyncio.wait_for(blocked, 1.0)
        return was_blocked, first, await q.next_batch()

    was_blocked, first, second = run(scenario())
    assert was_blocked
    assert (first, second) == ([1, 2], [3])


def test_limit_bytes_caps_a_batch_of_queued_items_and_the_bytes_waiting_in_the_queue():
    # A lagging sink: items of 40 bytes queued while the writer is busy; a batch and the queue stop at 100 bytes.
    async def scenario() -> tuple[list[int], bool, list[list[int]]]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.0, limit_bytes=100, size=lambda _: 40)
        for i in range(3):  # 120 bytes: the queue is full in bytes, with room left in items
            await q.put(i)
        blocked = asyncio.ensure_future(q.put(3))
        await asyncio.sleep(0.05)
        was_full = q.full() and not blocked.done() and q.queued_bytes == 120
        first = await q.next_batch()  # the first item past 100 bytes closes it
        await asyncio.wait_for(blocked, 1.0)
        await q.put(4)
        await q.put(5)
        last = asyncio.ensure_future(q.put(6))  # waits for the next batch to make room
        rest = [await q.next_batch()]
        await asyncio.wait_for(last, 1.0)
        rest.append(await q.next_batch())
        return first, was_full, rest

    first, was_full, rest = run(scenario())
    assert first == [0, 1, 2]
    assert was_full
    assert rest == [[3, 4, 5], [6]]


def test_an_item_larger_than_limit_bytes_passes_alone():
    async def scenario() -> list[list[int]]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.0, limit_bytes=100, size=lambda i: 500 if i == 1 else 10)
        await q.put(0)
        await q.put(1)
        blocked = asyncio.ensure_future(q.put(2))  # the queue holds 510 bytes: waits
        first = await q.next_batch()
        await asyncio.wait_for(blocked, 1.0)
        return [first, await q.next_batch()]

    assert run(scenario()) == [[0, 1], [2]]


def test_no_item_is_lost_when_the_linger_runs_out_as_one_arrives():
    async def scenario() -> list[int]:
        q: LingerQueue[int] = LingerQueue(1000, linger_s=0.001)
        seen: list[int] = []

        async def produce() -> None:
            for i in range(3000):
                await q.put(i)
                if i % 7 == 0:
                    await asyncio.sleep(0)

        task = asyncio.ensure_future(produce())
        while len(seen) < 3000:
            seen += await q.next_batch()
        await task
        return seen

    assert run(scenario()) == list(range(3000))


def test_max_items_must_be_positive():
    with pytest.raises(ValueError):
        LingerQueue(0, 0.1)


def test_the_oldest_wait_tells_how_far_the_writer_is_behind():
    async def scenario() -> list[float]:
        q: LingerQueue[int] = LingerQueue(3, linger_s=0.0)
        seen = [q.oldest_wait_s()]  # nothing queued
        await q.put(1)
        await asyncio.sleep(0.2)
        await q.put(2)
        seen.append(q.oldest_wait_s())  # item 1's age
        assert await q.next_batch() == [1, 2]
        seen.append(q.oldest_wait_s())  # taken: nothing waits any more
        await q.put(3)
        seen.append(q.oldest_wait_s())
        return seen

    empty, behind, caught_up, fresh = run(scenario())
    assert empty == 0.0 and caught_up == 0.0
    assert 0.15 < behind < 1.0 and fresh < 0.05


def test_a_batch_still_growing_past_its_linger_waits_on_until_its_longest_wait():
    async def scenario() -> tuple[list[int], float]:
        q: LingerQueue[int] = LingerQueue(1000, linger_s=0.1, max_wait_s=0.4, quiet_s=0.06)

        async def produce() -> None:
            for i in range(60):  # a steady trickle: an item every 20 ms for 1.2 s
                await q.put(i)
                await asyncio.sleep(0.02)

        task = asyncio.ensure_future(produce())
        start = asyncio.get_running_loop().time()
        batch = await q.next_batch()
        waited = asyncio.get_running_loop().time() - start
        task.cancel()
        return batch, waited

    batch, waited = run(scenario())
    assert 0.35 < waited < 0.55
    assert batch == list(range(len(batch))) and len(batch) >= 15  # four times the items of its linger alone


def test_a_batch_that_stopped_growing_closes_at_its_linger():
    async def scenario() -> tuple[list[int], float]:
        q: LingerQueue[int] = LingerQueue(1000, linger_s=0.1, max_wait_s=2.0, quiet_s=0.05)
        start = asyncio.get_running_loop().time()
        for i in range(3):
            await q.put(i)
        return await q.next_batch(), asyncio.get_running_loop().time() - start

    batch, waited = run(scenario())
    assert batch == [0, 1, 2]
    assert 0.08 < waited < 0.3  # not the 2 s it could have waited


def test_a_growing_batch_stops_waiting_once_it_holds_max_bytes():
    async def scenario() -> tuple[list[bytes], float]:
        q: LingerQueue[bytes] = LingerQueue(1000, linger_s=0.1, max_wait_s=5.0, quiet_s=1.0, max_bytes=30, size=len)

        async def produce() -> None:
            for i in range(100):  # keeps growing: without max_bytes the batch would wait its 5 s
                await q.put(b"%010d" % i)
                await asyncio.sleep(0.03)

        task = asyncio.ensure_future(produce())
        start = asyncio.get_running_loop().time()
        batch = await q.next_batch()
        task.cancel()
        return batch, asyncio.get_running_loop().time() - start

    batch, waited = run(scenario())
    assert waited < 0.5 and 3 <= len(batch) <= 6  # past its 0.1 s linger, closed by its bytes


def test_max_bytes_never_cuts_off_what_already_waits():
    async def scenario() -> list[bytes]:
        q: LingerQueue[bytes] = LingerQueue(1000, linger_s=0.0, max_wait_s=1.0, max_bytes=30, size=len)
        for i in range(50):  # a backlog queued during the last write: one insert takes it all
            await q.put(b"%010d" % i)
        return await asyncio.wait_for(q.next_batch(), 1.0)

    assert len(run(scenario())) == 50


def test_a_full_queue_is_behind_though_its_oldest_item_is_young():
    # With limit_bytes the backlog waits upstream (in Kafka): the queue's items are never old, but it stays full.
    async def scenario() -> list[bool]:
        q: LingerQueue[int] = LingerQueue(100, linger_s=0.0, limit_bytes=100, size=lambda _: 40)
        seen = [q.behind(5.0)]  # empty
        await q.put(0)
        seen.append(q.behind(5.0))  # one young item, room left
        await q.put(1)
        await q.put(2)  # 120 bytes: full
        seen.append(q.behind(5.0))
        await q.next_batch()
        seen.append(q.behind(5.0))  # taken: room again
        await q.put(3)
        await asyncio.sleep(0.2)
        seen.append(q.behind(0.1))  # one item, waiting longer than allowed: stuck
        return seen

    assert run(scenario()) == [False, False, True, False, True]

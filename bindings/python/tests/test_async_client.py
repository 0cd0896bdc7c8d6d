"""wause.AsyncClient, driven with asyncio.run (no pytest plugin)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Awaitable, Callable, List, TypeVar

import pytest

import wause
from conftest import insert_events
from test_events import FIVE_ROWS

T = TypeVar("T")


def run(scenario: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(asyncio.wait_for(scenario(), timeout=30))


def test_status_and_call(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir)) as client:
            status = await client.status()
            assert status["state"] == "stopped" and status["account"] is None
            assert status["data_dir"] == str(data_dir)
            assert await client.call("whatsapp_status") == status
            assert await client.call_raw("whatsapp_status", "  ") == status

    run(scenario)


def test_errors_are_mapped(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient({"data_dir": str(data_dir)}) as client:
            with pytest.raises(wause.InvalidRequest, match="unknown method"):
                await client.call("whatsapp_teleport")
            with pytest.raises(wause.InvalidRequest):
                await client.call("whatsapp_status", {"limit": "x"})
            with pytest.raises(wause.InvalidRequest):
                await client.call("whatsapp_status", [1])  # type: ignore[arg-type]
            with pytest.raises(wause.InvalidRequest):
                await client.call_raw("whatsapp_status", "{nope")
            with pytest.raises(wause.InvalidRequest, match="limit"):
                await client.replay(limit=0)
            assert (await client.status())["state"] == "stopped"  # still healthy

    run(scenario)


def test_bad_config_raises_before_any_loop_work(tmp_path: Path) -> None:
    async def scenario() -> None:
        with pytest.raises(wause.InvalidRequest, match="data_dir"):
            wause.AsyncClient()
        with pytest.raises(wause.InvalidRequest):
            wause.AsyncClient.from_json("{broken")
        with pytest.raises(wause.InvalidRequest):
            wause.AsyncClient(data_dir=str(tmp_path / "s"), max_buffered_events=0)

    run(scenario)


def test_needs_a_running_loop(data_dir: Path) -> None:
    with pytest.raises(RuntimeError, match="running event loop"):
        wause.AsyncClient(data_dir=str(data_dir))


def test_many_concurrent_calls_resolve_to_their_own_answers(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(tmp_path / "a")) as first, \
                wause.AsyncClient(data_dir=str(tmp_path / "b")) as second:
            calls = [client.status() for _ in range(50) for client in (first, second)]
            calls += [first.call("whatsapp_missing") for _ in range(10)]
            results = await asyncio.gather(*calls, return_exceptions=True)
            statuses = results[:100]
            assert [status["data_dir"] for status in statuses] == [str(tmp_path / "a"), str(tmp_path / "b")] * 50
            assert all(isinstance(error, wause.InvalidRequest) for error in results[100:])

    run(scenario)


def test_events_arrive_through_async_for(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir)) as client:
            insert_events(data_dir, FIVE_ROWS)
            await client.status()  # an answer wakes the engine's delivery thread
            names = [event["name"] async for event in client.events(timeout=1)]
            assert names == [row[0] for row in FIVE_ROWS]
            assert await client.next_event(timeout=0) is None

    run(scenario)


def test_events_dropped_from_a_full_buffer_are_read_back_from_the_log(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir), max_buffered_events=2) as client:
            insert_events(data_dir, FIVE_ROWS * 3)
            await client.status()
            await asyncio.sleep(0.3)  # let all 15 arrive while nobody reads: 13 are dropped
            cursors = [event["cursor"] async for event in client.events(timeout=1)]
            assert cursors == list(range(1, 16))
            # Again, now that the reader's position is past the first batch.
            insert_events(data_dir, FIVE_ROWS * 3)
            await client.status()
            await asyncio.sleep(0.3)
            cursors = [event["cursor"] async for event in client.events(timeout=1)]
            assert cursors == list(range(16, 31))

    run(scenario)


def test_replay_and_iter_log(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir)) as client:
            assert await client.replay() == {"events": [], "next_cursor": 0, "has_more": False}
            insert_events(data_dir, FIVE_ROWS)
            page = await client.replay(after_cursor=0, limit=2)
            assert [event["cursor"] for event in page["events"]] == [1, 2] and page["has_more"]
            cursors = [event["cursor"] async for event in client.iter_log(page_size=2)]
            assert cursors == [1, 2, 3, 4, 5]
            with pytest.raises(wause.InvalidRequest):
                client.iter_log(page_size="x")  # type: ignore[arg-type]

    run(scenario)


def test_aclose_is_idempotent_and_later_use_is_a_clear_error(data_dir: Path) -> None:
    async def scenario() -> None:
        client = wause.AsyncClient(data_dir=str(data_dir))
        await client.aclose()
        await client.aclose()
        assert client.closed
        for use in (client.status, lambda: client.call("whatsapp_status"), client.replay,
                    lambda: client.next_event(0)):
            with pytest.raises(wause.InvalidRequest, match="client is closed"):
                await use()
        with pytest.raises(wause.InvalidRequest, match="client is closed"):
            client.events()
        # The data directory is free again.
        async with wause.AsyncClient(data_dir=str(data_dir)) as reopened:
            assert (await reopened.status())["state"] == "stopped"

    run(scenario)


def test_aclose_ends_iterators_and_pending_calls(data_dir: Path) -> None:
    async def scenario() -> None:
        client = wause.AsyncClient(data_dir=str(data_dir))
        collected: List[Any] = []

        async def listen() -> None:
            async for event in client.events():
                collected.append(event)

        listener = asyncio.ensure_future(listen())
        await asyncio.sleep(0.1)
        await client.aclose()
        await asyncio.wait_for(listener, 2)
        assert collected == []

    run(scenario)


def test_pending_call_fails_when_closed(data_dir: Path) -> None:
    async def scenario() -> None:
        client = wause.AsyncClient(data_dir=str(data_dir))
        # Sent, but its answer cannot be dispatched before aclose() runs in this same loop step.
        call = asyncio.ensure_future(client.status())
        await asyncio.sleep(0)
        await client.aclose()
        try:
            await call
        except wause.InvalidRequest as error:
            assert error.message == "client is closed"
        # If the engine answered before closing, the call simply succeeded; both are correct.

    run(scenario)


def test_cancelled_calls_do_not_disturb_others(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir)) as client:
            abandoned = asyncio.ensure_future(client.status())
            await asyncio.sleep(0)
            abandoned.cancel()
            with pytest.raises(asyncio.CancelledError):
                await abandoned
            assert (await client.status())["state"] == "stopped"

    run(scenario)


def test_loop_thread_is_never_the_engine_thread(data_dir: Path) -> None:
    async def scenario() -> None:
        async with wause.AsyncClient(data_dir=str(data_dir)) as client:
            loop_thread = threading.get_ident()
            insert_events(data_dir, FIVE_ROWS[:1])
            await client.status()
            event = await client.next_event(timeout=2)
            assert event is not None and event["cursor"] == 1
            assert threading.get_ident() == loop_thread  # results are handed over to the loop

    run(scenario)

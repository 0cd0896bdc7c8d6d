"""The event log and event delivery: replay paging, timestamps, and live events through
``events()``, ``receive()`` and callbacks.

Nothing in the engine produces events without a WhatsApp connection yet, so rows are written to
the store's ``events`` table with Python's sqlite3 — the log format DESIGN.md fixes (cursor,
name, ts in unix ms, data as JSON). For live delivery this relies on the engine reading the log
by cursor from SQLite (wause.h: "events are written before they are delivered"), which also
makes rows another process appends visible.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any, Dict, List

import pytest

import wause
from conftest import insert_events

ISO_UTC_MILLIS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")

FIVE_ROWS = [
    ("message.received", 1_700_000_000_123, {"id": "A", "body": "hello"}),
    ("message.sent", 1_700_000_001_000, {"id": "B"}),
    ("message.status", 1_700_000_002_500, {"id": "B", "status": "delivered"}),
    ("presence.changed", 0, {"jid": "1555@s.whatsapp.net", "available": True}),
    ("typing.started", 1_735_689_599_999, {"chat": "1555@s.whatsapp.net"}),
]


def test_replay_of_an_empty_log(client: wause.Client) -> None:
    assert client.replay() == {"events": [], "next_cursor": 0, "has_more": False}
    assert client.replay(after_cursor=10, limit=1000) == {"events": [], "next_cursor": 10, "has_more": False}
    assert list(client.iter_log()) == []


@pytest.mark.parametrize("limit", [0, -1, 1001, 5000, 2**31 - 1, 2**40])
def test_replay_limit_out_of_range_is_invalid_request(client: wause.Client, limit: int) -> None:
    with pytest.raises(wause.InvalidRequest, match="limit"):
        client.replay(limit=limit)


@pytest.mark.parametrize("arguments", [{"after_cursor": -1}, {"after_cursor": 2**64}, {"after_cursor": "0"},
                                       {"limit": "x"}, {"limit": 2.5}, {"limit": True}])
def test_replay_bad_arguments_are_invalid_request(client: wause.Client, arguments: Dict[str, Any]) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.replay(**arguments)


def test_replay_pages_through_logged_events(data_dir: Path) -> None:
    wause.Client(data_dir=str(data_dir)).close()  # creates the store and its schema
    insert_events(data_dir, FIVE_ROWS)
    with wause.Client(data_dir=str(data_dir)) as client:
        first = client.replay(after_cursor=0, limit=2)
        assert [event["cursor"] for event in first["events"]] == [1, 2]
        assert (first["next_cursor"], first["has_more"]) == (2, True)
        second = client.replay(after_cursor=first["next_cursor"], limit=2)
        assert [event["cursor"] for event in second["events"]] == [3, 4]
        assert (second["next_cursor"], second["has_more"]) == (4, True)
        third = client.replay(after_cursor=second["next_cursor"], limit=2)
        assert [event["cursor"] for event in third["events"]] == [5]
        assert (third["next_cursor"], third["has_more"]) == (5, False)
        exact = client.replay(after_cursor=3, limit=2)
        assert [event["cursor"] for event in exact["events"]] == [4, 5] and exact["has_more"] is False

        events = first["events"] + second["events"] + third["events"]
        for event, (name, _, data) in zip(events, FIVE_ROWS):
            assert set(event) == {"cursor", "name", "ts", "data"}
            assert event["name"] == name and event["data"] == data
            assert ISO_UTC_MILLIS.fullmatch(event["ts"]), event["ts"]
        assert [event["ts"] for event in events] == [
            "2023-11-14T22:13:20.123Z", "2023-11-14T22:13:21.000Z", "2023-11-14T22:13:22.500Z",
            "1970-01-01T00:00:00.000Z", "2024-12-31T23:59:59.999Z"]

        assert list(client.iter_log(page_size=2)) == events
        assert [event["cursor"] for event in client.iter_log(after_cursor=3)] == [4, 5]


def test_events_logged_before_opening_are_replayed_not_delivered(data_dir: Path) -> None:
    wause.Client(data_dir=str(data_dir)).close()
    insert_events(data_dir, FIVE_ROWS)
    with wause.Client(data_dir=str(data_dir)) as client:
        assert client.receive(timeout=0.3) is None
        assert list(client.events(timeout=0.3)) == []
        assert len(list(client.iter_log())) == 5


def test_new_events_arrive_through_events_in_cursor_order(client: wause.Client, data_dir: Path) -> None:
    insert_events(data_dir, FIVE_ROWS[:3])
    events = list(client.events(timeout=1))
    assert [event["cursor"] for event in events] == [1, 2, 3]
    assert [event["name"] for event in events] == [row[0] for row in FIVE_ROWS[:3]]


def test_answers_met_by_events_are_kept_for_receive(client: wause.Client, data_dir: Path) -> None:
    insert_events(data_dir, FIVE_ROWS[:3])
    iterator = client.events(timeout=2)
    first = next(iterator)
    request_id = client.send("whatsapp_status")
    threading.Event().wait(0.2)  # let the answer queue up ahead of the remaining events
    rest = list(iterator)
    assert [event["cursor"] for event in [first] + rest] == [1, 2, 3]
    answer = client.receive(timeout=1)
    assert answer is not None and answer["request_id"] == request_id


def test_events_met_by_wait_answer_are_kept_for_events(client: wause.Client, data_dir: Path) -> None:
    insert_events(data_dir, FIVE_ROWS[:2])
    threading.Event().wait(0.2)
    request_id = client.send("whatsapp_status")
    assert client.wait_answer(request_id, timeout=2)["state"] == "stopped"
    assert client.receive(timeout=1)["cursor"] == 1  # type: ignore[index]
    assert [event["cursor"] for event in client.events(timeout=0.5)] == [2]


def test_callback_receives_events(client: wause.Client, data_dir: Path) -> None:
    received: List[Dict[str, Any]] = []
    all_arrived = threading.Event()

    def on_item(item: Dict[str, Any]) -> None:
        received.append(item)
        # Four events and the answer, which may come before, between or after them.
        if sum(1 for entry in received if "cursor" in entry) == 4 and any("request_id" in entry for entry in received):
            all_arrived.set()

    insert_events(data_dir, FIVE_ROWS[:2])
    next(client.events(timeout=2))  # cursor 1 is read here; cursor 2 is still queued
    client.set_callback(on_item)
    insert_events(data_dir, FIVE_ROWS[2:])
    client.send("whatsapp_status")  # an answer also wakes the delivery thread
    assert all_arrived.wait(5)
    assert [entry["cursor"] for entry in received if "cursor" in entry] == [2, 3, 4, 5]
    assert any(entry.get("request_id") == 1 for entry in received)

"""Issue 14's agent helpers through the Python binding's generated methods, on a client linked to
a real wause-sim: ``list_chats`` (filter, groups_only, cursor), ``list_messages`` (ISO 8601
before/after, include_context), ``search_messages`` (include_context), ``get_message``,
``catch_up``, ``export_chat`` and ``reconnect``. Waits follow the event stream (DEADLINE only
against hangs)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import wause

from conftest import (ADA, BOB, CAROL, Simulator, link_by_qr)



def test_agent_helpers_through_the_generated_methods(
        simulator: Simulator, ada: wause.Client, accounts: Dict[str, Any], tmp_path: Path) -> None:
    events = link_by_qr(ada, simulator, ADA)
    carol_jid, bob_jid = accounts[CAROL]["jid"], accounts[BOB]["jid"]
    sent = ada.send_message(CAROL, "first from ada")
    for phone, text in ((BOB, "bob says hi"), (CAROL, "one from carol"), (CAROL, "two from carol"), (CAROL, "can you help?")):
        status, _ = simulator.admin("POST", f"/accounts/{phone}/send", {"to": ADA, "text": text})
        assert status == 200
        events.received(text)

    # list_chats: filter by phone digits or name, no groups, and pages by cursor covering every chat once.
    assert [c["id"] for c in ada.list_chats(filter=CAROL[-6:])["chats"]] == [carol_jid]
    assert [c["id"] for c in ada.list_chats(filter="bob")["chats"]] == [bob_jid]
    assert ada.list_chats(groups_only=True)["chats"] == []
    first = ada.list_chats(1)
    assert first["count"] == 1 and first["next_cursor"]
    second = ada.list_chats(1, cursor=first["next_cursor"])
    assert {first["chats"][0]["id"], second["chats"][0]["id"]} == {carol_jid, bob_jid} and second["next_cursor"] is None
    with pytest.raises(wause.InvalidRequest):
        ada.list_chats(cursor="not-a-cursor")

    # list_messages: ISO 8601 bounds and context.
    listed = ada.list_messages(chat=CAROL, after="2000-01-01T00:00:00Z", limit=1, include_context=True)
    assert listed["messages"][0]["body"] == "first from ada"
    assert [m["body"] for m in listed["messages"][0]["context_messages"]] == ["one from carol", "two from carol"]
    assert ada.list_messages(chat=CAROL, before="2000-01-01")["messages"] == []
    with pytest.raises(wause.InvalidRequest) as bad:
        ada.list_messages(after="soon")
    assert "after" in str(bad.value)
    hits = ada.search_messages("two", include_context=True, context_size=1)["results"]
    assert [m["body"] for m in hits[0]["context_messages"]] == ["one from carol", "can you help?"]

    got = ada.get_message(sent["message_id"])
    assert got["message"]["body"] == "first from ada" and got["message"]["from_me"] is True and got["quoted_message"] is None
    with pytest.raises(wause.NotFound):
        ada.get_message("NOSUCHMESSAGE")

    caught = ada.catch_up("today")
    assert [q["body"] for q in caught["questions"]] == ["can you help?"]
    assert {c["chat"]: c["unread_count"] for c in caught["chats"]} == {carol_jid: 3, bob_jid: 1}
    assert caught["pending_approvals"] == [] and caught["until"].endswith("Z")

    exported = ada.export_chat(CAROL, "csv")
    path = Path(exported["path"])
    assert path.parent.name == "exports" and (path.stat().st_mode & 0o777) == 0o600
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    assert rows[0] == ["id", "timestamp", "chat", "from", "author", "from_me", "type", "body", "media_type",
                       "media_sha256", "quoted_id", "edited", "deleted"]
    assert [r[7] for r in rows[1:]] == ["first from ada", "one from carol", "two from carol", "can you help?"]
    assert exported["summary"]["count"] == 4 and exported["preview"]["last"][-1]["body"] == "can you help?"

    assert ada.reconnect(timeout=60)["state"] == "ready"
    again = ada.send_message(CAROL, "back after reconnect")
    events.status(again["message_id"], "delivered")


def test_reconnect_needs_a_link_and_timezone_is_checked(simulator: Simulator, tmp_path: Path) -> None:
    with wause.Client(simulator.client_config(tmp_path / "unlinked")) as client:
        with pytest.raises(wause.WhatsAppNotPaired):
            client.reconnect()
    config = dict(simulator.client_config(tmp_path / "tz"), timezone="Nowhere/Special")
    with pytest.raises(wause.InvalidRequest) as bad:
        wause.Client(config)
    assert "timezone" in str(bad.value)
    with wause.Client(dict(config, timezone="+05:30")) as client:
        assert client.catch_up("today")["timezone"] == "+05:30"

"""App state (issue 15) through the Python binding against wause-sim: the phone's changes arrive
(`chat.updated`, `list_chats`), and each chat-settings tool sends a patch the phone's view shows
(GET /accounts/{phone}/app-state, tests/sim/README.md "App state")."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import wause

from conftest import Simulator, link_by_qr

ADA, BOB = "15550001111", "15550002222"


@pytest.fixture
def accounts(simulator: Simulator) -> Dict[str, Dict[str, Any]]:
    return {phone: simulator.create_account(phone, name) for phone, name in ((ADA, "Ada"), (BOB, "Bob"))}


@pytest.fixture
def ada(simulator: Simulator, tmp_path: Path, accounts: Dict[str, Any]) -> Iterator[wause.Client]:
    with wause.Client(simulator.client_config(tmp_path / "ada")) as client:
        yield client


def phone_view(simulator: Simulator) -> Dict[str, Any]:
    status, view = simulator.admin("GET", f"/accounts/{ADA}/app-state")
    assert status == 200, view
    return view


def test_chat_settings_travel_both_ways(simulator: Simulator, ada: wause.Client, accounts: Dict[str, Any]) -> None:
    events = link_by_qr(ada, simulator, ADA)
    bob = accounts[BOB]["jid"]

    # Before the phone shared its key nothing can be sent: a clear error.
    with pytest.raises(wause.NotConnected):
        ada.pin_chat(BOB)

    # The phone archives Bob's chat: its key arrives, then the change.
    status, changed = simulator.admin("POST", f"/accounts/{ADA}/app-state", {"action": "archive", "chat": BOB})
    assert status == 200, changed
    updated = events.wait("chat.updated", lambda data: data["action"] == "archive")
    assert updated["data"]["chat_id"] == bob and updated["data"]["archived"] is True, updated
    chat = next(chat for chat in ada.list_chats()["chats"] if chat["id"] == bob)
    assert chat["archived"] is True and chat["muted"] is False and chat["muted_until"] is None, chat

    # Ours → the phone: unarchive, pin, mute for a week, mark unread.
    assert ada.archive_chat(BOB, archived=False)["chat"]["archived"] is False
    pinned = ada.pin_chat(BOB)
    assert pinned["collection"] == "regular_low" and pinned["chat"]["pinned"] is True, pinned
    muted = ada.mute_chat(BOB, "1w")
    assert muted["chat"]["muted"] is True and muted["chat"]["muted_until"] > 0, muted
    assert ada.mark_chat_unread(BOB)["action"] == "mark_unread"
    view = phone_view(simulator)
    seen = next(chat for chat in view["chats"] if chat["chat"] == bob)
    assert seen["archived"] is False and seen["pinned"] is True and seen["marked_unread"] is True, seen
    assert seen["muted_until"] // 1000 == muted["chat"]["muted_until"], (seen, muted)

    # A message from Bob, starred, then the chat cleared and deleted everywhere.
    status, posted = simulator.admin("POST", f"/accounts/{BOB}/send", {"to": ADA, "text": "star me"})
    assert status == 200, posted
    events.received("star me")
    starred = ada.star_message(posted["message_id"])
    assert starred["message_id"] == posted["message_id"] and starred["collection"] == "regular_high", starred
    assert any(star["message_id"] == posted["message_id"] for star in phone_view(simulator)["starred"])
    assert ada.clear_chat(BOB)["action"] == "clear_chat"
    assert ada.read_messages(BOB)["messages"] == []
    assert ada.delete_chat(BOB)["action"] == "delete_chat"
    deleted = next(chat for chat in phone_view(simulator)["chats"] if chat["chat"] == bob)
    assert deleted.get("cleared") is True and deleted.get("deleted") is True, deleted
    assert phone_view(simulator)["unreadable_records"] == 0

    with pytest.raises(wause.InvalidRequest):
        ada.mute_chat(BOB, "2d")  # type: ignore[arg-type]

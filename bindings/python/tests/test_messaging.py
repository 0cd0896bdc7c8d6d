"""Messaging through the Python binding's typed methods, against a real wause-sim.

A client linked to account ADA talks to CAROL, a virtual phone of the sim (its ``send`` and
``inbox`` admin routes), and to BOB, another client: a message sent while BOB's client is closed
reaches it exactly once when it reopens on the same data directory. The history methods
(``list_messages``, ``search_messages``, ``sync``), ``wait_for_message``, ``mark_read``, quoted
replies and idempotency keys are checked on the way, and so is the asyncio client.

Nothing sleeps: every wait follows an event stream (``DEADLINE`` only against hangs). The one
thing with no event — a virtual phone's inbox — is read after the client saw that phone's
delivery receipt, which the phone sends once the message is filed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest

import wause

from conftest import (ADA, BOB, CAROL, DEADLINE, EventFollower, Simulator, link_by_code, link_by_qr, wait_in_inbox)



def test_a_client_and_a_virtual_phone_exchange_messages(
        simulator: Simulator, ada: wause.Client, accounts: Dict[str, Any]) -> None:
    events = link_by_qr(ada, simulator, ADA)
    carol_jid = accounts[CAROL]["jid"]

    # Client → phone: stored, acked, delivered, decrypted on the phone.
    sent = ada.send_message(CAROL, "hello carol")
    assert sent["ok"] is True and sent["to"] == CAROL and sent["chat_id"] == carol_jid, sent
    assert sent["status"] in ("sent", "delivered"), sent
    events.status(sent["message_id"], "delivered")
    entry = wait_in_inbox(simulator, CAROL, sent["message_id"])
    assert entry["text"] == "hello carol" and entry["from_phone"] == ADA and entry["from_me"] is False, entry

    # Phone → client.
    status, posted = simulator.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "hi ada"})
    assert status == 200, (status, posted)
    received = events.received("hi ada")["data"]
    assert received["message"]["id"] == posted["message_id"], received
    assert received["sender_phone"] == CAROL and received["sender_lid"] == accounts[CAROL]["lid"].split("@")[0], received
    assert received["message"]["chat_id"] == carol_jid and received["message"]["from_me"] is False, received
    assert received["message"]["author"] == "Carol", received

    # A quoted reply names the message it answers.
    quoted = ada.send_message(CAROL, "glad you wrote", quoted_message_id=posted["message_id"])
    events.status(quoted["message_id"], "delivered")
    listed = ada.read_messages(CAROL)["messages"]
    assert listed[-1]["id"] == quoted["message_id"], listed
    assert listed[-1]["quoted_message_id"] == posted["message_id"], listed
    with pytest.raises(wause.NotFound):
        ada.send_message(CAROL, "reply to nothing", quoted_message_id="3EB0000000000000000000")

    # Reading the chat sends a read receipt for the unread message and clears the count.
    chats = ada.list_chats()
    assert [chat["id"] for chat in chats["chats"]] == [carol_jid], chats
    assert chats["chats"][0]["unread_count"] == 1, chats
    marked = ada.mark_read(CAROL)
    assert marked == {"ok": True, "chat_id": carol_jid, "count": 1, "message_ids": [posted["message_id"]]}, marked
    assert ada.list_chats()["chats"][0]["unread_count"] == 0
    assert ada.mark_read(message_ids=[posted["message_id"]])["count"] == 1  # by id: marked again

    # The phone's auto-reply answers the next message. Only "a reply arrives" is checked: the
    # phone sends its delivery receipt before it reads the auto-reply setting, so the message
    # delivered just before the switch may be answered too.
    assert simulator.admin("PUT", f"/accounts/{CAROL}/auto-reply", {"text": "carol is busy"})[0] == 200
    asked = ada.send_message(CAROL, "are you there?")
    auto = events.received("carol is busy")
    assert auto["data"]["sender_phone"] == CAROL and auto["data"]["message"]["chat_id"] == carol_jid, auto
    events.status(asked["message_id"], "delivered")
    assert simulator.admin("PUT", f"/accounts/{CAROL}/auto-reply", {"text": None})[0] == 200


def test_history_search_sync_and_idempotency(
        simulator: Simulator, ada: wause.Client, accounts: Dict[str, Any]) -> None:
    events = link_by_qr(ada, simulator, ADA)
    texts = ["lunch on monday?", "the report is done", "lunch next week then", "ok"]
    ids = []
    for text in texts:
        sent = ada.send_message(CAROL, text, idempotency_key=f"key-{text}")
        ids.append(sent["message_id"])
    for message_id in ids:
        events.status(message_id, "delivered")

    # The same idempotency key answers with the first result and sends nothing new.
    again = ada.send_message(CAROL, texts[0], idempotency_key=f"key-{texts[0]}")
    assert again["message_id"] == ids[0] and again["status"] == "delivered", again
    assert ada.read_messages(CAROL, limit=100)["count"] == len(texts)

    # Paging backwards and forwards by cursor.
    newest = ada.list_messages(to=CAROL, limit=2)
    assert [m["id"] for m in newest["messages"]] == ids[2:], newest
    older = ada.list_messages(to=CAROL, before_cursor=newest["before_cursor"], limit=2)
    assert [m["id"] for m in older["messages"]] == ids[:2], older
    assert ada.list_messages(to=CAROL, before_cursor=older["before_cursor"])["messages"] == []
    forward = ada.list_messages(to=CAROL, after_cursor=older["after_cursor"], limit=100)
    assert [m["id"] for m in forward["messages"]] == ids[2:], forward
    assert [m["id"] for m in ada.list_messages()["messages"]] == ids  # all chats

    # FTS5: words, phrases, boolean operators; a malformed query is the caller's mistake.
    hits = ada.search_messages("lunch", to=CAROL)
    assert sorted(hit["message"]["id"] for hit in hits["results"]) == sorted([ids[0], ids[2]]), hits
    assert all("[lunch]" in hit["snippet"].lower() for hit in hits["results"]), hits
    assert [hit["message"]["id"] for hit in ada.search_messages('"next week"')["results"]] == [ids[2]]
    assert [hit["message"]["id"] for hit in ada.search_messages("lunch NOT monday")["results"]] == [ids[2]]
    # Text FTS5 rejects is searched as its quoted tokens (issue "The first hour"): no error, no hit.
    unterminated = ada.search_messages('"unterminated')
    assert unterminated["ok"] is True and unterminated["count"] == 0, unterminated
    assert sorted(hit["message"]["id"] for hit in ada.search_messages("lunch?")["results"]) == sorted([ids[0], ids[2]])

    # sync: every event after a cursor, in order, with the cursor to continue from.
    everything = ada.sync(0, limit=1000)
    cursors = [event["cursor"] for event in everything["events"]]
    assert cursors == sorted(cursors) and everything["next_cursor"] == cursors[-1], everything
    sent_ids = [event["data"]["message_id"] for event in everything["events"]
                if event["name"] == "message.sent" and "message_id" in event["data"]]
    assert sent_ids == ids, sent_ids
    first = ada.sync(0, limit=1)
    assert len(first["events"]) == 1 and first["has_more"] is True, first
    assert ada.sync(everything["next_cursor"])["events"] == []


def test_wait_for_message_returns_the_next_message_or_times_out(
        simulator: Simulator, ada: wause.Client, accounts: Dict[str, Any]) -> None:
    link_by_qr(ada, simulator, ADA)
    quiet = ada.wait_for_message(timeout=1, from_phone=CAROL)
    assert quiet["timed_out"] is True and quiet["message"] is None and quiet["ok"] is True, quiet

    # The wait counts only messages logged after it starts, and nothing signals that start: it
    # is issued first (the typed method does this same send + wait_answer), and the phone's
    # message then needs an HTTP request, encryption and a WebSocket hop before it is logged.
    request = ada.send("whatsapp_wait_for_message", {"timeout": int(DEADLINE), "chat": f"+{CAROL}"})
    status, posted = simulator.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "ping"})
    assert status == 200, (status, posted)
    answers = {"result": ada.wait_answer(request, timeout=DEADLINE + 5)}
    result = answers["result"]
    assert result["timed_out"] is False and result["message"]["id"] == posted["message_id"], result
    assert result["message"]["body"] == "ping" and result["cursor"] > quiet["cursor"], result

    with pytest.raises(wause.InvalidRequest):
        ada.wait_for_message(timeout=0)
    with pytest.raises(wause.InvalidRequest):
        ada.wait_for_message(timeout=5, from_phone="not a phone")


def test_a_message_sent_while_the_recipient_is_closed_arrives_exactly_once_when_it_reopens(
        simulator: Simulator, ada: wause.Client, tmp_path: Path, accounts: Dict[str, Any]) -> None:
    link_by_qr(ada, simulator, ADA)
    bob_dir = tmp_path / "bob"
    with wause.Client(simulator.client_config(bob_dir)) as bob:
        link_by_code(bob, simulator, BOB)

    # Bob's client is closed: the server accepts and keeps the message for his device.
    sent = ada.send_message(BOB, "while you were away")
    assert sent["status"] in ("sent", "delivered"), sent
    assert ada.message_status(sent["message_id"])["status"] in ("sent", "delivered")

    with wause.Client(simulator.client_config(bob_dir)) as bob:
        events = EventFollower(bob)
        events.logged_in()  # linked already: it dials by itself
        got = events.wait("message.received", lambda data: data["message"]["id"] == sent["message_id"])
        assert got["data"]["message"]["body"] == "while you were away" and got["data"]["sender_phone"] == ADA, got
        # A later message comes after it, so anything delivered twice would have arrived by now.
        later = ada.send_message(BOB, "and one more")
        events.wait("message.received", lambda data: data["message"]["id"] == later["message_id"])

    with wause.Client(simulator.client_config(bob_dir)) as bob:
        events = EventFollower(bob)
        events.logged_in()
        last = ada.send_message(BOB, "third time")
        events.wait("message.received", lambda data: data["message"]["id"] == last["message_id"])
        log = [event for event in bob.iter_log()
               if event["name"] == "message.received" and event["data"]["message"]["id"] == sent["message_id"]]
        assert len(log) == 1, log
        history = bob.read_messages(ADA, limit=100)["messages"]
        assert [m["body"] for m in history] == ["while you were away", "and one more", "third time"], history


def test_sending_needs_a_link_and_arguments_are_checked(client: wause.Client) -> None:
    with pytest.raises(wause.WhatsAppNotPaired):
        client.send_message(CAROL, "hello")
    with pytest.raises(wause.InvalidRequest):
        client.send_message(CAROL, "")
    with pytest.raises(wause.InvalidRequest):
        client.mark_read()
    with pytest.raises(wause.InvalidRequest):
        client.mark_read(message_ids="3EB0ABC")  # one string, not a list
    with pytest.raises(wause.NotFound):
        client.message_status("3EB0000000000000000000")
    with pytest.raises(wause.InvalidRequest):
        client.list_chats(limit=0)
    with pytest.raises(wause.InvalidRequest):
        client.read_messages(CAROL, limit=101)
    assert client.list_chats() == {"ok": True, "count": 0, "chats": [], "next_cursor": None}
    assert client.list_messages() == {"ok": True, "count": 0, "messages": [], "before_cursor": None,
                                      "after_cursor": None}
    assert client.search_messages("anything")["results"] == []


def test_async_client_sends_and_follows_delivery(
        simulator: Simulator, tmp_path: Path, accounts: Dict[str, Any]) -> None:
    async def next_matching(client: wause.AsyncClient, name: str, where: Any) -> wause.Event:
        async for event in client.events(timeout=DEADLINE):
            if event["name"] == name and where(event["data"]):
                return event
        raise AssertionError(f"no {name} within {DEADLINE} s")

    async def scenario() -> None:
        async with wause.AsyncClient(simulator.client_config(tmp_path / "async")) as client:
            started = await client.start_auth()
            status, answer = await asyncio.to_thread(
                simulator.admin, "POST", f"/accounts/{ADA}/scan", {"qr": started["qr"]})
            assert status == 200, (status, answer)
            await next_matching(client, "account.connected", lambda data: data["phase"] == "login")

            sent = await client.send_message(f"+{CAROL}", "from asyncio")
            assert sent["status"] in ("sent", "delivered"), sent
            await next_matching(client, "message.status",
                                lambda data: data["message_id"] == sent["message_id"] and data["status"] == "delivered")
            assert (await client.message_status(sent["message_id"]))["status"] == "delivered"

            waiting = asyncio.ensure_future(client.wait_for_message(timeout=int(DEADLINE), from_phone=CAROL))
            await client.status()  # the wait was issued before this answer came back
            status, posted = await asyncio.to_thread(
                simulator.admin, "POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "back to asyncio"})
            assert status == 200, (status, posted)
            result = await waiting
            assert result["message"] is not None and result["message"]["id"] == posted["message_id"], result

            history = await client.read_messages(CAROL)
            assert [m["body"] for m in history["messages"]] == ["from asyncio", "back to asyncio"], history
            assert (await client.list_chats(limit=1))["count"] == 1
            assert (await client.list_messages(to=CAROL, limit=1))["messages"][0]["id"] == posted["message_id"]
            assert (await client.search_messages("asyncio", to=CAROL))["count"] == 2
            assert (await client.sync(0, limit=1))["has_more"] is True
            assert (await client.mark_read(CAROL))["message_ids"] == [posted["message_id"]]

    asyncio.run(scenario())


@pytest.mark.parametrize("method, typed", [
    ("whatsapp_send_message", wause.SendMessageResult),
    ("whatsapp_message_status", wause.MessageStatusResult),
    ("whatsapp_mark_read", wause.MarkReadResult),
    ("whatsapp_list_chats", wause.ListChatsResult),
    ("whatsapp_read_messages", wause.ReadMessagesResult),
    ("whatsapp_list_messages", wause.ListMessagesResult),
    ("whatsapp_search_messages", wause.SearchMessagesResult),
    ("whatsapp_sync", wause.SyncResult),
    ("whatsapp_wait_for_message", wause.WaitForMessageResult),
])
def test_result_types_name_exactly_the_catalogues_fields(method: str, typed: Any) -> None:
    methods = {entry["name"]: entry for entry in wause.catalogue()["methods"]}
    schema = methods[method]["output_schema"]
    assert set(typed.__annotations__) == set(schema["properties"]), method
    assert set(schema.get("required", [])) <= set(typed.__annotations__), method


def test_message_and_chat_types_name_exactly_the_catalogues_fields() -> None:
    methods = {entry["name"]: entry for entry in wause.catalogue()["methods"]}
    read = methods["whatsapp_read_messages"]["output_schema"]["properties"]
    message_schema = read["messages"]["items"]
    assert set(wause.Message.__annotations__) == set(message_schema["properties"])
    assert set(wause.ChatSummary.__annotations__) == set(read["chat"]["properties"])
    status = methods["whatsapp_message_status"]["output_schema"]["properties"]["timeline"]["items"]
    assert set(wause.TimelineEntry.__annotations__) == set(status["properties"])


def test_guard_rails_from_the_config(simulator: Simulator, tmp_path: Path, accounts: Dict[str, Any]) -> None:
    """``allowed_recipients`` and ``send_rate_per_minute`` as a binding passes them (a JSON list
    and a number): someone else is ``ForbiddenRecipient`` naming them, the third send in a minute
    ``RateLimited`` with an integer ``retry_after``; bad values are refused when the client opens."""
    config = {**simulator.client_config(tmp_path / "guarded"), "allowed_recipients": [f"+{CAROL}"], "send_rate_per_minute": 2}
    with wause.Client(config) as client:
        link_by_qr(client, simulator, ADA)
        with pytest.raises(wause.ForbiddenRecipient) as forbidden:
            client.send_message(BOB, "hello bob")
        assert forbidden.value.details["recipient"] == f"{BOB}@s.whatsapp.net", forbidden.value
        client.send_message(CAROL, "one")
        client.send_message(CAROL, "two")
        with pytest.raises(wause.RateLimited) as limited:
            client.send_message(CAROL, "three")
        retry_after = limited.value.details["retry_after"]
        assert isinstance(retry_after, int) and 1 <= retry_after <= 60, limited.value
        assert [m["body"] for m in client.read_messages(CAROL)["messages"]] == ["one", "two"]
        assert client.list_messages(chat=BOB)["messages"] == []
    for key, value in (("allowed_recipients", ["not a phone"]), ("send_rate_per_minute", -1)):
        with pytest.raises(wause.InvalidRequest, match=key):
            wause.Client({**simulator.client_config(tmp_path / "bad"), key: value})


def test_older_messages_come_on_demand(simulator: Simulator, tmp_path: Path, accounts: Dict[str, Any]) -> None:
    """``request_history`` (issue 15): Ada's phone holds messages with Carol older than the
    one-day window the client asked for at linking; asked for them, it answers, and they are
    stored — listed and searchable like any other."""
    old = [{"from_me": i == 1, "text": f"from the archive {i}", "timestamp": 1_700_000_000 + i} for i in range(3)]
    status, seeded = simulator.admin("POST", f"/accounts/{ADA}/history", {"chats": [{"with": CAROL, "messages": old}]})
    assert status == 200 and seeded["messages"] == 3, (status, seeded)
    config = dict(simulator.client_config(tmp_path / "ada"), history_sync_days="1",
                  media_ca_file=str(simulator.data_dir / "media-ca.pem"))
    with wause.Client(config) as ada:
        link_by_qr(ada, simulator, ADA)
        assert ada.list_messages(to=CAROL)["count"] == 0  # outside the window
        answer = ada.request_history(CAROL, 2)
        assert answer["ok"] is True and [m["body"] for m in answer["messages"]] == ["from the archive 1", "from the archive 2"]
        assert [m["from_me"] for m in answer["messages"]] == [True, False], answer
        rest = ada.request_history(CAROL, before_message_id=answer["messages"][0]["id"])
        assert [m["body"] for m in rest["messages"]] == ["from the archive 0"], rest
        assert ada.list_messages(to=CAROL)["count"] == 3
        assert ada.search_messages("archive")["count"] == 3
        with pytest.raises(wause.InvalidRequest):
            ada.request_history(CAROL, 51)

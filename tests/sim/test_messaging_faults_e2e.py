"""Messaging under faults (issue 5): nothing lost, nothing doubled.

Real `wause-mcp` processes linked to a real `wause-sim`; the faults are real too — SIGKILL of the
sender after its message is stored but before the server acked it, the server frozen (SIGSTOP)
and killed mid-stream, the recipient killed before it could answer a delivery. After each, the
sender's outbox must empty with the message `sent`, and the recipient's store must hold it exactly
once (the same id may well be delivered twice: a resend after a crash carries the same message id,
and the recipient files a message once by chat, id and side).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading

from sim_process import DEADLINE
from engine_flows import call_tool, create_account, linked_engine, start_engine, stopped_cleanly, wait_until
from test_messaging_e2e import ADA, BOB, received


def rows(data_dir: str, sql: str, *parameters):
    db = sqlite3.connect(f"file:{data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        return db.execute(sql, parameters).fetchall()
    finally:
        db.close()


def outbox(data_dir: str) -> list[str]:
    return [row[0] for row in rows(data_dir, "SELECT message_id FROM outbox ORDER BY id")]


def copies(data_dir: str, body: str) -> list[tuple]:
    """The stored messages with this text (id, from_me, status)."""
    return rows(data_dir, "SELECT id, from_me, status FROM messages WHERE body = ? ORDER BY rowid", body)


def send_in_background(server, session, phone: str, text: str) -> threading.Thread:
    """Calls whatsapp_send_message on a thread; the call may die with its server, which is the point."""
    def call():
        try:
            call_tool(server, session, "whatsapp_send_message", {"phone_number": phone, "message": text})
        except Exception:  # noqa: BLE001 - the server is killed under it on purpose
            pass
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


def restarted(tmp_path_factory, sim, data_dir: str):
    server = start_engine(tmp_path_factory, sim, data_dir=data_dir)
    session, _ = server.initialize()
    return server, session


def test_sender_killed_after_storing_and_before_the_ack_sends_once_on_return(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, _ = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    bob_server, bob, bob_events = linked_engine(sim, tmp_path_factory, {"phone": BOB})
    alice_dir = alice_server.data_dir

    # The server stops answering (its sockets stay open), so no ack can come back.
    os.kill(sim.proc.pid, signal.SIGSTOP)
    try:
        text = "stored before the wire"
        send_in_background(alice_server, alice, BOB, text)
        # As soon as the message is in the store (the outbox row is written before anything is
        # sent), the sender dies without a chance to do anything more.
        [message_id] = wait_until(lambda: outbox(alice_dir), "the outbox row")
        alice_server.kill()
    finally:
        os.kill(sim.proc.pid, signal.SIGCONT)
    assert outbox(alice_dir) == [message_id]
    assert copies(alice_dir, text) == [(message_id, 1, "queued")]

    alice_server, alice = restarted(tmp_path_factory, sim, alice_dir)
    got = received(bob_events, text)
    assert got["data"]["message"]["id"] == message_id
    # The sender's outbox empties once the server acked the (re)sent message.
    wait_until(lambda: outbox(alice_dir) == [] and copies(alice_dir, text)[0][2] in ("sent", "delivered", "read"),
               "the ack after the restart")
    status = call_tool(alice_server, alice, "whatsapp_message_status", {"message_id": message_id})
    steps = [step["status"] for step in status["timeline"]]
    # Queued first; the server's ack ("sent") may come after the recipient's receipt, when the
    # first attempt reached the server before the kill and the receipt waited for our return.
    assert steps[0] == "queued" and "sent" in steps, status
    # Exactly one copy at the recipient, whichever way it got there (the first attempt may have
    # reached the server before the kill, in which case the resend was a duplicate delivery).
    wait_until(lambda: copies(bob_server.data_dir, text), "the message in the recipient's store")
    assert copies(bob_server.data_dir, text) == [(message_id, 0, None)]
    history = call_tool(bob_server, bob, "whatsapp_read_messages", {"phone_number": ADA, "limit": 20})
    assert [m["id"] for m in history["messages"] if m["body"] == text] == [message_id]
    for server in (alice_server, bob_server):
        stopped_cleanly(server)


def test_the_server_dying_mid_stream_loses_and_doubles_nothing(make_sim, tmp_path_factory, tmp_path):
    sim_dir = tmp_path / "sim"
    sim = make_sim(sim_dir)
    create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, _ = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    bob_server, bob, bob_events = linked_engine(sim, tmp_path_factory, {"phone": BOB})
    texts = [f"burst {index}" for index in range(6)]

    # Half go out while the server lives; then it is frozen, gets the next ones (or not), dies.
    for text in texts[:3]:
        call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": text})
    os.kill(sim.proc.pid, signal.SIGSTOP)
    threads = [send_in_background(alice_server, alice, BOB, text) for text in texts[3:]]
    wait_until(lambda: len(copies(alice_server.data_dir, texts[-1])) == 1, "the last message stored")
    sim.kill()
    for thread in threads:
        thread.join(timeout=DEADLINE)

    # Same data, same port: the engines reconnect by themselves.
    sim = make_sim(sim_dir, port=sim.ws_port)
    # Across a crash the order of arrival is not promised (what the server had queued and what the
    # sender resends interleave); that each arrives is.
    waiting = set(texts)
    while waiting:
        waiting.discard(bob_events.next("message.received")["data"]["message"]["body"])
    wait_until(lambda: outbox(alice_server.data_dir) == [], "the sender's outbox drained")
    for text in texts:
        [(message_id, from_me, _)] = copies(bob_server.data_dir, text)
        [(sent_id, _, status)] = copies(alice_server.data_dir, text)
        assert message_id == sent_id and from_me == 0
        assert status in ("sent", "delivered", "read"), (text, status)
    history = call_tool(bob_server, bob, "whatsapp_read_messages", {"phone_number": ADA, "limit": 50})
    bodies = [m["body"] for m in history["messages"]]
    assert sorted(bodies) == sorted(texts) and len(bodies) == len(set(bodies)), bodies
    for server in (alice_server, bob_server):
        stopped_cleanly(server)


def test_a_recipient_killed_before_it_answered_gets_the_message_again_and_files_it_once(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, _ = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    bob_server, _, _ = linked_engine(sim, tmp_path_factory, {"phone": BOB})
    bob_dir = bob_server.data_dir

    # Bob's process is frozen: the delivery lands in its socket, unanswered; then it dies.
    os.kill(bob_server.proc.pid, signal.SIGSTOP)
    text = "answer me after you come back"
    sent = call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": text})
    # The server acked (it is queued for Bob's companion); Bob's phone may already have receipted it.
    assert sent["status"] in ("sent", "delivered"), sent
    bob_server.kill()

    bob_server, bob = restarted(tmp_path_factory, sim, bob_dir)
    wait_until(lambda: copies(bob_dir, text), "the re-delivered message")
    assert copies(bob_dir, text) == [(sent["message_id"], 0, None)]
    # The returning companion's own receipt now reaches Alice (the phone's may have come earlier).
    [device] = [d["jid"] for d in sim.admin("GET", f"/accounts/{BOB}/devices").json()]
    wait_until(lambda: any(step["device"] == device and step["status"] == "delivered" for step in
                           call_tool(alice_server, alice, "whatsapp_message_status", {"message_id": sent["message_id"]})["timeline"]),
               "the returning device's delivery receipt")
    for server in (alice_server, bob_server):
        stopped_cleanly(server)


def test_a_stale_device_list_is_refreshed_after_the_servers_phash_disagrees(make_sim, tmp_path_factory):
    """The sender's cached device list lacks the recipient's companion (as if it linked after the
    list was fetched): that send reaches only the phone, the server's ack carries a phash that
    differs from the sender's, the sender drops its cache, and the next send reaches the companion."""
    sim = make_sim()
    create_account(sim, ADA, "Ada")
    bob_lid = create_account(sim, BOB, "Bob")["lid"]
    alice_server, alice, _ = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    bob_server, _, bob_events = linked_engine(sim, tmp_path_factory, {"phone": BOB})
    call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": "first"})
    received(bob_events, "first")

    # Make Alice's cache stale: Bob's list without his companion (the engine keeps it 5 minutes).
    # The send went LID-first, so the list in use is the one of Bob's LID.
    db = sqlite3.connect(f"{alice_server.data_dir}/wause.db", timeout=DEADLINE)
    try:
        with db:
            updated = db.execute("UPDATE device_lists SET devices = ? WHERE user_jid = ?",
                                 (f'["{bob_lid}"]', bob_lid)).rowcount
    finally:
        db.close()
    assert updated == 1
    call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": "to the phone only"})
    assert rows(alice_server.data_dir, "SELECT count(*) FROM device_lists WHERE user_jid = ?", bob_lid) == [(0,)]
    call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": "third"})
    received(bob_events, "third")
    assert copies(bob_server.data_dir, "to the phone only") == []
    for server in (alice_server, bob_server):
        stopped_cleanly(server)


def test_a_contact_that_relinks_with_new_keys_is_surfaced_and_sessions_recover(make_sim, tmp_path_factory):
    """Bob logs out and links again: his new device has new keys (and the sim gives it the same
    device number). Alice's engine reports the identity change (event and message metadata)
    instead of accepting it silently; her old session no longer works for Bob's new device, which
    asks for a retry with its keys, and the resend is read — nothing lost, nothing doubled."""
    sim = make_sim()
    create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, alice_events = linked_engine(sim, tmp_path_factory, {"phone": ADA})
    bob_server, bob, bob_events = linked_engine(sim, tmp_path_factory, {"phone": BOB})
    call_tool(bob_server, bob, "whatsapp_send_message", {"phone_number": ADA, "message": "before"})
    received(alice_events, "before")
    call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": "hello old bob"})
    received(bob_events, "hello old bob")

    assert call_tool(bob_server, bob, "whatsapp_logout")["server_confirmed"] is True
    bob_events.next("account.logged_out")
    started = call_tool(bob_server, bob, "whatsapp_start_auth")
    assert sim.admin("POST", f"/accounts/{BOB}/scan", {"qr": started["qr"]}).status == 200
    next_login = bob_events.next("account.connected")
    while next_login["data"].get("phase") != "login":
        next_login = bob_events.next("account.connected")

    call_tool(bob_server, bob, "whatsapp_send_message", {"phone_number": ADA, "message": "after relinking"})
    got = received(alice_events, "after relinking")
    assert got["data"]["message"]["identity_changed"] is True, got
    # Announced while the message was decrypted, so just before it.
    [changed] = [e for e in alice_events.seen if e["name"] == "contact.identity_changed"]
    assert changed["cursor"] < got["cursor"]
    assert changed["data"]["user"] == BOB and changed["data"]["old_identity_key"] != changed["data"]["new_identity_key"]

    # Alice answers on her old session: Bob's new device cannot read it, asks again with its keys,
    # and Alice's resend gets through — once.
    sent = call_tool(alice_server, alice, "whatsapp_send_message", {"phone_number": BOB, "message": "welcome back"})
    received(bob_events, "welcome back")
    assert copies(bob_server.data_dir, "welcome back") == [(sent["message_id"], 0, None)]
    for server in (alice_server, bob_server):
        stopped_cleanly(server)

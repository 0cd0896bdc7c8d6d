"""Messaging through wause-sim (issue 5): real `wause-mcp` processes linked to sim accounts chat
both ways, a client and a virtual phone talk (inbox, send, auto-reply), messages sent while the
recipient is away arrive when it returns, and the admin messaging routes refuse what they should.

Linking posts the QR text of `whatsapp_start_auth` to the phone's `scan` route (reading it from
/qr.png is covered by test_linking_flows_e2e.py). Every wait blocks on the session's event stream; a state
with no event to block on (a virtual phone's inbox, a restarted engine's store) is polled under
the deadline, never slept on.
"""

from __future__ import annotations

import sqlite3

from engine_flows import call_tool, create_account, inbox, linked_engine, start_engine, stopped_cleanly, wait_until
from sim_process import DEADLINE

ADA, BOB, CAROL, DAVE = "15550001111", "15550002222", "15550003333", "15550004444"


def send(server, session, phone: str, text: str) -> dict:
    sent = call_tool(server, session, "whatsapp_send_message", {"phone_number": phone, "message": text})
    assert sent["ok"] is True, sent
    # The sim acks once the message is queued for every device; the receipt may be in already.
    assert sent["status"] in ("sent", "delivered"), sent
    return sent


def next_matching(events, name: str, test) -> dict:
    while True:
        event = events.next(name)
        if test(event["data"]):
            return event


def received(events, text: str) -> dict:
    return next_matching(events, "message.received", lambda data: data["message"]["body"] == text)


def inbox_entry(sim, phone: str, message_id: str) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"] if m["id"] == message_id), None),
                      f"{message_id} in {phone}'s inbox")


def test_two_engines_chat_both_ways(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, bob = create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, alice_events = linked_engine(sim, tmp_path_factory, ada)
    bob_server, bob_session, bob_events = linked_engine(sim, tmp_path_factory, bob)

    sent = send(alice_server, alice, BOB, "hello bob")
    got = received(bob_events, "hello bob")
    assert got["data"]["message"]["id"] == sent["message_id"]
    assert got["data"]["sender_phone"] == ADA and got["data"]["sender_lid"] == ada["lid"].split("@")[0], got
    # Bob's device receipted it; the sim forwarded the receipt to Alice's device.
    next_matching(alice_events, "message.status",
                  lambda d: d["message_id"] == sent["message_id"] and d["status"] == "delivered")

    reply = send(bob_server, bob_session, ADA, "hi alice")
    back = received(alice_events, "hi alice")
    assert back["data"]["message"]["id"] == reply["message_id"]

    history = call_tool(bob_server, bob_session, "whatsapp_read_messages", {"phone_number": ADA, "limit": 10})
    assert sorted(m["body"] for m in history["messages"]) == ["hello bob", "hi alice"], history

    # The phones are Signal participants too: Bob's phone read Alice's message, and Alice's phone
    # got the deviceSentMessage copy of what her companion sent (whatsmeow send.go marshalMessage).
    on_bob_phone = inbox_entry(sim, BOB, sent["message_id"])
    assert on_bob_phone["text"] == "hello bob" and on_bob_phone["from_phone"] == ADA and not on_bob_phone["from_me"]
    copy = inbox_entry(sim, ADA, sent["message_id"])
    assert copy["from_me"] is True and copy["chat"] == bob["jid"] and copy["text"] == "hello bob", copy
    for server in (alice_server, bob_server):
        stopped_cleanly(server)


def test_engine_and_virtual_phone(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, carol = create_account(sim, ADA, "Ada"), create_account(sim, CAROL, "Carol")
    server, session, events = linked_engine(sim, tmp_path_factory, ada)

    # Engine → phone: decrypted, filed, receipted.
    sent = send(server, session, CAROL, "hello carol")
    next_matching(events, "message.status", lambda d: d["message_id"] == sent["message_id"] and d["status"] == "delivered")
    entry = inbox_entry(sim, CAROL, sent["message_id"])
    # LID-first (whatsmeow send.go SendMessage): sent to Carol's LID, from Ada's companion's LID; the phone number rides along.
    ada_lid = ada["lid"].split("@")[0]
    assert entry["text"] == "hello carol" and entry["from"] == f"{ada_lid}:1@lid", entry
    assert entry["to"] == carol["lid"] and entry["push_name"] == "Ada" and entry["from_phone"] == ADA, entry

    # Phone → engine, by phone number.
    posted = sim.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "hi from carol"})
    assert posted.status == 200, posted
    answer = posted.json()
    assert answer["ok"] is True and answer["message_id"].startswith("3EB0") and answer["timestamp"].endswith("Z"), answer
    got = received(events, "hi from carol")
    assert got["data"]["message"]["id"] == answer["message_id"]
    assert got["data"]["sender_lid"] == carol["lid"].split("@")[0], got

    # Auto-reply on, then off.
    on = sim.admin("PUT", f"/accounts/{CAROL}/auto-reply", {"text": "carol is busy"})
    assert on.status == 200 and on.json()["auto_reply"] == "carol is busy", on
    assert sim.admin("GET", f"/accounts/{CAROL}/auto-reply").json()["auto_reply"] == "carol is busy"
    send(server, session, CAROL, "are you there?")
    received(events, "carol is busy")
    off = sim.admin("PUT", f"/accounts/{CAROL}/auto-reply", {"text": None})
    assert off.status == 200 and off.json()["auto_reply"] is None, off
    stopped_cleanly(server)


def test_a_message_sent_while_the_recipient_is_away_arrives_when_it_returns(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, bob = create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    alice_server, alice, _ = linked_engine(sim, tmp_path_factory, ada)
    bob_server, _, _ = linked_engine(sim, tmp_path_factory, bob)
    bob_dir = bob_server.data_dir
    stopped_cleanly(bob_server)

    sent = send(alice_server, alice, BOB, "while you were out")
    # Bob is away: the sim acked after queueing it for his device.
    db = sqlite3.connect(f"file:{sim.data_dir}/sim.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        queued = db.execute("SELECT count(*) FROM queue WHERE phone = ? AND device = 1 AND stanza_id = ?",
                            (BOB, sent["message_id"])).fetchone()[0]
    finally:
        db.close()
    assert queued == 1

    back = start_engine(tmp_path_factory, sim, data_dir=bob_dir)
    session, _ = back.initialize()

    def arrived():
        history = call_tool(back, session, "whatsapp_read_messages", {"phone_number": ADA, "limit": 10})
        return [m for m in history["messages"] if m["id"] == sent["message_id"]]

    [message] = wait_until(arrived, "the queued message in the returning engine's store")
    assert message["body"] == "while you were out" and message["from_me"] is False, message
    for server in (alice_server, back):
        stopped_cleanly(server)


def test_two_virtual_phones_and_a_restart_keeps_their_sessions(make_sim, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("sim-data")
    sim = make_sim(data_dir=data_dir)
    create_account(sim, CAROL, "Carol")
    create_account(sim, DAVE, "Dave")
    first = sim.admin("POST", f"/accounts/{DAVE}/send", {"to": f"{CAROL}@s.whatsapp.net", "text": "one"})
    assert first.status == 200, first
    entry = inbox_entry(sim, CAROL, first.json()["message_id"])
    assert entry["from"] == f"{DAVE}@s.whatsapp.net" and entry["text"] == "one", entry
    assert sim.stop() == 0

    again = make_sim(data_dir=data_dir)
    second = again.admin("POST", f"/accounts/{DAVE}/send", {"to": CAROL, "text": "two"})
    assert second.status == 200, second
    entry2 = inbox_entry(again, CAROL, second.json()["message_id"])
    assert entry2["text"] == "two" and entry2["cursor"] > entry["cursor"]
    # The session survived the restart: one record per side, no second session set up. Each phone
    # keeps it under the other's LID (whatsmeow: the LID is the encryption identity).
    lids = {a["phone"]: a["lid"] for a in again.admin("GET", "/accounts").json()}

    def sessions():
        db = sqlite3.connect(f"file:{data_dir}/sim.db?mode=ro", uri=True, timeout=DEADLINE)
        try:
            return db.execute("SELECT phone, address FROM phone_sessions ORDER BY phone").fetchall()
        finally:
            db.close()
    one_each = [(CAROL, lids[DAVE].split("@")[0] + "_1:0"), (DAVE, lids[CAROL].split("@")[0] + "_1:0")]
    assert sessions() == one_each

    # By LID: Carol answers Dave's LID; Dave's inbox names her in the LID form, and the same sessions serve it.
    dave_lid = lids[DAVE]
    third = again.admin("POST", f"/accounts/{CAROL}/send", {"to": dave_lid, "text": "three"})
    assert third.status == 200, third
    entry3 = inbox_entry(again, DAVE, third.json()["message_id"])
    assert entry3["from"].endswith("@lid") and entry3["from_phone"] == CAROL and entry3["to"] == dave_lid, entry3
    assert sessions() == one_each


def test_messaging_admin_errors(sim):
    create_account(sim, CAROL, "Carol")
    cases = [
        ("POST", f"/accounts/{DAVE}/send", {"to": CAROL, "text": "x"}, 404, "not_found"),
        ("POST", f"/accounts/{CAROL}/send", {"to": DAVE, "text": "x"}, 404, "not_found"),
        ("POST", f"/accounts/{CAROL}/send", {"to": CAROL, "text": "x"}, 400, "invalid_request"),
        ("POST", f"/accounts/{CAROL}/send", {"to": DAVE}, 400, "invalid_request"),
        ("POST", f"/accounts/{CAROL}/send", {"to": DAVE, "text": ""}, 400, "invalid_request"),
        ("POST", f"/accounts/{CAROL}/send", {"to": 15550004444, "text": "x"}, 400, "invalid_request"),
        ("POST", f"/accounts/{CAROL}/send", {"to": "group@g.us", "text": "x"}, 400, "invalid_request"),
        ("POST", f"/accounts/{CAROL}/send", {"to": "not a number", "text": "x"}, 400, "invalid_request"),
        ("PUT", f"/accounts/{CAROL}/auto-reply", {"text": 7}, 400, "invalid_request"),
        ("PUT", f"/accounts/{CAROL}/auto-reply", {"text": ""}, 400, "invalid_request"),
        ("PUT", f"/accounts/{DAVE}/auto-reply", {"text": "x"}, 404, "not_found"),
        ("GET", f"/accounts/{DAVE}/inbox", None, 404, "not_found"),
    ]
    for method, path, body, code, name in cases:
        response = sim.admin(method, path, body)
        assert response.status == code, (method, path, body, response)
        error = response.json()
        assert error["code"] == name and error["message"], (method, path, error)
    malformed = sim.admin("POST", f"/accounts/{CAROL}/send", raw=b"{not json")
    assert malformed.status == 400 and malformed.json()["code"] == "invalid_request"
    for method, path in (("GET", f"/accounts/{CAROL}/send"), ("POST", f"/accounts/{CAROL}/inbox"),
                         ("DELETE", f"/accounts/{CAROL}/auto-reply")):
        response = sim.admin(method, path)
        assert response.status == 405, (method, path, response)
    empty = inbox(sim, CAROL)
    assert empty == {"messages": [], "next_cursor": 0}
    assert sim.admin("PUT", f"/accounts/{CAROL}/auto-reply", {}).json()["auto_reply"] is None

"""LID-first 1:1 (issue 12, "Addressing as today's server expects it"; whatsmeow send.go SendMessage,
sendDM): a wause client that knows the recipient's LID (from the device list's `<lid>` answer)
sends `to` the LID, encrypts for the LID devices and names the phone number in
`peer_recipient_pn`. Whichever way a message comes in or goes out — by LID or by phone number,
between two wause clients or with a virtual phone — each person stays one contact with one chat,
and receipts and the sender's own copies land in that chat."""

from __future__ import annotations

from engine_flows import call_tool, create_account, inbox, linked_engine, stopped_cleanly, wait_until
from test_messaging_e2e import ADA, BOB, CAROL, inbox_entry, next_matching, received, send


def chats(server, session) -> list[str]:
    return sorted(c["id"] for c in call_tool(server, session, "whatsapp_list_chats", {})["chats"])


def test_one_chat_per_contact_whichever_addressing_a_message_uses(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, bob, carol = create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob"), create_account(sim, CAROL, "Carol")
    ada_lid, bob_lid, carol_lid = (account["lid"].split("@")[0] for account in (ada, bob, carol))
    ada_server, ada_session, ada_events = linked_engine(sim, tmp_path_factory, ada)
    bob_server, bob_session, bob_events = linked_engine(sim, tmp_path_factory, bob)
    try:
        # Ada → Bob, named by phone number: it goes by LID, and Bob's engine files it under Ada's number.
        first = send(ada_server, ada_session, BOB, "one")
        got = received(bob_events, "one")
        assert got["data"]["sender_phone"] == ADA and got["data"]["sender_lid"] == ada_lid, got
        assert got["data"]["message"]["chat_id"] == ada["jid"], got
        # Bob's devices receipted it from their LID form; the receipt lands on the message in Ada's number chat,
        # naming the device by number as the chats do.
        status = next_matching(ada_events, "message.status",
                               lambda d: d["message_id"] == first["message_id"] and d["status"] == "delivered")
        assert status["data"]["chat_id"] == bob["jid"] and status["data"]["device"].startswith(BOB), status
        wait_until(lambda: any(step["device"] == f"{BOB}:1@s.whatsapp.net" and step["status"] == "delivered" for step in
                               call_tool(ada_server, ada_session, "whatsapp_message_status",
                                         {"message_id": first["message_id"]})["timeline"]),
                   "the delivery receipt of Bob's companion")
        # Ada's phone got the device-sent copy, filed under Bob's number (peer_recipient_pn).
        copy = inbox_entry(sim, ADA, first["message_id"])
        assert copy["from_me"] is True and copy["chat"] == bob["jid"] and copy["text"] == "one", copy

        # Bob answers by Ada's LID.
        call_tool(bob_server, bob_session, "whatsapp_send_message", {"phone_number": f"{ada_lid}@lid", "message": "two"})
        assert received(ada_events, "two")["data"]["message"]["chat_id"] == bob["jid"]

        # Carol's phone writes by phone number, then by LID (sessions of both forms decrypt).
        for to, text in ((ADA, "three"), (f"{ada_lid}@lid", "four")):
            assert sim.admin("POST", f"/accounts/{CAROL}/send", {"to": to, "text": text}).status == 200
            assert received(ada_events, text)["data"]["message"]["chat_id"] == carol["jid"]
        # Ada answers Carol: by LID, from Ada's LID device, with her number known to the phone.
        five = send(ada_server, ada_session, CAROL, "five")
        entry = inbox_entry(sim, CAROL, five["message_id"])
        assert entry["from"] == f"{ada_lid}:1@lid" and entry["from_phone"] == ADA and entry["to"] == carol["lid"], entry
        next_matching(ada_events, "message.status", lambda d: d["message_id"] == five["message_id"] and d["status"] == "delivered")

        # One chat per contact on both sides, by phone number; no LID chat left over.
        assert chats(ada_server, ada_session) == sorted([bob["jid"], carol["jid"]])
        assert chats(bob_server, bob_session) == [ada["jid"]]
        history = call_tool(ada_server, ada_session, "whatsapp_read_messages", {"phone_number": CAROL, "limit": 10})
        assert sorted(m["body"] for m in history["messages"]) == ["five", "four", "three"], history
        history = call_tool(bob_server, bob_session, "whatsapp_read_messages", {"phone_number": ADA, "limit": 10})
        assert sorted(m["body"] for m in history["messages"]) == ["one", "two"], history
        # Bob's phone files Bob's answer (sent by Ada's LID) under Ada's number too.
        wait_until(lambda: [m for m in inbox(sim, BOB)["messages"] if m["text"] == "two" and m["chat"] == ada["jid"]],
                   "Bob's own copy under Ada's number")
    finally:
        stopped_cleanly(ada_server)
        stopped_cleanly(bob_server)

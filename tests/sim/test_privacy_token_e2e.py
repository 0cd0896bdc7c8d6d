"""The reach-out rule (issue 12): `wause-sim --require-privacy-token` refuses a first 1:1 message
to someone who issued the sender no privacy token with an ack error 463 (whatsmeow send.go reads
any ack error as a failed send; Baileys handleBadAck names 463). A wause client's send then ends
`reach_out_restricted`: an error result naming the stored message, the message failed with the
reason, and not retried. Once the contact has written first, the reply passes.

Privacy tokens in the engine (whatsmeow tctoken.go, send.go sendDM): after a 1:1 send the server
acked, the sender issues its token to the recipient (once per 7-day bucket), and the recipient's
engine stores it under the sender's LID; a 1:1 send carries the token it holds as `<tctoken>`,
which is what lets a first message through the reach-out rule."""

from __future__ import annotations

from engine_flows import wait_until
from test_linking_flows_e2e import call_tool_error, create_account
from test_messaging_e2e import ADA, BOB, CAROL, linked_engine, received, send
from test_messaging_faults_e2e import outbox, rows
from test_qr_linking_e2e import stopped_cleanly


def test_a_first_message_without_a_token_ends_reach_out_restricted_and_a_reply_passes(make_sim, tmp_path_factory):
    sim = make_sim(args=["--require-privacy-token"])
    ada = create_account(sim, ADA, "Ada")
    create_account(sim, BOB, "Bob")
    server, session, events = linked_engine(sim, tmp_path_factory, ada)
    try:
        error = call_tool_error(server, session, "whatsapp_send_message", {"phone_number": BOB, "message": "hello stranger"})
        assert error["code"] == "reach_out_restricted", error
        message_id = error["details"]["message_id"]
        stored = rows(server.data_dir, "SELECT status, status_reason FROM messages WHERE id = ?", message_id)
        assert len(stored) == 1 and stored[0][0] == "failed" and "463" in stored[0][1], stored
        # Failed for good: nothing left to retry, and the phone never got it.
        assert message_id not in outbox(server.data_dir)
        assert sim.admin("GET", f"/accounts/{BOB}/inbox").json()["messages"] == []

        # Bob writes first: Ada may answer (the pair has a conversation now).
        sent = sim.admin("POST", f"/accounts/{BOB}/send", {"to": ADA, "text": "hi Ada"})
        assert sent.status == 200, sent
        received(events, "hi Ada")
        reply = send(server, session, BOB, "hello Bob")
        assert reply["status"] in ("sent", "delivered"), reply
        # The rule is per pair: Carol is still a stranger.
        create_account(sim, CAROL, "Carol")
        error = call_tool_error(server, session, "whatsapp_send_message", {"phone_number": CAROL, "message": "hi Carol"})
        assert error["code"] == "reach_out_restricted", error
    finally:
        stopped_cleanly(server)


def test_without_the_flag_a_first_message_passes(make_sim, tmp_path_factory):
    sim = make_sim()
    ada = create_account(sim, ADA, "Ada")
    create_account(sim, BOB, "Bob")
    server, session, _ = linked_engine(sim, tmp_path_factory, ada)
    try:
        sent = send(server, session, BOB, "hello stranger")
        assert sent["ok"] is True
    finally:
        stopped_cleanly(server)


def token_row(data_dir: str, jid: str):
    """(token, token_t, issued_at) an engine keeps for the user `jid`, or None."""
    found = rows(data_dir, "SELECT token, token_t, issued_at FROM privacy_tokens WHERE jid = ?", jid)
    return found[0] if found else None


def test_a_send_issues_our_token_once_and_the_peer_engine_stores_it(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, bob = create_account(sim, ADA, "Ada"), create_account(sim, BOB, "Bob")
    ada_lid, bob_lid = ada["lid"].split("@")[0], bob["lid"].split("@")[0]
    ada_server, ada_session, _ = linked_engine(sim, tmp_path_factory, ada)
    bob_server, _, bob_events = linked_engine(sim, tmp_path_factory, bob)
    try:
        send(ada_server, ada_session, BOB, "first")
        received(bob_events, "first")
        # Bob's engine got Ada's token in a privacy_token notification and keeps it under her LID.
        held = wait_until(lambda: (row := token_row(bob_server.data_dir, f"{ada_lid}@lid")) and row[0] and row, "Ada's token at Bob")
        assert len(held[0]) == 32 and held[1] > 0, held
        # Ada's engine noted when it issued its token to Bob (under Bob's LID, learned from the device list).
        issued = wait_until(lambda: (row := token_row(ada_server.data_dir, f"{bob_lid}@lid")) and row[2] and row, "Ada's issue time")
        # A second send in the same bucket issues nothing new.
        send(ada_server, ada_session, BOB, "second")
        received(bob_events, "second")
        assert token_row(ada_server.data_dir, f"{bob_lid}@lid")[2] == issued[2]
        assert token_row(bob_server.data_dir, f"{ada_lid}@lid")[0] == held[0]
    finally:
        stopped_cleanly(ada_server)
        stopped_cleanly(bob_server)


def test_a_held_token_lets_a_first_message_through_the_reach_out_rule(make_sim, tmp_path_factory):
    sim = make_sim(args=["--require-privacy-token"])
    ada = create_account(sim, ADA, "Ada")
    bob = create_account(sim, BOB, "Bob")
    create_account(sim, CAROL, "Carol")
    bob_lid = bob["lid"].split("@")[0]
    server, session, _ = linked_engine(sim, tmp_path_factory, ada)
    try:
        # Bob's phone issues Ada its token without writing to her (a chat action): no conversation
        # exists, so only the token can let Ada's first message through.
        issued = sim.admin("POST", f"/accounts/{BOB}/privacy-token", {"to": ADA})
        assert issued.status == 200, issued
        wait_until(lambda: (row := token_row(server.data_dir, f"{bob_lid}@lid")) and row[0], "Bob's token at Ada")
        sent = send(server, session, BOB, "hello Bob, you let me")
        got = wait_until(lambda: [m for m in sim.admin("GET", f"/accounts/{BOB}/inbox").json()["messages"]
                                  if m["id"] == sent["message_id"]], "the message in Bob's inbox")
        assert got[0]["text"] == "hello Bob, you let me"
        # Carol issued nothing: a cold first message still fails, once, for good.
        error = call_tool_error(server, session, "whatsapp_send_message", {"phone_number": CAROL, "message": "hi Carol"})
        assert error["code"] == "reach_out_restricted", error
        assert error["details"]["message_id"] not in outbox(server.data_dir)
        assert sim.admin("GET", f"/accounts/{CAROL}/inbox").json()["messages"] == []
    finally:
        stopped_cleanly(server)

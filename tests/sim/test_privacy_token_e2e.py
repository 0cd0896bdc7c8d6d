"""The reach-out rule (issue 12): `wause-sim --require-privacy-token` refuses a first 1:1 message
to someone who issued the sender no privacy token with an ack error 463 (whatsmeow send.go reads
any ack error as a failed send; Baileys handleBadAck names 463). A wause client's send then ends
`reach_out_restricted`: an error result naming the stored message, the message failed with the
reason, and not retried. Once the contact has written first, the reply passes."""

from __future__ import annotations

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

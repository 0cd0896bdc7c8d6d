"""The operator's guard rails through the real binaries (issue 14 "Agent helpers", "Definitions"):
a `wause-mcp` started with `--allowed-recipients` and `--send-rate-per-minute`, linked to a sim
account. Sending to anyone else is `forbidden_recipient` naming them, through every kind of send;
an allowed person passes by phone number when the list names their LID; over the rate a call is
`rate_limited` with an integer `details.retry_after` and queues nothing.

The window is real time here (the virtual-time arithmetic is SendGuardTests.swift's); every call
of this test falls well inside one minute. Waits block on the event stream or poll under the
deadline; nothing sleeps.
"""

from __future__ import annotations

import pathlib

from engine_flows import call_tool, call_tool_error, create_account, inbox, link_by_qr, start_engine, stopped_cleanly, wait_ready, wait_until

ADA, BEA, CID = "15558870001", "15558870002", "15558870003"


def forbidden(server, session, name: str, arguments: dict, recipient: str) -> dict:
    error = call_tool_error(server, session, name, arguments)
    assert error["code"] == "forbidden_recipient" and error["details"]["recipient"] == recipient, error
    assert recipient in error["message"], error
    return error


def test_allowed_recipients_and_the_send_rate(make_sim, tmp_path_factory):
    sim = make_sim()
    ada = create_account(sim, ADA, "Ada")
    bea = create_account(sim, BEA, "Bea")
    create_account(sim, CID, "Cid")
    bea_lid = bea["lid"].split("@")[0].split(":")[0] + "@lid"
    files = tmp_path_factory.mktemp("outbox-media")
    document = files / "report.pdf"
    document.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    server = start_engine(tmp_path_factory, sim, extra=["--toolsets", "all", "--allowed-recipients", bea_lid,
                                                        "--send-rate-per-minute", "3", "--media-dirs", str(files)])
    session, events, _, _ = link_by_qr(sim, server, ada)
    wait_ready(server, session, events)

    # Bea writes first, to Ada's LID with her phone number beside it: the engine now knows both are one person.
    hello = sim.admin("POST", f"/accounts/{BEA}/send", {"to": ada["lid"], "text": "hello"}).json()["message_id"]
    while events.next("message.received")["data"]["message"]["id"] != hello:
        pass

    # Cid is not allowed, by any method that sends; none of these takes a slot of the rate.
    cid = f"{CID}@s.whatsapp.net"
    error = forbidden(server, session, "whatsapp_send_message", {"phone_number": CID, "message": "hi"}, cid)
    assert error["details"]["to"] == CID, error
    forbidden(server, session, "whatsapp_send_message", {"to": f"+{CID}", "message": "hi"}, cid)
    forbidden(server, session, "whatsapp_create_poll", {"to": CID, "question": "Lunch?", "options": ["yes", "no"]}, cid)
    forbidden(server, session, "whatsapp_send_location", {"to": CID, "latitude": 52.5, "longitude": 13.4}, cid)
    forbidden(server, session, "whatsapp_request_approval", {"to": CID, "action": "Pay the invoice"}, cid)
    forbidden(server, session, "whatsapp_send_typing", {"to": CID, "state": "composing"}, cid)
    # A file to him is refused before it is copied: nothing is left in the outgoing media folder.
    forbidden(server, session, "whatsapp_send_file", {"to": CID, "file_path": str(document)}, cid)
    outgoing = pathlib.Path(server.data_dir) / "media" / "outgoing"
    assert not outgoing.exists() or list(outgoing.iterdir()) == [], list(outgoing.iterdir())
    assert call_tool(server, session, "whatsapp_check_approvals", {})["approvals"] == []

    # Bea is allowed by her LID; sending to her phone number passes (1, 2 of 3 a minute).
    sent = call_tool(server, session, "whatsapp_send_message", {"phone_number": BEA, "message": "one"})
    assert sent["status"] in ("queued", "sent", "delivered", "read") and sent["to"] == BEA, sent
    call_tool(server, session, "whatsapp_send_message", {"to": bea_lid, "message": "two"})
    # A reaction is a message too (3 of 3).
    reacted = call_tool(server, session, "whatsapp_react_to_message", {"message_id": sent["message_id"], "emoji": "👍"})
    assert reacted["ok"] is True, reacted
    # A reaction in Cid's chat would be forbidden as well: he is not allowed, whatever the message.

    limited = call_tool_error(server, session, "whatsapp_send_message", {"phone_number": BEA, "message": "four"})
    assert limited["code"] == "rate_limited", limited
    retry_after = limited["details"]["retry_after"]
    assert isinstance(retry_after, int) and 1 <= retry_after <= 60, limited
    again = call_tool_error(server, session, "whatsapp_request_approval", {"to": BEA, "action": "Ship it"})
    assert again["code"] == "rate_limited", again

    # Nothing of the refused calls was queued: the phones got only what passed.
    texts = wait_until(lambda: (lambda rows: rows if {"one", "two"} <= rows else None)(
        {m["text"] or "" for m in inbox(sim, BEA)["messages"]}), "Bea's two messages")
    assert "four" not in texts and not any("Ship it" in t for t in texts), texts
    assert inbox(sim, CID)["messages"] == []
    stored = call_tool(server, session, "whatsapp_read_messages", {"phone_number": BEA, "limit": 20})["messages"]
    assert sorted(m["body"] for m in stored if m["from_me"]) == ["one", "two"], stored
    assert call_tool(server, session, "whatsapp_check_approvals", {})["approvals"] == []
    stopped_cleanly(server)

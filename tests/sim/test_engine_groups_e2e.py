"""Groups through the real binaries (issue 12): `wause-mcp` (toolsets core,groups) linked to a
virtual phone of a real `wause-sim`, in a group with two other phones.

The engine creates the group (a number not on WhatsApp is reported per participant), sends to it
by name, the phones' inboxes show the group and the author; a phone's group message arrives at
the engine with `from` the member and `chat_id` the group; the engine renames the group and the
phones see it; a revoked invite is `not_found` with the reason; leaving makes the chat read-only
and a further send is `not_a_participant`. A phone whose `groupadd` privacy refuses the engine is
`invite_required` and gets the group's invitation 1:1 instead.

Waits block on the event stream or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

from engine_flows import call_tool, call_tool_error, create_account, link_by_qr, poll, start_engine, stopped_cleanly, wait_ready

ADA, BEA, CID = "15557770001", "15557770002", "15557770003"


def test_a_group_with_two_phones_end_to_end(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    create_account(sim, CID, "Cid")
    server = start_engine(tmp_path_factory, sim, extra=["--toolsets", "core,groups"])
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)

    created = call_tool(server, session, "whatsapp_create_group", {"name": "Picnic", "participants": [BEA, "+" + CID, "15550009999"]})
    group = created["group_id"]
    statuses = {p["phone"]: p["status"] for p in created["participants"]}
    assert statuses == {BEA: "added", CID: "added", "15550009999": "not_on_whatsapp"}, created
    assert created["invite_link"].startswith("https://chat.whatsapp.com/"), created

    sent = call_tool(server, session, "whatsapp_send_message", {"to": "Picnic", "message": "bring a blanket"})
    assert sent["chat_id"] == group and sent["status"] in ("sent", "delivered"), sent

    def inbox(phone: str) -> list[dict]:
        return sim.admin("GET", f"/accounts/{phone}/inbox").json()["messages"]

    for phone in (BEA, CID):
        row = poll(lambda: next((m for m in inbox(phone) if m["text"] == "bring a blanket"), None), f"{phone} got it", server, session)
        assert row["chat"] == group and row["author"] == f"{ADA}@s.whatsapp.net", row

    posted = sim.admin("POST", f"/accounts/{BEA}/send", {"to": group, "text": "I'll bring cake"})
    assert posted.status == 200, posted
    # From the start of the log (the message may be in before the call): the group's first incoming message.
    waited = call_tool(server, session, "whatsapp_wait_for_message", {"timeout": 20, "chat": group, "after_cursor": 0})
    assert waited["timed_out"] is False, waited
    message = waited["message"]
    assert message["body"] == "I'll bring cake" and message["chat_id"] == group, message
    assert message["from"] == f"{BEA}@s.whatsapp.net" and message["author"] == "Bea", message

    call_tool(server, session, "whatsapp_set_group_name", {"group": group, "name": "Picnic Sunday"})
    seen = sim.admin("GET", f"/accounts/{CID}/groups/{group}").json()
    assert seen["subject"] == "Picnic Sunday", seen
    info = call_tool(server, session, "whatsapp_get_group_info", {"group": "Picnic Sunday"})
    assert {p["phone"]: p["admin"] for p in info["participants"]} == {ADA: "superadmin", BEA: "none", CID: "none"}, info

    old = call_tool(server, session, "whatsapp_get_group_invite_link", {"group": group})["invite_link"]
    call_tool(server, session, "whatsapp_get_group_invite_link", {"group": group, "reset": True})
    revoked = call_tool_error(server, session, "whatsapp_join_group", {"invite": old, "preview_only": True})
    assert revoked["code"] == "not_found" and revoked["details"]["reason"] == "revoked", revoked

    assert call_tool(server, session, "whatsapp_leave_group", {"group": group})["ok"] is True
    chats = call_tool(server, session, "whatsapp_list_chats", {})["chats"]
    chat = next(c for c in chats if c["id"] == group)
    assert chat["is_group"] is True and chat["is_read_only"] is True, chat
    refused = call_tool_error(server, session, "whatsapp_send_message", {"to": group, "message": "hello?"})
    assert refused["code"] == "not_a_participant", refused
    events.stream.close()
    stopped_cleanly(server)


def test_a_phone_the_engine_may_not_add_gets_the_invitation(make_sim, tmp_path_factory):
    """A phone whose `groupadd` privacy refuses the engine: the create answers 403 with an
    `<add_request>`, the outcome is `invite_required`, and the phone receives the group's
    invitation 1:1 (a GroupInviteMessage, filed in its inbox with the invitation's caption)."""
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    create_account(sim, CID, "Cid")
    assert sim.admin("PUT", f"/accounts/{CID}/privacy", {"groupadd": "none"}).status == 200
    server = start_engine(tmp_path_factory, sim, extra=["--toolsets", "core,groups"])
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)

    created = call_tool(server, session, "whatsapp_create_group", {"name": "Closed circle", "participants": [BEA, CID]})
    outcomes = {p["phone"]: p for p in created["participants"]}
    assert outcomes[BEA]["status"] == "added" and "invite_message_id" not in outcomes[BEA], created
    refused = outcomes[CID]
    assert refused["status"] == "invite_required" and refused["error_code"] == 403 and refused["invite_message_id"], created

    def invitation():
        rows = sim.admin("GET", f"/accounts/{CID}/inbox").json()["messages"]
        return next((m for m in rows if m["id"] == refused["invite_message_id"]), None)
    row = poll(invitation, "Cid got the invitation", server, session)
    assert row["text"] == "Invitation to join my WhatsApp group" and row["author"] is None, row
    # Sent 1:1 LID-first (whatsmeow send.go SendMessage): the phone files it under Ada's LID, her number beside it.
    assert row["chat"] == account["lid"] and row["from_phone"] == ADA, row
    members = sim.admin("GET", f"/accounts/{BEA}/groups/{created['group_id']}").json()["participants"]
    assert {p["phone"] for p in members} == {ADA, BEA}, members
    events.stream.close()
    stopped_cleanly(server)

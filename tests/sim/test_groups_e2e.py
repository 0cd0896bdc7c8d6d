"""Groups in wause-sim (issue 12) through the admin routes: virtual phones create groups, change
members, rename, set the topic, share and reset invite links, join, leave, and message each other
in groups with Signal sender keys (their inboxes show the group as `chat` and the sender as
`author`); the routes answer 403/404/409/410 as tests/sim/README.md "Groups" says.

A phone's inbox has no event to block on: it is polled under the deadline (wait_until)."""

from __future__ import annotations

from test_linking_flows_e2e import create_account
from test_messaging_e2e import ADA, BOB, CAROL, DAVE, inbox, wait_until


def group_messages(sim, phone: str, group: str) -> list[dict]:
    return [m for m in inbox(sim, phone)["messages"] if m["chat"] == group]


def wait_for_text(sim, phone: str, group: str, text: str) -> dict:
    return wait_until(lambda: next((m for m in group_messages(sim, phone, group) if m["text"] == text), None),
                      f"{text!r} in {phone}'s inbox")


def send(sim, phone: str, to: str, text: str) -> dict:
    response = sim.admin("POST", f"/accounts/{phone}/send", {"to": to, "text": text})
    assert response.status == 200, response
    return response.json()


def test_phones_run_a_group_and_message_in_it_with_sender_keys(make_sim):
    sim = make_sim()
    accounts = {phone: create_account(sim, phone, name) for phone, name in
                [(ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol"), (DAVE, "Dave")]}
    created = sim.admin("POST", f"/accounts/{ADA}/groups", {"subject": "Climbing", "participants": [BOB, f"+{CAROL}"]})
    assert created.status == 200, created
    group = created.json()
    jid = group["jid"]
    assert jid.endswith("@g.us") and group["subject"] == "Climbing" and len(group["invite_code"]) == 22
    roles = {p["phone"]: p["admin"] for p in group["participants"]}
    assert roles == {ADA: "superadmin", BOB: "none", CAROL: "none"}
    assert {p["lid"] for p in group["participants"]} == {accounts[p]["lid"] for p in (ADA, BOB, CAROL)}

    # Ada writes: Bob and Carol read it, with Ada as author, exactly once.
    sent = send(sim, ADA, jid, "rope at 9")
    for reader in (BOB, CAROL):
        row = wait_for_text(sim, reader, jid, "rope at 9")
        assert row["author"] == f"{ADA}@s.whatsapp.net" and row["id"] == sent["message_id"] and row["from_me"] is False
    # Bob answers: Ada and Carol read it.
    send(sim, BOB, jid, "bringing cams")
    for reader in (ADA, CAROL):
        assert wait_for_text(sim, reader, jid, "bringing cams")["author"] == f"{BOB}@s.whatsapp.net"

    # Dave is outside: his send is 403 not_a_participant; adding needs an admin.
    refused = sim.admin("POST", f"/accounts/{DAVE}/send", {"to": jid, "text": "hi"})
    assert refused.status == 403 and refused.json()["code"] == "not_a_participant", refused
    not_admin = sim.admin("POST", f"/accounts/{BOB}/groups/{jid}/participants", {"action": "add", "participants": [DAVE]})
    assert not_admin.status == 403 and not_admin.json()["details"]["reason"] == "not_admin", not_admin
    promoted = sim.admin("POST", f"/accounts/{ADA}/groups/{jid}/participants", {"action": "promote", "participants": [BOB]})
    assert promoted.status == 200 and promoted.json()["participants"][0]["status"] == "ok", promoted
    added = sim.admin("POST", f"/accounts/{BOB}/groups/{jid}/participants", {"action": "add", "participants": [DAVE, CAROL, "15559999999"]})
    assert [p["status"] for p in added.json()["participants"]] == ["ok", "already_member", "not_on_whatsapp"], added
    send(sim, DAVE, jid, "thanks for having me")
    for reader in (ADA, BOB, CAROL):
        assert wait_for_text(sim, reader, jid, "thanks for having me")["author"] == f"{DAVE}@s.whatsapp.net"

    # Carol is removed mid-conversation: she stops receiving, and her next send fails clearly.
    removed = sim.admin("POST", f"/accounts/{ADA}/groups/{jid}/participants", {"action": "remove", "participants": [CAROL]})
    assert removed.json()["participants"][0]["status"] == "ok", removed
    send(sim, ADA, jid, "after carol left")
    wait_for_text(sim, DAVE, jid, "after carol left")
    assert [m["text"] for m in group_messages(sim, CAROL, jid)] == ["rope at 9", "bringing cams", "thanks for having me"]
    gone = sim.admin("POST", f"/accounts/{CAROL}/send", {"to": jid, "text": "still here?"})
    assert gone.status == 403 and gone.json()["code"] == "not_a_participant", gone

    # An announcement group: only admins may send (Bob was promoted; Dave was not).
    assert sim.admin("PUT", f"/accounts/{ADA}/groups/{jid}", {"announce": True}).json()["announce"] is True
    muted = sim.admin("POST", f"/accounts/{DAVE}/send", {"to": jid, "text": "may I?"})
    assert muted.status == 403 and muted.json()["code"] == "not_a_participant", muted
    send(sim, BOB, jid, "admins only now")
    wait_for_text(sim, DAVE, jid, "admins only now")

    # Every member saw every message exactly once.
    for reader in (ADA, BOB, DAVE):
        texts = [m["text"] for m in group_messages(sim, reader, jid)]
        assert len(texts) == len(set(texts)), texts


def test_group_admin_routes_rename_invite_join_leave_and_their_errors(make_sim):
    sim = make_sim()
    for phone, name in [(ADA, "Ada"), (BOB, "Bob"), (CAROL, "Carol"), (DAVE, "Dave")]:
        create_account(sim, phone, name)
    jid = sim.admin("POST", f"/accounts/{ADA}/groups", {"subject": "Board", "participants": [BOB]}).json()["jid"]

    renamed = sim.admin("PUT", f"/accounts/{BOB}/groups/{jid}", {"subject": "Board 2026", "topic": "Agenda first"})
    assert renamed.status == 200 and renamed.json()["subject"] == "Board 2026" and renamed.json()["topic"] == "Agenda first", renamed
    cleared = sim.admin("PUT", f"/accounts/{ADA}/groups/{jid}", {"topic": ""})
    assert cleared.json()["topic"] is None, cleared
    assert sim.admin("PUT", f"/accounts/{ADA}/groups/{jid}", {"subject": "  "}).status == 400
    assert sim.admin("PUT", f"/accounts/{CAROL}/groups/{jid}", {"subject": "x"}).status == 403
    assert sim.admin("GET", f"/accounts/{ADA}/groups/120363000000000000@g.us").status == 404
    # Locked: only admins edit the subject.
    assert sim.admin("PUT", f"/accounts/{ADA}/groups/{jid}", {"locked": True}).json()["locked"] is True
    assert sim.admin("PUT", f"/accounts/{BOB}/groups/{jid}", {"subject": "mine"}).status == 403

    # Invites: members who are not admins may not see the code; join, 409, reset → 410, unknown → 404.
    assert sim.admin("GET", f"/accounts/{BOB}/groups/{jid}/invite").status == 403
    code = sim.admin("GET", f"/accounts/{ADA}/groups/{jid}/invite").json()["invite_code"]
    joined = sim.admin("POST", f"/accounts/{CAROL}/join", {"code": f"https://chat.whatsapp.com/{code}"})
    assert joined.status == 200 and joined.json()["jid"] == jid, joined
    assert sim.admin("POST", f"/accounts/{CAROL}/join", {"code": code}).status == 409
    fresh = sim.admin("POST", f"/accounts/{ADA}/groups/{jid}/invite", {"reset": True}).json()["invite_code"]
    assert fresh != code
    revoked = sim.admin("POST", f"/accounts/{DAVE}/join", {"code": code})
    assert revoked.status == 410 and revoked.json()["code"] == "not_found" and revoked.json()["details"]["reason"] == "revoked", revoked
    unknown = sim.admin("POST", f"/accounts/{DAVE}/join", {"code": "AAAAAAAAAAAAAAAAAAAAAA"})
    assert unknown.status == 404 and unknown.json()["details"]["reason"] == "not_found", unknown
    assert sim.admin("POST", f"/accounts/{DAVE}/join", {"code": fresh}).status == 200

    # Leave: gone from the list; leaving again is 403.
    assert sim.admin("POST", f"/accounts/{DAVE}/groups/{jid}/leave").status == 200
    assert sim.admin("GET", f"/accounts/{DAVE}/groups").json() == []
    assert sim.admin("POST", f"/accounts/{DAVE}/groups/{jid}/leave").status == 403
    members = {p["phone"] for p in sim.admin("GET", f"/accounts/{ADA}/groups/{jid}").json()["participants"]}
    assert members == {ADA, BOB, CAROL}

    # Refused adds: groupadd none → invite_required with an add_request code.
    assert sim.admin("PUT", f"/accounts/{DAVE}/privacy", {"groupadd": "none"}).status == 200
    invite_needed = sim.admin("POST", f"/accounts/{ADA}/groups/{jid}/participants", {"action": "add", "participants": [DAVE]})
    outcome = invite_needed.json()["participants"][0]
    assert outcome["status"] == "invite_required" and outcome["error"] == 403 and len(outcome["add_request"]["code"]) == 22

    # Malformed requests.
    assert sim.admin("POST", f"/accounts/{ADA}/groups", {"participants": [BOB]}).status == 400
    assert sim.admin("POST", f"/accounts/{ADA}/groups/{jid}/participants", {"action": "kick", "participants": [BOB]}).status == 400
    assert sim.admin("DELETE", f"/accounts/{ADA}/groups/{jid}").status == 405


def test_a_lid_addressed_group_names_members_by_lid(make_sim):
    sim = make_sim()
    accounts = {phone: create_account(sim, phone, name) for phone, name in [(ADA, "Ada"), (BOB, "Bob")]}
    created = sim.admin("POST", f"/accounts/{ADA}/groups", {"subject": "LIDs", "participants": [accounts[BOB]["lid"]],
                                                            "addressing_mode": "lid"})
    assert created.status == 200, created
    group = created.json()
    assert group["addressing_mode"] == "lid"
    assert {p["jid"] for p in group["participants"]} == {accounts[ADA]["lid"], accounts[BOB]["lid"]}
    send(sim, ADA, group["jid"], "by lid")
    assert wait_for_text(sim, BOB, group["jid"], "by lid")["author"] == accounts[ADA]["lid"]

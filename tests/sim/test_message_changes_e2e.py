"""Reactions, edits, revokes and polls through wause-sim (issue 14): a real `wause-mcp` (toolset
`chats`) and a virtual phone react, edit and revoke both ways, and the phone votes in a poll the
engine sent — the engine decrypts and counts it, and a changed vote replaces the old one.

Every wait blocks on the session's event stream; the phone's inbox (no event) is polled under the
deadline.
"""

from __future__ import annotations

from engine_flows import call_tool, create_account, inbox, linked_engine, stopped_cleanly, wait_until

ADA, CAROL = "15550001111", "15550003333"


def next_matching(events, name: str, test) -> dict:
    while True:
        event = events.next(name)
        if test(event["data"]):
            return event


def inbox_change(sim, phone: str, kind: str, test=lambda row: True) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"]
                                    if (m.get("change") or {}).get("kind") == kind and test(m)), None),
                      f"a {kind} in {phone}'s inbox")


def test_changes_both_ways_and_a_poll(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, ADA, "Ada")
    create_account(sim, CAROL, "Carol")
    server, session, events = linked_engine(sim, tmp_path_factory, {"phone": ADA}, extra=("--toolsets", "chats"))

    # Ours → the phone.
    sent = call_tool(server, session, "whatsapp_send_message", {"phone_number": CAROL, "message": "meet at 5"})
    mine = sent["message_id"]
    reacted = call_tool(server, session, "whatsapp_react_to_message", {"message_id": mine, "emoji": "🎉"})
    assert reacted["ok"] is True and reacted["message"]["reactions"][0]["emoji"] == "🎉", reacted
    assert inbox_change(sim, CAROL, "reaction")["change"] == {"kind": "reaction", "message_id": mine, "emoji": "🎉"}
    edited = call_tool(server, session, "whatsapp_edit_message", {"message_id": mine, "new_text": "meet at 6"})
    assert edited["message"]["body"] == "meet at 6" and edited["message"]["edited"] is True, edited
    assert inbox_change(sim, CAROL, "edit")["change"]["text"] == "meet at 6"

    # The phone → ours: its message, edited and revoked; its reaction to ours.
    posted = sim.admin("POST", f"/accounts/{CAROL}/send", {"to": ADA, "text": "ok see you"})
    theirs = posted.json()["message_id"]
    next_matching(events, "message.received", lambda d: d["message"]["id"] == theirs)
    assert sim.admin("POST", f"/accounts/{CAROL}/react", {"message_id": mine, "emoji": "👍"}).status == 200
    reaction = next_matching(events, "message.reaction", lambda d: d["message_id"] == mine)
    assert reaction["data"]["emoji"] == "👍" and reaction["data"]["by"] == f"{CAROL}@s.whatsapp.net", reaction
    assert sim.admin("POST", f"/accounts/{CAROL}/edit", {"message_id": theirs, "text": "ok, see you!"}).status == 200
    edit = next_matching(events, "message.edited", lambda d: d["message_id"] == theirs)
    assert edit["data"]["new_text"] == "ok, see you!" and edit["data"]["previous_text"] == "ok see you", edit
    assert sim.admin("POST", f"/accounts/{CAROL}/revoke", {"message_id": theirs}).status == 200
    next_matching(events, "message.deleted", lambda d: d["message_id"] == theirs)
    history = call_tool(server, session, "whatsapp_read_messages", {"phone_number": CAROL, "limit": 10})
    by_id = {m["id"]: m for m in history["messages"]}
    assert by_id[theirs]["deleted"] is True and by_id[theirs]["body"] == "", by_id[theirs]
    # One reaction per person: ours and Carol's.
    assert {r["by"]: r["emoji"] for r in by_id[mine]["reactions"]} == \
        {f"{ADA}@s.whatsapp.net": "🎉", f"{CAROL}@s.whatsapp.net": "👍"}, by_id[mine]

    # A poll to the phone; its vote is decrypted and counted, and a changed vote replaces it.
    poll = call_tool(server, session, "whatsapp_create_poll",
                     {"to": CAROL, "question": "Dinner?", "options": ["Thai", "Pasta"], "multiple_answers": True})
    assert inbox_change(sim, CAROL, "poll")["change"]["options"] == ["Thai", "Pasta"]
    for choice in (["Thai"], ["Thai", "Pasta"], ["Pasta"]):
        voted = sim.admin("POST", f"/accounts/{CAROL}/vote", {"message_id": poll["message_id"], "options": choice})
        assert voted.status == 200, voted
        vote = next_matching(events, "poll.vote", lambda d: d["vote_id"] == voted.json()["change_id"])
        assert vote["data"]["options"] == choice and vote["data"]["voter"] == f"{CAROL}@s.whatsapp.net", vote
    results = call_tool(server, session, "whatsapp_get_poll_results", {"message_id": poll["message_id"]})
    assert results == {"message_id": poll["message_id"], "question": "Dinner?", "total_voters": 1,
                       "options": [{"name": "Thai", "votes": 0, "voters": []},
                                   {"name": "Pasta", "votes": 1, "voters": [f"{CAROL}@s.whatsapp.net"]}]}, results
    stopped_cleanly(server)

"""Approval requests through the real binaries (issue 14 "Approval requests"): a `wause-mcp`
(toolsets all) linked to a sim account asks a virtual phone, and the phone answers by word, emoji,
quote, reaction, request id, a vote in a poll-style request's poll, or not at all. Only the person asked decides: a third person, a
group, a forwarded message are ignored. A restart keeps the request and its expiry; `wait: true`
streams progress and returns the decision.

Every wait blocks on the session's event stream or polls a phone's inbox under the deadline;
nothing sleeps. That a reply did not resolve is shown by order: the first `approval.resolved`
after it names the later reply that did.
"""

from __future__ import annotations

import re
import threading

from engine_flows import (call_tool, call_tool_error, create_account, inbox, link_by_qr, open_events, start_engine,
                          stopped_cleanly, wait_ready, wait_until)
from wause_harness import sse_messages

ADA, BEA, CID = "15558880001", "15558880002", "15558880003"
ID = re.compile(r"^[A-Z2-9]{6}$")


def engine(sim, tmp_path_factory, data_dir=None):
    server = start_engine(tmp_path_factory, sim, data_dir=data_dir, extra=["--toolsets", "all"])
    return server


def linked(sim, tmp_path_factory):
    account = create_account(sim, ADA, "Ada")
    server = engine(sim, tmp_path_factory)
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)
    return account, server, session, events


def ask(server, session, to: str, action: str, **extra) -> dict:
    asked = call_tool(server, session, "whatsapp_request_approval", {"to": to, "action": action, **extra})
    assert ID.match(asked["request_id"]) and asked["status"] == "pending" and asked["expires_at"].endswith("Z"), asked
    return asked


def on_phone(sim, phone: str, message_id: str) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"] if m["id"] == message_id), None),
                      f"{message_id} in {phone}'s inbox")


def phone_send(sim, phone: str, to: str, text: str, **extra) -> str:
    posted = sim.admin("POST", f"/accounts/{phone}/send", {"to": to, "text": text, **extra})
    assert posted.status == 200, posted
    return posted.json()["message_id"]


def resolved(events) -> dict:
    return events.next("approval.resolved")["data"]


def test_answers_by_word_emoji_quote_reaction_and_id(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, server, session, events = linked(sim, tmp_path_factory)
    bea = create_account(sim, BEA, "Bea")

    first = ask(server, session, BEA, "Deploy v2 to production", details="12 services, 3 migrations")
    request = on_phone(sim, BEA, first["message_id"])
    # The message names the action, the details, the id and how to answer.
    for part in ("Deploy v2 to production", "12 services, 3 migrations", first["request_id"], "APPROVE", "DENY"):
        assert part in request["text"], request
    reply = phone_send(sim, BEA, ADA, "  Approve ")
    data = resolved(events)
    assert data == {"request_id": first["request_id"], "status": "approved", "by": f"{BEA}@s.whatsapp.net",
                    "at": data["at"], "reply_message_id": reply}, data

    second = ask(server, session, BEA, "Delete the staging database")
    on_phone(sim, BEA, second["message_id"])
    reply = phone_send(sim, BEA, ADA, "👎🏽")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (second["request_id"], "denied", reply), data

    third = ask(server, session, BEA, "Rotate the API keys")
    on_phone(sim, BEA, third["message_id"])
    reply = phone_send(sim, BEA, ADA, "ok", quoted_message_id=third["message_id"])
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (third["request_id"], "approved", reply), data

    fourth = ask(server, session, BEA, "Send the newsletter")
    on_phone(sim, BEA, fourth["message_id"])
    reacted = sim.admin("POST", f"/accounts/{BEA}/react", {"message_id": fourth["message_id"], "emoji": "👍"})
    assert reacted.status == 200, reacted
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (fourth["request_id"], "approved",
                                                                              reacted.json()["change_id"]), data

    # By LID this time, naming the id after the word: the same person.
    fifth = ask(server, session, BEA, "Merge the release branch")
    on_phone(sim, BEA, fifth["message_id"])
    reply = phone_send(sim, BEA, ada["lid"], f"deny {fifth['request_id'].lower()}")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (fifth["request_id"], "denied", reply), data
    assert data["by"] == bea["lid"].split("@")[0] + "@lid", data

    record = call_tool(server, session, "whatsapp_check_approvals", {"request_id": third["request_id"]})["approvals"]
    assert len(record) == 1 and record[0]["status"] == "approved" and record[0]["action"] == "Rotate the API keys", record
    assert record[0]["by"] == f"{BEA}@s.whatsapp.net" and record[0]["resolved_at"].endswith("Z"), record
    assert call_tool(server, session, "whatsapp_check_approvals", {})["approvals"] == []

    too_long = call_tool_error(server, session, "whatsapp_request_approval", {"to": BEA, "action": "a" * 501})
    assert too_long["code"] == "invalid_request", too_long
    stopped_cleanly(server)


def inbox_poll(sim, phone: str, message_id: str) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"]
                                    if m["id"] == message_id and (m.get("change") or {}).get("kind") == "poll"), None),
                      f"poll {message_id} in {phone}'s inbox")


def vote(sim, phone: str, poll_id: str, options: list[str]) -> str:
    voted = sim.admin("POST", f"/accounts/{phone}/vote", {"message_id": poll_id, "options": options})
    assert voted.status == 200, voted
    return voted.json()["change_id"]


def test_poll_style_the_vote_of_the_person_asked_decides(make_sim, tmp_path_factory):
    sim = make_sim()
    ada, server, session, events = linked(sim, tmp_path_factory)
    bea = create_account(sim, BEA, "Bea")
    # A vote comes in the poll creator's addressing form: Bea's LID when the poll went LID-first.
    bea_forms = {f"{BEA}@s.whatsapp.net", bea["lid"].split("@")[0].split(":")[0] + "@lid"}

    asked = ask(server, session, BEA, "Deploy v3 to production", details="4 services, no migrations", style="poll")
    poll = inbox_poll(sim, BEA, asked["message_id"])
    # The poll is the request message: two options, exactly Approve and Deny, one answer; its question names the id.
    assert poll["change"]["options"] == ["Approve", "Deny"] and poll["change"]["multiple_answers"] is False, poll
    assert asked["request_id"] in poll["change"]["question"] and "Deploy v3" in poll["change"]["question"], poll
    # The details go in a text before it.
    text = wait_until(lambda: next((m for m in inbox(sim, BEA)["messages"]
                                    if asked["request_id"] in m["text"] and "4 services" in m["text"]), None), "the details")
    assert text["id"] != asked["message_id"] and "Vote Approve or Deny" in text["text"], text

    # A withdrawn vote decides nothing; then the vote for Deny does.
    withdrawn = vote(sim, BEA, asked["message_id"], [])
    assert events.next("poll.vote")["data"]["vote_id"] == withdrawn
    decisive = vote(sim, BEA, asked["message_id"], ["Deny"])
    data = resolved(events)
    assert data == {"request_id": asked["request_id"], "status": "denied", "by": data["by"],
                    "at": data["at"], "reply_message_id": decisive}, data
    assert data["by"] in bea_forms, data
    # A vote changed after the decision is counted in the poll but changes nothing.
    late = vote(sim, BEA, asked["message_id"], ["Approve"])
    while (changed := events.next("poll.vote"))["data"]["vote_id"] != late:
        pass
    [record] = call_tool(server, session, "whatsapp_check_approvals", {"request_id": asked["request_id"]})["approvals"]
    assert record["status"] == "denied" and record["reply_message_id"] == decisive, record
    results = call_tool(server, session, "whatsapp_get_poll_results", {"message_id": asked["message_id"]})
    assert [o["votes"] for o in results["options"]] == [1, 0], results

    # Approve decides the other way; a text answer to a poll-style request still counts too.
    second = ask(server, session, BEA, "Rotate the keys", style="poll")
    inbox_poll(sim, BEA, second["message_id"])
    decisive = vote(sim, BEA, second["message_id"], ["Approve"])
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (second["request_id"], "approved", decisive), data
    third = ask(server, session, BEA, "Close the sprint", style="poll")
    inbox_poll(sim, BEA, third["message_id"])
    reply = phone_send(sim, BEA, ada["lid"], f"no {third['request_id']}")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (third["request_id"], "denied", reply), data
    stopped_cleanly(server)


def test_only_the_person_asked_decides(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, events = linked(sim, tmp_path_factory)
    create_account(sim, BEA, "Bea")
    create_account(sim, CID, "Cid")
    group = call_tool(server, session, "whatsapp_create_group", {"name": "Ops", "participants": [BEA, CID]})["group_id"]

    asked = ask(server, session, BEA, "Pay invoice 1142")
    on_phone(sim, BEA, asked["message_id"])
    # A third person, naming the id; a group, from the person asked; a forwarded "yes"; a quote of another message.
    phone_send(sim, CID, ADA, f"APPROVE {asked['request_id']}")
    phone_send(sim, CID, ADA, "yes")
    phone_send(sim, BEA, group, "yes")
    phone_send(sim, BEA, group, f"approve {asked['request_id']}")
    phone_send(sim, BEA, ADA, "yes", forwarded=True)
    # A "yes" quoting some other message answers that message, not the request.
    other = phone_send(sim, BEA, ADA, "lunch at noon?")
    phone_send(sim, BEA, ADA, "yes", quoted_message_id=other)
    # An edit that turns a message into "yes" is no answer either.
    edited = phone_send(sim, BEA, ADA, "hmm, let me check")
    assert sim.admin("POST", f"/accounts/{BEA}/edit", {"message_id": edited, "text": "yes"}).status == 200
    while events.next("message.edited")["data"]["message_id"] != edited:
        pass
    decisive = phone_send(sim, BEA, ADA, "no")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (asked["request_id"], "denied", decisive), data
    # An answer after the decision changes nothing.
    late = phone_send(sim, BEA, ADA, "yes")
    wait_until(lambda: any(m["id"] == late for m in
                           call_tool(server, session, "whatsapp_read_messages", {"phone_number": BEA, "limit": 5})["messages"]),
               "the late answer stored")
    record = call_tool(server, session, "whatsapp_check_approvals", {"request_id": asked["request_id"]})["approvals"][0]
    assert record["status"] == "denied" and record["reply_message_id"] == decisive, record
    stopped_cleanly(server)


def test_two_pending_with_one_person(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, events = linked(sim, tmp_path_factory)
    create_account(sim, BEA, "Bea")
    one = ask(server, session, BEA, "Restart the web tier")
    two = ask(server, session, BEA, "Restart the job tier")
    on_phone(sim, BEA, two["message_id"])

    phone_send(sim, BEA, ADA, "yes")
    # A bare answer resolves neither: a clarification lists both ids.
    clarification = wait_until(lambda: next((m for m in inbox(sim, BEA)["messages"]
                                             if m["text"].startswith("You have 2 open requests")), None), "the clarification")
    assert one["request_id"] in clarification["text"] and two["request_id"] in clarification["text"], clarification
    pending = call_tool(server, session, "whatsapp_check_approvals", {})["approvals"]
    assert sorted(a["request_id"] for a in pending) == sorted([one["request_id"], two["request_id"]]), pending

    reply = phone_send(sim, BEA, ADA, f"{two['request_id']} yes")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (two["request_id"], "approved", reply), data
    pending = call_tool(server, session, "whatsapp_check_approvals", {})["approvals"]
    assert [a["request_id"] for a in pending] == [one["request_id"]], pending
    # One left: a bare answer now decides it.
    reply = phone_send(sim, BEA, ADA, "❌")
    data = resolved(events)
    assert (data["request_id"], data["status"], data["reply_message_id"]) == (one["request_id"], "denied", reply), data
    stopped_cleanly(server)


def test_a_restart_keeps_the_request_and_it_still_expires(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, events = linked(sim, tmp_path_factory)
    create_account(sim, BEA, "Bea")
    asked = ask(server, session, BEA, "Open the firewall port", timeout=10)
    on_phone(sim, BEA, asked["message_id"])
    events.stream.close()
    stopped_cleanly(server)

    again = engine(sim, tmp_path_factory, data_dir=server.data_dir)
    session = again.initialize()[0]
    events = open_events(again, session)
    [record] = call_tool(again, session, "whatsapp_check_approvals", {"request_id": asked["request_id"]})["approvals"]
    assert record["status"] == "pending" and record["expires_at"] == asked["expires_at"], record
    data = resolved(events)
    assert data["request_id"] == asked["request_id"] and data["status"] == "expired" and data["by"] is None, data
    assert data["at"] >= asked["expires_at"], data
    [record] = call_tool(again, session, "whatsapp_check_approvals", {"request_id": asked["request_id"]})["approvals"]
    assert record["status"] == "expired" and "by" not in record, record
    # Too late: an answer after expiry decides nothing.
    phone_send(sim, BEA, ADA, "yes")
    stopped_cleanly(again)


def test_wait_true_streams_progress_and_returns_the_decision(make_sim, tmp_path_factory):
    sim = make_sim()
    _, server, session, _ = linked(sim, tmp_path_factory)
    create_account(sim, BEA, "Bea")
    answer: dict = {}

    def call():
        params = {"name": "whatsapp_request_approval", "arguments": {"to": BEA, "action": "Ship it", "wait": True},
                  "_meta": {"progressToken": "ap-1"}}
        answer["response"] = server.rpc(session, "tools/call", params=params, id=21)

    caller = threading.Thread(target=call)
    caller.start()
    request = wait_until(lambda: next((m for m in inbox(sim, BEA)["messages"] if "Ship it" in m["text"]), None), "the request")
    reply = phone_send(sim, BEA, ADA, "👍")
    caller.join()
    response = answer["response"]
    assert response.status == 200 and response.content_type == "text/event-stream", response
    messages = sse_messages(response.body)
    final = messages[-1]["result"]["structuredContent"]
    assert final["status"] == "approved" and final["reply_message_id"] == reply and final["message_id"] == request["id"], final
    progress = [m for m in messages[:-1] if m.get("method") == "notifications/progress"]
    assert progress and all(m["params"]["progressToken"] == "ap-1" for m in progress), messages
    stopped_cleanly(server)

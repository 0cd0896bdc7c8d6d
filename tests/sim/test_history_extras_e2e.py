"""History sync, the rest (issue 15) through the real binaries: what a phone's history carries
besides messages — the reactions on them, a poll with its secret and the votes already cast — lands
in a newly linked wause-mcp as live changes would, a vote cast after linking on a poll that came
only through history is decrypted and counted, and each history blob is deleted from the media
host once its chunk is filed (whatsmeow DeleteMedia), while a refused deletion changes nothing.

Waits follow the engine's tools and store, or the phone's inbox, under the deadline; nothing sleeps.
"""

from __future__ import annotations

import glob
import os
import sqlite3

from engine_flows import DEADLINE, call_tool, create_account, inbox, linked_engine, poll, status, stopped_cleanly, wait_until

ADA, BEA, CAROL = "15557720001", "15557720002", "15557720003"
T = 1_760_000_000


def inbox_change(sim, phone: str, kind: str, test=lambda row: True) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"]
                                    if (m.get("change") or {}).get("kind") == kind and test(m)), None),
                      f"a {kind} in {phone}'s inbox")


def in_inbox(sim, phone: str, message_id: str) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, phone)["messages"] if m["id"] == message_id), None),
                      f"{message_id} in {phone}'s inbox")


def reactions(message: dict) -> dict:
    return {r["by"]: r["emoji"] for r in message["reactions"]}


def by_id(server, session, phone: str) -> dict:
    listed = call_tool(server, session, "whatsapp_read_messages", {"phone_number": phone, "limit": 50})
    return {m["id"]: m for m in listed["messages"]}


def test_reactions_and_a_poll_from_history_and_a_vote_after_linking(make_sim, tmp_path_factory):
    sim = make_sim()
    create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    create_account(sim, CAROL, "Carol")

    # Seeded history with Bea: one message with Ada's and Bea's reactions.
    seeded = sim.admin("POST", f"/accounts/{ADA}/history", {"chats": [{"with": BEA, "messages": [
        {"id": "3EB0AAAA00000001", "from_me": False, "text": "garden party on saturday", "timestamp": T,
         "reactions": [{"from_me": True, "emoji": "🎉", "timestamp": T + 60}, {"sender": BEA, "emoji": "👍", "timestamp": T + 30}]},
        {"id": "3EB0AAAA00000002", "from_me": True, "text": "count me in", "timestamp": T + 90},
    ]}]})
    assert seeded.status == 200 and seeded.json()["messages"] == 2, seeded
    # Bad reactions are clear errors and file nothing.
    for reaction in ({"emoji": "👍"}, {"from_me": True, "emoji": ""}, {"sender": CAROL, "emoji": "👍"}):
        refused = sim.admin("POST", f"/accounts/{ADA}/history", {"chats": [{"with": BEA, "messages": [
            {"id": "3EB0AAAA0000000F", "text": "never filed", "reactions": [reaction]}]}]})
        assert refused.status == 400 and refused.json()["code"] == "invalid_request", (reaction, refused)

    # Through the sim before linking: Ada writes to Carol and Carol reacts; Ada's poll, Carol votes.
    hello = sim.admin("POST", f"/accounts/{ADA}/send", {"to": CAROL, "text": "hello carol"}).json()["message_id"]
    in_inbox(sim, CAROL, hello)
    assert sim.admin("POST", f"/accounts/{CAROL}/react", {"message_id": hello, "emoji": "❤️"}).status == 200
    inbox_change(sim, ADA, "reaction", lambda m: m["change"]["message_id"] == hello)
    sent = sim.admin("POST", f"/accounts/{ADA}/send", {"to": CAROL, "type": "poll", "question": "Dinner?", "options": ["Thai", "Pasta"]})
    assert sent.status == 200 and sent.json()["type"] == "poll", sent
    poll = sent.json()["message_id"]
    inbox_change(sim, CAROL, "poll", lambda m: m["id"] == poll)
    refused = sim.admin("POST", f"/accounts/{ADA}/send", {"to": CAROL, "type": "poll", "question": "Q", "options": ["same", "same"]})
    assert refused.status == 400, refused
    first_vote = sim.admin("POST", f"/accounts/{CAROL}/vote", {"message_id": poll, "options": ["Thai"]})
    assert first_vote.status == 200, first_vote
    inbox_change(sim, ADA, "vote", lambda m: m["change"]["message_id"] == poll and m["change"].get("options") == ["Thai"])

    server, session, events = linked_engine(sim, tmp_path_factory, {"phone": ADA},
                                            extra=("--toolsets", "chats", "--media-ca-file", sim.media_ca_file))
    wait_until(lambda: len(by_id(server, session, BEA)) == 2 and len(by_id(server, session, CAROL)) == 2, "the history filed")
    bea = by_id(server, session, BEA)
    assert reactions(bea["3EB0AAAA00000001"]) == {f"{ADA}@s.whatsapp.net": "🎉", f"{BEA}@s.whatsapp.net": "👍"}, bea
    assert bea["3EB0AAAA00000002"]["reactions"] == []
    carol = by_id(server, session, CAROL)
    assert reactions(carol[hello]) == {f"{CAROL}@s.whatsapp.net": "❤️"}, carol[hello]
    # Reactions and votes are not messages of their own.
    assert set(carol) == {hello, poll}, carol
    # The vote already cast came with the history (decrypted by the phone).
    results = call_tool(server, session, "whatsapp_get_poll_results", {"message_id": poll})
    assert results["total_voters"] == 1 and results["options"][0] == {"name": "Thai", "votes": 1, "voters": [f"{CAROL}@s.whatsapp.net"]}, results

    # After linking Carol changes her vote: the engine decrypts it with the secret the history carried.
    changed = sim.admin("POST", f"/accounts/{CAROL}/vote", {"message_id": poll, "options": ["Pasta"]})
    assert changed.status == 200, changed
    while True:
        vote = events.next("poll.vote")
        if vote["data"]["vote_id"] == changed.json()["change_id"]:
            break
    assert vote["data"]["options"] == ["Pasta"] and vote["data"]["voter"] == f"{CAROL}@s.whatsapp.net", vote
    results = call_tool(server, session, "whatsapp_get_poll_results", {"message_id": poll})
    assert results == {"message_id": poll, "question": "Dinner?", "total_voters": 1,
                       "options": [{"name": "Thai", "votes": 0, "voters": []},
                                   {"name": "Pasta", "votes": 1, "voters": [f"{CAROL}@s.whatsapp.net"]}]}, results
    # A reaction that arrives live on a message the history brought: one entry per person, the newer.
    assert sim.admin("POST", f"/accounts/{CAROL}/react", {"message_id": hello, "emoji": "🔥"}).status == 200
    wait_until(lambda: reactions(by_id(server, session, CAROL)[hello]) == {f"{CAROL}@s.whatsapp.net": "🔥"}, "Carol's new reaction")
    events.stream.close()
    stopped_cleanly(server)


def history_blobs(sim) -> list[str]:
    """The blobs on the sim's media host that an account owns (a history chunk the phone put up for its companions)."""
    return sorted(glob.glob(os.path.join(sim.data_dir, "media", "*.owners")))


def filed(data_dir: str) -> tuple[int, int]:
    db = sqlite3.connect(f"file:{data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        return (db.execute("SELECT count(*) FROM messages").fetchone()[0],
                db.execute("SELECT count(*) FROM history_sync_pending").fetchone()[0])
    finally:
        db.close()


def test_history_blobs_are_deleted_once_filed_and_a_refused_delete_fails_nothing(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    # 3,000 messages: more than one chunk, so at least the RECENT chunk and the push names travel as media.
    seeded = sim.admin("POST", f"/accounts/{ADA}/history", {"generate": {"chats": 20, "messages": 3000, "seed": 3}})
    assert seeded.status == 200, seeded
    extra = ("--media-ca-file", sim.media_ca_file)

    server, session, events = linked_engine(sim, tmp_path_factory, account, extra=extra)
    wait_until(lambda: filed(server.data_dir) == (3000, 0), "the history filed", lambda: f" ({filed(server.data_dir)})")
    # Every blob the phone put up was deleted by the engine once its chunk was filed.
    faults = wait_until(lambda: (lambda f: f if f["deletes_begun"] >= 2 and not history_blobs(sim) else None)(
        sim.admin("GET", "/media/faults").json()), "the history blobs deleted", lambda: f" ({history_blobs(sim)})")
    deleted = faults["deletes_begun"]  # one per blob: none was refused

    # Again after logout, with the media host refusing every deletion: the sync completes all the same
    # (the same messages, nothing pending), and the blobs stay on the host.
    refused = sim.admin("POST", "/media/faults", {"status": 500, "count": 100, "on": "delete"})
    assert refused.status == 200, refused
    assert call_tool(server, session, "whatsapp_logout")["was_linked"] is True
    started = call_tool(server, session, "whatsapp_start_auth")
    assert sim.admin("POST", f"/accounts/{ADA}/scan", {"qr": started["qr"]}).status == 200
    poll(lambda: status(server, session)["state"] == "ready", "ready after linking again", server, session)
    # The same chunks again: each filed, then its deletion refused (tried once, best effort).
    wait_until(lambda: sim.admin("GET", "/media/faults").json()["deletes_begun"] == 2 * deleted and filed(server.data_dir) == (3000, 0),
               "the second sync filed, its deletions refused", lambda: f" ({filed(server.data_dir)}, {sim.admin('GET', '/media/faults').json()})")
    assert len(history_blobs(sim)) == deleted, history_blobs(sim)
    assert sim.admin("DELETE", "/media/faults").status == 200
    events.stream.close()
    stopped_cleanly(server)

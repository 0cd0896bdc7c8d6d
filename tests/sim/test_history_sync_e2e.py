"""History sync (issue 15) through the real binaries: a virtual phone with a history of its own
(seeded with `POST /accounts/{phone}/history`, tests/sim/README.md) sends it to each newly linked
wause-mcp as the phone does — chunked, deflated, inline or as md-msg-hist media on the sim's media
host, over Signal — and answers on-demand requests (`whatsapp_request_history`).

Checks read the engine's store read-only beside the running engine (counts, order, duplicates)
and its tools (list, search). Waits follow events or poll under the deadline; nothing sleeps.
"""

from __future__ import annotations

import sqlite3

from engine_flows import (DEADLINE, call_tool, call_tool_error, create_account, link_by_qr, open_events, poll, start_engine,
                          status, stopped_cleanly, wait_ready, wait_until)

ADA, BEA = "15557710001", "15557710002"
CHATS, MESSAGES = 200, 20_000


def store_rows(data_dir: str, sql: str, parameters=()) -> list[tuple]:
    db = sqlite3.connect(f"file:{data_dir}/wause.db?mode=ro", uri=True, timeout=DEADLINE)
    try:
        return db.execute(sql, parameters).fetchall()
    finally:
        db.close()


def filed(data_dir: str) -> tuple[int, int]:
    """(messages stored, history notifications still pending)."""
    count = store_rows(data_dir, "SELECT count(*) FROM messages")[0][0]
    pending = store_rows(data_dir, "SELECT count(*) FROM history_sync_pending")[0][0]
    return count, pending


def all_filed(data_dir: str) -> bool:
    return filed(data_dir) == (MESSAGES, 0)


def assert_history_whole(data_dir: str) -> None:
    """Every seeded message once, every chat, each chat in time order, media metadata kept."""
    assert store_rows(data_dir, "SELECT count(*), count(DISTINCT id) FROM messages") == [(MESSAGES, MESSAGES)]
    assert store_rows(data_dir, "SELECT count(DISTINCT chat_jid) FROM messages")[0][0] == CHATS
    assert store_rows(data_dir, "SELECT count(*) FROM messages WHERE type = 'image'")[0][0] == MESSAGES // 10
    assert store_rows(data_dir, "SELECT count(*) FROM media WHERE direct_path LIKE '/v/t62.7118-24/history-%'")[0][0] == MESSAGES // 10
    # Within a chat the store's order (rowid: list_messages' cursor) is time order.
    out_of_order = store_rows(data_dir, """
        SELECT count(*) FROM messages a JOIN messages b ON a.chat_jid = b.chat_jid AND a.rowid < b.rowid
        WHERE a.timestamp > b.timestamp""")[0][0]
    assert out_of_order == 0


def test_a_phone_with_200_chats_and_20000_messages_links_twice_and_survives_a_kill(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    seeded = sim.admin("POST", f"/accounts/{ADA}/history", {"generate": {"chats": CHATS, "messages": MESSAGES, "seed": 7}})
    assert seeded.status == 200 and seeded.json() == {"ok": True, "chats": CHATS, "messages": MESSAGES}, seeded
    extra = ["--media-ca-file", sim.media_ca_file]

    # First link: killed (SIGKILL) once the first chunk is filed; the rest is filed after the restart.
    server = start_engine(tmp_path_factory, sim, extra=extra)
    session, events, _, _ = link_by_qr(sim, server, account)
    first = events.next("history.progress")
    assert first["data"]["sync_type"] == "initial_bootstrap" and first["data"]["chunk_order"] == 0, first
    assert first["data"]["messages"] > 0 and first["data"]["conversations"] > 0, first
    server.kill()
    before_restart = filed(server.data_dir)
    print("filed when killed:", before_restart)
    server = start_engine(tmp_path_factory, sim, data_dir=server.data_dir, extra=extra)
    session, _ = server.initialize()
    wait_until(lambda: all_filed(server.data_dir), "all history filed after the restart",
               lambda: f" (before the restart {before_restart}, now {filed(server.data_dir)})")
    assert_history_whole(server.data_dir)

    # Searchable, listed, and the push names of the chats the phone knows.
    found = call_tool(server, session, "whatsapp_search_messages", {"query": "history AND garden", "limit": 100})
    assert found["count"] > 0 and all("garden" in r["message"]["body"] for r in found["results"]), found
    assert store_rows(server.data_dir, "SELECT count(*) FROM chats")[0][0] == CHATS
    chats = call_tool(server, session, "whatsapp_list_chats", {"limit": 100})
    assert chats["count"] == 100 and all(c["last_message"] for c in chats["chats"]), chats["count"]

    # Second link after logout: the phone sends the history again; it lands once.
    events = open_events(server, session)  # replays the log from its start: the second link's events come after `mark`
    mark = call_tool(server, session, "whatsapp_sync", {"cursor": 0, "limit": 1000})["next_cursor"]
    assert call_tool(server, session, "whatsapp_logout")["was_linked"] is True
    started = call_tool(server, session, "whatsapp_start_auth")
    answer = sim.admin("POST", f"/accounts/{ADA}/scan", {"qr": started["qr"]})
    assert answer.status == 200, answer
    poll(lambda: status(server, session)["state"] == "ready", "ready after linking again", server, session)
    conversations = 0
    while conversations < CHATS:
        progress = events.next("history.progress")
        if progress["cursor"] <= mark:
            continue
        assert progress["data"]["messages"] == 0, progress  # all of it was here already
        conversations += progress["data"]["conversations"]
    assert conversations == CHATS
    wait_until(lambda: filed(server.data_dir)[1] == 0, "the second sync filed")
    assert_history_whole(server.data_dir)
    events.stream.close()
    stopped_cleanly(server)


def test_the_window_and_older_messages_on_demand(make_sim, tmp_path_factory):
    sim = make_sim()
    account = create_account(sim, ADA, "Ada")
    create_account(sim, BEA, "Bea")
    # Ten messages with Bea, days old, and one from today: a one-day window brings only today's.
    old = [{"from_me": i % 2 == 0, "text": f"old message {i}", "timestamp": 1_700_000_000 + i * 60} for i in range(10)]
    seeded = sim.admin("POST", f"/accounts/{ADA}/history", {"chats": [{"with": BEA, "messages": old}]})
    assert seeded.status == 200 and seeded.json()["messages"] == 10, seeded
    sent = sim.admin("POST", f"/accounts/{BEA}/send", {"to": ADA, "text": "today's message"})
    assert sent.status == 200, sent

    server = start_engine(tmp_path_factory, sim, extra=["--media-ca-file", sim.media_ca_file, "--toolsets", "core,chats",
                                                        "--history-sync-days", "1"])
    session, events, _, _ = link_by_qr(sim, server, account)
    wait_ready(server, session, events)
    wait_until(lambda: call_tool(server, session, "whatsapp_list_messages", {"chat": BEA})["count"] >= 1, "today's message")
    listed = call_tool(server, session, "whatsapp_list_messages", {"chat": BEA})
    assert [m["body"] for m in listed["messages"]] == ["today's message"], listed

    # On demand: the five newest of the old ones, then the five before those.
    answer = call_tool(server, session, "whatsapp_request_history", {"chat": BEA, "count": 5})
    assert answer["ok"] is True and answer["count"] == 5, answer
    assert [m["body"] for m in answer["messages"]] == [f"old message {i}" for i in range(5, 10)], answer
    assert [m["from_me"] for m in answer["messages"]] == [i % 2 == 0 for i in range(5, 10)]
    earlier = call_tool(server, session, "whatsapp_request_history",
                        {"chat": BEA, "before_message_id": answer["messages"][0]["id"], "count": 50})
    assert [m["body"] for m in earlier["messages"]] == [f"old message {i}" for i in range(5)], earlier
    # They are stored: listed and searchable.
    listed = call_tool(server, session, "whatsapp_list_messages", {"chat": BEA, "limit": 100})
    assert sorted(m["body"] for m in listed["messages"]) == sorted([f"old message {i}" for i in range(10)] + ["today's message"])
    assert call_tool(server, session, "whatsapp_search_messages", {"query": "old", "chat": BEA})["count"] == 10
    # Bad input is a clear error.
    error = call_tool_error(server, session, "whatsapp_request_history", {"chat": BEA, "count": 51})
    assert error["code"] == "invalid_request", error
    error = call_tool_error(server, session, "whatsapp_request_history", {"chat": BEA, "before_message_id": "NOPE"})
    assert error["code"] == "not_found", error
    events.stream.close()
    stopped_cleanly(server)

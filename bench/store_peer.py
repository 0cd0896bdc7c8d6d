"""The store benchmark's peer (wause-bench, StoreBenchmark.swift): the same messages ingested into
the same schema through Python's sqlite3 on the same SQLite library, one transaction per message,
then the same FTS5 searches. Prints `figures <ingest msgs/s> <search median ms> <search p95 ms>`."""

import argparse
import os
import sqlite3
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema-db", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--directory", required=True)
    args = parser.parse_args()

    bodies, queries = [], []
    with open(args.corpus, encoding="utf-8") as corpus:
        for line in corpus:
            kind, _, text = line.rstrip("\n").partition(" ")
            (bodies if kind == "m" else queries).append(text)

    schema = sqlite3.connect(args.schema_db)
    statements = [row[0] for row in schema.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "AND NOT (type = 'table' AND name LIKE 'messages_fts_%') ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid")]
    schema.close()

    os.makedirs(args.directory, exist_ok=True)
    db = sqlite3.connect(os.path.join(args.directory, "peer.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA foreign_keys=ON")
    for statement in statements:
        db.execute(statement)
    chats = [f"1555000{1000 + index}@s.whatsapp.net" for index in range(50)]
    for index, chat in enumerate(chats):
        db.execute("INSERT INTO contacts (phone, updated_at) VALUES (?, 1)", (chat.split("@")[0],))
        db.execute("INSERT INTO chats (jid, contact_id, updated_at) VALUES (?, ?, 1)", (chat, index + 1))

    start = time.monotonic()
    for index, body in enumerate(bodies):
        chat = chats[index % len(chats)]
        db.execute("BEGIN IMMEDIATE")
        # What the engine does per message: the duplicate check, the row, the chat's counters.
        exists = db.execute("SELECT rowid FROM messages WHERE chat_jid = ? AND id = ? AND from_me = 0",
                            (chat, f"3EB0{index}")).fetchone()
        if exists is None:
            db.execute("INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, timestamp, has_media, received_at) "
                       "VALUES (?, ?, ?, 0, 'chat', ?, ?, 0, ?)", (f"3EB0{index}", chat, chat, body, 1_700_000_000 + index, index))
            db.execute("UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ?, "
                       "unread_count = unread_count + 1 WHERE jid = ?", (1_700_000_000 + index, index, chat))
        db.execute("COMMIT")
    ingest = len(bodies) / (time.monotonic() - start)

    latencies = []
    for query in queries:
        began = time.monotonic()
        db.execute("SELECT messages.*, snippet(messages_fts, 0, '[', ']', '…', 12) FROM messages_fts "
                   "JOIN messages ON messages.rowid = messages_fts.rowid WHERE messages_fts MATCH ? ORDER BY rank LIMIT 20",
                   (query,)).fetchall()
        latencies.append((time.monotonic() - began) * 1000)
    hits = db.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (queries[0],)).fetchone()[0]
    if hits == 0:
        raise SystemExit(f"the peer's index finds nothing for {queries[0]!r}: schema copy is broken")
    latencies.sort()
    median = latencies[len(latencies) // 2]
    p95 = latencies[int((len(latencies) - 1) * 0.95)]
    print(f"figures {ingest:.1f} {median:.3f} {p95:.3f}")


if __name__ == "__main__":
    main()

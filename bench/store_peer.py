"""The store benchmark's peer (wause-bench, StoreBenchmark.swift): the same messages ingested into
the same schema through Python's sqlite3 on the same SQLite library, with the same pragmas and the
same statements `Store.ingest` runs (Sources/WauseCore/Store/Store+Ingest.swift), a batch per
transaction; then the same search statement `Store.searchMessages` runs, on the store file
the benchmark built with the engine.

Prints `ingest <batch> <msgs/s wall> <msgs/s cpu>` per run and
`search <p50 ms> <p95 ms> <p99 ms> <p99 thread-cpu ms>`."""

import argparse
import json
import os
import sqlite3
import time

CHAT_UPSERT = ("INSERT INTO chats (jid, contact_id, is_group, updated_at) VALUES (?, ?, ?, ?) "
               "ON CONFLICT (jid) DO UPDATE SET contact_id = coalesce(chats.contact_id, excluded.contact_id)")
MESSAGE_INSERT = ("INSERT INTO messages (id, chat_jid, sender_jid, from_me, type, body, quoted_id, timestamp, has_media, status, "
                  "status_reason, raw, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                  "ON CONFLICT (chat_jid, id, from_me) DO NOTHING")
DUPLICATE = "SELECT rowid FROM messages WHERE chat_jid = ? AND id = ? AND from_me = ?"
EVENT_INSERT = "INSERT INTO events (name, ts, data) VALUES (?, ?, ?)"
# A batch of BULK_INDEX_FROM or more sets the FTS5 insert trigger aside and feeds the index in one
# statement (Store+Ingest.swift write: `bulkIndexFrom`, the same statements).
BULK_INDEX_FROM = 32
TRIGGER_SQL = "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?"
TRIGGER_DROP = "DROP TRIGGER messages_fts_insert"
FTS_BULK = ("INSERT INTO messages_fts (rowid, body) SELECT rowid, body FROM messages "
            "WHERE rowid IN (SELECT value FROM json_each(?))")
CHAT_UPDATE = ("UPDATE chats SET last_message_at = max(coalesce(last_message_at, 0), ?), updated_at = ?, "
               "unread_count = unread_count + ? WHERE jid = ?")
SEARCH = ("SELECT messages.*, snippet(messages_fts, 0, '[', ']', '…', 12) AS snippet FROM messages_fts "
          "JOIN messages ON messages.rowid = messages_fts.rowid WHERE messages_fts MATCH ? ORDER BY rank LIMIT ?")


def connect(path: str, pragmas: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in filter(None, (p.strip() for p in pragmas.split(";"))):
        db.execute(pragma)
    return db


def schema_of(path: str) -> list:
    """Every CREATE statement of a store the engine migrated, tables before indexes before triggers
    (FTS5's shadow tables come with their virtual table)."""
    schema = sqlite3.connect(path)
    statements = [row[0] for row in schema.execute(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "AND NOT (type = 'table' AND name LIKE 'messages_fts_%') "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, rowid")]
    schema.close()
    return statements


def ingest(db: sqlite3.Connection, bodies: list, batch: int, chats: int) -> tuple:
    jids = [f"1555000{1000 + index}@s.whatsapp.net" for index in range(chats)]
    contact_ids = {jid: index + 1 for index, jid in enumerate(jids)}
    messages = [(f"3EB0{index}", jids[index % chats], body, (1_700_000_000 + index) * 1000) for index, body in enumerate(bodies)]
    wall, cpu = time.monotonic(), time.thread_time()
    for start in range(0, len(messages), batch):
        now = start
        part = messages[start:start + batch]
        db.execute("BEGIN IMMEDIATE")
        trigger = None
        if len(part) >= BULK_INDEX_FROM:
            row = db.execute(TRIGGER_SQL, ("messages_fts_insert",)).fetchone()
            if row:
                trigger = row[0]
                db.execute(TRIGGER_DROP)
        inserted = []
        order, contact = [], {}
        for _, chat, _, _ in part:
            if chat not in contact:
                contact[chat] = contact_ids[chat]
                order.append(chat)
        for chat in order:
            db.execute(CHAT_UPSERT, (chat, contact[chat], int(chat.endswith("@g.us")), now))
        latest, unread = {}, {}
        for message_id, chat, body, timestamp in part:
            cursor = db.execute(MESSAGE_INSERT, (message_id, chat, chat, 0, "chat", body, None, timestamp, 0, None, None, None, now))
            if cursor.rowcount == 0:
                db.execute(DUPLICATE, (chat, message_id, 0)).fetchone()
                continue
            rowid = cursor.lastrowid
            inserted.append(str(rowid))
            latest[chat] = max(latest.get(chat, timestamp), timestamp)
            unread[chat] = unread.get(chat, 0) + 1
            data = {"message": {"id": message_id, "chat_id": chat, "from": chat, "type": "chat", "body": body,
                                "timestamp": timestamp // 1000, "cursor": rowid}}
            db.execute(EVENT_INSERT, ("message.received", now, json.dumps(data, separators=(",", ":"), ensure_ascii=False)))
        for chat in order:
            if chat in latest:
                db.execute(CHAT_UPDATE, (latest[chat], now, unread[chat], chat))
        if trigger is not None:
            db.execute(FTS_BULK, ("[" + ",".join(inserted) + "]",))
            db.execute(trigger)
        db.execute("COMMIT")
    return len(bodies) / (time.monotonic() - wall), len(bodies) / (time.thread_time() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema-db", required=True)
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--pragmas", required=True)
    parser.add_argument("--runs", required=True, help="batch:messages,…")
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--search-db")
    args = parser.parse_args()

    bodies, queries = [], []
    with open(args.corpus, encoding="utf-8") as corpus:
        for line in corpus:
            kind, _, text = line.rstrip("\n").partition(" ")
            (bodies if kind == "m" else queries).append(text)

    statements = schema_of(args.schema_db)
    os.makedirs(args.directory, exist_ok=True)
    for index, run in enumerate(args.runs.split(",")):
        batch, count = (int(part) for part in run.split(":"))
        db = connect(os.path.join(args.directory, f"peer{index}.db"), args.pragmas)
        for statement in statements:
            db.execute(statement)
        for chat in range(args.chats):
            db.execute("INSERT INTO contacts (phone, updated_at) VALUES (?, 1)", (f"1555000{1000 + chat}",))
        wall, cpu = ingest(db, bodies[:count], batch, args.chats)
        first = queries[0]
        if db.execute("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", (first,)).fetchone()[0] == 0:
            raise SystemExit(f"the peer's index finds nothing for {first!r}: schema copy is broken")
        db.close()
        print(f"ingest {batch} {wall:.1f} {cpu:.1f}", flush=True)

    if args.search_db:
        db = connect(args.search_db, args.pragmas)
        wall, cpu = [], []
        for _ in range(args.rounds):
            for query in queries:
                began, began_cpu = time.monotonic(), time.thread_time()
                db.execute(SEARCH, (query, 20)).fetchall()
                wall.append((time.monotonic() - began) * 1000)
                cpu.append((time.thread_time() - began_cpu) * 1000)
        db.close()
        wall.sort()
        cpu.sort()

        def at(values: list, fraction: float) -> float:
            return values[min(len(values) - 1, int((len(values) - 1) * fraction))]
        print(f"search {at(wall, 0.5):.3f} {at(wall, 0.95):.3f} {at(wall, 0.99):.3f} {at(cpu, 0.99):.3f}")


if __name__ == "__main__":
    main()

'use strict';
// The event log: empty, bad arguments, and paging through rows written into the store.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir, openClient, runSql, sqlText } = require('./support');

test('replay on an empty log is an empty page at cursor 0', async (t) => {
    const client = openClient(t);
    assert.deepEqual(await client.replay(), { events: [], next_cursor: 0, has_more: false });
    assert.deepEqual(await client.replay(0, 1000), { events: [], next_cursor: 0, has_more: false });
    // After a cursor past the end the page is empty and the cursor stays where it was.
    assert.deepEqual(await client.replay(5, 10), { events: [], next_cursor: 5, has_more: false });
});

test('replay with a limit outside 1..1000 or a negative cursor is invalid_request', async (t) => {
    const client = openClient(t);
    for (const [after, limit] of [[0, 0], [0, -1], [0, 1001], [0, 1.5], [-1, 10]]) {
        await assert.rejects(client.replay(after, limit), (error) => {
            assert.ok(error instanceof wause.WauseError, String(error));
            assert.equal(error.code, 'invalid_request');
            return true;
        }, `replay(${after}, ${limit})`);
    }
});

test('replay pages through logged events in cursor order with ISO 8601 UTC timestamps', async (t) => {
    const dataDir = tempDir(t);
    // Open once so the store and its schema exist, then write rows while no client holds it.
    await wause.open({ data_dir: dataDir }).close();

    const baseMs = Date.UTC(2026, 0, 2, 3, 4, 5, 6);
    const rows = [];
    for (let index = 0; index < 7; index += 1) {
        rows.push({
            name: index % 2 === 0 ? 'message.received' : 'pairing.qr',
            ts: baseMs + index * 1001,
            data: { index, text: `it's event ${index}` },
        });
    }
    runSql(path.join(dataDir, 'wause.db'), 'BEGIN;\n' + rows.map((row) =>
        `INSERT INTO events (name, ts, data) VALUES (${sqlText(row.name)}, ${row.ts}, ${sqlText(JSON.stringify(row.data))});`,
    ).join('\n') + '\nCOMMIT;\n');

    const client = wause.open({ data_dir: dataDir });
    t.after(() => client.close());

    const seen = [];
    let cursor = 0;
    const pageSizes = [];
    for (;;) {
        const page = await client.replay(cursor, 3);
        assert.deepEqual(Object.keys(page).sort(), ['events', 'has_more', 'next_cursor']);
        pageSizes.push(page.events.length);
        seen.push(...page.events);
        if (page.events.length > 0) assert.equal(page.next_cursor, page.events.at(-1).cursor);
        cursor = page.next_cursor;
        if (!page.has_more) break;
    }
    assert.deepEqual(pageSizes, [3, 3, 1]);
    assert.equal(seen.length, rows.length);
    seen.forEach((event, index) => {
        assert.deepEqual(Object.keys(event).sort(), ['cursor', 'data', 'name', 'ts']);
        assert.ok(Number.isInteger(event.cursor));
        if (index > 0) assert.ok(event.cursor > seen[index - 1].cursor, 'cursors strictly increase');
        assert.equal(event.name, rows[index].name);
        assert.deepEqual(event.data, rows[index].data);
        assert.match(event.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
        assert.equal(Date.parse(event.ts), rows[index].ts);
    });
    assert.equal(seen[0].ts, '2026-01-02T03:04:05.006Z');

    // A page that ends exactly at the last event says there is no more.
    const tail = await client.replay(seen[3].cursor, 3);
    assert.deepEqual(tail.events.map((event) => event.cursor), seen.slice(4).map((event) => event.cursor));
    assert.equal(tail.has_more, false);
    assert.deepEqual(await client.replay(tail.next_cursor, 3), { events: [], next_cursor: tail.next_cursor, has_more: false });
});

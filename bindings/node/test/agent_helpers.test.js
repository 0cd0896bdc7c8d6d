'use strict';
// Issue 14's agent helpers through the Node binding's generated methods, on a client linked to a
// real wause-sim: listChats (filter, groupsOnly, cursor), listMessages (ISO 8601 before/after,
// includeContext), searchMessages (includeContext), getMessage, catchUp, exportChat, reconnect.
// Waits follow the client's events, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, eventLog } = require('./simulator');

const ADA = '15550001111';
const BOB = '15550002222';
const CAROL = '15550003333';

async function setUp(t) {
    const teardown = [];
    t.after(async () => {
        while (teardown.length > 0) await teardown.pop()();
    });
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    teardown.push(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    const ada = await sim.createAccount(ADA, 'Ada');
    const carol = await sim.createAccount(CAROL, 'Carol');
    const bob = await sim.createAccount(BOB, 'Bob');
    const client = wause.open(sim.clientConfig(path.join(dir, 'client')));
    const events = eventLog(client);
    teardown.push(async () => {
        events.close();
        await client.close();
    });
    return { sim, ada, carol, bob, client, events };
}

async function link(sim, client, events) {
    const started = await client.startAuth();
    const answer = await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await events.wait('account.connected', (data) => data.phase === 'login');
}

test('the agent helpers through the generated methods', async (t) => {
    const { sim, carol, bob, client, events } = await setUp(t);
    await link(sim, client, events);
    const sent = await client.sendMessage(CAROL, 'first from ada');
    for (const [phone, text] of [[BOB, 'bob says hi'], [CAROL, 'one from carol'], [CAROL, 'two from carol'], [CAROL, 'can you help?']]) {
        await sim.send(phone, ADA, text);
        await events.received(text);
    }

    assert.deepEqual((await client.listChats({ filter: CAROL.slice(-6) })).chats.map((c) => c.id), [carol.jid]);
    assert.deepEqual((await client.listChats({ filter: 'BOB' })).chats.map((c) => c.id), [bob.jid]);
    assert.deepEqual((await client.listChats({ groupsOnly: true })).chats, []);
    const first = await client.listChats({ limit: 1 });
    assert.ok(first.next_cursor);
    const second = await client.listChats({ limit: 1, cursor: first.next_cursor });
    assert.deepEqual(new Set([first.chats[0].id, second.chats[0].id]), new Set([carol.jid, bob.jid]));
    assert.equal(second.next_cursor, null);

    const listed = await client.listMessages({ chat: CAROL, after: '2000-01-01T00:00:00Z', limit: 1, includeContext: true });
    assert.equal(listed.messages[0].body, 'first from ada');
    assert.deepEqual(listed.messages[0].context_messages.map((m) => m.body), ['one from carol', 'two from carol']);
    await assert.rejects(client.listMessages({ before: 'later' }), (error) => error.code === 'invalid_request' && /before/.test(error.message));
    const hits = await client.searchMessages('two', { includeContext: true, contextSize: 1 });
    assert.deepEqual(hits.results[0].context_messages.map((m) => m.body), ['one from carol', 'can you help?']);

    const got = await client.getMessage(sent.message_id);
    assert.equal(got.message.body, 'first from ada');
    assert.equal(got.quoted_message, null);
    await assert.rejects(client.getMessage('NOSUCHMESSAGE'), (error) => error.code === 'not_found');

    const caught = await client.catchUp('today');
    assert.deepEqual(caught.questions.map((q) => q.body), ['can you help?']);
    assert.deepEqual(Object.fromEntries(caught.chats.map((c) => [c.chat, c.unread_count])), { [carol.jid]: 3, [bob.jid]: 1 });

    const exported = await client.exportChat(CAROL, 'json');
    assert.equal(path.basename(path.dirname(exported.path)), 'exports');
    assert.equal(fs.statSync(exported.path).mode & 0o777, 0o600);
    const document = JSON.parse(fs.readFileSync(exported.path, 'utf8'));
    assert.deepEqual(document.messages.map((m) => m.body), ['first from ada', 'one from carol', 'two from carol', 'can you help?']);
    assert.equal(exported.summary.count, 4);

    assert.equal((await client.reconnect({ timeout: 60 })).state, 'ready');
    const again = await client.sendMessage(CAROL, 'back after reconnect');
    await events.status(again.message_id, 'delivered');
});

test('reconnect needs a link', async (t) => {
    const client = wause.open({ data_dir: tempDir(t) });
    t.after(() => client.close());
    await assert.rejects(client.reconnect(), (error) => error.code === 'whatsapp_not_paired');
    assert.throws(() => wause.open({ data_dir: tempDir(t), timezone: 'Nowhere/Special' }), (error) => error.code === 'invalid_request');
});

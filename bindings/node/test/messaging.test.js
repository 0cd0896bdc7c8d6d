'use strict';
// Messaging through the Node binding's typed methods: a client linked to ADA talks to CAROL, a
// virtual phone of a real wause-sim (its send, inbox and auto-reply admin routes). Client →
// phone: sendMessage, 'message.sent' and 'message.status' up to delivered, the text decrypted in
// the phone's inbox. Phone → client: 'message.received' with the sender's phone and LID. Then
// the auto-reply, quoted replies, markRead, the history methods, waitForMessage, sync and
// idempotency keys, and errors before linking.
// Nothing sleeps: waits follow the client's events, with a deadline only against hangs. A
// phone's inbox has no event; it is read after the phone's delivery receipt, which the phone
// sends once the message is filed.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, eventLog, withDeadline } = require('./simulator');

const ADA = '15550001111';
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
    const client = wause.open(sim.clientConfig(path.join(dir, 'client')));
    const events = eventLog(client);
    teardown.push(async () => {
        events.close();
        await client.close();
    });
    return { sim, ada, carol, client, events };
}

async function link(sim, client, events) {
    const started = await client.startAuth();
    const answer = await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await events.wait('account.connected', (data) => data.phase === 'login');
}

async function inboxEntry(sim, phone, messageId) {
    const { messages } = await sim.inbox(phone);
    const entry = messages.find((message) => message.id === messageId);
    assert.ok(entry, `${messageId} in ${phone}'s inbox: ${JSON.stringify(messages)}`);
    return entry;
}

test('a client and a virtual phone exchange messages both ways', async (t) => {
    const { sim, ada, carol, client, events } = await setUp(t);
    await link(sim, client, events);

    // Client → phone.
    const sent = await client.sendMessage('+1 555 000 3333', 'hello carol ✓');
    assert.equal(sent.ok, true);
    assert.equal(sent.to, CAROL);
    assert.equal(sent.chat_id, carol.jid);
    assert.ok(['sent', 'delivered'].includes(sent.status), sent.status);
    assert.match(sent.timestamp, /Z$/);
    const acked = await events.wait('message.sent', (data) => data.message_id === sent.message_id);
    assert.equal(acked.data.chat_id, carol.jid);
    const delivered = await events.status(sent.message_id, 'delivered');
    assert.equal(delivered.data.device, carol.jid);
    const entry = await inboxEntry(sim, CAROL, sent.message_id);
    assert.equal(entry.text, 'hello carol ✓');
    assert.equal(entry.from_phone, ADA);
    assert.equal(entry.from_me, false);
    const status = await client.messageStatus(sent.message_id);
    assert.equal(status.status, 'delivered');
    assert.deepEqual([...new Set(status.timeline.map((step) => step.status))].sort(), ['delivered', 'queued', 'sent']);

    // Phone → client.
    const posted = await sim.send(CAROL, ADA, 'hi ada');
    const received = await events.received('hi ada');
    assert.equal(received.data.message.id, posted.message_id);
    assert.equal(received.data.sender_phone, CAROL);
    assert.equal(received.data.sender_lid, carol.lid.split('@')[0]);
    assert.equal(received.data.message.from_me, false);
    assert.equal(received.data.message.chat_id, carol.jid);
    assert.equal(received.data.message.author, 'Carol');

    // A quoted reply.
    const quoted = await client.sendMessage(CAROL, 'glad you wrote', { quotedMessageId: posted.message_id });
    await events.status(quoted.message_id, 'delivered');
    const history = await client.readMessages(CAROL);
    assert.deepEqual(history.messages.map((m) => [m.id, m.body, m.from_me]), [
        [sent.message_id, 'hello carol ✓', true], [posted.message_id, 'hi ada', false],
        [quoted.message_id, 'glad you wrote', true]]);
    assert.equal(history.messages[2].quoted_message_id, posted.message_id);
    assert.equal(history.chat.id, carol.jid);
    assert.equal(history.chat.unread_count, 1);

    // Reading the chat sends a read receipt for the unread message and clears the count.
    const chats = await client.listChats();
    assert.deepEqual(chats.chats.map((chat) => chat.id), [carol.jid]);
    assert.equal(chats.chats[0].unread_count, 1);
    assert.equal(chats.chats[0].last_message.id, quoted.message_id);
    const marked = await client.markRead({ chat: CAROL });
    assert.deepEqual(marked, { ok: true, chat_id: carol.jid, count: 1, message_ids: [posted.message_id] });
    assert.equal((await client.listChats({ limit: 1 })).chats[0].unread_count, 0);
    assert.equal((await client.markRead({ messageIds: [posted.message_id] })).count, 1);

    // The auto-reply answers the next message. Only "a reply arrives" is checked: the phone sends
    // its delivery receipt before it reads the auto-reply setting, so the message delivered just
    // before the switch may be answered too.
    await sim.autoReply(CAROL, 'carol is busy');
    const asked = await client.sendMessage(CAROL, 'are you there?');
    const auto = await events.received('carol is busy');
    assert.equal(auto.data.sender_phone, CAROL);
    assert.equal(auto.data.message.chat_id, carol.jid);
    await events.status(asked.message_id, 'delivered');
    await sim.autoReply(CAROL, null);
    assert.equal(ada.phone, ADA);
});

test('history, search, sync, waitForMessage and idempotency keys', async (t) => {
    const { sim, client, events } = await setUp(t);
    await link(sim, client, events);
    const texts = ['lunch on monday?', 'the report is done', 'lunch next week then'];
    const ids = [];
    for (const text of texts) {
        const sent = await client.sendMessage(CAROL, text, { idempotencyKey: `key-${text}` });
        ids.push(sent.message_id);
    }
    for (const id of ids) await events.status(id, 'delivered');
    const again = await client.sendMessage(CAROL, texts[0], { idempotencyKey: `key-${texts[0]}` });
    assert.equal(again.message_id, ids[0]);
    assert.equal((await client.readMessages(CAROL, { limit: 100 })).count, texts.length);

    const newest = await client.listMessages({ to: CAROL, limit: 2 });
    assert.deepEqual(newest.messages.map((m) => m.id), ids.slice(1));
    const older = await client.listMessages({ to: CAROL, beforeCursor: newest.before_cursor });
    assert.deepEqual(older.messages.map((m) => m.id), ids.slice(0, 1));
    const forward = await client.listMessages({ afterCursor: older.after_cursor });
    assert.deepEqual(forward.messages.map((m) => m.id), ids.slice(1));

    const hits = await client.searchMessages('lunch', { to: CAROL });
    assert.deepEqual(hits.results.map((hit) => hit.message.id).sort(), [ids[0], ids[2]].sort());
    assert.deepEqual((await client.searchMessages('"next week"')).results.map((hit) => hit.message.id), [ids[2]]);
    // Text FTS5 rejects is searched as its quoted tokens (issue "The first hour"): no error, no hit.
    assert.equal((await client.searchMessages('"unterminated')).count, 0);

    const all = await client.sync(0, { limit: 1000 });
    const sentIds = all.events.filter((e) => e.name === 'message.sent' && e.data.message_id).map((e) => e.data.message_id);
    assert.deepEqual(sentIds, ids);
    assert.equal(all.next_cursor, all.events[all.events.length - 1].cursor);
    assert.deepEqual((await client.sync(all.next_cursor)).events, []);

    const quiet = await client.waitForMessage({ timeout: 1, fromPhone: CAROL });
    assert.equal(quiet.timed_out, true);
    assert.equal(quiet.message, null);
    // Only messages logged after the wait starts count; the phone's message needs an HTTP
    // request, encryption and a WebSocket hop after the wait was issued.
    const waiting = client.waitForMessage({ timeout: 60, chat: CAROL });
    const posted = await sim.send(CAROL, ADA, 'ping');
    const result = await withDeadline(waiting, 'waitForMessage');
    assert.equal(result.timed_out, false);
    assert.equal(result.message.id, posted.message_id);
    assert.equal(result.message.body, 'ping');
    await assert.rejects(client.waitForMessage({ timeout: 0 }), (error) => error.code === 'invalid_request');
});

test('before linking: sending is refused, the history is empty, arguments are checked', async (t) => {
    const { client } = await setUp(t);
    await assert.rejects(client.sendMessage(CAROL, 'hello'), (error) => {
        assert.ok(error instanceof wause.WauseError);
        assert.equal(error.code, 'whatsapp_not_paired');
        return true;
    });
    await assert.rejects(client.sendMessage(CAROL, ''), (error) => error.code === 'invalid_request');
    await assert.rejects(client.markRead({}), (error) => error.code === 'invalid_request');
    await assert.rejects(client.messageStatus('3EB0000000000000000000'), (error) => error.code === 'not_found');
    await assert.rejects(client.listChats({ limit: 0 }), (error) => error.code === 'invalid_request');
    assert.throws(() => client.listChats(5), TypeError);
    assert.deepEqual(await client.listChats(), { ok: true, count: 0, chats: [], next_cursor: null });
    assert.deepEqual(await client.listMessages(),
        { ok: true, count: 0, messages: [], before_cursor: null, after_cursor: null });
});

test('the typed messaging results name exactly the catalogue fields', () => {
    // Kept in step with index.d.ts.
    // identity_changed: only on received messages (message.received, wait_for_message), optional.
    // media: the file's metadata on media messages (issue 13), null for text; optional.
    // edited, deleted, edit_history, reactions: what edits, revokes and reactions did (issue 14), optional.
    // labels: the phone's labels on the message (app state, issue 15), only when it has any.
    const message = ['id', 'chat_id', 'from', 'to', 'author', 'from_me', 'type', 'body', 'timestamp', 'has_media',
        'status', 'quoted_message_id', 'cursor', 'media', 'identity_changed', 'edited', 'deleted', 'edit_history', 'reactions',
        'labels'];
    const expected = {
        whatsapp_send_message: ['ok', 'to', 'chat_id', 'message_id', 'timestamp', 'status'],
        whatsapp_message_status: ['ok', 'message_id', 'chat_id', 'from_me', 'status', 'reason', 'timeline'],
        whatsapp_mark_read: ['ok', 'chat_id', 'count', 'message_ids'],
        // next_cursor: list_chats paging (issue 14).
        whatsapp_list_chats: ['ok', 'count', 'chats', 'next_cursor'],
        whatsapp_read_messages: ['ok', 'chat', 'count', 'messages'],
        whatsapp_list_messages: ['ok', 'count', 'messages', 'before_cursor', 'after_cursor'],
        whatsapp_search_messages: ['ok', 'count', 'results'],
        whatsapp_sync: ['ok', 'events', 'next_cursor', 'has_more'],
        whatsapp_wait_for_message: ['ok', 'timed_out', 'waited_seconds', 'message', 'cursor'],
    };
    const methods = new Map(wause.catalogue().methods.map((method) => [method.name, method]));
    for (const [name, fields] of Object.entries(expected)) {
        assert.deepEqual(Object.keys(methods.get(name).output_schema.properties).sort(), [...fields].sort(), name);
    }
    const read = methods.get('whatsapp_read_messages').output_schema.properties;
    assert.deepEqual(Object.keys(read.messages.items.properties).sort(), [...message].sort());
    assert.ok(!read.messages.items.required.includes('identity_changed'));
    assert.ok(!read.messages.items.required.includes('media'));
    assert.ok(!read.messages.items.required.includes('labels'));
});

'use strict';
// App state (issue 15) through the Node binding against wause-sim: the phone archives a chat (its
// app-state key reaches the client first), the client sees it in 'chat.updated' and listChats; the
// client's pinChat, muteChat, starMessage, markChatUnread, clearChat and deleteChat reach the phone
// (GET /accounts/{phone}/app-state). Waits follow events, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, waitFor } = require('./simulator');

const ADA = '15550001111';
const BOB = '15550002222';

test('chat settings travel both ways through app state', async (t) => {
    const teardown = [];
    t.after(async () => {
        while (teardown.length > 0) await teardown.pop()();
    });
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    teardown.push(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    await sim.createAccount(ADA, 'Ada');
    const bob = await sim.createAccount(BOB, 'Bob');
    const client = wause.open(sim.clientConfig(path.join(dir, 'client')));
    teardown.push(async () => client.close());

    const loggedIn = waitFor(client, 'account.connected', (data) => data.phase === 'login');
    const started = await client.startAuth();
    assert.equal((await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr })).status, 200);
    await loggedIn;

    // The phone archives Bob's chat: the key arrives, then the change.
    const archived = waitFor(client, 'chat.updated', (data) => data.action === 'archive');
    assert.equal((await sim.admin('POST', `/accounts/${ADA}/app-state`, { action: 'archive', chat: BOB })).status, 200);
    assert.equal((await archived).data.chat_id, bob.jid);
    const listed = (await client.listChats()).chats.find((chat) => chat.id === bob.jid);
    assert.equal(listed.archived, true);

    // Ours → the phone.
    assert.equal((await client.pinChat(BOB)).chat.pinned, true);
    const muted = await client.muteChat(BOB, 'always');
    assert.equal(muted.chat.muted, true);
    assert.equal(muted.chat.muted_until, -1);
    assert.equal((await client.markChatUnread(BOB)).action, 'mark_unread');
    const received = waitFor(client, 'message.received', (data) => data.message.body === 'star me');
    const posted = (await sim.admin('POST', `/accounts/${BOB}/send`, { to: ADA, text: 'star me' })).body;
    await received;
    assert.equal((await client.starMessage(posted.message_id)).collection, 'regular_high');
    let view = (await sim.admin('GET', `/accounts/${ADA}/app-state`)).body;
    const seen = view.chats.find((chat) => chat.chat === bob.jid);
    assert.equal(seen.pinned, true);
    assert.equal(seen.muted_until, -1);
    assert.equal(seen.marked_unread, true);
    assert.ok(view.starred.some((star) => star.message_id === posted.message_id));
    assert.equal((await client.clearChat(BOB)).action, 'clear_chat');
    assert.equal((await client.deleteChat(BOB)).action, 'delete_chat');
    view = (await sim.admin('GET', `/accounts/${ADA}/app-state`)).body;
    assert.equal(view.chats.find((chat) => chat.chat === bob.jid).deleted, true);
    assert.equal(view.unreadable_records, 0);
    await assert.rejects(client.muteChat(BOB, '2d'), (error) => error.code === 'invalid_request');
});

'use strict';
// Issue 11's "open, send, close" against a real wause-sim: a script that opens a linked client,
// sends at once and closes must not lose the message, and a close that cannot flush says what it
// left queued. Also waitReady(). The client is linked to ADA once, closed and reopened on the same
// data directory — what a script finds on its second run: linked, but still "starting".
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, withDeadline, DEADLINE_MS } = require('./simulator');

const ADA = '15550001111';
const CAROL = '15550003333';

async function linkedSetUp(t) {
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    t.after(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    await sim.createAccount(ADA, 'Ada');
    await sim.createAccount(CAROL, 'Carol');
    const config = sim.clientConfig(path.join(dir, 'client'));
    const client = wause.open(config);
    const loggedIn = new Promise((resolve) => client.on('account.connected', (event) => {
        if (event.data.phase === 'login') resolve();
    }));
    const started = await client.startAuth();
    const answer = await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await withDeadline(loggedIn, 'no login after the scan');
    await client.close();
    return { sim, config };
}

/** The phone's inbox entry of `messageId`. The sim has no event for its phones: re-read it. */
async function waitInInbox(sim, phone, messageId) {
    const deadline = Date.now() + DEADLINE_MS;
    while (Date.now() < deadline) {
        const entry = (await sim.inbox(phone)).messages.find((message) => message.id === messageId);
        if (entry) return entry;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${messageId} not in ${phone}'s inbox`);
}

/** The id of the message `text` once it is stored: nothing announces the enqueue, so re-read. */
async function waitUntilQueued(client, text) {
    const deadline = Date.now() + DEADLINE_MS;
    while (Date.now() < deadline) {
        const [chat] = (await client.listChats()).chats;
        if (chat && chat.last_message && chat.last_message.body === text) return chat.last_message.id;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`${text} was not queued`);
}

test('open, send at once, close: the phone receives the message', async (t) => {
    const { sim, config } = await linkedSetUp(t);
    const client = wause.open(config);
    // Still logging in: the send waits for the login and the server's ack.
    const sent = await client.sendMessage(CAROL, 'open, send, close');
    assert.ok(['sent', 'delivered'].includes(sent.status), sent.status);
    // The phone's receipt can overtake the server's ack ("delivered" before the ack): then close()
    // waited for the ack (flushed 1).
    const report = await client.close();
    assert.equal(report.left_queued, 0, JSON.stringify(report));
    const entry = await waitInInbox(sim, CAROL, sent.message_id);
    assert.equal(entry.text, 'open, send, close');
});

test('close flushes a send still in flight', async (t) => {
    const { sim, config } = await linkedSetUp(t);
    const client = wause.open(config);
    const answer = client.sendMessage(CAROL, 'flushed on close').catch((error) => error);
    const messageId = await waitUntilQueued(client, 'flushed on close');
    const report = await client.close();
    assert.equal(report.left_queued, 0, JSON.stringify(report));
    await answer;
    await waitInInbox(sim, CAROL, messageId);
});

test('close with the server gone reports what it left queued', async (t) => {
    const { sim, config } = await linkedSetUp(t);
    assert.equal((await sim.stop()).code, 0);
    const client = wause.open({ ...config, close_timeout_ms: 500 });
    const answer = client.sendMessage(CAROL, 'left queued').catch((error) => error);
    await waitUntilQueued(client, 'left queued');
    const started = Date.now();
    assert.deepEqual(await client.close(), { flushed: 0, left_queued: 1 });
    const took = Date.now() - started;
    assert.ok(took >= 400 && took < 5000, `close took ${took} ms`);
    // The send was still waiting for a login that never came: it ends with the client.
    assert.equal((await answer).code, 'invalid_request');
});

test('waitReady resolves once ready and rejects with timeout otherwise', async (t) => {
    const { config } = await linkedSetUp(t);
    const client = wause.open(config);
    const status = await client.waitReady(DEADLINE_MS);
    assert.equal(status.state, 'ready');
    await client.close();
    const unlinked = wause.open({ data_dir: path.join(tempDir(t), 'unlinked') });
    await assert.rejects(unlinked.waitReady(200), (error) => error.code === 'timeout' && error.details.state === 'stopped');
    await unlinked.close();
});

'use strict';
// Issue 16's delivery tools through the Node binding's generated methods, on a client linked to a
// real wause-sim: sendMessage({sendAt}), listScheduled, cancelScheduled, sendBulk
// (onlyKnownContacts, the same idempotencyKey twice), getBulkStatus, cancelBulk, retryMessage,
// deliverySummary. Waits follow the client's events, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, waitFor } = require('./simulator');

const ADA = '15550001111';
const BOB = '15550002222';
const CAROL = '15550003333';

test('scheduled and bulk sends through the generated methods', async (t) => {
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    t.after(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    await sim.createAccount(ADA, 'Ada');
    await sim.createAccount(BOB, 'Bob');
    await sim.createAccount(CAROL, 'Carol');
    const client = wause.open(sim.clientConfig(path.join(dir, 'client')));
    t.after(async () => client.close());
    const loggedIn = waitFor(client, 'account.connected', (data) => data.phase === 'login');
    const started = await client.startAuth();
    assert.equal((await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr })).status, 200);
    await loggedIn;
    const received = waitFor(client, 'message.received', (data) => data.message.body === 'bob writes first');
    await sim.send(BOB, ADA, 'bob writes first');
    await received;

    const nextMonth = new Date(Date.now() + 30 * 86400 * 1000).toISOString();
    const later = await client.sendMessage(CAROL, 'next month', { sendAt: nextMonth });
    assert.equal(later.status, 'scheduled');
    assert.deepEqual((await client.listScheduled()).scheduled.map((s) => s.message_id), [later.message_id]);
    assert.equal((await client.cancelScheduled(later.message_id)).status, 'cancelled');
    await assert.rejects(client.cancelScheduled(later.message_id), (error) => error.code === 'invalid_request');

    const items = [{ to: BOB, message: 'bulk to bob' }, { to: CAROL, message: 'bulk to carol' }];
    const job = await client.sendBulk(items, "node-job");
    assert.equal(job.accepted, 1);
    assert.equal(job.items[1].error.code, 'forbidden_recipient');
    assert.deepEqual(await client.sendBulk(items, "node-job"), job);
    await assert.rejects(client.sendBulk(items.slice(0, 1), "node-job"),
        (error) => error.code === 'idempotency_conflict');
    const bobId = job.items[0].message_id;
    const status = await client.getBulkStatus(job.job_id);
    assert.equal(status.total, 2);
    assert.equal(status.counts.refused, 1);
    await assert.rejects(client.getBulkStatus('bulk-none'), (error) => error.code === 'not_found');
    await assert.rejects(client.retryMessage(bobId), (error) => error.code === 'invalid_request');
    const summary = await client.deliverySummary();
    assert.equal(summary.counts.cancelled, 1);
    assert.ok((await client.cancelBulk(job.job_id)).cancelled <= 1);
});

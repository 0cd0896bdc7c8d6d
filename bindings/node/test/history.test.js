'use strict';
// requestHistory (issue 15) through the Node binding: ADA's phone (a real wause-sim's virtual
// phone) holds messages with CAROL older than the one-day window the client asked for at linking
// (history_sync_days); asked for them, it answers, and they are stored, listed and searchable.
// Nothing sleeps: waits follow the client's events, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, withDeadline } = require('./simulator');

const ADA = '15550001111';
const CAROL = '15550003333';

test('older messages come on demand', async (t) => {
    const teardown = [];
    t.after(async () => {
        while (teardown.length > 0) await teardown.pop()();
    });
    const dir = tempDir(t);
    const simDir = path.join(dir, 'sim');
    const sim = await Simulator.start(simDir);
    teardown.push(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    await sim.createAccount(ADA, 'Ada');
    await sim.createAccount(CAROL, 'Carol');
    const old = [0, 1, 2].map((i) => ({ from_me: i === 1, text: `from the archive ${i}`, timestamp: 1700000000 + i }));
    const seeded = await sim.admin('POST', `/accounts/${ADA}/history`, { chats: [{ with: CAROL, messages: old }] });
    assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
    assert.equal(seeded.body.messages, 3);

    const client = wause.open({ ...sim.clientConfig(path.join(dir, 'client')), history_sync_days: '1',
        media_ca_file: path.join(simDir, 'media-ca.pem') });
    teardown.push(async () => client.close());
    const connected = new Promise((resolve) => client.on('event', (event) => {
        if (event.name === 'account.connected' && event.data.phase === 'login') resolve(event);
    }));
    const started = await client.startAuth();
    const answer = await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await withDeadline(connected, 'never logged in');

    assert.equal((await client.listMessages({ to: CAROL })).count, 0, 'outside the window');
    const newest = await client.requestHistory(CAROL, { count: 2 });
    assert.equal(newest.ok, true);
    assert.deepEqual(newest.messages.map((m) => [m.body, m.from_me]), [['from the archive 1', true], ['from the archive 2', false]]);
    const rest = await client.requestHistory(CAROL, { beforeMessageId: newest.messages[0].id });
    assert.deepEqual(rest.messages.map((m) => m.body), ['from the archive 0']);
    assert.equal((await client.listMessages({ to: CAROL })).count, 3);
    assert.equal((await client.searchMessages('archive')).count, 3);
    await assert.rejects(client.requestHistory(CAROL, { count: 51 }), (error) => error.code === 'invalid_request');
});

'use strict';
// Many accounts behind one Node client (issue 16): config accounts_dir instead of data_dir opens
// one store per account under it; methods take `account`; events carry it. Two accounts linked
// by the real wause-sim's phones chat; one is deleted at run time. Every wait follows the event
// stream (withDeadline only against hangs).

const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, withDeadline } = require('./simulator');

const ADA = '15550001111';
const BOB = '15550002222';

test('two accounts in one client chat, then one is deleted', async (t) => {
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    t.after(async () => assert.equal((await sim.stop()).code, 0));
    await sim.createAccount(ADA, 'Ada');
    await sim.createAccount(BOB, 'Bob');
    const config = sim.clientConfig(path.join(dir, 'unused'));
    delete config.data_dir;
    config.accounts_dir = path.join(dir, 'accounts');
    const client = wause.open(config);
    const seen = [];
    const waiters = new Set();
    const listener = (event) => {
        seen.push(event);
        for (const waiter of waiters) if (waiter.matches(event)) { waiters.delete(waiter); waiter.resolve(event); }
    };
    client.on('event', listener);
    t.after(async () => { client.off('event', listener); await client.close(); });
    const wait = (account, name, where = () => true) => {
        const matches = (event) => event.account === account && event.name === name && where(event.data);
        const earlier = seen.find(matches);
        if (earlier) return Promise.resolve(earlier);
        return withDeadline(new Promise((resolve) => waiters.add({ matches, resolve })), `no ${name} for ${account}`);
    };

    for (const [name, phone] of [['ada', ADA], ['bob', BOB]]) {
        assert.equal((await client.call('whatsapp_add_account', { name })).account, name);
        const started = await client.call('whatsapp_start_auth', { account: name });
        const answer = await sim.admin('POST', `/accounts/${phone}/scan`, { qr: started.qr });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
    }
    await wait('ada', 'account.connected', (data) => data.phase === 'login');
    await wait('bob', 'account.connected', (data) => data.phase === 'login');
    await assert.rejects(client.call('whatsapp_status'), (error) => error.code === 'invalid_request');
    await assert.rejects(client.call('whatsapp_status', { account: 'zed' }), (error) => error.code === 'not_found');

    const sent = await client.call('whatsapp_send_message', { account: 'ada', phone_number: BOB, message: 'hello bob' });
    const got = await wait('bob', 'message.received', (data) => data.message.body === 'hello bob');
    assert.equal(got.data.message.id, sent.message_id);

    assert.equal((await client.call('whatsapp_delete_account', { account: 'bob', confirm: true })).deleted, true);
    assert.equal(fs.existsSync(path.join(dir, 'accounts', 'bob')), false);
    assert.equal((await client.call('whatsapp_status')).state, 'ready');
});

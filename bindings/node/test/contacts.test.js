'use strict';
// Contacts and presence through the Node binding's generated methods (issue 14), against a real wause-sim: who
// is on WhatsApp, a phone's profile, a local name that wins over the push name, a presence subscription and
// typing both ways. Waits follow the client's events, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, eventLog } = require('./simulator');

const ADA = '15550001111';
const BOB = '15550002222';

test('contacts and presence through the generated methods', async (t) => {
    const dir = tempDir(t);
    const sim = await Simulator.start(path.join(dir, 'sim'));
    t.after(async () => assert.equal((await sim.stop()).code, 0, 'wause-sim exits cleanly'));
    await sim.createAccount(ADA, 'Ada');
    const bob = await sim.createAccount(BOB, 'Bob');
    const client = wause.open({ ...sim.clientConfig(path.join(dir, 'client')), push_name: 'Ada' });
    const events = eventLog(client);
    t.after(async () => {
        events.close();
        await client.close();
    });
    const started = await client.startAuth();
    assert.equal((await sim.admin('POST', `/accounts/${ADA}/scan`, { qr: started.qr })).status, 200);
    await events.wait('account.connected', (data) => data.phase === 'login');

    const checked = await client.isOnWhatsapp([BOB, '15559990000']);
    assert.deepEqual(checked.results, [
        { phone: BOB, on_whatsapp: true, jid: `${BOB}@s.whatsapp.net`, lid: bob.lid },
        { phone: '15559990000', on_whatsapp: false },
    ]);
    await assert.rejects(client.isOnWhatsapp(['12']), (error) => error.code === 'invalid_request');

    const profile = await sim.admin('PUT', `/accounts/${BOB}/profile`, { about: 'Rowing', business: true });
    assert.equal(profile.status, 200, JSON.stringify(profile.body));
    const [user] = (await client.getUserInfo([BOB])).users;
    assert.equal(user.about, 'Rowing');
    assert.equal(user.business, true);
    assert.equal(user.picture_id, null);
    const picture = await client.getProfilePicture(BOB);
    assert.deepEqual(picture, { target: `${BOB}@s.whatsapp.net`, has_picture: false, reason: 'not_set' });

    const named = await client.setContactName(BOB, 'Cox');
    assert.equal(named.contact.name, 'Cox');
    assert.deepEqual((await client.searchContacts('cox')).contacts.map((c) => c.phone), [BOB]);

    assert.equal((await client.subscribePresence('Cox')).contact, `${BOB}@s.whatsapp.net`);
    await events.wait('presence.changed', (data) => data.contact === `${BOB}@s.whatsapp.net`);
    assert.equal((await sim.admin('PUT', `/accounts/${BOB}/presence`, { state: 'available' })).status, 200);
    await events.wait('presence.changed', (data) => data.state === 'available');
    assert.equal((await sim.admin('POST', `/accounts/${BOB}/typing`, { to: ADA, state: 'composing' })).status, 200);
    const typing = await events.wait('typing.started', (data) => data.from === `${BOB}@s.whatsapp.net`);
    assert.equal(typing.data.media, null);

    assert.deepEqual(await client.sendTyping(BOB, 'composing'), { ok: true, chat_id: `${BOB}@s.whatsapp.net`, state: 'composing' });
    assert.deepEqual(await client.setPresence('available'), { ok: true, state: 'available' });
    const synced = await client.syncContactNames({ force: true });
    assert.ok(synced.fetched >= 1, JSON.stringify(synced));
});

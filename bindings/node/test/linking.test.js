'use strict';
// Linking to the end through the Node binding, against a real wause-sim acting as the phone.
// QR: the QR string from startAuth() (and the 'pairing.qr' event) is posted to the sim's scan
// route; pairing code: the code from pairingCode() is posted to enter-code. Either way the test
// follows the client's events to 'account.connected' with phase "login", then reads status().
// Then: reopening on the same data_dir logs in without pairing; logout()/unlink() and the phone's
// own unlink end in "logged_out"; malformed phone numbers are refused before anything is dialled.
// Nothing sleeps: every wait follows the event stream, with a deadline only against hangs.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir } = require('./support');
const { Simulator, followEvents } = require('./simulator');

const PHONE = '15551234567';
const CODE_FORMAT = /^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$/;
const QR_PREFIX = 'https://wa.me/settings/linked_devices#';
const isLogin = (data) => data.phase === 'login';

/**
 * A simulator with the account PHONE and a client on it following its events. Teardown runs last
 * in, first out (clients close before the simulator stops, both before the directory goes).
 */
async function setUp(t) {
    const teardown = [];
    t.after(async () => {
        while (teardown.length > 0) await teardown.pop()();
    });
    const dir = tempDir(t); // after hooks run in order: the directory goes after the teardown
    const sim = await Simulator.start(path.join(dir, 'sim'));
    teardown.push(async () => {
        const { code } = await sim.stop();
        assert.equal(code, 0, 'wause-sim exits cleanly');
    });
    const account = await sim.createAccount(PHONE);
    const dataDir = path.join(dir, 'client');
    const open = (directory = dataDir) => {
        const client = wause.open(sim.clientConfig(directory));
        const events = followEvents(client);
        teardown.push(async () => {
            await events.close();
            await client.close();
        });
        return { client, events };
    };
    const { client, events } = open();
    return { sim, account, dataDir, client, events, open };
}

function assertReadyAs(status, account) {
    assert.equal(status.state, 'ready', JSON.stringify(status));
    assert.equal(status.ready, true);
    assert.equal(status.authenticated, true);
    assert.equal(status.has_qr, false);
    assert.equal(status.last_error, null);
    assert.equal(status.account.wid, account.jid);
    assert.equal(status.account.lid, account.lid);
}

async function linkByQr(sim, client, events) {
    const started = await client.startAuth();
    assert.ok(started.qr, JSON.stringify(started));
    const answer = await sim.admin('POST', `/accounts/${PHONE}/scan`, { qr: started.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await events.next('account.connected', isLogin);
}

async function linkByCode(sim, client, events) {
    const result = await client.pairingCode(PHONE);
    assert.match(result.code, CODE_FORMAT);
    const answer = await sim.admin('POST', `/accounts/${PHONE}/enter-code`, { code: result.code });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await events.next('account.connected', isLogin);
    return result;
}

test('QR linking reaches ready with the account JID and LID', async (t) => {
    const { sim, account, client, events } = await setUp(t);
    const started = await client.startAuth();
    assert.equal(started.state, 'qr');
    assert.equal(started.has_qr, true);
    assert.ok(started.qr.startsWith(QR_PREFIX), started.qr);
    assert.deepEqual([...Buffer.from(started.qr_png_base64, 'base64').subarray(0, 8)],
        [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.equal(started.pairing_code, null);

    const shown = await events.next('pairing.qr');
    assert.equal(shown.data.qr, started.qr);
    assert.equal(shown.data.index, 1);
    assert.equal(shown.data.count, 6);
    assert.ok(shown.data.expires_in > 0);
    assert.equal((await client.pairStatus()).qr, started.qr);

    const answer = await sim.admin('POST', `/accounts/${PHONE}/scan`, { qr: shown.data.qr });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const paired = await events.next('account.paired');
    assert.equal(paired.data.wid, account.jid);
    assert.equal(paired.data.lid, account.lid);
    const connected = await events.next('account.connected', isLogin);
    assert.equal(connected.data.wid, account.jid);
    assert.equal(connected.data.lid, account.lid);

    assertReadyAs(await client.status(), account);
    const after = await client.pairStatus();
    assert.equal(after.state, 'ready');
    assert.equal(after.qr, null);
    assert.equal(after.qr_png_base64, null);
    assert.equal(after.pairing_code, null);
    assert.equal((await sim.devices(PHONE)).length, 1);
});

test('pairing-code linking reaches ready', async (t) => {
    const { sim, account, client, events } = await setUp(t);
    const result = await client.pairingCode('+1 (555) 123-4567');
    assert.equal(result.already_authenticated, false);
    assert.equal(result.status, null);
    assert.equal(result.phone_number, PHONE);
    assert.match(result.code, CODE_FORMAT);
    assert.ok(result.instructions.includes(result.code), result.instructions);
    const issued = await events.next('pairing.code');
    assert.deepEqual(issued.data, { code: result.code, phone_number: PHONE });
    const waiting = await client.pairStatus();
    assert.equal(waiting.state, 'pairing_code');
    assert.equal(waiting.pairing_code, result.code);
    assert.equal(waiting.qr, null);

    const answer = await sim.admin('POST', `/accounts/${PHONE}/enter-code`, { code: result.code });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await events.next('account.connected', isLogin);
    assertReadyAs(await client.status(), account);

    const again = await client.pairingCode(PHONE);
    assert.equal(again.already_authenticated, true);
    assert.equal(again.code, null);
    assert.equal(again.status.state, 'ready');
});

test('a wrong code is refused by the phone and nothing is linked', async (t) => {
    const { sim, client } = await setUp(t);
    const { code } = await client.pairingCode(PHONE);
    const wrong = (code[0] !== '1' ? '1' : '2') + code.slice(1);
    const answer = await sim.admin('POST', `/accounts/${PHONE}/enter-code`, { code: wrong });
    assert.ok(answer.status >= 400 && answer.status < 500, JSON.stringify(answer));
    assert.ok(answer.body.code && answer.body.message, JSON.stringify(answer.body));
    assert.deepEqual(await sim.devices(PHONE), []);
    const status = await client.status();
    assert.equal(status.state, 'pairing_code');
    assert.equal(status.account, null);
});

test('reopening the client on the same data_dir logs in without pairing again', async (t) => {
    const { sim, account, client, events, open } = await setUp(t);
    await linkByQr(sim, client, events);
    await events.close();
    await client.close();

    const reopened = open();
    // A linked client dials by itself: no startAuth, no code.
    await reopened.events.next('account.connected', isLogin);
    assertReadyAs(await reopened.client.status(), account);
    assert.equal((await reopened.client.pairStatus()).qr, null);
    const log = await reopened.client.replay(0, 1000);
    assert.equal(log.events.filter((event) => event.name === 'account.paired').length, 1);
    assert.equal((await sim.devices(PHONE)).length, 1);
});

test('logout() unlinks on the phone, and linking again works', async (t) => {
    const { sim, account, client, events } = await setUp(t);
    await linkByCode(sim, client, events);
    assert.equal((await sim.devices(PHONE)).length, 1);

    assert.deepEqual(await client.logout(), { ok: true, was_linked: true, server_confirmed: true });
    const loggedOut = await events.next('account.logged_out');
    assert.equal(loggedOut.data.initiated_by, 'user');
    const status = await client.status();
    assert.equal(status.state, 'logged_out');
    assert.equal(status.account, null);
    assert.equal(status.authenticated, false);
    assert.deepEqual(await sim.devices(PHONE), []);

    assert.deepEqual(await client.logout(), { ok: true, was_linked: false, server_confirmed: false });
    await linkByCode(sim, client, events);
    assertReadyAs(await client.status(), account);
    assert.equal((await sim.devices(PHONE)).length, 1);
});

test('unlink({ clearData: true }) unlinks and deletes the history', async (t) => {
    const { sim, client, events } = await setUp(t);
    await linkByQr(sim, client, events);
    assert.ok((await client.replay(0, 1000)).events.some((event) => event.name === 'pairing.qr'));

    assert.deepEqual(await client.unlink({ clearData: true }),
        { ok: true, was_linked: true, server_confirmed: true, cleared_data: true });
    const loggedOut = await events.next('account.logged_out');
    assert.equal(loggedOut.data.initiated_by, 'user');
    assert.equal((await client.status()).state, 'logged_out');
    assert.deepEqual(await sim.devices(PHONE), []);
    const names = (await client.replay(0, 1000)).events.map((event) => event.name);
    assert.ok(!names.some((name) => name.startsWith('pairing.')), names.join(' '));
    assert.ok(names.includes('account.logged_out'));

    assert.deepEqual(await client.unlink(),
        { ok: true, was_linked: false, server_confirmed: false, cleared_data: false });
});

test('the phone unlinking the connected device logs it out (initiated_by "server")', async (t) => {
    const { sim, client, events } = await setUp(t);
    await linkByQr(sim, client, events);
    const [{ device }] = await sim.devices(PHONE);

    const removed = await sim.admin('DELETE', `/accounts/${PHONE}/devices/${device}`);
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    const loggedOut = await events.next('account.logged_out');
    assert.equal(loggedOut.data.initiated_by, 'server');
    assert.ok(loggedOut.data.reason);
    const status = await client.status();
    assert.equal(status.state, 'logged_out');
    assert.equal(status.account, null);
    assert.ok(status.last_error);
    assert.deepEqual(await sim.admin('GET', '/connections'), { status: 200, body: [] });
});

test('malformed phone numbers reject with invalid_request without dialling', async (t) => {
    const { sim, client } = await setUp(t);
    for (const phone of ['', '12345', '+0 555 123 4567', '555-CALL-NOW', '1234567890123456',
        '+1 (555) 123-4567 x2', '++15551234567', 15551234567, null]) {
        await assert.rejects(client.pairingCode(phone), (error) => {
            assert.ok(error instanceof wause.WauseError, String(error));
            assert.equal(error.code, 'invalid_request', `${JSON.stringify(phone)}: ${error.message}`);
            return true;
        });
    }
    assert.equal((await client.status()).state, 'stopped');
    assert.deepEqual(await sim.admin('GET', '/connections'), { status: 200, body: [] });
});

test('logout() and unlink() before linking change nothing', async (t) => {
    const { client } = await setUp(t);
    assert.deepEqual(await client.logout(), { ok: true, was_linked: false, server_confirmed: false });
    assert.deepEqual(await client.unlink(),
        { ok: true, was_linked: false, server_confirmed: false, cleared_data: false });
    await assert.rejects(client.unlink({ clearData: 'yes' }), (error) => error.code === 'invalid_request');
    const status = await client.pairStatus();
    assert.equal(status.qr, null);
    assert.equal(status.qr_png_base64, null);
    assert.equal(status.pairing_code, null);
    assert.equal(status.account, null);
});

test('the typed results name exactly the catalogue fields', () => {
    // Kept in step with index.d.ts (PairStatusResult, PairingCodeResult, LogoutResult, UnlinkResult).
    const status = ['state', 'ready', 'authenticated', 'has_qr', 'last_error', 'account', 'data_dir', 'store'];
    const expected = {
        whatsapp_start_auth: [...status, 'qr', 'qr_png_base64', 'pairing_code'],
        whatsapp_pair_status: [...status, 'qr', 'qr_png_base64', 'pairing_code'],
        whatsapp_pairing_code: ['already_authenticated', 'phone_number', 'code', 'instructions', 'status'],
        whatsapp_logout: ['ok', 'was_linked', 'server_confirmed'],
        whatsapp_unlink: ['ok', 'was_linked', 'server_confirmed', 'cleared_data'],
    };
    const methods = new Map(wause.catalogue().methods.map((method) => [method.name, method]));
    for (const [name, fields] of Object.entries(expected)) {
        const schema = methods.get(name).output_schema;
        assert.deepEqual(Object.keys(schema.properties).sort(), [...fields].sort(), name);
    }
});

'use strict';
// Library metadata and the whatsapp_status contract (DESIGN.md "The seven-tool contract").
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, tempDir, openClient } = require('./support');

test('version() is the library version string', () => {
    assert.equal(typeof wause.version(), 'string');
    assert.match(wause.version(), /^\d+\.\d+\.\d+/);
    assert.equal(wause.version(), require('../package.json').version);
});

test('catalogue() lists whatsapp_status with schemas and annotations', () => {
    const { methods } = wause.catalogue();
    assert.ok(Array.isArray(methods));
    const status = methods.find((method) => method.name === 'whatsapp_status');
    assert.ok(status, 'whatsapp_status is in the catalogue');
    assert.equal(typeof status.description, 'string');
    assert.equal(status.input_schema.type, 'object');
    assert.equal(status.output_schema.type, 'object');
    assert.deepEqual(status.annotations, { read_only: true, destructive: false, idempotent: true, open_world: false });
});

test('status() of a new store has the exact contract shape and JSON types', async (t) => {
    const dataDir = tempDir(t);
    const client = wause.open({ data_dir: dataDir });
    t.after(() => client.close());
    const status = await client.status();

    assert.deepEqual(Object.keys(status).sort(),
        ['account', 'authenticated', 'data_dir', 'has_qr', 'last_error', 'ready', 'state', 'store']);
    assert.equal(status.state, 'stopped');
    assert.ok(wause.CONNECTION_STATES.includes(status.state));
    assert.equal(status.ready, false);
    assert.equal(status.authenticated, false);
    assert.equal(status.has_qr, false);
    assert.equal(status.last_error, null);
    assert.equal(status.account, null);
    assert.equal(status.data_dir, dataDir);
    assert.ok(path.isAbsolute(status.data_dir));
    assert.deepEqual(status.store, { chats: 0, messages: 0, unread: 0, pending_approvals: 0 });
    for (const count of Object.values(status.store)) assert.ok(Number.isInteger(count));
});

test('a relative data_dir is reported as an absolute path', async (t) => {
    const dataDir = tempDir(t);
    const client = wause.open({ data_dir: path.relative(process.cwd(), dataDir) });
    t.after(() => client.close());
    const status = await client.status();
    assert.ok(path.isAbsolute(status.data_dir), status.data_dir);
    // The library joins the working directory without normalising ("/cwd/../../tmp/x"), so
    // compare the resolved paths.
    assert.equal(path.resolve(status.data_dir), dataDir);
});

test('callSync and call agree; status takes an explicit empty or null params object', async (t) => {
    const client = openClient(t);
    const asynchronous = await client.call('whatsapp_status', {});
    assert.deepEqual(client.callSync('whatsapp_status'), asynchronous);
    assert.deepEqual(client.callSync('whatsapp_status', null), asynchronous);
    assert.deepEqual(await client.call('whatsapp_status', null), asynchronous);
});

test('open() accepts every documented config key', async (t) => {
    const client = openClient(t, {
        log_level: 'error',
        server_url: 'ws://127.0.0.1:9/ws/chat',
        server_root_key: '00'.repeat(32),
        client_version: '2.3000.1045649367',
        push_name: 'wause node test',
    });
    assert.equal((await client.status()).state, 'stopped');
});

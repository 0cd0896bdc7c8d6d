'use strict';
// Malformed input of every kind must come back as an error, never as a crash.
const test = require('node:test');
const assert = require('node:assert/strict');

const { wause, ADDON_PATH, tempDir, openClient } = require('./support');

const native = require(ADDON_PATH);
const { WauseError } = wause;

function isInvalidRequest(error) {
    assert.ok(error instanceof WauseError, `expected a WauseError, got ${error && error.stack}`);
    assert.equal(error.code, 'invalid_request');
    assert.equal(typeof error.message, 'string');
    assert.ok(error.message.length > 0);
    assert.ok('details' in error);
    return true;
}

/** What the addon itself throws for an engine error: an Error with .code and .details. */
function isNativeInvalidRequest(error) {
    assert.ok(error instanceof Error);
    assert.ok(!(error instanceof TypeError), `expected a coded Error, got ${error.stack}`);
    assert.equal(error.code, 'invalid_request');
    assert.ok('details' in error);
    return true;
}

test('an unknown method rejects with invalid_request naming the method', async (t) => {
    const client = openClient(t);
    await assert.rejects(client.call('whatsapp_no_such_method'), (error) => {
        isInvalidRequest(error);
        assert.deepEqual(error.details, { method: 'whatsapp_no_such_method' });
        return true;
    });
    assert.throws(() => client.callSync('whatsapp_no_such_method'), isInvalidRequest);
});

test('params the method does not take are invalid_request (status takes none)', async (t) => {
    const client = openClient(t);
    await assert.rejects(client.call('whatsapp_status', { x: 1 }), isInvalidRequest);
    assert.throws(() => client.callSync('whatsapp_status', { x: 1 }), isInvalidRequest);
});

test('params that are not an object are invalid_request', async (t) => {
    const client = openClient(t);
    for (const params of [[], [1], 5, 'text', true]) {
        await assert.rejects(client.call('whatsapp_status', params), isInvalidRequest, JSON.stringify(params));
    }
    assert.throws(() => native.call(clientHandleFor(t), 'whatsapp_status', '{not json'), isNativeInvalidRequest);
});

test('params that cannot be serialised are a TypeError', async (t) => {
    const client = openClient(t);
    await assert.rejects(client.call('whatsapp_status', { big: 1n }), TypeError);
    await assert.rejects(client.call('whatsapp_status', () => {}), TypeError);
    const cycle = {};
    cycle.self = cycle;
    await assert.rejects(client.call('whatsapp_status', cycle), TypeError);
});

test('a bad config is invalid_request with the offending key in details', (t) => {
    const dataDir = tempDir(t);
    const cases = [
        [{}, 'data_dir'],
        [{ data_dir: dataDir, no_such_key: 1 }, 'no_such_key'],
        [{ data_dir: 42 }, 'data_dir'],
        [{ data_dir: dataDir, log_level: 'loud' }, 'log_level'],
        [{ data_dir: dataDir, push_name: 7 }, 'push_name'],
        [{ data_dir: dataDir, server_url: 'http://example.invalid' }, 'server_url'],
    ];
    for (const [config, key] of cases) {
        assert.throws(() => wause.open(config), (error) => {
            isInvalidRequest(error);
            assert.equal(error.details && error.details.key, key, JSON.stringify(config));
            return true;
        });
    }
});

test('config that is not a JS object is a TypeError', () => {
    for (const config of [undefined, null, 'data_dir', 42, []]) {
        assert.throws(() => wause.open(config), TypeError, String(config));
    }
});

test('config text that is not JSON, or not an object, is invalid_request at the native level', () => {
    for (const text of ['{not json', '', '[]', '"text"', 'null']) {
        assert.throws(() => native.createClient(text, () => {}), isNativeInvalidRequest, JSON.stringify(text));
    }
});

test('the same data directory cannot be opened twice', async (t) => {
    const dataDir = tempDir(t);
    const first = wause.open({ data_dir: dataDir });
    t.after(() => first.close());
    assert.throws(() => wause.open({ data_dir: dataDir }), (error) => {
        isInvalidRequest(error);
        assert.deepEqual(error.details, { data_dir: dataDir });
        return true;
    });
    // The failed open must not have disturbed the first client, and closing frees the directory.
    assert.equal((await first.status()).state, 'stopped');
    await first.close();
    const second = wause.open({ data_dir: dataDir });
    assert.equal((await second.status()).state, 'stopped');
    await second.close();
});

/** A native handle on a fresh directory, destroyed when the test ends. */
function clientHandleFor(t) {
    const handle = native.createClient(JSON.stringify({ data_dir: tempDir(t) }), () => {});
    t.after(() => native.destroy(handle));
    return handle;
}

test('wrong JS argument types to the native functions throw TypeError', (t) => {
    const handle = clientHandleFor(t);
    const notHandles = [undefined, null, 1, 'handle', {}, [], () => {}];
    for (const notHandle of notHandles) {
        assert.throws(() => native.call(notHandle, 'whatsapp_status', null), TypeError);
        assert.throws(() => native.send(notHandle, 1, 'whatsapp_status', null), TypeError);
        assert.throws(() => native.replay(notHandle, 0, 10), TypeError);
        assert.throws(() => native.setKeepAlive(notHandle, true), TypeError);
        assert.throws(() => native.destroy(notHandle), TypeError);
    }
    assert.throws(() => native.createClient(), TypeError);
    assert.throws(() => native.createClient(42, () => {}), TypeError);
    assert.throws(() => native.createClient('{}', 'not a function'), TypeError);
    assert.throws(() => native.createClient('{}'), TypeError);
    assert.throws(() => native.call(handle), TypeError);
    assert.throws(() => native.call(handle, 42, null), TypeError);
    assert.throws(() => native.call(handle, 'whatsapp_status', 42), TypeError);
    assert.throws(() => native.call(handle, 'whatsapp_status', {}), TypeError);
    assert.throws(() => native.send(handle, '1', 'whatsapp_status', null), TypeError);
    assert.throws(() => native.send(handle, 1n, 'whatsapp_status', null), TypeError);
    assert.throws(() => native.send(handle, 1, null, null), TypeError);
    assert.throws(() => native.send(handle, 1, 'whatsapp_status', []), TypeError);
    assert.throws(() => native.replay(handle, '0', 10), TypeError);
    assert.throws(() => native.replay(handle, 0), TypeError);
    assert.throws(() => native.setKeepAlive(handle, 1), TypeError);
    // The handle survived all of that.
    assert.equal(JSON.parse(native.call(handle, 'whatsapp_status', null)).state, 'stopped');
});

test('numbers that are not exact integers, and strings holding NUL, are invalid_request', (t) => {
    const handle = clientHandleFor(t);
    assert.throws(() => native.replay(handle, 0, 1.5), isNativeInvalidRequest);
    assert.throws(() => native.replay(handle, Number.NaN, 10), isNativeInvalidRequest);
    assert.throws(() => native.replay(handle, 0, 2 ** 40), isNativeInvalidRequest);
    assert.throws(() => native.send(handle, 2 ** 60, 'whatsapp_status', null), isNativeInvalidRequest);
    assert.throws(() => native.call(handle, 'whatsapp_status\u0000ignored', null), isNativeInvalidRequest);
    assert.throws(() => native.createClient('{"data_dir": "/tmp/x\u0000y"}', () => {}), isNativeInvalidRequest);
});

test('wrong JS types through the Client API are TypeErrors too', async (t) => {
    const client = openClient(t);
    await assert.rejects(client.call(42), TypeError);
    await assert.rejects(client.call(), TypeError);
    assert.throws(() => client.callSync({}), TypeError);
    await assert.rejects(client.replay('0', 10), TypeError);
    await assert.rejects(client.replay(0, '10'), TypeError);
});

test('a closed handle is invalid_request at the native level, and destroy is idempotent', async (t) => {
    const handle = native.createClient(JSON.stringify({ data_dir: tempDir(t) }), () => {});
    await native.destroy(handle);
    assert.throws(() => native.call(handle, 'whatsapp_status', null), isNativeInvalidRequest);
    assert.throws(() => native.send(handle, 1, 'whatsapp_status', null), isNativeInvalidRequest);
    assert.throws(() => native.replay(handle, 0, 10), isNativeInvalidRequest);
    native.setKeepAlive(handle, true); // no effect once closed: it must not pin the loop
    await native.destroy(handle);
});

test('a closed client rejects every call with invalid_request', async (t) => {
    const client = openClient(t);
    await client.close();
    assert.equal(client.closed, true);
    await assert.rejects(client.call('whatsapp_status'), isInvalidRequest);
    await assert.rejects(client.status(), isInvalidRequest);
    await assert.rejects(client.replay(), isInvalidRequest);
    assert.throws(() => client.callSync('whatsapp_status'), isInvalidRequest);
});

test('WauseError carries code, message and details', () => {
    const error = new WauseError('not_found', 'no such chat', { chat: 'x' });
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'WauseError');
    assert.equal(error.code, 'not_found');
    assert.equal(error.message, 'no such chat');
    assert.deepEqual(error.details, { chat: 'x' });
    assert.equal(new WauseError('internal', 'x').details, null);
    assert.ok(wause.ERROR_CODES.includes('invalid_request'));
    assert.equal(wause.ERROR_CODES.length, 20);
    assert.deepEqual(wause.ERROR_CODES.slice(14), ['not_on_whatsapp', 'idempotency_conflict', 'forbidden_recipient',
        'reach_out_restricted', 'stale_device_session', 'not_a_participant']);
});

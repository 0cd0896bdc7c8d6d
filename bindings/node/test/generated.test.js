'use strict';
// The generated parts of the binding (scripts/gen-bindings.py, lib/generated.js) agree with the
// library they run on: one method per catalogue method, the error codes, the version.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');

const { wause } = require('./support');

const catalogue = wause.catalogue();
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, letter) => letter.toUpperCase());

test('ERROR_CODES is the catalogue error table, in WAUSE_ERR_* order', () => {
    assert.deepEqual([...wause.ERROR_CODES], catalogue.errors.map((error) => error.code));
    catalogue.errors.forEach((error, index) => assert.equal(error.value, index + 1));
});

test('the version is the library version and the repository VERSION', () => {
    const version = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'VERSION'), 'utf8').trim();
    assert.equal(wause.version(), version);
    assert.equal(require('../package.json').version, version);
});

test('every catalogue method is a Client method taking its required positional arguments', () => {
    for (const method of catalogue.methods) {
        const name = camel(method.name.replace(/^whatsapp_/, ''));
        const fn = wause.Client.prototype[name];
        assert.equal(typeof fn, 'function', name);
        const required = new Set(method.input_schema.required ?? []);
        const lastRequired = Math.max(-1, ...method.positional.map((arg, i) => (required.has(arg) ? i : -1)));
        const parameters = lastRequired + 1;
        const hasOptions = Object.keys(method.input_schema.properties)
            .filter((arg) => !method.bindings_omit.includes(arg)).length > parameters;
        assert.equal(fn.length, parameters + (hasOptions ? 1 : 0), name);
    }
});

test('the generated methods send camelCase options as the catalogue arguments', async () => {
    const sent = [];
    const fake = Object.create(wause.Client.prototype);
    fake.call = (method, params) => { sent.push([method, params]); return Promise.resolve({}); };
    await fake.sendMessage('+1 555', 'hi', { quotedMessageId: 'Q', idempotencyKey: 'K' });
    await fake.waitForMessage({ fromPhone: '1', afterCursor: 3 });
    await fake.status();
    assert.deepEqual(sent, [
        ['whatsapp_send_message', { to: '+1 555', message: 'hi', quoted_message_id: 'Q', idempotency_key: 'K', send_at: undefined }],
        ['whatsapp_wait_for_message', { timeout: undefined, chat: undefined, from_phone: '1', after_cursor: 3 }],
        ['whatsapp_status', undefined],
    ]);
    assert.throws(() => fake.listChats(5), TypeError);
});

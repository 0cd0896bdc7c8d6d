'use strict';
// Many calls in flight at once: each promise must settle with its own answer.
const test = require('node:test');
const assert = require('node:assert/strict');

const { wause, tempDir, openClient } = require('./support');

test('concurrent calls on one client each resolve or reject with their own answer', async (t) => {
    const client = openClient(t);
    const expected = await client.status();
    const calls = [];
    for (let index = 0; index < 60; index += 1) {
        switch (index % 3) {
        case 0:
            calls.push(client.status().then((status) => assert.deepEqual(status, expected)));
            break;
        case 1: {
            // The unknown name comes back in details, so a swapped answer would show.
            const method = `whatsapp_unknown_${index}`;
            calls.push(assert.rejects(client.call(method), (error) => {
                assert.equal(error.code, 'invalid_request');
                assert.deepEqual(error.details, { method });
                return true;
            }));
            break;
        }
        default:
            calls.push(assert.rejects(client.call('whatsapp_status', { index }), { code: 'invalid_request' }));
        }
    }
    await Promise.all(calls);
});

test('concurrent calls on several clients get answers from their own store', async (t) => {
    const clients = [0, 1, 2, 3].map(() => {
        const dataDir = tempDir(t);
        const client = wause.open({ data_dir: dataDir });
        t.after(() => client.close());
        return { client, dataDir };
    });
    const rounds = [];
    for (let round = 0; round < 10; round += 1) {
        for (const { client, dataDir } of clients) {
            rounds.push(client.status().then((status) => assert.equal(status.data_dir, dataDir)));
        }
    }
    await Promise.all(rounds);
    await Promise.all(clients.map(({ client }) => client.close()));
});

test('calls made in the same tick as close() settle: answered, or rejected as closed', async (t) => {
    const client = openClient(t);
    const inFlight = [client.status(), client.status(), client.call('whatsapp_unknown')];
    const closed = client.close();
    const outcomes = await Promise.allSettled(inFlight);
    await closed;
    for (const outcome of outcomes) {
        if (outcome.status === 'fulfilled') {
            assert.equal(outcome.value.state, 'stopped');
        } else {
            assert.ok(outcome.reason instanceof wause.WauseError, String(outcome.reason));
            assert.equal(outcome.reason.code, 'invalid_request');
        }
    }
});

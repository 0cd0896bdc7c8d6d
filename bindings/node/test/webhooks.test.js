'use strict';
// Issue 16's signed webhooks through the Node binding's generated methods, against a local
// receiver (node:http on 127.0.0.1): a signed webhook.test checked with node:crypto's HMAC (the
// README's verifier), a 410 failing at once, the secret never listed, update/delete, the URL rule
// and not_found. Waits resolve on the receiver's requests, or poll a state under a deadline.
const test = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const http = require('node:http');

const { wause, openClient } = require('./support');

const DEADLINE_MS = 60000;

function verify(secret, headers, body) {
    const signed = Buffer.concat([Buffer.from(`${headers['wause-webhook-timestamp']}.`), body]);
    const expected = 'v1=' + crypto.createHmac('sha256', secret).update(signed).digest('hex');
    const given = String(headers['wause-webhook-signature'] || '');
    return given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

/** A receiver answering `answers` in turn (then 200); `next()` resolves with the next POST. */
async function receiver(t) {
    const answers = [];
    const posts = [];
    const waiting = [];
    const server = http.createServer((request, response) => {
        const pieces = [];
        request.on('data', (piece) => pieces.push(piece));
        request.on('end', () => {
            response.writeHead(answers.length ? answers.shift() : 200, { 'Content-Length': '0' });
            response.end();
            const post = { headers: request.headers, body: Buffer.concat(pieces) };
            if (waiting.length) waiting.shift()(post); else posts.push(post);
        });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => server.close());
    return {
        url: `http://127.0.0.1:${server.address().port}/hook`,
        answers,
        next: () => posts.length ? Promise.resolve(posts.shift()) : new Promise((resolve) => waiting.push(resolve)),
    };
}

async function settled(client, webhook, deliveryId) {
    const deadline = Date.now() + DEADLINE_MS;
    while (Date.now() < deadline) {
        const found = (await client.listWebhookDeliveries({ webhook })).deliveries.find((d) => d.delivery_id === deliveryId);
        if (found && found.status !== 'pending') return found;
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`delivery ${deliveryId} still pending`);
}

test('webhook tools sign, deliver, fail a 410 at once, and never list the secret', async (t) => {
    const client = openClient(t);
    const endpoint = await receiver(t);
    const { webhook, secret } = await client.addWebhook(endpoint.url, { events: ['message.'] });
    assert.match(secret, /^whsec_[0-9a-f]{64}$/);
    assert.deepEqual(webhook.filter, ['message.']);
    const listed = await client.listWebhooks();
    assert.deepEqual(listed.webhooks.map((w) => w.id), [webhook.id]);
    assert.ok(!JSON.stringify(listed).includes(secret));

    const { delivery } = await client.testWebhook(webhook.id);
    const post = await endpoint.next();
    assert.equal(post.headers['wause-webhook-id'], delivery.id);
    assert.ok(verify(secret, post.headers, post.body));
    assert.ok(!verify(secret + 'x', post.headers, post.body));
    assert.equal(JSON.parse(post.body).name, 'webhook.test');
    assert.equal((await settled(client, webhook.id, delivery.delivery_id)).status, 'delivered');

    endpoint.answers.push(410);
    const gone = (await client.testWebhook(webhook.id)).delivery;
    await endpoint.next();
    const failed = await settled(client, webhook.id, gone.delivery_id);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.last_http_status, 410);
    assert.equal(failed.attempts, 1);

    assert.equal((await client.updateWebhook(webhook.id, { enabled: false })).webhook.enabled, false);
    assert.deepEqual(await client.deleteWebhook(webhook.id), { deleted: true, webhook: webhook.id });
    await assert.rejects(client.deleteWebhook(webhook.id), (error) => error instanceof wause.WauseError && error.code === 'not_found');
});

test('a webhook to a non-loopback http:// URL is invalid_request and stores nothing', async (t) => {
    const client = openClient(t);
    await assert.rejects(client.addWebhook('http://example.com/hook'), (error) => error.code === 'invalid_request');
    await assert.rejects(client.addWebhook('https://example.com/hook', { events: ['nope'] }), (error) => error.code === 'invalid_request');
    assert.deepEqual((await client.listWebhooks()).webhooks, []);
});

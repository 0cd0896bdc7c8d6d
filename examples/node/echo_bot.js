#!/usr/bin/env node
'use strict';
/*
 * echo_bot.js — link by pairing code, answer every incoming text message with its own text, stop
 * cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   sh bindings/node/build.sh      # once: the addon (finds its libwause.so by itself)
 *   node examples/node/echo_bot.js --phone +15551234567 [--data-dir DIR]
 *        [--server-url URL --server-root-key HEX]
 *
 * Every option can come from the environment instead, as in wause-mcp: --data-dir →
 * WAUSE_DATA_DIR, --server-url → WAUSE_SERVER_URL, --server-root-key → WAUSE_SERVER_ROOT_KEY,
 * --phone → WAUSE_PHONE (only needed until the device is linked). The library reads the WAUSE_*
 * configuration keys the command line leaves out. `make echo-bot-node` runs it against wause-sim.
 *
 * Prints `pairing code: XXXX-XXXX`, then `ready` once logged in, then `echoed <id> as <id>` per
 * answer. Exits 0 when stopped by a signal, 1 on an error.
 */
const { parseArgs } = require('node:util');

const wause = require('../../bindings/node');

function configFrom(values) {
    // Only what the command line sets: the library fills the rest from WAUSE_* variables.
    const config = {};
    if (values['data-dir'] || !process.env.WAUSE_DATA_DIR) config.data_dir = values['data-dir'] || 'echo-bot-data';
    if (values['server-url']) config.server_url = values['server-url'];
    if (values['server-root-key']) config.server_root_key = values['server-root-key'];
    return config;
}

/** Resolves with the first event named `name` that `test` accepts. */
function nextEvent(client, name, test = () => true) {
    return new Promise((resolve) => {
        const listener = (event) => {
            if (!test(event)) return;
            client.off(name, listener);
            resolve(event);
        };
        client.on(name, listener);
    });
}

async function main() {
    const { values } = parseArgs({
        options: {
            phone: { type: 'string', default: process.env.WAUSE_PHONE },
            'data-dir': { type: 'string' },
            'server-url': { type: 'string' },
            'server-root-key': { type: 'string' },
        },
    });
    const client = wause.open(configFrom(values));
    let stopping = null;
    const stop = () => {
        stopping ??= client.close();
        return stopping;
    };
    const stopped = new Promise((resolve) => {
        for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => resolve());
    });

    // Subscribe before linking, so no event between the code and the login is missed.
    const loggedIn = nextEvent(client, 'account.connected', (event) => event.data.phase === 'login');
    const failed = nextEvent(client, 'pairing.failed');
    const status = await client.status();
    if (!status.authenticated) {
        if (!values.phone) {
            console.error('not linked yet: pass --phone (or set WAUSE_PHONE) to link by pairing code');
            await stop();
            return 1;
        }
        console.log(`pairing code: ${(await client.pairingCode(values.phone)).code}`);
    }
    if (status.state !== 'ready') {
        const outcome = await Promise.race([loggedIn.then(() => 'ready'), failed.then(() => 'failed'),
            stopped.then(() => 'stopped')]);
        if (outcome !== 'ready') {
            if (outcome === 'failed') console.error('pairing failed');
            await stop();
            return outcome === 'failed' ? 1 : 0;
        }
    }
    console.log('ready');

    client.on('message.received', ({ data }) => {
        const { message } = data;
        if (!message.body || stopping) return;
        // Reply into the chat it came from; others' text is data, echoed verbatim, never interpreted.
        client.sendMessage(message.chat_id, message.body).then(
            (sent) => console.log(`echoed ${message.id} as ${sent.message_id}`),
            (error) => { if (!stopping) console.error(`cannot echo ${message.id}: ${error.message}`); });
    });
    await stopped;
    await stop();
    return 0;
}

main().then((code) => { process.exitCode = code; }, (error) => {
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
});

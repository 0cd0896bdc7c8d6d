#!/usr/bin/env node
'use strict';
/*
 * status.js — open a wause client, print the library version and the connection status, print
 * every event that arrives for a few seconds, then close and exit.
 *
 * Run it from the repository root, after building the Node addon once:
 *
 *   sh bindings/node/build.sh
 *   node examples/node/status.js                    # throwaway store in a temp dir, 2 seconds
 *   node examples/node/status.js ~/.wause 10        # your store, listen for 10 seconds
 *
 * Arguments: [DATA_DIR] [SECONDS]. Opening a store never dials WhatsApp: the engine only connects
 * when it is already linked, or when you ask it to link (whatsapp_start_auth).
 */
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const wause = require('../../bindings/node');

async function main() {
    const [dataDirArgument, secondsArgument = '2'] = process.argv.slice(2);
    const seconds = Number(secondsArgument);
    if (!Number.isFinite(seconds) || seconds < 0) {
        console.error(`usage: node status.js [DATA_DIR] [SECONDS]   (got SECONDS=${secondsArgument})`);
        return 2;
    }
    // Without a data dir, use a throwaway store so trying the example leaves nothing behind.
    const temporaryDir = dataDirArgument ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'wause-example-'));
    const dataDir = dataDirArgument || temporaryDir;

    console.log(`wause ${wause.version()}`);
    const client = wause.open({ data_dir: dataDir });
    try {
        console.log(JSON.stringify(await client.status(), null, 2));

        client.on('event', (event) => {
            console.log(`${event.ts} #${event.cursor} ${event.name} ${JSON.stringify(event.data)}`);
        });
        console.log(`listening for events for ${seconds} s (Ctrl-C stops early)`);
        await new Promise((resolve) => {
            const stop = () => {
                clearTimeout(timer);
                process.off('SIGINT', stop);
                resolve();
            };
            const timer = setTimeout(stop, seconds * 1000);
            process.on('SIGINT', stop);
        });
    } finally {
        await client.close();
        if (temporaryDir) fs.rmSync(temporaryDir, { recursive: true, force: true });
    }
    return 0;
}

main().then(
    (exitCode) => { process.exitCode = exitCode; },
    (error) => {
        // WauseError carries a stable code (and details) next to the message.
        console.error(error.code ? `error ${error.code}: ${error.message}` : error);
        process.exitCode = 1;
    },
);

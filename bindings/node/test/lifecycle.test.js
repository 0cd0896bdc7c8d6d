'use strict';
// close(), and when an open client does or does not keep the process alive. Each scenario runs
// in a child node process and is judged by how (and whether) that process exits.
const test = require('node:test');
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');

const { wause, PACKAGE_DIR, ADDON_PATH, tempDir, openClient, runNode } = require('./support');

/** Runs `body` (async JS, with `wause` and `dataDir` in scope) in a child node process. */
function runScript(body, dataDir, options) {
    const script = `
        const wause = require(${JSON.stringify(PACKAGE_DIR)});
        const dataDir = process.argv[1];
        (async () => { ${body} })().catch((error) => { console.error(error); process.exit(70); });
    `;
    return runNode(['-e', script, dataDir], options);
}

function assertCleanExit(result) {
    assert.equal(result.timedOut, false, `the child did not exit by itself; stderr: ${result.stderr}`);
    assert.equal(result.signal, null, result.stderr);
    assert.equal(result.code, 0, result.stderr);
}

test('close() resolves, is idempotent and emits close once', async (t) => {
    const client = openClient(t);
    let closeEvents = 0;
    client.on('close', () => { closeEvents += 1; });
    await client.status();
    const first = client.close();
    assert.equal(client.close(), first, 'a second close() returns the same promise');
    assert.equal(client.closed, true);
    assert.deepEqual(await first, { flushed: 0, left_queued: 0 }, 'an unlinked client has nothing to flush');
    assert.equal(closeEvents, 1);
    await client.close();
    assert.equal(closeEvents, 1);
});

test('a script that opens a client, calls status and closes exits by itself', async (t) => {
    const started = Date.now();
    const result = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        const status = await client.status();
        await client.close();
        console.log(status.state);
    `, tempDir(t));
    assertCleanExit(result);
    assert.equal(result.stdout.trim(), 'stopped');
    assert.ok(Date.now() - started < 10000, `took ${Date.now() - started} ms`);
});

test('a client left open with no listeners and no calls in flight does not hold the process', async (t) => {
    const result = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        console.log((await client.status()).state);
    `, tempDir(t));
    assertCleanExit(result);
    assert.equal(result.stdout.trim(), 'stopped');
});

test('an unref()d client with listeners does not hold the process', async (t) => {
    const result = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        client.on('event', () => {}).on('message.received', () => {}).unref();
        console.log((await client.status()).state);
    `, tempDir(t));
    assertCleanExit(result);
});

test('an open client with an event listener keeps the process alive until close()', async (t) => {
    // Held: nothing else is pending, so only the listener can keep this child running.
    const held = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        client.on('pairing.qr', () => {});
        console.log('listening');
    `, tempDir(t), { killAfterMs: 1500 });
    assert.equal(held.stdout.trim(), 'listening', held.stderr);
    assert.equal(held.timedOut, true, 'the child should still be listening when the kill timer fires');

    // Released: removing the listener lets it exit.
    const released = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        const listener = () => {};
        client.on('event', listener);
        await client.status();
        client.off('event', listener);
    `, tempDir(t));
    assertCleanExit(released);

    // Closed: close() lets it exit even with listeners attached.
    const closed = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        client.on('event', () => {});
        await client.status();
        await client.close();
    `, tempDir(t));
    assertCleanExit(closed);
});

test('process.exit() with an open, listening client exits cleanly', async (t) => {
    const result = await runScript(`
        const client = wause.open({ data_dir: dataDir });
        client.on('event', () => {});
        client.status();
        setImmediate(() => process.exit(0));
    `, tempDir(t));
    assertCleanExit(result);
});

test('a native handle dropped without destroy() is closed by the garbage collector', async (t) => {
    const script = `
        const native = require(${JSON.stringify(ADDON_PATH)});
        const config = JSON.stringify({ data_dir: process.argv[1] });
        native.createClient(config, () => {}); // handle dropped at once
        (async () => {
            for (let attempt = 0; attempt < 100; attempt += 1) {
                globalThis.gc();
                await new Promise((resolve) => setTimeout(resolve, 20));
                try {
                    await native.destroy(native.createClient(config, () => {}));
                    console.log('reopened');
                    return;
                } catch (error) {
                    if (error.code !== 'invalid_request') throw error;
                }
            }
            console.log('still locked');
        })();
    `;
    const result = await runNode(['--expose-gc', '-e', script, tempDir(t)]);
    assertCleanExit(result);
    assert.equal(result.stdout.trim(), 'reopened');
});

test('terminating a worker thread closes the clients it left open', async (t) => {
    const dataDir = tempDir(t);
    const worker = new Worker(`
        const { parentPort, workerData } = require('node:worker_threads');
        const wause = require(workerData.packageDir);
        const client = wause.open({ data_dir: workerData.dataDir });
        client.on('event', () => {});
        client.status().then((status) => parentPort.postMessage(status.state));
    `, { eval: true, workerData: { packageDir: PACKAGE_DIR, dataDir } });
    const state = await new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
    });
    assert.equal(state, 'stopped');
    await worker.terminate();
    // The worker's environment teardown destroyed its client, so the directory is free again.
    const client = wause.open({ data_dir: dataDir });
    assert.equal((await client.status()).state, 'stopped');
    await client.close();
});

test('a worker that is the only user of the addon can exit (the library is never unloaded)', async (t) => {
    // Run in a fresh process: in this one the main thread has loaded the addon already, which
    // would keep it mapped regardless.
    const script = `
        const { Worker } = require('node:worker_threads');
        const workerSource = \`
            const { parentPort, workerData } = require('node:worker_threads');
            const wause = require(workerData.packageDir);
            const client = wause.open({ data_dir: workerData.dataDir });
            client.on('event', () => {});
            client.status().then((status) => parentPort.postMessage(status.state));
        \`;
        (async () => {
            for (let round = 0; round < 3; round += 1) {
                const worker = new Worker(workerSource, {
                    eval: true, workerData: { packageDir: ${JSON.stringify(PACKAGE_DIR)}, dataDir: process.argv[1] },
                });
                const state = await new Promise((resolve, reject) => {
                    worker.once('message', resolve);
                    worker.once('error', reject);
                });
                await worker.terminate();
                if (state !== 'stopped') throw new Error('unexpected state ' + state);
            }
            console.log('workers done');
        })().catch((error) => { console.error(error); process.exit(70); });
    `;
    const result = await runNode(['-e', script, tempDir(t)]);
    assertCleanExit(result);
    assert.equal(result.stdout.trim(), 'workers done');
});

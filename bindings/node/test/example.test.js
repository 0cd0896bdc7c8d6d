'use strict';
// examples/node/status.js must run as documented and exit by itself.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');

const { wause, PACKAGE_DIR, tempDir, runNode } = require('./support');

const EXAMPLE = path.resolve(PACKAGE_DIR, '..', '..', 'examples', 'node', 'status.js');

test('examples/node/status.js prints the version and status, then exits 0', async (t) => {
    const dataDir = tempDir(t);
    const result = await runNode([EXAMPLE, dataDir, '0.2']);
    assert.equal(result.timedOut, false, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`^wause ${wause.version().replace(/\./g, '\\.')}$`, 'm'));
    assert.match(result.stdout, /"state": "stopped"/);
    assert.ok(result.stdout.includes(JSON.stringify(dataDir)), result.stdout);
});

test('examples/node/status.js with a bad duration exits 2 with usage', async () => {
    const result = await runNode([EXAMPLE, '', 'soon']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /usage/);
});

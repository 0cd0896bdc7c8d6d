'use strict';
// The addon and libwause.so must not need the Swift toolchain at run time (the Swift runtime is
// linked statically into the library). Hide the toolchain's directory behind an empty tmpfs in a
// private mount namespace and use the binding there.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const { PACKAGE_DIR, tempDir, runCommand, commandExists } = require('./support');

// The toolchain's root, found at run time: $WAUSE_TOOLCHAIN if set, else three levels above the
// real path of `swift` on PATH (ROOT/usr/bin/swift), as the Makefile's TOOLCHAIN. Null if none.
function swiftToolchainDir() {
    if (process.env.WAUSE_TOOLCHAIN) return process.env.WAUSE_TOOLCHAIN;
    let swift;
    try {
        swift = execFileSync('sh', ['-c', 'command -v swift'], { encoding: 'utf8' }).trim();
    } catch {
        return null;
    }
    if (!swift) return null;
    return path.dirname(path.dirname(path.dirname(fs.realpathSync(swift))));
}

const SWIFT_DIR = swiftToolchainDir();

test('the addon loads and works with the Swift toolchain hidden', async (t) => {
    if (!commandExists('unshare')) {
        t.skip('unshare(1) is not installed, so the toolchain cannot be hidden');
        return;
    }
    if (!SWIFT_DIR || !fs.existsSync(SWIFT_DIR)) {
        t.skip(`no Swift toolchain directory (${SWIFT_DIR}): there is no toolchain to hide`);
        return;
    }
    if (['/', '/usr', '/usr/local'].includes(SWIFT_DIR)) {
        t.skip(`the toolchain is installed into ${SWIFT_DIR}, which cannot be hidden alone`);
        return;
    }
    const probe = await runCommand('unshare', ['-m', 'sh', '-c', `mount -t tmpfs none ${SWIFT_DIR}`]);
    if (probe.code !== 0) {
        t.skip(`unshare -m / mount was refused (needs root or CAP_SYS_ADMIN): ${probe.stderr.trim()}`);
        return;
    }

    const script = `
        const fs = require('node:fs');
        if (fs.readdirSync(${JSON.stringify(SWIFT_DIR)}).length !== 0) throw new Error('toolchain still visible');
        const wause = require(${JSON.stringify(PACKAGE_DIR)});
        (async () => {
            const client = wause.open({ data_dir: process.argv[1] });
            const status = await client.status();
            await client.close();
            console.log(wause.version() + ' ' + status.state);
        })().catch((error) => { console.error(error); process.exit(70); });
    `;
    // PATH keeps the toolchain's usr/bin, which is now empty: nothing there can be found either.
    const shellCommand = `mount -t tmpfs none ${SWIFT_DIR} && exec "$0" -e "$1" "$2"`;
    const result = await runCommand('unshare', ['-m', 'sh', '-c', shellCommand, process.execPath, script, tempDir(t)]);
    assert.equal(result.timedOut, false, result.stderr);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `${require('..').version()} stopped`);
});

'use strict';
// Shared helpers for the tests in this directory (node --test also loads this file; it has no
// tests of its own).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const wause = require('..');

const PACKAGE_DIR = path.resolve(__dirname, '..');
const ADDON_PATH = path.join(PACKAGE_DIR, 'build', 'wause.node');

/** A fresh directory, removed when the test ends. */
function tempDir(t) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wause-node-test-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    return dir;
}

/** A client on a fresh data directory, closed when the test ends. */
function openClient(t, extraConfig = {}) {
    const client = wause.open({ data_dir: tempDir(t), ...extraConfig });
    t.after(() => client.close());
    return client;
}

/**
 * Runs `node <args>` and resolves when the child exits, with its exit code and output. The kill
 * timer is only a safety net so a hung child cannot hang the suite; `timedOut` says it fired.
 */
function runNode(args, { killAfterMs = 20000, cwd = PACKAGE_DIR } = {}) {
    return runCommand(process.execPath, args, { killAfterMs, cwd });
}

function runCommand(command, args, { killAfterMs = 20000, cwd = PACKAGE_DIR } = {}) {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (chunk) => { stdout += chunk; });
        child.stderr.on('data', (chunk) => { stderr += chunk; });
        let timedOut = false;
        const killer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
        }, killAfterMs);
        child.on('error', (error) => {
            clearTimeout(killer);
            reject(error);
        });
        child.on('close', (code, signal) => {
            clearTimeout(killer);
            resolve({ code, signal, stdout, stderr, timedOut });
        });
    });
}

function commandExists(name) {
    return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs SQL statements against an SQLite file: with the sqlite3 CLI when installed, else with
 * python3's sqlite3 module. Throws with the tool's stderr on failure.
 */
function runSql(databasePath, sql) {
    let result;
    if (commandExists('sqlite3')) {
        result = spawnSync('sqlite3', [databasePath], { input: sql, encoding: 'utf8' });
    } else {
        const script = 'import sqlite3, sys\n' +
            'connection = sqlite3.connect(sys.argv[1])\n' +
            'connection.executescript(sys.stdin.read())\n' +
            'connection.commit()\n' +
            'connection.close()\n';
        result = spawnSync('python3', ['-c', script, databasePath], { input: sql, encoding: 'utf8' });
    }
    if (result.error) throw result.error;
    if (result.status !== 0) throw new Error(`SQL failed (${result.status}): ${result.stderr}`);
    return result.stdout;
}

/** SQL string literal. */
function sqlText(text) {
    return `'${String(text).replace(/'/g, "''")}'`;
}

module.exports = { wause, PACKAGE_DIR, ADDON_PATH, tempDir, openClient, runNode, runCommand, commandExists, runSql, sqlText };

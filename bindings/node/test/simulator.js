'use strict';
// A real wause-sim for the linking tests, and a way to follow a client's events in order. Node's
// built-in modules only. node --test also loads this file; it has no tests of its own.
//
// The binary is $WAUSE_SIM (default the debug build in the repository). Every wait here has the
// deadline DEADLINE_MS ($WAUSE_TEST_DEADLINE seconds, default 60), only against hangs.
const { spawn } = require('node:child_process');
const { on } = require('node:events');
const http = require('node:http');
const path = require('node:path');
const readline = require('node:readline');

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
const SIM = process.env.WAUSE_SIM || path.join(REPO_ROOT, '.build', 'debug', 'wause-sim');
const DEADLINE_MS = Number(process.env.WAUSE_TEST_DEADLINE || '60') * 1000;

/** Rejects with `message` if `promise` has not settled within DEADLINE_MS. */
function withDeadline(promise, message) {
    let timer;
    const deadline = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${message} (no answer within ${DEADLINE_MS} ms)`)), DEADLINE_MS);
    });
    return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** One admin API request to the sim at `adminUrl`; resolves with { status, body } (4xx/5xx included). */
function adminRequest(adminUrl, method, route, body) {
    const url = new URL(route, adminUrl);
    const payload = body === undefined ? null : Buffer.from(JSON.stringify(body));
    const request = new Promise((resolve, reject) => {
        const req = http.request(url, {
            method,
            headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
        }, (res) => {
            const chunks = [];
            res.on('data', (chunk) => chunks.push(chunk));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString('utf8');
                try {
                    resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null });
                } catch (error) {
                    reject(new Error(`admin ${method} ${route}: not JSON (${res.statusCode}): ${text.slice(0, 200)}`));
                }
            });
            res.on('error', reject);
        });
        req.on('error', reject);
        req.end(payload ?? undefined);
    });
    return withDeadline(request, `admin ${method} ${route}`);
}

class Simulator {
    /** Use Simulator.start(). */
    constructor(child, facts, dataDir) {
        this.child = child;
        this.dataDir = dataDir;
        this.facts = facts; // root_public_key, ws_url, admin_url
        this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    }

    /** Starts `wause-sim --port 0 --admin-port 0 --data-dir dataDir` and reads its three lines. */
    static async start(dataDir) {
        const child = spawn(SIM, ['--port', '0', '--admin-port', '0', '--data-dir', dataDir],
            { stdio: ['ignore', 'pipe', 'ignore'] });
        const failed = new Promise((_, reject) => {
            child.once('error', reject);
            child.once('exit', (code) => reject(new Error(`wause-sim exited (${code}) before printing its lines`)));
        });
        const lines = readline.createInterface({ input: child.stdout });
        const readFacts = (async () => {
            const facts = {};
            for await (const line of lines) {
                const at = line.indexOf('=');
                facts[line.slice(0, at)] = line.slice(at + 1);
                if ('root_public_key' in facts && 'ws_url' in facts && 'admin_url' in facts) return facts;
            }
            throw new Error('wause-sim closed its output before printing its lines');
        })();
        try {
            const facts = await withDeadline(Promise.race([readFacts, failed]), 'wause-sim did not start');
            failed.catch(() => {}); // its later exit is awaited through `exited`
            lines.close();
            child.stdout.resume(); // keep draining, so the child never blocks on a full pipe
            return new Simulator(child, facts, dataDir);
        } catch (error) {
            child.kill('SIGKILL');
            throw error;
        }
    }

    /** Client configuration that dials this simulator only, trusting its media host (app-state snapshots travel as media). */
    clientConfig(dataDir) {
        return {
            data_dir: dataDir, server_url: this.facts.ws_url, server_root_key: this.facts.root_public_key,
            media_ca_file: path.join(this.dataDir, 'media-ca.pem'),
        };
    }

    /** One admin API request; resolves with { status, body } (4xx/5xx included, not thrown). */
    admin(method, route, body) {
        return adminRequest(this.facts.admin_url, method, route, body);
    }

    async createAccount(phone, pushName = 'Ada') {
        const { status, body } = await this.admin('POST', '/accounts', { phone, push_name: pushName });
        if (status !== 200 && status !== 201) throw new Error(`POST /accounts: ${status} ${JSON.stringify(body)}`);
        return body;
    }

    async devices(phone) {
        const { status, body } = await this.admin('GET', `/accounts/${phone}/devices`);
        if (status !== 200) throw new Error(`GET devices: ${status} ${JSON.stringify(body)}`);
        return body;
    }

    /** The virtual phone `phone` sends an E2E text to `to` (phone, JID or LID); resolves with {ok, message_id, timestamp, to, from}. */
    async send(phone, to, text) {
        const { status, body } = await this.admin('POST', `/accounts/${phone}/send`, { to, text });
        if (status !== 200) throw new Error(`POST send: ${status} ${JSON.stringify(body)}`);
        return body;
    }

    /** What the virtual phone received, decrypted: { messages, next_cursor }. */
    async inbox(phone, after = 0) {
        const { status, body } = await this.admin('GET', `/accounts/${phone}/inbox?after=${after}`);
        if (status !== 200) throw new Error(`GET inbox: ${status} ${JSON.stringify(body)}`);
        return body;
    }

    /** Turns the phone's auto-reply on (a text) or off (null). */
    async autoReply(phone, text) {
        const { status, body } = await this.admin('PUT', `/accounts/${phone}/auto-reply`, { text });
        if (status !== 200) throw new Error(`PUT auto-reply: ${status} ${JSON.stringify(body)}`);
        return body;
    }

    /** SIGTERM, then resolves with the exit { code, signal }. */
    async stop() {
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
        return withDeadline(this.exited, 'wause-sim did not stop');
    }
}

/**
 * Follows every event `client` emits from now on, in order (node:events `on()` buffers them until
 * read). next(name, where) resolves with the next event called `name` whose data satisfies
 * `where`, skipping others. close() stops listening.
 */
function followEvents(client) {
    const iterator = on(client, 'event');
    return {
        async next(name, where = () => true) {
            const search = (async () => {
                for (;;) {
                    const { value, done } = await iterator.next();
                    if (done) throw new Error(`the event stream ended before ${name}`);
                    const [event] = value;
                    if (event.name === name && where(event.data)) return event;
                }
            })();
            return withDeadline(search, `no ${name} event`);
        },
        close() {
            return iterator.return();
        },
    };
}

/** Remembers every event of `client`; wait(name, where) resolves with the first match, seen or coming. */
function eventLog(client) {
    const seen = [];
    const waiters = new Set();
    const listener = (event) => {
        seen.push(event);
        for (const waiter of waiters) {
            if (waiter.matches(event)) {
                waiters.delete(waiter);
                waiter.resolve(event);
            }
        }
    };
    client.on('event', listener);
    return {
        seen,
        wait(name, where = () => true) {
            const matches = (event) => event.name === name && where(event.data);
            const earlier = seen.find(matches);
            if (earlier) return Promise.resolve(earlier);
            const found = new Promise((resolve) => waiters.add({ matches, resolve }));
            return withDeadline(found, `no ${name} event`);
        },
        status(messageId, status) {
            return this.wait('message.status', (data) => data.message_id === messageId && data.status === status);
        },
        received(body) {
            return this.wait('message.received', (data) => data.message.body === body);
        },
        close() {
            client.off('event', listener);
        },
    };
}


/** Resolves with the next event of `client` named `name` whose data passes `where` (from now on only). */
function waitFor(client, name, where) {
    return withDeadline(new Promise((resolve) => {
        const listener = (event) => {
            if (event.name === name && where(event.data)) {
                client.off('event', listener);
                resolve(event);
            }
        };
        client.on('event', listener);
    }), `no ${name} event`);
}


module.exports = { Simulator, adminRequest, eventLog, followEvents, waitFor, withDeadline, SIM, DEADLINE_MS };

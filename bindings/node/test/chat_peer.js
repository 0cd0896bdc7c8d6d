'use strict';
// A chat peer on the Node binding, driven by another process (bindings/python/tests/
// test_chat_python_node.py) over pipes, one JSON object per line. node --test also loads this
// file; without its argument it does nothing.
//
//   node chat_peer.js '{"config": {data_dir, server_url, server_root_key}, "phone": "15550002222"}'
//
// It links the client to `phone` by pairing code (the driver has the sim's phone enter it), then
// answers every message it receives with "echo: <text>", sent back to the sender's phone number.
//
// stdout:  {"type": "code", "code": "XXXX-XXXX"}    the code to enter on the phone
//          {"type": "ready", "status": {...}}        logged in
//          {"type": "event", "event": {...}}         every event the client emits, in order
//          {"type": "replied", "to", "result"}       sendMessage's result for a reply
//          {"type": "history", "chat", "chats"}      answer to the history command
//          {"type": "error", "message"}              something failed; the peer exits 1
// stdin:   {"cmd": "history", "phone": "..."}        readMessages(phone) and listChats()
//          {"cmd": "quit"} (or end of input)         close the client and exit 0
const readline = require('node:readline');

const wause = require('..');

function say(object) {
    process.stdout.write(`${JSON.stringify(object)}\n`);
}

async function main(argument) {
    const { config, phone } = JSON.parse(argument);
    const client = wause.open(config);
    let failed = false;
    const fail = (error) => {
        failed = true;
        say({ type: 'error', message: String(error && error.stack ? error.stack : error) });
    };

    client.on('event', (event) => say({ type: 'event', event }));
    const loggedIn = new Promise((resolve) => {
        const onConnected = (event) => {
            if (event.data.phase !== 'login') return;
            client.off('account.connected', onConnected);
            resolve();
        };
        client.on('account.connected', onConnected);
    });
    client.on('message.received', (event) => {
        const { message, sender_phone: sender } = event.data;
        const text = `echo: ${message.body}`;
        client.sendMessage(sender, text)
            .then((result) => say({ type: 'replied', to: sender, in_reply_to: message.id, text, result }))
            .catch(fail);
    });

    const { code } = await client.pairingCode(phone);
    say({ type: 'code', code });
    await loggedIn;
    say({ type: 'ready', status: await client.status() });

    const input = readline.createInterface({ input: process.stdin });
    for await (const line of input) {
        if (!line.trim()) continue;
        const command = JSON.parse(line);
        if (command.cmd === 'quit') break;
        if (command.cmd === 'history') {
            try {
                const chat = await client.readMessages(command.phone, { limit: 100 });
                const chats = await client.listChats();
                say({ type: 'history', chat, chats });
            } catch (error) {
                fail(error);
            }
        }
    }
    input.close();
    await client.close();
    return failed ? 1 : 0;
}

if (require.main === module && process.argv[2] !== undefined) {
    main(process.argv[2]).then((code) => {
        process.exitCode = code;
    }, (error) => {
        say({ type: 'error', message: String(error && error.stack ? error.stack : error) });
        process.exitCode = 1;
    });
}

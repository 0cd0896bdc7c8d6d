#!/usr/bin/env python3
"""An echo bot: link by pairing code, answer every incoming text message with its own text, stop
cleanly on Ctrl-C (SIGINT) or SIGTERM.

    python3 examples/python/echo_bot.py --phone +15551234567 [--data-dir DIR]
        [--server-url URL --server-root-key HEX]

Every option can come from the environment instead, as in wause-mcp: --data-dir → WAUSE_DATA_DIR,
--server-url → WAUSE_SERVER_URL, --server-root-key → WAUSE_SERVER_ROOT_KEY, --phone → WAUSE_PHONE
(the phone whose account to link; only needed until the device is linked). The library itself
reads the WAUSE_* configuration keys the command line leaves out. Without --server-url the bot
talks to WhatsApp; `make echo-bot-python` runs it against wause-sim instead.

Prints `pairing code: XXXX-XXXX` (type it on the phone: Linked devices → Link with phone number
instead), then `ready` once logged in, then one `echoed <message id>` line per answer. Exits 0
when stopped by a signal, 1 on an error.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Dict

try:
    import wause
except ImportError:  # running from a checkout without installing the binding
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import wause

# How long one wait for events lasts before the stop flag is looked at again. Signal handlers only
# set the flag: closing the client from inside a handler could re-enter a call in progress.
POLL_SECONDS = 0.25


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Echo every incoming WhatsApp text message.")
    parser.add_argument("--phone", default=os.environ.get("WAUSE_PHONE"),
                        help="phone number of the account to link to (default $WAUSE_PHONE)")
    parser.add_argument("--data-dir", help="store directory (default $WAUSE_DATA_DIR, else ./echo-bot-data)")
    parser.add_argument("--server-url", help="WebSocket URL (default $WAUSE_SERVER_URL, else WhatsApp)")
    parser.add_argument("--server-root-key", help="server certificate root key, hex (default $WAUSE_SERVER_ROOT_KEY)")
    return parser.parse_args()


def config_from(arguments: argparse.Namespace) -> Dict[str, Any]:
    # Only what the command line sets: the library fills the rest from WAUSE_* variables.
    config: Dict[str, Any] = {}
    if arguments.data_dir or not os.environ.get("WAUSE_DATA_DIR"):
        config["data_dir"] = arguments.data_dir or "echo-bot-data"
    if arguments.server_url:
        config["server_url"] = arguments.server_url
    if arguments.server_root_key:
        config["server_root_key"] = arguments.server_root_key
    return config


def run(arguments: argparse.Namespace, stop: threading.Event) -> int:
    with wause.Client(config_from(arguments)) as client:
        if not client.status()["authenticated"]:
            if not arguments.phone:
                print("not linked yet: pass --phone (or set WAUSE_PHONE) to link by pairing code", file=sys.stderr)
                return 1
            code = client.pairing_code(arguments.phone)["code"]
            print(f"pairing code: {code}", flush=True)
        # A linked device logs in by itself; a fresh one once the code has been entered.
        while not stop.is_set() and client.status()["state"] != "ready":
            for event in client.events(timeout=POLL_SECONDS):
                if event["name"] == "account.connected" and event["data"].get("phase") == "login":
                    break
                if event["name"] == "pairing.failed":
                    print(f"pairing failed: {event['data']}", file=sys.stderr)
                    return 1
        if stop.is_set():
            return 0
        print("ready", flush=True)
        while not stop.is_set():
            for event in client.events(timeout=POLL_SECONDS):
                if event["name"] != "message.received":
                    continue  # message.sent (our own other devices), receipts, connection changes
                message = event["data"]["message"]
                if not message.get("body"):
                    continue
                # Reply into the chat it came from (a phone number or a LID chat); the text of
                # others is data, echoed verbatim, never interpreted.
                sent = client.send_message(message["chat_id"], message["body"])
                print(f"echoed {message['id']} as {sent['message_id']}", flush=True)
    return 0


def main() -> int:
    arguments = parse_arguments()
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    try:
        return run(arguments, stop)
    except (wause.Error, wause.LibraryNotFound) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

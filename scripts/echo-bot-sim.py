#!/usr/bin/env python3
"""Runs one of the echo bots of examples/ against a local wause-sim, as in README "Echo bots":

    python3 scripts/echo-bot-sim.py c|python|node      (make echo-bot-c / -python / -node)

Starts wause-sim (state in a temporary directory), creates two virtual phones — the bot's account
(+1 555 000 2222) and yours (+1 555 000 1111) — starts the bot with its configuration in WAUSE_*
variables, enters the pairing code it prints on the bot's phone (the admin API's `enter-code`),
then sends every line you type from your phone to the bot and prints what comes back. Ctrl-C (or
end of input) sends the bot SIGINT, waits for its clean exit and stops the simulator.

Binaries: this checkout's .build/debug (wause-sim, libwause.so), build/c/echo_bot, the Node addon
in bindings/node/build — `make echo-bot-*` builds them first — or those named by WAUSE_SIM,
WAUSE_LIBRARY and WAUSE_ECHO_BOT_C. Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIM = os.environ.get("WAUSE_SIM", str(REPO / ".build" / "debug" / "wause-sim"))
LIBRARY = os.environ.get("WAUSE_LIBRARY", str(REPO / ".build" / "debug" / "libwause.so"))
BOTS = {
    "c": [os.environ.get("WAUSE_ECHO_BOT_C", str(REPO / "build" / "c" / "echo_bot"))],
    "python": [sys.executable, str(REPO / "examples" / "python" / "echo_bot.py")],
    "node": ["node", str(REPO / "examples" / "node" / "echo_bot.js")],
}
BOT_PHONE, YOUR_PHONE = "15550002222", "15550001111"
DEADLINE = 30.0  # seconds for each step, against hangs


def admin(base: str, method: str, path: str, body=None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=DEADLINE) as response:
        return json.loads(response.read())


def read_until(stream, pattern: str, what: str) -> re.Match:
    for line in iter(stream.readline, ""):
        print(f"  [{what}] {line.rstrip()}", flush=True)
        match = re.match(pattern, line)
        if match:
            return match
    raise SystemExit(f"{what} exited before printing {pattern!r}")


def echoes(base: str, stopping: threading.Event) -> None:
    """Prints the bot's answers as they reach your phone's inbox. The inbox has no push, so it is
    polled, five times a second, until the demo stops."""
    seen = set()
    while not stopping.wait(0.2):
        try:
            messages = admin(base, "GET", f"/accounts/{YOUR_PHONE}/inbox")["messages"]
        except OSError:
            continue  # the simulator is going away with the demo
        for message in messages:
            if message["id"] not in seen and message["from_phone"] == BOT_PHONE:
                seen.add(message["id"])
                print(f"bot → you: {message['text']}", flush=True)


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in BOTS:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="wause-echo-") as temporary:
        sim = subprocess.Popen([SIM, "--port", "0", "--admin-port", "0", "--data-dir", f"{temporary}/sim"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        facts = dict(sim.stdout.readline().strip().split("=", 1) for _ in range(3))
        base = facts["admin_url"]
        admin(base, "POST", "/accounts", {"phone": BOT_PHONE, "push_name": "Echo Bot"})
        admin(base, "POST", "/accounts", {"phone": YOUR_PHONE, "push_name": "You"})
        env = dict(os.environ, WAUSE_DATA_DIR=f"{temporary}/bot", WAUSE_SERVER_URL=facts["ws_url"],
                   WAUSE_SERVER_ROOT_KEY=facts["root_public_key"], WAUSE_LIBRARY=LIBRARY, WAUSE_PHONE=BOT_PHONE)
        # The bot gets its own process group, so the Ctrl-C typed here reaches it only through us.
        bot = subprocess.Popen(BOTS[sys.argv[1]], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True)
        code = 1
        stopping = threading.Event()
        try:
            pairing = read_until(bot.stdout, r"pairing code: (\S+)", "bot")
            linked = admin(base, "POST", f"/accounts/{BOT_PHONE}/enter-code", {"code": pairing.group(1)})
            print(f"entered the code on the bot's phone: linked as {linked['jid']}", flush=True)
            read_until(bot.stdout, r"ready", "bot")
            threading.Thread(target=lambda: [print(f"  [bot] {line.rstrip()}", flush=True) for line in bot.stdout],
                             daemon=True).start()
            threading.Thread(target=echoes, args=(base, stopping), daemon=True).start()
            print(f"type a message to send it from +{YOUR_PHONE} to the bot (Ctrl-C or Ctrl-D to stop)", flush=True)
            for line in sys.stdin:
                admin(base, "POST", f"/accounts/{YOUR_PHONE}/send", {"to": BOT_PHONE, "text": line.rstrip("\n")})
        except KeyboardInterrupt:
            pass
        finally:
            stopping.set()
            bot.send_signal(signal.SIGINT)
            code = bot.wait(timeout=DEADLINE)
            print(f"the bot exited with code {code}", flush=True)
            sim.terminate()
            sim.wait(timeout=DEADLINE)
        return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

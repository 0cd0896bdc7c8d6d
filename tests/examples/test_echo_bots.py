"""The echo bots of examples/ (C, Python, Node) against a real wause-sim on 127.0.0.1.

Each bot is started as a user would, configured through WAUSE_* variables (so this also covers the
library reading them): it prints its pairing code, the test enters it as the phone would
(`enter-code`), a virtual phone sends a text, the echo must arrive in that phone's inbox, and
SIGINT must end the bot with exit code 0. Nothing sleeps: the test blocks on the bot's output
lines and polls the inbox under a deadline.

Binaries: $WAUSE_SIM, $WAUSE_LIBRARY (default this checkout's .build/debug), $WAUSE_ECHO_BOT_C
(default build/c/echo_bot, from `make examples`), the Node addon in bindings/node/build.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sim_process import DEADLINE, SimProcess, clean_environment

REPO = Path(__file__).resolve().parents[2]
LIBRARY = os.environ.get("WAUSE_LIBRARY", str(REPO / ".build" / "debug" / "libwause.so"))
C_BOT = os.environ.get("WAUSE_ECHO_BOT_C", str(REPO / "build" / "c" / "echo_bot"))
BOT_PHONE, USER_PHONE = "15550002222", "15550001111"
CODE_LINE = re.compile(r"pairing code: ([1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4})")
# Quotes, a backslash, non-ASCII and a newline: the text must come back byte for byte.
TEXT = 'echo "this" \\ please — ✓\nsecond line'

COMMANDS = {
    "c": [C_BOT],
    "python": [sys.executable, str(REPO / "examples" / "python" / "echo_bot.py")],
    "node": ["node", str(REPO / "examples" / "node" / "echo_bot.js")],
}


class Bot:
    """One bot process; its stdout lines arrive on a queue, so every wait has a deadline."""

    def __init__(self, command, env):
        self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream, sink):
        for line in iter(stream.readline, ""):
            sink(line)
        sink(None)

    def expect(self, pattern: re.Pattern) -> re.Match:
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern.pattern!r} within {DEADLINE}s:\n" + self.log())
            if line is None:
                raise AssertionError(f"the bot exited ({self.proc.wait()}) before {pattern.pattern!r}:\n" + self.log())
            match = pattern.fullmatch(line.rstrip("\n"))
            if match:
                return match

    def log(self) -> str:
        return "".join(line for line in self.stderr if line)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the bot ignored SIGINT for {DEADLINE}s:\n" + self.log())


def create_account(sim: SimProcess, phone: str, name: str) -> None:
    answer = sim.admin("POST", "/accounts", {"phone": phone, "push_name": name})
    assert answer.status == 201, answer


def wait_for_echo(sim: SimProcess, text: str) -> dict:
    """Polls the user's inbox (a state with no event to block on) for the bot's answer."""
    deadline = time.monotonic() + DEADLINE
    waiter = threading.Event()
    while True:
        answer = sim.admin("GET", f"/accounts/{USER_PHONE}/inbox")
        assert answer.status == 200, answer
        for message in answer.json()["messages"]:
            if message["from_phone"] == BOT_PHONE and not message["from_me"] and message["text"] == text:
                return message
        if time.monotonic() > deadline:
            raise AssertionError(f"no echo in {USER_PHONE}'s inbox within {DEADLINE}s: {answer.json()}")
        waiter.wait(0.05)


@pytest.fixture
def sim(tmp_path):
    process = SimProcess(tmp_path / "sim")
    yield process
    assert process.stop() == 0, "".join(process.log_lines[-20:])


@pytest.mark.parametrize("language", sorted(COMMANDS))
def test_echo_bot_links_answers_and_stops_on_sigint(language, sim, tmp_path):
    if language == "c" and not os.access(C_BOT, os.X_OK):
        pytest.fail(f"{C_BOT} is not built (make examples, or set WAUSE_ECHO_BOT_C)")
    create_account(sim, BOT_PHONE, "Echo Bot")
    create_account(sim, USER_PHONE, "You")
    # Configuration through the environment only: the bots pass no config key the variables set.
    env = clean_environment({
        "WAUSE_DATA_DIR": str(tmp_path / "bot"), "WAUSE_SERVER_URL": sim.ws_url,
        "WAUSE_SERVER_ROOT_KEY": sim.root_public_key, "WAUSE_LIBRARY": LIBRARY,
    })
    bot = Bot(COMMANDS[language] + ["--phone", "+" + BOT_PHONE], env)
    try:
        code = bot.expect(CODE_LINE).group(1)
        entered = sim.admin("POST", f"/accounts/{BOT_PHONE}/enter-code", {"code": code})
        assert entered.status == 200, entered
        bot.expect(re.compile("ready"))

        sent = sim.admin("POST", f"/accounts/{USER_PHONE}/send", {"to": BOT_PHONE, "text": TEXT})
        assert sent.status == 200, sent
        wait_for_echo(sim, TEXT)
        bot.expect(re.compile(r"echoed \S+.*"))
        assert (tmp_path / "bot" / "wause.db").exists()  # WAUSE_DATA_DIR reached the library
    finally:
        code = bot.stop()
    assert code == 0, f"exit code {code}:\n" + bot.log()

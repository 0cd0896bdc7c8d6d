"""Start and stop a real `wause-sim` process, and talk to its admin API over real HTTP.

Standard library only, so every venv can use it: tests/sim (the project venv) and
tests/interop/test_sim_*.py (the interop venv, which puts this directory on sys.path).

The binary comes from $WAUSE_SIM (default: this checkout's .build/debug/wause-sim). A simulator
prints four flushed lines at start (DESIGN.md "The simulator"; tests/sim/README.md):

    root_public_key=<64 hex>
    ws_url=ws://127.0.0.1:<port>/ws/chat
    admin_url=http://127.0.0.1:<admin port>
    media_url=https://127.0.0.1:<media port>    (its CA in DATA_DIR/media-ca.pem)

`SimProcess` blocks on reading them (with a deadline), never sleeps. Every wait has the
deadline `WAUSE_TEST_DEADLINE` (20 s by default), against hangs, never as a timing assertion.
"""

from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import threading
from dataclasses import dataclass
from email.message import Message
from typing import Any, Mapping, Sequence
from urllib.parse import urlsplit

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_SIM names another binary.
SIM_BINARY = os.environ.get(
    "WAUSE_SIM", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-sim"))
)
DEADLINE = float(os.environ.get("WAUSE_TEST_DEADLINE", "20"))

FACT_LINES = (
    ("root_public_key", re.compile(r"[0-9a-f]{64}")),
    ("ws_url", re.compile(r"ws://127\.0\.0\.1:(?P<port>[1-9][0-9]*)/ws/chat")),
    ("admin_url", re.compile(r"http://127\.0\.0\.1:(?P<port>[1-9][0-9]*)")),
    ("media_url", re.compile(r"https://127\.0\.0\.1:(?P<port>[1-9][0-9]*)")),
)


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test environment minus every WAUSE_* variable (a developer's shell must not leak in)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAUSE_")}
    env.update(extra or {})
    return env


def run_sim(args: Sequence[str], binary: str = SIM_BINARY, timeout: float = DEADLINE) -> subprocess.CompletedProcess:
    """Runs wause-sim with `args` to completion (for the command lines that must exit at once)."""
    return subprocess.run([binary, *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=clean_environment())


class SimProcess:
    """One `wause-sim --port P --admin-port A --data-dir DIR [--root-key-file F] [args…]`."""

    def __init__(self, data_dir: str | os.PathLike, *, port: int = 0, admin_port: int = 0,
                 root_key_file: str | os.PathLike | None = None, args: Sequence[str] = (),
                 binary: str = SIM_BINARY):
        self.data_dir = os.path.abspath(str(data_dir))
        self.command = [binary, "--port", str(port), "--admin-port", str(admin_port), "--data-dir", self.data_dir]
        if root_key_file is not None:
            self.command += ["--root-key-file", str(root_key_file)]
        self.command += list(args)
        self.stdout_lines: queue.Queue[str | None] = queue.Queue()
        self.log_lines: list[str] = []
        self.returncode: int | None = None
        self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=clean_environment())
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines.put, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.log_lines.append, False), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            self.facts = self._read_facts()
        except BaseException:
            self.kill()
            raise
        self.root_public_key: str = self.facts["root_public_key"]
        self.ws_url: str = self.facts["ws_url"]
        self.admin_url: str = self.facts["admin_url"]
        self.ws_port = urlsplit(self.ws_url).port
        self.admin_port = urlsplit(self.admin_url).port
        self.media_url: str = self.facts["media_url"]
        self.media_port = urlsplit(self.media_url).port
        # The media host's CA, written at each start (trust it to talk HTTPS to media_url).
        self.media_ca_file = os.path.join(self.data_dir, "media-ca.pem")

    @staticmethod
    def _pump(stream, sink, mark_end: bool) -> None:
        for raw in iter(stream.readline, b""):
            sink(raw.decode("utf-8", "replace"))
        if mark_end:
            sink(None)  # end of stdout: the process exited (or closed it)

    def _read_facts(self) -> dict[str, str]:
        facts: dict[str, str] = {}
        self.fact_lines: list[str] = []
        for name, pattern in FACT_LINES:
            try:
                line = self.stdout_lines.get(timeout=DEADLINE)
            except queue.Empty:
                raise AssertionError(f"wause-sim printed no {name}= line within {DEADLINE}s: {self.command}\n"
                                     + "".join(self.log_lines))
            if line is None:
                code = self.proc.wait(timeout=DEADLINE)
                raise AssertionError(f"wause-sim exited ({code}) before printing {name}=: {self.command}\n"
                                     + "".join(self.log_lines))
            self.fact_lines.append(line)
            key, sep, value = line.rstrip("\n").partition("=")
            assert sep and key == name, f"expected a {name}= line, got {line!r}"
            assert pattern.fullmatch(value), f"malformed {name}= line: {line!r}"
            facts[name] = value
        return facts

    # -- process --------------------------------------------------------------------------------

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        """Sends `sig` and waits for the exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"wause-sim did not exit within {timeout}s of signal {sig}")
        for thread in self._threads:
            thread.join(timeout=DEADLINE)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL: the process dies without any chance to close its sockets politely."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.returncode = self.proc.wait(timeout=DEADLINE)

    # -- admin API ------------------------------------------------------------------------------

    def admin(self, method: str, path: str, body: Any = None, *, raw: bytes | None = None,
              headers: Mapping[str, str] | None = None) -> "AdminResponse":
        """One request to the admin API on a fresh connection. `body` is sent as JSON."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        conn = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=DEADLINE)
        try:
            all_headers = dict(headers or {})
            if data is not None:
                all_headers.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=data, headers=all_headers)
            response = conn.getresponse()
            return AdminResponse(response.status, response.msg, response.read())
        finally:
            conn.close()


@dataclass
class AdminResponse:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        assert content_type == "application/json", f"not JSON ({content_type!r}): {self!r}"
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<AdminResponse {self.status} {dict(self.headers)!r} {self.body[:400]!r}>"

"""Test harness for the black-box wause-mcp suite: start/stop the binary, raw HTTP helpers.

Only the standard library is used here, so the raw-HTTP tests run in any venv (the
mcp==2.3.0 one and the mcp==1.30.0 one alike).

Deliberately *not* a package (no __init__.py in tests/mcp): a package named ``mcp`` would
shadow the MCP Python SDK. pytest puts this directory on sys.path, so test modules import this
file as ``wause_harness``.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from email.message import Message
from typing import Any, Iterable, Mapping, Sequence

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_MCP names another binary.
BINARY = os.environ.get(
    "WAUSE_MCP", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-mcp"))
)

#: Seconds to wait for a thing that should happen at once (startup line, exit, a response).
#: Generous on purpose: these are deadlines against hangs, never timing assertions.
DEADLINE = float(os.environ.get("WAUSE_TEST_DEADLINE", "20"))

LISTEN_LINE = re.compile(
    r"wause-mcp listening on http://(?P<authority>[^/]+)/mcp \(pairing page: http://(?P=authority)/qr(?:\?token=[^)\s]+)?\)"
)

ACCEPT_BOTH = "application/json, text/event-stream"
PROTOCOL_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
LATEST = "2025-11-25"


def clean_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any WAUSE_* variable (every wause-mcp option can
    come from one, so a developer's shell must not change what the tests see), plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("WAUSE_")}
    env.update(extra or {})
    return env


#: Every server started and not yet reaped; whatever a test left running is killed when the test
#: process exits, so a test that never stops its server (or fails before it does) does not leave
#: a wause-mcp dialling a simulator that is gone.
#: The processes themselves are kept: a server object a test dropped is exactly the one to reap.
_STARTED: list[subprocess.Popen] = []


@atexit.register
def _kill_leftovers() -> None:
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=DEADLINE)


class WauseServer:
    """One `wause-mcp --port 0 --data-dir DIR [args…]` process.

    The port comes from the line the server prints (flushed) on stdout; stderr (one log line
    per request) is drained by a thread into `self.log_lines` so tests can wait for a line.
    """

    def __init__(self, data_dir: str | None, args: Sequence[str] = (), binary: str = BINARY,
                 env: Mapping[str, str] | None = None, cwd: str | None = None):
        self.data_dir = os.path.abspath(str(data_dir)) if data_dir is not None else None
        self.args = list(args)
        self.command = [binary, "--port", "0", *(["--data-dir", self.data_dir] if self.data_dir else []), *self.args]
        self.log_lines: list[str] = []
        self._log_condition = threading.Condition()
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=clean_environment(env), cwd=cwd,
        )
        _STARTED.append(self.proc)
        self._threads = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            line = self._stdout_lines.get(timeout=DEADLINE)
        except queue.Empty:
            self.kill()
            raise AssertionError(f"wause-mcp printed no listening line within {DEADLINE}s: {self.command}")
        if line is None:
            self.proc.wait(timeout=DEADLINE)
            raise AssertionError(
                f"wause-mcp exited ({self.proc.returncode}) before listening: {self.command}\n"
                + "".join(self.log_lines)
            )
        self.listen_line = line.rstrip("\n")
        match = LISTEN_LINE.fullmatch(self.listen_line)
        assert match, f"unexpected listening line: {self.listen_line!r}"
        self.authority = match["authority"]
        self.port = int(self.authority.rsplit(":", 1)[1])
        self.host = self.authority.rsplit(":", 1)[0].strip("[]")
        self.base = f"http://{self.authority}"
        self.url = f"{self.base}/mcp"
        self.returncode: int | None = None

    # -- process ------------------------------------------------------------------------------

    def _pump_stdout(self) -> None:
        assert self.proc.stdout is not None
        for raw in iter(self.proc.stdout.readline, b""):
            self._stdout_lines.put(raw.decode("utf-8", "replace"))
        self._stdout_lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.proc.stderr is not None
        for raw in iter(self.proc.stderr.readline, b""):
            with self._log_condition:
                self.log_lines.append(raw.decode("utf-8", "replace"))
                self._log_condition.notify_all()
        with self._log_condition:
            self._log_condition.notify_all()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        """Sends `sig` (SIGTERM) and waits for the exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"wause-mcp did not exit within {timeout}s of signal {sig}")
        for thread in self._threads:
            thread.join(timeout=DEADLINE)
        return self.returncode

    def kill(self) -> None:
        """SIGKILL (after a failed stop, or to clean up); teardown then leaves this server alone."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=DEADLINE)
        self.returncode = self.proc.returncode

    def wait_stdout(self, predicate, timeout: float = DEADLINE) -> str:
        """Reads stdout lines after the listening line until one satisfies `predicate`; returns it.
        (`--pair` / `--pair-code` print there.) Fails on exit or at the deadline."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching stdout line within {timeout}s")
            try:
                line = self._stdout_lines.get(timeout=remaining)
            except queue.Empty:
                raise AssertionError(f"no matching stdout line within {timeout}s")
            if line is None:
                raise AssertionError("wause-mcp closed stdout (exited?)\n" + "".join(self.log_lines[-20:]))
            if predicate(line.rstrip("\n")):
                return line.rstrip("\n")

    # -- log ----------------------------------------------------------------------------------

    def log_mark(self) -> int:
        with self._log_condition:
            return len(self.log_lines)

    def wait_for_log(self, pattern: str, since: int = 0, timeout: float = DEADLINE) -> str:
        """Blocks until a stderr line at index >= `since` matches `pattern` (re.search)."""
        regex = re.compile(pattern)

        def found() -> str | None:
            for line in self.log_lines[since:]:
                if regex.search(line):
                    return line
            return None

        with self._log_condition:
            line = None

            def ready() -> bool:
                nonlocal line
                line = found()
                return line is not None or self.proc.poll() is not None

            self._log_condition.wait_for(ready, timeout=timeout)
            if line is None:
                raise AssertionError(
                    f"no stderr line matching {pattern!r} within {timeout}s; got:\n" + "".join(self.log_lines[since:])
                )
            return line

    # -- HTTP ---------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: bytes | str | None = None, headers: Any = None,
                host: str | None = None, timeout: float = DEADLINE) -> "Response":
        """One request on a fresh connection; `host` overrides the Host header (default: ours)."""
        return request(self.host, self.port, method, path, body, headers,
                       host if host is not None else self.authority, timeout)

    def post(self, message: Any, session: str | None = None, protocol: str | None = None,
             headers: Any = None, raw: bytes | str | None = None) -> "Response":
        """POST /mcp with the headers a well-behaved client sends (overridable)."""
        merged: dict[str, str] = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
        if session is not None:
            merged["Mcp-Session-Id"] = session
        if protocol is not None:
            merged["MCP-Protocol-Version"] = protocol
        for key, value in dict(headers or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        body = raw if raw is not None else json.dumps(message)
        return self.request("POST", "/mcp", body=body, headers=merged)

    def initialize(self, version: str = LATEST, protocol_header: str | None = None) -> tuple[str, dict]:
        """initialize + notifications/initialized; returns (session id, InitializeResult)."""
        response = self.post(initialize_message(version), protocol=protocol_header)
        assert response.status == 200, response
        session = response.header("Mcp-Session-Id")
        assert session, response
        result = response.json()["result"]
        negotiated = result["protocolVersion"]
        done = self.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session=session,
                         protocol=negotiated)
        assert done.status == 202, done
        return session, result

    def rpc(self, session: str, method: str, params: Any = None, id: Any = 1,
            protocol: str | None = LATEST, headers: Any = None) -> "Response":
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            message["params"] = params
        return self.post(message, session=session, protocol=protocol, headers=headers)

    def open_stream(self, path: str = "/mcp", headers: Any = None, timeout: float = DEADLINE) -> "OpenStream":
        """Starts a GET and returns once the status line and headers arrived; the body is left to read."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", self.authority)
        for key, value in _header_items(headers):
            conn.putheader(key, value)
        conn.endheaders()
        return OpenStream(conn, conn.getresponse())


def initialize_message(version: str = LATEST, id: Any = 1, name: str = "wause-conformance") -> dict:
    return {
        "jsonrpc": "2.0", "id": id, "method": "initialize",
        "params": {"protocolVersion": version, "capabilities": {},
                   "clientInfo": {"name": name, "version": "0.0.1"}},
    }


def _header_items(headers: Any) -> Iterable[tuple[str, str]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    return list(headers)


@dataclass
class Response:
    status: int
    reason: str
    headers: Message
    body: bytes
    header_list: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        if self.content_type == "text/event-stream":
            messages = sse_messages(self.body)
            assert len(messages) == 1, f"expected one SSE message, got {messages!r}"
            return messages[0]
        return json.loads(self.body)

    def __repr__(self) -> str:
        return f"<Response {self.status} {self.header_list!r} {self.body[:600]!r}>"


def request(connect_host: str, port: int, method: str, path: str, body: bytes | str | None,
             headers: Any, host_header: str | None, timeout: float) -> Response:
    """One request on a fresh connection. `host_header` None → no Host header at all."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn = http.client.HTTPConnection(connect_host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        if host_header is not None:
            conn.putheader("Host", host_header)
        names = set()
        for key, value in _header_items(headers):
            if value is None:  # None = leave this header out
                continue
            conn.putheader(key, value)
            names.add(key.lower())
        if body is not None and "content-length" not in names and "transfer-encoding" not in names:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        return Response(response.status, response.reason, response.msg, data, list(response.getheaders()))
    finally:
        conn.close()


class OpenStream:
    """A response whose body is still arriving (the GET /mcp event stream)."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse):
        self.conn = conn
        self.response = response
        self.status = response.status
        self.headers = response.msg

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    def readline(self) -> bytes:
        """One line of the body (b"" at the end of the stream); raises socket.timeout on a hang."""
        return self.response.readline()

    def read_until_eof(self, limit: int = 1 << 20) -> bytes:
        """Reads the rest of the body; returns it once the server ended the stream."""
        data = b""
        while len(data) < limit:
            line = self.response.readline()
            if not line:
                return data
            data += line
        raise AssertionError(f"stream did not end after {limit} bytes")

    def close(self) -> None:
        try:
            self.response.close()
        finally:
            self.conn.close()

    def __enter__(self) -> "OpenStream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def sse_messages(body: bytes) -> list[Any]:
    """JSON payloads of the `data:` fields of an SSE body (comments and empty data skipped)."""
    messages = []
    for event in body.decode("utf-8").replace("\r\n", "\n").split("\n\n"):
        data = [line[5:].lstrip(" ") if line.startswith("data:") else None for line in event.split("\n")]
        data = [d for d in data if d is not None]
        if data and "".join(data):
            messages.append(json.loads("\n".join(data)))
    return messages


def raw_exchange(port: int, data: bytes, host: str = "127.0.0.1", timeout: float = DEADLINE) -> bytes:
    """Sends raw bytes on a fresh connection, half-closes, returns everything the server sent."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def parse_raw_response(data: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of a `Connection: close` HTTP/1.1 response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2:]
        body = decoded
    return status, headers, body


def chunked(body: bytes, chunk_size: int = 1000) -> bytes:
    out = b""
    for offset in range(0, len(body), chunk_size):
        piece = body[offset:offset + chunk_size]
        out += b"%x\r\n%s\r\n" % (len(piece), piece)
    return out + b"0\r\n\r\n"

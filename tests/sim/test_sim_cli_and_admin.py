"""wause-sim as a black box: its command line, its root key, and its admin HTTP API
(DESIGN.md "The simulator"), with real processes and real HTTP (stdlib http.client).

No test sleeps: startup blocks on the three printed lines, exits on the process, and the one
asynchronous effect without an event to block on (a closed connection leaving
`GET /connections`) is polled with a deadline.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
import signal
import socket
import stat
import threading

import pytest

from sim_process import DEADLINE, SimProcess, run_sim

# RFC 7748 §6.1: Alice's X25519 private key and its public key. libsignal's "Montgomery" public
# key of a Curve25519 private key is exactly the X25519 public key.
RFC7748_PRIVATE = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
RFC7748_PUBLIC = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"

ERROR_CODES = {"invalid_request", "not_found", "internal"}


def x25519_public(private_hex: str) -> str:
    """X25519(k, 9), RFC 7748 §5 (Montgomery ladder, clamped scalar), in plain Python so that this
    venv needs no crypto package; test_x25519_oracle_matches_rfc7748 checks it."""
    p = 2**255 - 19
    k = bytearray(bytes.fromhex(private_hex))
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    scalar = int.from_bytes(k, "little")
    x1, x2, z2, x3, z3, swap = 9, 1, 0, 9, 1, 0
    for t in reversed(range(255)):
        bit = (scalar >> t) & 1
        swap ^= bit
        if swap:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b = (x2 + z2) % p, (x2 - z2) % p
        aa, bb = a * a % p, b * b % p
        e = (aa - bb) % p
        c, d = (x3 + z3) % p, (x3 - z3) % p
        da, cb = d * a % p, c * b % p
        x3, z3 = (da + cb) ** 2 % p, x1 * (da - cb) ** 2 % p
        x2, z2 = aa * bb % p, e * (aa + 121665 * e) % p
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, p - 2, p) % p).to_bytes(32, "little").hex()


def test_x25519_oracle_matches_rfc7748():
    assert x25519_public(RFC7748_PRIVATE) == RFC7748_PUBLIC
    # RFC 7748 §6.1, Bob.
    assert x25519_public("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb") == \
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status == status, response
    body = response.json()
    assert isinstance(body, dict) and body.get("code") == code, response
    assert isinstance(body.get("message"), str) and body["message"], response
    return body


def poll(predicate, what: str, timeout: float = DEADLINE):
    """Re-evaluates `predicate` until it returns something truthy (a deadline against hangs)."""
    waiter = threading.Event()
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while True:
        value = predicate()
        if value:
            return value
        if dt.datetime.now() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        waiter.wait(0.02)


def open_websocket(port: int, path: str = "/ws/chat") -> socket.socket:
    """A raw RFC 6455 upgrade (stdlib only); returns the socket once the 101 arrived."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=DEADLINE)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: https://web.whatsapp.com\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, f"connection closed during the upgrade: {head!r}"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk


# --------------------------------------------------------------------------------------------
# Command line


def test_prints_the_four_facts_in_order_and_serves_on_them(sim):
    assert [line.split("=", 1)[0] for line in sim.fact_lines] == ["root_public_key", "ws_url", "admin_url", "media_url"]
    assert all(line.endswith("\n") for line in sim.fact_lines)
    assert sim.ws_port != sim.admin_port
    # Both ports are live: the admin API answers, the chat endpoint upgrades to WebSocket.
    assert sim.admin("GET", "/accounts").status == 200
    open_websocket(sim.ws_port).close()
    # Nothing else goes to stdout (logs go to stderr).
    assert sim.stdout_lines.empty()


def test_creates_root_key_0600_in_the_data_dir_and_reuses_it(make_sim, tmp_path):
    data_dir = tmp_path / "nested" / "sim"  # created if missing
    first = make_sim(data_dir)
    key_file = data_dir / "root.key"
    mode = stat.S_IMODE(key_file.stat().st_mode)
    assert mode == 0o600, oct(mode)
    text = key_file.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text), repr(text)
    assert first.root_public_key == x25519_public(text.strip())
    assert first.stop() == 0

    second = make_sim(data_dir)
    assert second.root_public_key == first.root_public_key
    assert key_file.read_text() == text
    assert second.stop() == 0

    # Another data dir, another root.
    other = make_sim(tmp_path / "other")
    assert other.root_public_key != first.root_public_key


def test_root_key_file_gives_its_public_key(make_sim, tmp_path):
    key_file = tmp_path / "rfc7748.key"
    key_file.write_text(RFC7748_PRIVATE + "\n")
    data_dir = tmp_path / "sim"
    sim = make_sim(data_dir, root_key_file=key_file)
    assert sim.root_public_key == RFC7748_PUBLIC
    assert not (data_dir / "root.key").exists(), "with --root-key-file the sim must not make its own root"
    assert key_file.read_text() == RFC7748_PRIVATE + "\n"


def test_root_key_file_with_a_random_key_without_newline(make_sim, tmp_path):
    private = os.urandom(32).hex()
    key_file = tmp_path / "random.key"
    key_file.write_text(private)
    assert make_sim(root_key_file=key_file).root_public_key == x25519_public(private)


MALFORMED_KEYS = {
    "empty": b"",
    "not hex": b"zz" * 32 + b"\n",
    "31 bytes": b"ab" * 31 + b"\n",
    "33 bytes": b"ab" * 33 + b"\n",
    "odd length": b"a" * 63 + b"\n",
    "raw 32 bytes": bytes(range(32)),
}


@pytest.mark.parametrize("content", MALFORMED_KEYS.values(), ids=MALFORMED_KEYS.keys())
def test_malformed_root_key_file_is_refused(tmp_path, content):
    key_file = tmp_path / "bad.key"
    key_file.write_bytes(content)
    result = run_sim(["--port", "0", "--admin-port", "0", "--data-dir", str(tmp_path / "sim"),
                      "--root-key-file", str(key_file)])
    assert result.returncode != 0
    assert "root_public_key=" not in result.stdout and "ws_url=" not in result.stdout
    assert str(key_file) in result.stderr, result.stderr
    assert key_file.read_bytes() == content, "a malformed key file must be left alone"


def test_malformed_root_key_in_the_data_dir_is_refused_not_replaced(tmp_path):
    data_dir = tmp_path / "sim"
    data_dir.mkdir()
    (data_dir / "root.key").write_text("not a key\n")
    result = run_sim(["--port", "0", "--admin-port", "0", "--data-dir", str(data_dir)])
    assert result.returncode != 0
    assert "root.key" in result.stderr, result.stderr
    assert result.stdout == ""
    assert (data_dir / "root.key").read_text() == "not a key\n"


def test_missing_root_key_file_is_an_error_not_created(tmp_path):
    key_file = tmp_path / "absent.key"
    result = run_sim(["--port", "0", "--admin-port", "0", "--data-dir", str(tmp_path / "sim"),
                      "--root-key-file", str(key_file)])
    assert result.returncode != 0
    assert str(key_file) in result.stderr, result.stderr
    assert result.stdout == ""
    assert not key_file.exists()


def test_missing_data_dir_is_a_usage_error(tmp_path):
    result = run_sim(["--port", "0", "--admin-port", "0"])
    assert result.returncode == 2
    assert "--data-dir" in result.stderr
    assert result.stdout == ""


BAD_COMMAND_LINES = {
    "port too large": ["--port", "65536"],
    "port negative": ["--port", "-1"],
    "port not a number": ["--port", "http"],
    "port empty": ["--port", ""],
    "admin port too large": ["--admin-port", "99999"],
    "admin port not a number": ["--admin-port", "8792x"],
    "port without value": ["--port"],
    "unknown option": ["--verbose"],
    "stray argument": ["serve"],
}


@pytest.mark.parametrize("args", BAD_COMMAND_LINES.values(), ids=BAD_COMMAND_LINES.keys())
def test_bad_command_lines_exit_2(tmp_path, args):
    base = {"--port": "0", "--admin-port": "0", "--data-dir": str(tmp_path / "sim")}
    flat = []
    for name, value in base.items():
        if name not in args:
            flat += [name, value]
    result = run_sim(flat + args)
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.strip(), "a usage error says what is wrong"
    assert result.stdout == ""
    assert not (tmp_path / "sim").exists(), "nothing is created for a refused command line"


def test_data_dir_that_is_a_file_is_refused(tmp_path):
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    result = run_sim(["--port", "0", "--admin-port", "0", "--data-dir", str(not_a_directory)])
    assert result.returncode != 0
    assert result.stdout == ""
    assert str(not_a_directory) in result.stderr, result.stderr


def test_help_prints_usage_and_exits_0():
    result = run_sim(["--help"])
    assert result.returncode == 0
    for option in ("--port", "--admin-port", "--data-dir", "--root-key-file"):
        assert option in result.stdout


@pytest.mark.parametrize("which", ["--port", "--admin-port"])
def test_a_port_in_use_fails_cleanly(tmp_path, which):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = {"--port": "0", "--admin-port": "0", which: str(port)}
        result = run_sim([*sum(([k, v] for k, v in args.items()), []), "--data-dir", str(tmp_path / "sim")])
    assert result.returncode != 0
    assert result.stdout == "", "no facts are printed for a simulator that is not serving"
    assert result.stderr.strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_exits_0_and_closes_live_connections(sim, sig):
    client = open_websocket(sim.ws_port)
    with client:
        assert sim.stop(sig) == 0
        read_to_eof(client)  # returns once the server side is gone (a hang fails on the timeout)


def test_restart_on_the_same_ports_keeps_accounts(make_sim, tmp_path):
    data_dir = tmp_path / "sim"
    first = make_sim(data_dir)
    created = first.admin("POST", "/accounts", {"phone": "+44 7700 900123", "push_name": "Bob"}).json()
    assert first.stop() == 0
    second = make_sim(data_dir, port=first.ws_port, admin_port=first.admin_port)
    assert (second.ws_url, second.admin_url) == (first.ws_url, first.admin_url)
    assert second.admin("GET", "/accounts").json() == [created]


# --------------------------------------------------------------------------------------------
# Admin API: accounts


def test_accounts_start_empty(sim):
    response = sim.admin("GET", "/accounts")
    assert response.status == 200
    assert response.json() == []


def test_create_account_normalises_the_phone(sim):
    response = sim.admin("POST", "/accounts", {"phone": "+1 (555) 123-4567", "push_name": "Alice"})
    assert response.status == 201, response
    account = response.json()
    assert set(account) == {"phone", "jid", "lid", "push_name"}
    assert account["phone"] == "15551234567"
    assert account["jid"] == "15551234567@s.whatsapp.net"
    assert re.fullmatch(r"[1-9][0-9]{7,}@lid", account["lid"]), account["lid"]
    assert account["push_name"] == "Alice"


def test_create_account_without_push_name(sim):
    account = sim.admin("POST", "/accounts", {"phone": "4915112345678"}).json()
    assert account["phone"] == "4915112345678"
    assert isinstance(account["push_name"], str)
    null_name = sim.admin("POST", "/accounts", {"phone": "4915112345679", "push_name": None})
    assert null_name.status == 201, null_name


def test_accounts_are_listed_in_creation_order_with_distinct_lids(sim):
    phones = ["15551230001", "447700900001", "5511987650001", "919876500001"]
    created = [sim.admin("POST", "/accounts", {"phone": phone}).json() for phone in phones]
    listed = sim.admin("GET", "/accounts").json()
    assert listed == created
    assert len({a["lid"] for a in listed}) == len(phones)


INVALID_PHONES = {
    "leading zero": "0123456789",
    "too short": "1234567",
    "too long": "1234567890123456",
    "letters": "1555CALLNOW",
    "two plus signs": "++15551234567",
    "empty": "",
    "only punctuation": "+ ( ) - .",
}


@pytest.mark.parametrize("phone", INVALID_PHONES.values(), ids=INVALID_PHONES.keys())
def test_invalid_phone_is_invalid_request(sim, phone):
    assert_error(sim.admin("POST", "/accounts", {"phone": phone}), 400, "invalid_request")
    assert sim.admin("GET", "/accounts").json() == []


def test_duplicate_account_is_rejected_in_any_spelling(sim):
    assert sim.admin("POST", "/accounts", {"phone": "15551234567"}).status == 201
    # An existing account is a conflict (issue 11): 409 with {code, message}.
    assert_error(sim.admin("POST", "/accounts", {"phone": "+1 555.123.4567", "push_name": "Again"}), 409,
                 "invalid_request")
    accounts = sim.admin("GET", "/accounts").json()
    assert [a["phone"] for a in accounts] == ["15551234567"]
    assert accounts[0]["push_name"] != "Again"


BAD_BODIES = {
    "no body": None,
    "not JSON": b"phone=15551234567",
    "JSON array": b'["15551234567"]',
    "JSON string": b'"15551234567"',
    "no phone": b'{"push_name": "x"}',
    "phone not a string": b'{"phone": 15551234567}',
    "push_name not a string": b'{"phone": "15551234567", "push_name": 7}',
}


@pytest.mark.parametrize("raw", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_account_bodies_are_invalid_request(sim, raw):
    assert_error(sim.admin("POST", "/accounts", raw=raw if raw is not None else b""), 400, "invalid_request")
    assert sim.admin("GET", "/accounts").json() == []


def test_oversized_body_is_refused(sim):
    response = sim.admin("POST", "/accounts", raw=b'{"phone": "' + b"1" * (2 << 20) + b'"}')
    assert 400 <= response.status < 500, response
    assert sim.admin("GET", "/accounts").json() == []


# --------------------------------------------------------------------------------------------
# Admin API: devices


def test_devices_of_a_new_account_are_empty(sim):
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    for spelling in ("15551234567", "+15551234567"):
        response = sim.admin("GET", f"/accounts/{spelling}/devices")
        assert response.status == 200, response
        assert response.json() == []


def test_devices_of_an_unknown_account_are_not_found(sim):
    assert_error(sim.admin("GET", "/accounts/15559999999/devices"), 404, "not_found")


def test_deleting_a_device_that_does_not_exist_is_not_found(sim):
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    assert_error(sim.admin("DELETE", "/accounts/15551234567/devices/1"), 404, "not_found")
    assert_error(sim.admin("DELETE", "/accounts/15559999999/devices/1"), 404, "not_found")


@pytest.mark.parametrize("device", ["0", "-1", "one"])
def test_deleting_a_device_with_a_bad_number_is_invalid_request(sim, device):
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    assert_error(sim.admin("DELETE", f"/accounts/15551234567/devices/{device}"), 400, "invalid_request")


# --------------------------------------------------------------------------------------------
# Admin API: connections


def test_connections_list_live_websockets(sim):
    assert sim.admin("GET", "/connections").json() == []
    before = dt.datetime.now(dt.timezone.utc)
    client = open_websocket(sim.ws_port)
    with client:
        entries = poll(lambda: sim.admin("GET", "/connections").json(), "the connection listed")
        assert len(entries) == 1
        entry = entries[0]
        assert set(entry) == {"id", "device", "state", "since"}
        assert isinstance(entry["id"], int)
        assert entry["device"] is None  # nothing has logged in
        assert entry["state"] == "handshake"
        since = dt.datetime.fromisoformat(entry["since"].replace("Z", "+00:00"))
        assert entry["since"].endswith("Z")
        assert before - dt.timedelta(seconds=5) <= since <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    poll(lambda: sim.admin("GET", "/connections").json() == [], "the closed connection gone from /connections")


# --------------------------------------------------------------------------------------------
# Admin API: routing


@pytest.mark.parametrize("path", ["/", "/nope", "/account", "/accountsx", "/ws/chat", "/connections/1"])
def test_unknown_routes_are_not_found(sim, path):
    assert_error(sim.admin("GET", path), 404, "not_found")


WRONG_METHODS = [
    ("POST", "/connections"),
    ("DELETE", "/connections"),
    ("PUT", "/accounts"),
    ("DELETE", "/accounts"),
    ("POST", "/accounts/15551234567/devices"),
    ("GET", "/accounts/15551234567/devices/1"),
]


@pytest.mark.parametrize("method,path", WRONG_METHODS, ids=[f"{m} {p}" for m, p in WRONG_METHODS])
def test_wrong_method_is_405(sim, method, path):
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    response = sim.admin(method, path)
    assert response.status == 405, response
    body = response.json()
    assert isinstance(body.get("code"), str) and isinstance(body.get("message"), str)


@pytest.mark.parametrize("path", ["/accounts/15551234567/bogus", "/accounts/15551234567/devices/1/x",
                                  "/accounts/15551234567/scan/extra"])
def test_unknown_routes_under_known_prefixes_are_not_found(sim, path):
    """A path under /accounts that names no resource is 404, not 405: no method is allowed
    on something that does not exist."""
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    assert_error(sim.admin("GET", path), 404, "not_found")


@pytest.mark.parametrize("method,path,allowed", [
    ("POST", "/connections", {"GET"}),
    ("PUT", "/accounts", {"GET", "POST"}),
    ("POST", "/accounts/15551234567/devices", {"GET"}),
    ("GET", "/accounts/15551234567/devices/1", {"DELETE"}),
])
def test_405_names_the_allowed_methods(sim, method, path, allowed):
    """RFC 9110 §15.5.6: a 405 response MUST carry an `Allow` header listing the methods the
    resource supports."""
    sim.admin("POST", "/accounts", {"phone": "15551234567"})
    response = sim.admin(method, path)
    assert response.status == 405
    header = response.headers.get("Allow")
    assert header is not None, response
    assert {m.strip() for m in header.split(",")} >= allowed
    assert method not in {m.strip() for m in header.split(",")}

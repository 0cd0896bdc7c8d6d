"""wause-mcp's command line and listening address: options, environment variables, refusals,
the data directory it reports, and which Host headers it serves on non-default binds."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess

import pytest

from conftest import TOKEN
from wause_harness import ACCEPT_BOTH, BINARY, DEADLINE, clean_environment, initialize_message, request


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([BINARY, *args], capture_output=True, timeout=DEADLINE, env=clean_environment(env),
                          stdin=subprocess.DEVNULL)


def status_of(server) -> dict:
    session_id, _ = server.initialize()
    body = server.rpc(session_id, "tools/call", params={"name": "whatsapp_status", "arguments": {}}).json()
    return body["result"]["structuredContent"]


def test_help_and_version():
    done = run_cli("--help")
    assert done.returncode == 0
    assert b"Usage" in done.stdout and b"--token" in done.stdout and b"--render-qr" in done.stdout
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.decode().startswith("wause-mcp ")


def test_version_matches_server_info_and_healthz(server):
    version = run_cli("--version").stdout.decode().split()[1]
    _, result = server.initialize()
    assert result["serverInfo"]["version"] == version
    assert server.request("GET", "/healthz").json()["version"] == version


@pytest.mark.parametrize("args", [["--no-such-option"], ["--port", "70000"], ["--port", "x"],
                                  ["--max-body-size", "10"], ["positional"], ["--port"]])
def test_bad_arguments_exit_2(args, tmp_path):
    done = run_cli("--data-dir", str(tmp_path), *args)
    assert done.returncode == 2, done
    assert b"listening" not in done.stdout


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_non_loopback_without_token_is_refused(host, tmp_path):
    done = run_cli("--port", "0", "--data-dir", str(tmp_path), "--host", host)
    assert done.returncode == 2, done
    assert b"token" in done.stdout + done.stderr
    assert b"listening" not in done.stdout


def test_data_dir_is_created_private_and_reported_absolute(make_server, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    own = make_server("--data-dir", "nested/store", data_dir=None, cwd=str(cwd))
    reported = status_of(own)["data_dir"]
    assert os.path.isabs(reported), reported
    expected = cwd / "nested" / "store"
    assert expected.is_dir()
    assert os.path.samefile(reported, expected)
    assert stat.S_IMODE(expected.stat().st_mode) & 0o077 == 0, oct(expected.stat().st_mode)
    files = [p for p in expected.iterdir() if p.is_file()]
    assert files, "the store should exist"
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path, oct(path.stat().st_mode))


def test_data_dir_from_environment(make_server, tmp_path):
    target = tmp_path / "from-env"
    own = make_server(data_dir=None, env={"WAUSE_DATA_DIR": str(target)})
    assert status_of(own)["data_dir"] == str(target)


def test_flag_wins_over_environment(make_server, tmp_path):
    flag_dir = tmp_path / "from-flag"
    own = make_server(data_dir=str(flag_dir), env={"WAUSE_DATA_DIR": str(tmp_path / "from-env")})
    assert status_of(own)["data_dir"] == str(flag_dir)
    assert not (tmp_path / "from-env").exists()


def test_token_from_environment(make_server):
    own = make_server(env={"WAUSE_TOKEN": TOKEN})
    assert own.post(initialize_message()).status == 401
    assert own.post(initialize_message(), headers={"Authorization": f"Bearer {TOKEN}"}).status == 200


def test_status_is_stable_across_restart(make_server, tmp_path):
    data_dir = tmp_path / "kept"
    first = make_server(data_dir=str(data_dir))
    before = status_of(first)
    assert first.stop() == 0
    second = make_server(data_dir=str(data_dir))
    assert status_of(second) == before


def test_second_server_on_the_same_data_dir_is_refused(make_server, tmp_path):
    """Two engines must never share one store: the second exits non-zero, says why, and the
    first keeps working."""
    data_dir = tmp_path / "shared"
    first = make_server(data_dir=str(data_dir))
    done = run_cli("--port", "0", "--data-dir", str(data_dir))
    assert done.returncode not in (0, None), done
    assert b"listening" not in done.stdout
    assert done.stderr.strip(), "a refusal must say why"
    assert status_of(first)["state"] == "stopped"


# --------------------------------------------------------------------------------------------
# Listening addresses
# --------------------------------------------------------------------------------------------


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


def _own_non_loopback_ipv4() -> str | None:
    """An IPv4 address of this machine that is not loopback (no packet is sent)."""
    candidates = []
    try:
        candidates += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("192.0.2.1", 9))  # UDP connect: chooses a source address, sends nothing
            candidates.append(sock.getsockname()[0])
    except OSError:
        pass
    for address in candidates:
        if not address.startswith("127.") and address != "0.0.0.0":
            try:
                with socket.socket(socket.AF_INET) as probe:
                    probe.bind((address, 0))
                return address
            except OSError:
                continue
    return None


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_loopback(make_server):
    own = make_server("--host", "::1")
    assert own.authority.startswith("[::1]:")
    response = own.post(initialize_message(), headers={"Origin": f"http://[::1]:{own.port}"})
    assert response.status == 200, response
    assert own.request("GET", "/healthz", host="localhost").status == 200


def test_specific_address_with_token(make_server):
    address = _own_non_loopback_ipv4()
    if address is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    own = make_server("--host", address, "--token", TOKEN)
    assert own.host == address
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    body = json.dumps(initialize_message())
    response = own.request("POST", "/mcp", body=body, headers=auth)  # Host: <address>:<port>
    assert response.status == 200, response
    no_token = {k: v for k, v in auth.items() if k != "Authorization"}
    assert own.request("POST", "/mcp", body=body, headers=no_token).status == 401


@pytest.mark.server_bug
def test_wildcard_bind_with_token_serves_the_machines_own_address(make_server):
    """BUG (reported): with `--host 0.0.0.0 --token T` (the documented way to serve beyond
    loopback) a request addressed to the machine, `Host: <its IP>:<port>` with the right token,
    is refused 421 "Invalid Host header": RequestGuard only allows loopback names plus the
    literal listen host "0.0.0.0", which no client ever sends. Expected: 200 (the token is the
    authentication; a wildcard bind should accept the machine's own addresses)."""
    address = _own_non_loopback_ipv4()
    if address is None:
        pytest.skip("no non-loopback IPv4 address on this machine")
    own = make_server("--host", "0.0.0.0", "--token", TOKEN)
    response = request(address, own.port, "POST", "/mcp", json.dumps(initialize_message()),
                       {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
                        "Accept": ACCEPT_BOTH}, f"{address}:{own.port}", DEADLINE)
    assert response.status == 200, response

"""Fixtures for the black-box wause-mcp conformance suite.

Binary: $WAUSE_MCP (default: this checkout's .build/debug/wause-mcp). Every server a fixture starts is
stopped with SIGTERM at teardown, and the teardown asserts a prompt exit with code 0, so each
test module also checks clean shutdown.
"""

from __future__ import annotations

import os

import pytest

from wause_harness import BINARY, WauseServer

TOKEN = "s3cret-T0ken_for.tests"


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "server_bug: documents a known wause-mcp bug; fails until it is fixed (deselect with -m 'not server_bug')",
    )


def pytest_report_header(config):
    try:
        from importlib.metadata import version

        sdk = version("mcp")
    except Exception:  # noqa: BLE001
        sdk = "not installed"
    return [f"wause-mcp binary: {BINARY}", f"mcp SDK: {sdk}"]


@pytest.fixture(scope="session", autouse=True)
def _binary_exists():
    if not os.access(BINARY, os.X_OK):
        pytest.fail(f"wause-mcp binary not found or not executable: {BINARY} (set WAUSE_MCP)")


def _stop_all(servers: list[WauseServer]) -> None:
    failures = []
    for server in servers:
        code = server.stop()
        if code != 0:
            failures.append(f"{server.command}: exit code {code}\n" + "".join(server.log_lines[-20:]))
    assert not failures, "\n".join(failures)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A plain server (no token, default limits) shared by one test module."""
    instance = WauseServer(tmp_path_factory.mktemp("wause-data"))
    yield instance
    _stop_all([instance])


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    """A server started with `--token TOKEN`."""
    instance = WauseServer(tmp_path_factory.mktemp("wause-token"), ["--token", TOKEN])
    yield instance
    _stop_all([instance])


@pytest.fixture
def make_server(tmp_path_factory):
    """Factory for servers a single test owns (extra args, signals); all stopped at teardown."""
    started: list[WauseServer] = []

    def make(*args: str, data_dir: str | None = "", **kwargs) -> WauseServer:
        """`data_dir=""` → a fresh temporary directory; None → no --data-dir flag at all."""
        if data_dir == "":
            data_dir = tmp_path_factory.mktemp("wause-own")
        instance = WauseServer(data_dir, list(args), **kwargs)
        started.append(instance)
        return instance

    yield make
    _stop_all([s for s in started if s.returncode is None])

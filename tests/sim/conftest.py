"""Fixtures for the black-box wause-sim suite (and wause-mcp linking against it).

Binaries: $WAUSE_SIM and $WAUSE_MCP (defaults: this checkout's .build/debug/wause-sim, wause-mcp).
Run with the project venv (mcp 2.3.0, pytest, zxing-cpp, pillow):

    .venv/bin/python -m pytest tests/sim

Every simulator a fixture starts and that is still running at teardown is stopped with SIGTERM,
and the teardown asserts a prompt exit with code 0.
"""

from __future__ import annotations

import os
import pathlib
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
# tests/mcp holds wause_harness.py (WauseServer). It must stay a plain directory, not a package
# (a package named `mcp` would shadow the SDK), so it goes on sys.path instead.
for directory in (HERE, HERE.parent / "mcp"):
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))

from sim_process import SIM_BINARY, SimProcess  # noqa: E402


def pytest_report_header(config):
    from wause_harness import BINARY

    return [f"wause-sim binary: {SIM_BINARY}", f"wause-mcp binary: {BINARY}"]


@pytest.fixture(scope="session", autouse=True)
def _sim_binary_exists():
    if not os.access(SIM_BINARY, os.X_OK):
        pytest.fail(f"wause-sim binary not found or not executable: {SIM_BINARY} (set WAUSE_SIM)")


@pytest.fixture
def make_sim(tmp_path_factory):
    """Factory for simulators a test owns: `make_sim(data_dir=None, **SimProcess kwargs)`.
    data_dir None → a fresh temporary directory. Those still running at teardown get SIGTERM and
    must exit 0."""
    started: list[SimProcess] = []

    def make(data_dir: str | os.PathLike | None = None, **kwargs) -> SimProcess:
        if data_dir is None:
            data_dir = tmp_path_factory.mktemp("sim-data")
        sim = SimProcess(data_dir, **kwargs)
        started.append(sim)
        return sim

    yield make
    failures = []
    for sim in started:
        if sim.returncode is None and sim.alive():
            code = sim.stop()
            if code != 0:
                failures.append(f"{sim.command}: exit code {code}\n" + "".join(sim.log_lines[-20:]))
    assert not failures, "\n".join(failures)


@pytest.fixture
def sim(make_sim) -> SimProcess:
    """A fresh simulator (own data dir, free ports) for one test."""
    return make_sim()

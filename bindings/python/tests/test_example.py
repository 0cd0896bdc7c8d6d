"""examples/python/status.py runs to completion, prints what it promises and exits 0."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import wause
from conftest import REPO_ROOT, insert_events, library_env

EXAMPLE = REPO_ROOT / "examples" / "python" / "status.py"


def test_example_with_a_temporary_store() -> None:
    result = subprocess.run([sys.executable, str(EXAMPLE), "--seconds", "0.3"], env=library_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"wause {wause.version()} ")
    status_text = result.stdout[result.stdout.index("{"):result.stdout.index("\n}\n") + 2]
    assert json.loads(status_text)["state"] == "stopped"
    assert "0 event(s) received" in result.stdout


def test_example_prints_events_that_arrive_while_listening(tmp_path: Path) -> None:
    data_dir = tmp_path / "store"
    process = subprocess.Popen([sys.executable, str(EXAMPLE), str(data_dir), "--seconds", "3"],
                               env=library_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("listening"):
                break
        insert_events(data_dir, [("message.received", 1_700_000_000_000, {"body": "hi"}),
                                 ("typing.started", 1_700_000_000_500, {})])
        output, errors = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, errors
    assert 'event #1 message.received at 2023-11-14T22:13:20.000Z: {"body": "hi"}' in output
    assert "event #2 typing.started" in output
    assert "2 event(s) received" in output


def test_example_stops_on_ctrl_c(tmp_path: Path) -> None:
    # PYTHONFAULTHANDLER: if it hangs, SIGABRT makes it print every thread's stack for the report.
    process = subprocess.Popen([sys.executable, str(EXAMPLE), str(tmp_path / "store"), "--seconds", "60"],
                               env={**library_env(), "PYTHONFAULTHANDLER": "1"},
                               # A shell without job control starts background commands with SIGINT
                               # ignored, and Python then installs no KeyboardInterrupt handler: give
                               # the example the default disposition, as a terminal would.
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("listening"):
                break
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            _, stderr = process.communicate(timeout=10)
            raise AssertionError(f"still running 10 s after Ctrl-C; its threads:\n{stderr}") from None
        assert time.monotonic() - started < 5
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130

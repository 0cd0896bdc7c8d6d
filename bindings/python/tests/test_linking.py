"""QR linking through the Python binding against a real wause-sim (``$WAUSE_SIM``, default the
debug build next to the library): the engine dials only the simulator on 127.0.0.1."""

from __future__ import annotations

import base64
import os
import select
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

import wause

REPO_ROOT = Path(__file__).resolve().parents[3]
SIM = os.environ.get("WAUSE_SIM", str(REPO_ROOT / ".build" / "debug" / "wause-sim"))


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[Dict[str, str]]:
    """A running wause-sim; yields the facts it printed (root_public_key, ws_url, admin_url)."""
    process = subprocess.Popen([SIM, "--port", "0", "--admin-port", "0", "--data-dir", str(tmp_path / "sim")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    facts: Dict[str, str] = {}
    deadline = time.monotonic() + 30
    assert process.stdout is not None
    while len(facts) < 3:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "wause-sim did not print its three lines"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        assert ready, "wause-sim did not print its three lines"
        line = process.stdout.readline()
        assert line, "wause-sim exited early"
        key, _, value = line.strip().partition("=")
        facts[key] = value
    yield facts
    process.terminate()
    assert process.wait(timeout=30) == 0


def test_start_auth_shows_a_qr_code_built_from_the_engines_keys(tmp_path: Path, simulator: Dict[str, str]) -> None:
    data_dir = tmp_path / "client"
    with wause.Client(data_dir=str(data_dir), server_url=simulator["ws_url"],
                      server_root_key=simulator["root_public_key"]) as client:
        status = client.start_auth()
        assert status["state"] == "qr"
        assert status["has_qr"] is True
        assert status["authenticated"] is False

        event = next(e for e in client.events(timeout=30) if e["name"] == "pairing.qr")
        assert event["data"]["index"] == 1 and event["data"]["count"] == 6
        qr = event["data"]["qr"]
        prefix, _, fields_text = qr.partition("#")
        assert prefix == "https://wa.me/settings/linked_devices"
        ref, noise, identity, adv, client_type = fields_text.split(",")
        assert ref and client_type == "1"

        with sqlite3.connect(str(data_dir / "wause.db"), timeout=10) as connection:
            row = connection.execute("SELECT noise_public, identity_public, adv_secret FROM device").fetchone()
        connection.close()
        assert [base64.b64decode(noise), base64.b64decode(identity), base64.b64decode(adv)] == list(row)

        # Asking again while the code is up changes nothing.
        assert client.start_auth()["state"] == "qr"

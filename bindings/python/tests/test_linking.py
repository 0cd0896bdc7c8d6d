"""QR linking through the Python binding against a real wause-sim (``$WAUSE_SIM``, default the
debug build next to the library): the engine dials only the simulator on 127.0.0.1."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import wause

from conftest import Simulator


def test_start_auth_shows_a_qr_code_built_from_the_engines_keys(tmp_path: Path, simulator: Simulator) -> None:
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

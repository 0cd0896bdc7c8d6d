"""Contacts and presence through the Python binding's generated methods (issue 14), against a real
wause-sim: who is on WhatsApp, a phone's profile, a local name that wins over the push name, a presence
subscription and typing both ways. Every wait follows the client's event stream.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

import wause

from conftest import Simulator, link_by_qr

ADA, BOB = "15550001111", "15550002222"


def test_contacts_and_presence(simulator: Simulator, tmp_path: Path) -> None:
    simulator.create_account(ADA, "Ada")
    bob = simulator.create_account(BOB, "Bob")
    config = simulator.client_config(tmp_path / "ada")
    config["push_name"] = "Ada"
    with wause.Client(config) as ada:
        events = link_by_qr(ada, simulator, ADA)

        checked = ada.is_on_whatsapp([BOB, "15559990000"])
        assert checked["results"] == [
            {"phone": BOB, "on_whatsapp": True, "jid": f"{BOB}@s.whatsapp.net", "lid": bob["lid"]},
            {"phone": "15559990000", "on_whatsapp": False},
        ], checked
        with pytest.raises(wause.InvalidRequest):
            ada.is_on_whatsapp([])

        status, profile = simulator.admin("PUT", f"/accounts/{BOB}/profile", {
            "about": "Sailing", "business": False,
            "picture_base64": base64.b64encode(b"\xff\xd8\xff\xe0" + os.urandom(500)).decode()})
        assert status == 200, profile
        user = ada.get_user_info([BOB])["users"][0]
        assert user["about"] == "Sailing" and user["business"] is False and user["picture_id"] == profile["picture_id"], user
        picture = ada.get_profile_picture(BOB)
        assert picture["has_picture"] is True and picture["url"].startswith("https://127.0.0.1:"), picture

        named = ada.set_contact_name(BOB, "Skipper")
        assert named["contact"]["name"] == "Skipper" and named["contact"]["name_source"] == "local", named
        assert [c["phone"] for c in ada.search_contacts("skip")["contacts"]] == [BOB]
        with pytest.raises(wause.NotFound):
            ada.set_contact_name("Nobody Here", "x")

        assert ada.subscribe_presence("Skipper")["contact"] == f"{BOB}@s.whatsapp.net"
        events.wait("presence.changed", lambda d: d["contact"] == f"{BOB}@s.whatsapp.net" and d["state"] == "unavailable")
        assert simulator.admin("PUT", f"/accounts/{BOB}/presence", {"state": "available"})[0] == 200
        events.wait("presence.changed", lambda d: d["state"] == "available")
        assert simulator.admin("POST", f"/accounts/{BOB}/typing", {"to": ADA, "state": "recording"})[0] == 200
        typing = events.wait("typing.started", lambda d: d["from"] == f"{BOB}@s.whatsapp.net")
        assert typing["data"]["media"] == "audio", typing

        assert ada.send_typing(BOB, "paused") == {"ok": True, "chat_id": f"{BOB}@s.whatsapp.net", "state": "paused"}
        assert ada.set_presence("unavailable") == {"ok": True, "state": "unavailable"}
        synced = ada.sync_contact_names(force=True)
        assert synced["fetched"] >= 1 and any(c["name"] == "Skipper" for c in synced["contacts"]), synced

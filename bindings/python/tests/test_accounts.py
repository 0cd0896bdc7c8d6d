"""Many accounts behind one Python client (issue 16): config ``accounts_dir`` instead of
``data_dir`` opens one store per account under it; methods take ``account``; events carry it.
Two accounts linked by the real wause-sim's phones chat with each other, then one is deleted.

Nothing sleeps: every wait follows the client's one event stream (``DEADLINE`` only against hangs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import pytest

import wause

from conftest import DEADLINE, Simulator

ADA, BOB = "15550001111", "15550002222"


def wait(client: wause.Client, seen: List[Any], account: str, name: str, where=lambda data: True) -> Any:
    for event in seen:
        if event.get("account") == account and event["name"] == name and where(event["data"]):
            return event
    for event in client.events(timeout=DEADLINE):
        seen.append(event)
        if event.get("account") == account and event["name"] == name and where(event["data"]):
            return event
    raise AssertionError(f"no {name} for {account}; seen {[(e.get('account'), e['name']) for e in seen]}")


def test_two_accounts_in_one_client(simulator: Simulator, tmp_path: Path) -> None:
    simulator.create_account(ADA, "Ada")
    simulator.create_account(BOB, "Bob")
    config = simulator.client_config(tmp_path)
    del config["data_dir"]
    config["accounts_dir"] = str(tmp_path / "accounts")
    with wause.Client(config) as client:
        seen: List[Any] = []
        assert client.call("whatsapp_list_accounts") == {"accounts": []}
        for name, phone in (("ada", ADA), ("bob", BOB)):
            assert client.call("whatsapp_add_account", {"name": name})["account"] == name
            started = client.call("whatsapp_start_auth", {"account": name})
            status, answer = simulator.admin("POST", f"/accounts/{phone}/scan", {"qr": started["qr"]})
            assert status == 200, answer
        for name in ("ada", "bob"):
            wait(client, seen, name, "account.connected", lambda data: data["phase"] == "login")
        with pytest.raises(wause.InvalidRequest):
            client.call("whatsapp_status")  # two accounts, none named
        with pytest.raises(wause.Error) as unknown:
            client.call("whatsapp_status", {"account": "zed"})
        assert unknown.value.code == "not_found"

        sent = client.call("whatsapp_send_message", {"account": "ada", "phone_number": BOB, "message": "hello bob"})
        got = wait(client, seen, "bob", "message.received", lambda data: data["message"]["body"] == "hello bob")
        assert got["data"]["message"]["id"] == sent["message_id"]
        wait(client, seen, "ada", "message.status", lambda data: data["message_id"] == sent["message_id"])

        assert client.call("whatsapp_delete_account", {"account": "bob", "confirm": True})["deleted"] is True
        assert not (tmp_path / "accounts" / "bob").exists()
        assert client.call("whatsapp_status")["state"] == "ready"  # one account left: account may be omitted


def test_accounts_dir_excludes_data_dir(tmp_path: Path) -> None:
    with pytest.raises(wause.InvalidRequest) as error:
        wause.Client({"accounts_dir": str(tmp_path / "a"), "data_dir": str(tmp_path / "d")})
    assert "exclude each other" in str(error.value)

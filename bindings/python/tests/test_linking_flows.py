"""Linking to the end through the Python binding, against a real wause-sim acting as the phone.

QR: the QR string comes from ``start_auth()`` (and the ``pairing.qr`` event) and is posted to the
sim's ``scan`` route. Pairing code: the code comes from ``pairing_code()`` and is posted to
``enter-code``. Either way the test follows the binding's event iteration to ``account.connected``
with phase ``login`` and then reads ``status()``. Then: reopening the client on the same data
directory logs in without pairing; ``logout()`` / ``unlink()`` and the phone's own unlink end in
``logged_out``; malformed phone numbers are refused before anything is dialled.

Nothing sleeps: every wait follows the event stream, with ``DEADLINE`` only against hangs.
"""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any, Callable, Dict, Iterator

import pytest

import wause

from conftest import DEADLINE, Simulator

PHONE = "15551234567"
CODE_FORMAT = re.compile(r"^[1-9A-HJ-NP-TV-Z]{4}-[1-9A-HJ-NP-TV-Z]{4}$")
QR_PREFIX = "https://wa.me/settings/linked_devices#"


def next_event(client: wause.Client, name: str,
               where: Callable[[Dict[str, Any]], bool] = lambda data: True) -> wause.Event:
    """The next event called ``name`` whose data satisfies ``where``, from ``client.events()``."""
    for event in client.events(timeout=DEADLINE):
        if event["name"] == name and where(event["data"]):
            return event
    raise AssertionError(f"no {name} event within {DEADLINE} s; status: {client.status()}")


def wait_logged_in(client: wause.Client) -> wause.Event:
    return next_event(client, "account.connected", lambda data: data["phase"] == "login")


def assert_ready_as(status: wause.StatusResult, account: Dict[str, Any]) -> None:
    assert status["state"] == "ready", status
    assert status["ready"] is True and status["authenticated"] is True, status
    assert status["has_qr"] is False and status["last_error"] is None, status
    assert status["account"] is not None, status
    assert status["account"]["wid"] == account["jid"], (status, account)
    assert status["account"]["lid"] == account["lid"], (status, account)


@pytest.fixture
def account(simulator: Simulator) -> Dict[str, Any]:
    return simulator.create_account(PHONE)


@pytest.fixture
def client_dir(tmp_path: Path) -> Path:
    return tmp_path / "client"


@pytest.fixture
def client(simulator: Simulator, client_dir: Path) -> Iterator[wause.Client]:
    with wause.Client(simulator.client_config(client_dir)) as opened:
        yield opened


def link_by_code(client: wause.Client, simulator: Simulator, phone: str = PHONE) -> wause.PairingCodeResult:
    result = client.pairing_code(phone)
    assert result["code"] is not None, result
    status, answer = simulator.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": result["code"]})
    assert status == 200, (status, answer)
    wait_logged_in(client)
    return result


def link_by_qr(client: wause.Client, simulator: Simulator) -> None:
    started = client.start_auth()
    assert started["qr"] is not None, started
    status, answer = simulator.admin("POST", f"/accounts/{PHONE}/scan", {"qr": started["qr"]})
    assert status == 200, (status, answer)
    wait_logged_in(client)


# The two ways to link --------------------------------------------------------------------------

def test_qr_linking_reaches_ready_with_the_accounts_jid_and_lid(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    started = client.start_auth()
    assert started["state"] == "qr" and started["has_qr"] is True, started
    assert started["qr"] is not None and started["qr"].startswith(QR_PREFIX), started
    assert started["qr_png_base64"] is not None
    assert base64.b64decode(started["qr_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert started["pairing_code"] is None

    # The event carries the same code the call returned.
    shown = next_event(client, "pairing.qr")
    assert shown["data"]["qr"] == started["qr"]
    assert shown["data"]["index"] == 1 and shown["data"]["count"] == 6
    assert shown["data"]["expires_in"] > 0
    assert client.pair_status()["qr"] == started["qr"]

    status, answer = simulator.admin("POST", f"/accounts/{PHONE}/scan", {"qr": shown["data"]["qr"]})
    assert status == 200, (status, answer)
    paired = next_event(client, "account.paired")
    assert paired["data"]["wid"] == account["jid"] and paired["data"]["lid"] == account["lid"], paired
    connected = wait_logged_in(client)
    assert connected["data"]["wid"] == account["jid"] and connected["data"]["lid"] == account["lid"], connected

    assert_ready_as(client.status(), account)
    after = client.pair_status()
    assert after["state"] == "ready", after
    assert after["qr"] is None and after["qr_png_base64"] is None and after["pairing_code"] is None, after
    assert len(simulator.devices(PHONE)) == 1


def test_pairing_code_linking_reaches_ready(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    result = client.pairing_code("+1 (555) 123-4567")
    assert result["already_authenticated"] is False and result["status"] is None, result
    assert result["phone_number"] == PHONE, result
    assert result["code"] is not None and CODE_FORMAT.match(result["code"]), result
    assert result["code"] in result["instructions"], result
    issued = next_event(client, "pairing.code")
    assert issued["data"] == {"code": result["code"], "phone_number": PHONE}, issued
    waiting = client.pair_status()
    assert waiting["state"] == "pairing_code" and waiting["pairing_code"] == result["code"], waiting
    assert waiting["qr"] is None and waiting["has_qr"] is False, waiting

    status, answer = simulator.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": result["code"]})
    assert status == 200, (status, answer)
    wait_logged_in(client)
    assert_ready_as(client.status(), account)

    # Linked now: another request reports that instead of issuing a code.
    again = client.pairing_code(PHONE)
    assert again["already_authenticated"] is True and again["code"] is None, again
    assert again["status"] is not None and again["status"]["state"] == "ready", again


def test_a_wrong_code_is_refused_by_the_phone_and_nothing_is_linked(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    code = client.pairing_code(PHONE)["code"]
    assert code is not None
    wrong = ("1" if code[0] != "1" else "2") + code[1:]
    status, answer = simulator.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": wrong})
    assert 400 <= status < 500 and answer["code"] and answer["message"], (status, answer)
    assert simulator.devices(PHONE) == []
    current = client.status()
    assert current["state"] == "pairing_code" and current["account"] is None, current


# Restart, logout, unlink -------------------------------------------------------------------------

def test_reopening_the_client_logs_in_without_pairing_again(
        simulator: Simulator, client_dir: Path, account: Dict[str, Any]) -> None:
    with wause.Client(simulator.client_config(client_dir)) as client:
        link_by_qr(client, simulator)
        assert_ready_as(client.status(), account)

    with wause.Client(simulator.client_config(client_dir)) as client:
        # A linked client dials by itself; no start_auth, no code.
        wait_logged_in(client)
        assert_ready_as(client.status(), account)
        assert client.pair_status()["qr"] is None
        names = [event["name"] for event in client.iter_log()]
        # Only the first client's pairing happened: one account.paired in the whole log.
        assert names.count("account.paired") == 1, names
    assert len(simulator.devices(PHONE)) == 1


def test_logout_unlinks_on_the_phone_and_keeps_working_afterwards(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    link_by_code(client, simulator)
    assert len(simulator.devices(PHONE)) == 1

    result = client.logout()
    assert result == {"ok": True, "was_linked": True, "server_confirmed": True}, result
    logged_out = next_event(client, "account.logged_out")
    assert logged_out["data"]["initiated_by"] == "user", logged_out
    current = client.status()
    assert current["state"] == "logged_out" and current["account"] is None, current
    assert current["authenticated"] is False and current["ready"] is False, current
    assert simulator.devices(PHONE) == []

    # Logging out again is harmless, and linking again works (a new device).
    assert client.logout() == {"ok": True, "was_linked": False, "server_confirmed": False}
    link_by_code(client, simulator)
    assert_ready_as(client.status(), account)
    assert len(simulator.devices(PHONE)) == 1


def test_unlink_with_clear_data_unlinks_and_deletes_the_history(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    link_by_qr(client, simulator)
    assert any(event["name"] == "pairing.qr" for event in client.iter_log())

    result = client.unlink(clear_data=True)
    assert result == {"ok": True, "was_linked": True, "server_confirmed": True, "cleared_data": True}, result
    logged_out = next_event(client, "account.logged_out")
    assert logged_out["data"]["initiated_by"] == "user", logged_out
    assert client.status()["state"] == "logged_out"
    assert simulator.devices(PHONE) == []
    # The history went with it: pairing events are gone from the log, the account events stay.
    names = [event["name"] for event in client.iter_log()]
    assert not any(name.startswith("pairing.") for name in names), names
    assert "account.logged_out" in names

    assert client.unlink() == {"ok": True, "was_linked": False, "server_confirmed": False,
                               "cleared_data": False}


def test_the_phone_unlinking_the_connected_device_logs_it_out(
        client: wause.Client, simulator: Simulator, account: Dict[str, Any]) -> None:
    link_by_qr(client, simulator)
    device = simulator.devices(PHONE)[0]["device"]

    status, removed = simulator.admin("DELETE", f"/accounts/{PHONE}/devices/{device}")
    assert status == 200, (status, removed)
    logged_out = next_event(client, "account.logged_out")
    assert logged_out["data"]["initiated_by"] == "server", logged_out
    assert logged_out["data"]["reason"], logged_out
    current = client.status()
    assert current["state"] == "logged_out" and current["account"] is None, current
    assert current["last_error"], current
    # No reconnect loop: the engine keeps no connection to the simulator.
    assert simulator.settled_connections() == []


# Refusals ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["", "12345", "+0 555 123 4567", "555-CALL-NOW", "1234567890123456",
                                   "+1 (555) 123-4567 x2", "++15551234567"])
def test_malformed_phone_numbers_raise_invalid_request_without_dialling(
        client: wause.Client, simulator: Simulator, phone: str) -> None:
    with pytest.raises(wause.InvalidRequest) as raised:
        client.pairing_code(phone)
    assert raised.value.code == "invalid_request"
    assert client.status()["state"] == "stopped"
    assert simulator.admin("GET", "/connections") == (200, [])


def test_a_phone_number_that_is_not_a_string_is_an_invalid_request(client: wause.Client) -> None:
    with pytest.raises(wause.InvalidRequest):
        client.pairing_code(15551234567)  # type: ignore[arg-type]
    with pytest.raises(wause.InvalidRequest):
        client.unlink(clear_data="yes")  # type: ignore[arg-type]
    assert client.status()["state"] == "stopped"


def test_logout_and_unlink_before_linking_change_nothing(client: wause.Client) -> None:
    assert client.logout() == {"ok": True, "was_linked": False, "server_confirmed": False}
    assert client.unlink() == {"ok": True, "was_linked": False, "server_confirmed": False, "cleared_data": False}
    current = client.pair_status()
    assert current["qr"] is None and current["qr_png_base64"] is None and current["pairing_code"] is None
    assert current["account"] is None


# asyncio -----------------------------------------------------------------------------------------

def test_async_client_links_by_code_and_logs_out(
        simulator: Simulator, client_dir: Path, account: Dict[str, Any]) -> None:
    async def next_async(client: wause.AsyncClient, name: str,
                         where: Callable[[Dict[str, Any]], bool] = lambda data: True) -> wause.Event:
        async for event in client.events(timeout=DEADLINE):
            if event["name"] == name and where(event["data"]):
                return event
        raise AssertionError(f"no {name} event within {DEADLINE} s")

    async def scenario() -> None:
        async with wause.AsyncClient(simulator.client_config(client_dir)) as client:
            with pytest.raises(wause.InvalidRequest):
                await client.pairing_code("not a number")
            result = await client.pairing_code("+1 555 123 4567")
            assert result["code"] is not None and CODE_FORMAT.match(result["code"]), result
            assert (await client.pair_status())["pairing_code"] == result["code"]
            status, answer = await asyncio.to_thread(
                simulator.admin, "POST", f"/accounts/{PHONE}/enter-code", {"code": result["code"]})
            assert status == 200, (status, answer)
            await next_async(client, "account.connected", lambda data: data["phase"] == "login")
            assert_ready_as(await client.status(), account)

            assert await client.logout() == {"ok": True, "was_linked": True, "server_confirmed": True}
            logged_out = await next_async(client, "account.logged_out")
            assert logged_out["data"]["initiated_by"] == "user"
            assert (await client.status())["state"] == "logged_out"
            assert await client.unlink(clear_data=True) == {
                "ok": True, "was_linked": False, "server_confirmed": False, "cleared_data": True}
            started = await client.start_auth()
            assert started["state"] == "qr" and started["qr"] is not None, started
        assert simulator.devices(PHONE) == []

    asyncio.run(scenario())


# The typed results match the catalogue -----------------------------------------------------------

@pytest.mark.parametrize("method, typed", [
    ("whatsapp_start_auth", wause.PairStatusResult),
    ("whatsapp_pair_status", wause.PairStatusResult),
    ("whatsapp_pairing_code", wause.PairingCodeResult),
    ("whatsapp_logout", wause.LogoutResult),
    ("whatsapp_unlink", wause.UnlinkResult),
])
def test_result_types_name_exactly_the_catalogues_fields(method: str, typed: Any) -> None:
    methods = {entry["name"]: entry for entry in wause.catalogue()["methods"]}
    schema = methods[method]["output_schema"]
    assert set(typed.__annotations__) == set(schema["properties"]), method
    assert set(schema.get("required", [])) <= set(typed.__annotations__), method

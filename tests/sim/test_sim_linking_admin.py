"""wause-sim's linking routes as a black box: `POST /accounts/{phone}/scan {qr, corrupt?}` and
`POST /accounts/{phone}/enter-code {code, corrupt?}` (DESIGN.md "The simulator"), their errors
as `{code, message}` with the status the simulator documents (Sources/WauseSim/PhoneLinking.swift):

    400 invalid_request   malformed body, QR or code, unknown `corrupt`
    404 not_found         unknown account, unknown ref, no pairing code waiting for the account
    409 pairing_failed    that companion is being linked already
    410 pairing_failed    the ref has expired (tested in virtual time: Tests/WauseSimTests)
    422 pairing_failed    the QR's keys are not the connection's, wrong code, companion rejected
    408 timeout           the companion did not answer within 30 s (Tests/WauseSimTests)

The refusals that need a real companion use wause-mcp's QR (read from /qr.png with zxing-cpp):
the companion must see nothing of them and keep showing its QR. Successful linking, tampered
pair-success and wrong codes through the engine are in test_linking_flows_e2e.py; an independent
client does the whole exchange in tests/interop/test_sim_independent_client.py.
"""

from __future__ import annotations

import base64
import os

import pytest

from engine_flows import PHONE, scan_qr_png, status
from test_qr_linking_e2e import engine, qr_fields, start_linking  # noqa: F401 (fixture)

QR_PREFIX = "https://wa.me/settings/linked_devices#"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def a_qr(ref: str = "2@unknown", keys: tuple[bytes, bytes, bytes] | None = None, client_type: str = "1") -> str:
    noise, identity, adv = keys or (os.urandom(32), os.urandom(32), os.urandom(32))
    return f"{QR_PREFIX}{ref},{b64(noise)},{b64(identity)},{b64(adv)},{client_type}"


def assert_error(response, status: int, code: str) -> dict:
    assert response.status == status, response
    body = response.json()
    assert isinstance(body, dict) and body.get("code") == code, response
    assert isinstance(body.get("message"), str) and body["message"], response
    return body


@pytest.fixture
def account_sim(sim):
    assert sim.admin("POST", "/accounts", {"phone": PHONE}).status == 201
    return sim


# --------------------------------------------------------------------------------------------
# scan


@pytest.mark.parametrize("body", [
    {},
    {"qr": 5},
    {"qr": None},
    {"qr": ""},
    {"qr": "hello"},
    {"qr": "https://example.com/#a,b,c,d,1"},
    {"qr": QR_PREFIX + "ref,AAAA,AAAA,AAAA,1"},  # keys not 32 bytes
    {"qr": a_qr()[:-2]},  # four fields
    {"qr": a_qr() + ",extra"},  # six fields
    {"qr": a_qr(client_type="")},
    {"qr": a_qr(ref="")},
    {"qr": a_qr().replace("=", "", 1)},  # unpadded base64
    {"qr": a_qr(), "corrupt": "everything"},
    {"qr": a_qr(), "corrupt": 1},
], ids=lambda body: repr(body)[:60])
def test_malformed_scans_are_invalid_requests(account_sim, body):
    assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/scan", body), 400, "invalid_request")


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b'"qr"'])
def test_scan_needs_a_json_object(account_sim, raw):
    assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/scan", raw=raw), 400, "invalid_request")


def test_scan_of_an_unknown_ref_is_not_found(account_sim):
    body = assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/scan", {"qr": a_qr()}), 404, "not_found")
    assert "2@unknown" in body["message"]


def test_scan_by_an_unknown_account_is_not_found(account_sim):
    assert_error(account_sim.admin("POST", "/accounts/15559990000/scan", {"qr": a_qr()}), 404, "not_found")


def test_scan_by_a_malformed_phone_is_invalid(account_sim):
    assert_error(account_sim.admin("POST", "/accounts/12ab/scan", {"qr": a_qr()}), 400, "invalid_request")


def test_a_qr_with_foreign_keys_is_refused_and_the_companion_sees_nothing(account_sim, engine):  # noqa: F811
    """The ref is live (wause-mcp shows it), but the keys are not the connection's: 422, and the
    engine goes on showing its QR with no pairing.failed and nothing linked."""
    server = engine(account_sim)
    session, events, _ = start_linking(account_sim, server)
    qr = scan_qr_png(server)
    ref, noise, identity, adv, client_type = qr_fields(qr)
    real = (base64.b64decode(noise), base64.b64decode(identity), base64.b64decode(adv))
    for keys in ((os.urandom(32), real[1], real[2]), (real[0], os.urandom(32), real[2])):
        body = assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/scan", {"qr": a_qr(ref, keys)}), 422,
                            "pairing_failed")
        assert ref in body["message"]
    assert account_sim.admin("GET", f"/accounts/{PHONE}/devices").json() == []
    current = status(server, session)
    assert current["state"] == "qr" and current["has_qr"] is True, current
    assert "pairing.failed" not in events.names_since(0)
    assert "account.paired" not in events.names_since(0)


def test_a_ref_whose_connection_closed_is_not_found(make_sim, engine, tmp_path):  # noqa: F811
    """wause-mcp shows a QR, then the simulator restarts: the refs of the old connection are
    gone with it."""
    sim = make_sim(tmp_path / "sim")
    assert sim.admin("POST", "/accounts", {"phone": PHONE}).status == 201
    server = engine(sim)
    start_linking(sim, server)
    qr = scan_qr_png(server)
    sim.stop()
    again = make_sim(tmp_path / "sim", port=sim.ws_port, admin_port=sim.admin_port)
    assert_error(again.admin("POST", f"/accounts/{PHONE}/scan", {"qr": qr}), 404, "not_found")


# --------------------------------------------------------------------------------------------
# enter-code


@pytest.mark.parametrize("body", [
    {},
    {"code": None},
    {"code": 12345678},
    {"code": ""},
    {"code": "ABCD-EFG"},  # 7 symbols
    {"code": "ABCD-EFGHJ"},  # 9 symbols
    {"code": "ABCD-EFG0"},  # 0 is not in the alphabet
    {"code": "OIUA-BCDE"},  # nor O, I, U
    {"code": "ABCD_EFGH"},
    {"code": "ABCD-EFGH", "corrupt": "hmac!"},
], ids=lambda body: repr(body))
def test_malformed_codes_are_invalid_requests(account_sim, body):
    assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/enter-code", body), 400, "invalid_request")


@pytest.mark.parametrize("code", ["ABCD-EFGH", "abcdefgh", "ABCD EFGH"])
def test_a_well_formed_code_with_nothing_waiting_is_not_found(account_sim, code):
    """Any spelling LinkCodeCrypto.normalize accepts gets past validation; with no companion
    waiting for this account there is nothing to enter it into."""
    body = assert_error(account_sim.admin("POST", f"/accounts/{PHONE}/enter-code", {"code": code}), 404, "not_found")
    assert PHONE in body["message"]


def test_enter_code_by_an_unknown_account_is_not_found(account_sim):
    assert_error(account_sim.admin("POST", "/accounts/15559990000/enter-code", {"code": "ABCD-EFGH"}), 404, "not_found")


# --------------------------------------------------------------------------------------------
# routing


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("route", ["scan", "enter-code"])
def test_linking_routes_allow_only_post(account_sim, method, route):
    response = account_sim.admin(method, f"/accounts/{PHONE}/{route}")
    assert response.status == 405, response
    assert {m.strip() for m in response.headers.get("Allow", "").split(",")} == {"POST"}
    assert_error(response, 405, "invalid_request")


@pytest.mark.parametrize("path", ["/accounts/{p}/scan/x", "/accounts/{p}/enter-code/x", "/accounts/{p}/entercode",
                                  "/accounts/scan"])
def test_unknown_linking_paths_are_not_found(account_sim, path):
    assert_error(account_sim.admin("POST", path.format(p=PHONE), {}), 404, "not_found")

"""wause-sim as the media server, from outside: the fourth start-up line and DATA_DIR/media-ca.pem,
real TLS to the media host trusting that CA (and refused without it), uploads refused without a
media_conn auth, phone→phone media (image, document, voice note, location, contact card) whose
inbox rows carry the SHA-256 of the decrypted, verified plaintext, and DELETE /media expiring a
blob (downloads then answer 410, unknown paths 404). Standard library only (http.client, ssl)."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import ssl
from urllib.parse import quote

import pytest

from engine_flows import create_account, inbox, wait_until

ANN, BEN = "15550001111", "15550002222"


def media_get(sim, path: str, *, trust: bool = True) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=sim.media_ca_file) if trust else ssl.create_default_context()
    connection = http.client.HTTPSConnection("127.0.0.1", sim.media_port, context=context, timeout=20)
    try:
        connection.request("GET", path, headers={"Origin": "https://web.whatsapp.com"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def media_post(sim, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", sim.media_port,
                                             context=ssl.create_default_context(cafile=sim.media_ca_file), timeout=20)
    try:
        connection.request("POST", path, body=body, headers={"Content-Type": "application/octet-stream"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def received(sim, message_id: str) -> dict:
    return wait_until(lambda: next((m for m in inbox(sim, BEN)["messages"] if m["id"] == message_id), None),
                      f"{message_id} in {BEN}'s inbox")


def test_media_url_is_the_fourth_line_and_its_ca_is_written(sim):
    assert sim.media_url == f"https://127.0.0.1:{sim.media_port}"
    assert sim.media_port not in (sim.ws_port, sim.admin_port)
    with open(sim.media_ca_file) as pem:
        text = pem.read()
    assert text.startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" not in text
    # Nothing under the data directory holds a private key.
    for root, _, files in os.walk(sim.data_dir):
        for name in files:
            with open(os.path.join(root, name), "rb") as handle:
                assert b"PRIVATE KEY" not in handle.read(), name
    # The CA verifies the host (the certificate names 127.0.0.1); a path never issued is 404.
    status, body = media_get(sim, "/v/t62.7118-24/" + "0" * 32 + ".enc?ccb=11-4&mms-type=image&__wa-mms=")
    assert status == 404 and json.loads(body)["code"] == "not_found"
    with pytest.raises(ssl.SSLCertVerificationError):
        media_get(sim, "/", trust=False)


def test_an_upload_without_a_media_conn_auth_is_refused(sim):
    body = os.urandom(4096)
    token = base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode()
    status, answer = media_post(sim, f"/mms/image/{token}?auth=made-up&token={token}", body)
    assert status == 401 and json.loads(answer)["code"] == "unauthorized"
    status, _ = media_post(sim, f"/mms/image/{token}?token={token}", body)
    assert status == 401
    assert [name for name in os.listdir(os.path.join(sim.data_dir, "media")) if name.endswith(".enc")] == []


@pytest.mark.parametrize("kind, expected, extra", [
    ("image", "image", {"caption": "the view", "mimetype": "image/png"}),
    ("document", "document", {"file_name": "notes.txt", "mimetype": "text/plain"}),
    ("voice", "ptt", {}),
])
def test_a_phones_file_reaches_the_other_phone_verified(sim, kind, expected, extra):
    create_account(sim, ANN, "Ann")
    create_account(sim, BEN, "Ben")
    data = os.urandom(50_001)
    sent = sim.admin("POST", f"/accounts/{ANN}/send",
                     {"to": BEN, "type": kind, "data_base64": base64.b64encode(data).decode(), **extra})
    assert sent.status == 200, sent
    assert sent.json()["sha256"] == hashlib.sha256(data).hexdigest()
    row = received(sim, sent.json()["message_id"])
    media = row["media"]
    assert media["type"] == expected and "error" not in media, media
    assert media["sha256"] == hashlib.sha256(data).hexdigest() and media["size"] == len(data)
    assert media.get("caption") == extra.get("caption") and row["text"] == extra.get("caption")
    if "mimetype" in extra:
        assert media["mimetype"] == extra["mimetype"]
    if kind == "document":
        assert media["file_name"] == "notes.txt"

    # The ciphertext is on the media host at the message's direct path (AES-CBC padding + 10-byte MAC) ...
    path = media["direct_path"]
    status, body = media_get(sim, path + "&mms-type=image&__wa-mms=")
    assert status == 200 and len(body) == (len(data) // 16 + 1) * 16 + 10
    # ... until the admin API expires it: 410 from then on.
    expired = sim.admin("DELETE", "/media?direct_path=" + quote(path, safe=""))
    assert expired.status == 200 and expired.json()["expired"] is True, expired
    assert media_get(sim, path + "&mms-type=image&__wa-mms=")[0] == 410
    assert sim.admin("DELETE", "/media?direct_path=" + quote(path, safe="")).json()["was_expired"] is True


def test_locations_and_contact_cards_reach_the_other_phone(sim):
    create_account(sim, ANN, "Ann")
    create_account(sim, BEN, "Ben")
    place = sim.admin("POST", f"/accounts/{ANN}/send",
                      {"to": BEN, "type": "location", "latitude": 38.7223, "longitude": -9.1393, "name": "Lisbon"})
    assert place.status == 200, place
    vcard = "BEGIN:VCARD\nVERSION:3.0\nFN:Cat Doe\nTEL;waid=15550003333:+1 555 000 3333\nEND:VCARD"
    card = sim.admin("POST", f"/accounts/{ANN}/send", {"to": BEN, "type": "vcard", "vcard": vcard})
    assert card.status == 200, card
    location = received(sim, place.json()["message_id"])["media"]
    assert location == {"type": "location", "latitude": 38.7223, "longitude": -9.1393, "name": "Lisbon"}
    contact = received(sim, card.json()["message_id"])["media"]
    assert contact["type"] == "vcard" and contact["vcard"] == vcard and contact["display_name"] == "Cat Doe"


def test_media_admin_errors(sim):
    create_account(sim, ANN, "Ann")
    create_account(sim, BEN, "Ben")
    assert sim.admin("DELETE", "/media").status == 400
    assert sim.admin("DELETE", "/media?direct_path=" + quote("/etc/passwd", safe="")).status == 400
    unknown = sim.admin("DELETE", "/media?direct_path=" + quote("/v/t62.7118-24/" + "a" * 32 + ".enc?x=1", safe=""))
    assert unknown.status == 404 and unknown.json()["code"] == "not_found"
    assert sim.admin("GET", "/media").status == 405
    missing = sim.admin("POST", f"/accounts/{ANN}/send", {"to": BEN, "type": "image"})
    assert missing.status == 400 and "data_base64" in missing.json()["message"]
    assert sim.admin("POST", f"/accounts/{ANN}/send", {"to": BEN, "type": "hologram", "data_base64": "AAAA"}).status == 400
    assert inbox(sim, BEN)["messages"] == []

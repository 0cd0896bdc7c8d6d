"""Raw HTTP conformance of wause-mcp's Streamable HTTP endpoint (handshake era).

Every status code of the conformance checklist (the MCP specification 2025-11-25: basic/transports.mdx,
basic/lifecycle.mdx, server/tools.mdx), driven with
http.client / raw sockets only, so it runs in every venv. No sleeps: streams are read with
socket timeouts, log lines are awaited, the process exit is awaited with proc.wait(timeout).
"""

from __future__ import annotations

import json
import re
import signal
import threading

import pytest

from conftest import TOKEN
from wause_harness import (
    ACCEPT_BOTH,
    DEADLINE,
    LATEST,
    PROTOCOL_VERSIONS,
    chunked,
    initialize_message,
    parse_raw_response,
    raw_exchange,
    sse_messages,
    WauseServer,
)

SESSION_ID = re.compile(r"[0-9a-f]{32}")


def rpc_error(response, status: int, code: int, id=...):
    """Asserts a JSON-RPC error body with `code` under HTTP `status`; returns the error object."""
    assert response.status == status, response
    assert response.content_type == "application/json", response
    body = response.json()
    assert body.get("jsonrpc") == "2.0", body
    assert "result" not in body, body
    error = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str) and error["message"], body
    if id is not ...:
        assert "id" in body and body["id"] == id, body
    return error


def rpc_result(response, id=1):
    assert response.status == 200, response
    body = response.json()
    assert body.get("jsonrpc") == "2.0" and body.get("id") == id, body
    assert "error" not in body, body
    return body["result"]


@pytest.fixture(scope="module")
def session(server):
    """A 2025-11-25 session (initialize + notifications/initialized done)."""
    session_id, _ = server.initialize(LATEST)
    return session_id


# --------------------------------------------------------------------------------------------
# Lifecycle: initialize, version negotiation, session ids, initialized, ping
# --------------------------------------------------------------------------------------------


def test_initialize_returns_session_id_and_server_info(server):
    response = server.post(initialize_message(LATEST))
    assert response.status == 200, response
    assert response.content_type == "application/json"
    session_id = response.header("Mcp-Session-Id")
    assert session_id is not None
    assert all(0x21 <= ord(c) <= 0x7E for c in session_id), "session id must be visible ASCII"
    assert SESSION_ID.fullmatch(session_id), session_id
    result = rpc_result(response)
    assert result["protocolVersion"] == LATEST
    info = result["serverInfo"]
    assert isinstance(info["name"], str) and info["name"]
    assert isinstance(info["version"], str) and info["version"]
    assert isinstance(result["capabilities"]["tools"]["listChanged"], bool)
    assert result["capabilities"]["logging"] == {}
    assert isinstance(result["instructions"], str) and result["instructions"]


def test_session_ids_are_unique(server):
    ids = {server.post(initialize_message()).header("Mcp-Session-Id") for _ in range(20)}
    assert len(ids) == 20


@pytest.mark.parametrize("version", PROTOCOL_VERSIONS)
def test_initialize_echoes_supported_version(server, version):
    response = server.post(initialize_message(version))
    assert rpc_result(response)["protocolVersion"] == version


@pytest.mark.parametrize("version", ["2024-11-05", "1999-01-01", "2026-07-28", "not-a-version"])
def test_initialize_offers_latest_for_unknown_version(server, version):
    response = server.post(initialize_message(version))
    assert rpc_result(response)["protocolVersion"] == LATEST


def test_initialize_without_protocol_header_works(server):
    # The 2.3.0 client sends no MCP-Protocol-Version on initialize itself (A.2).
    response = server.post(initialize_message(LATEST), headers={"MCP-Protocol-Version": None})
    assert rpc_result(response)["protocolVersion"] == LATEST
    # ...and with one it works too.
    response = server.post(initialize_message(LATEST), protocol=LATEST)
    assert rpc_result(response)["protocolVersion"] == LATEST


def test_initialized_notification_is_202_without_body(server):
    response = server.post(initialize_message())
    session_id = response.header("Mcp-Session-Id")
    done = server.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, session=session_id,
                       protocol=LATEST)
    assert done.status == 202, done
    assert done.body == b""


def test_client_response_and_cancel_notification_are_202(server, session):
    for message in (
        {"jsonrpc": "2.0", "id": "srv-1", "result": {}},
        {"jsonrpc": "2.0", "id": "srv-2", "error": {"code": -32601, "message": "no"}},
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99, "reason": "test"}},
    ):
        response = server.post(message, session=session, protocol=LATEST)
        assert response.status == 202, (message, response)
        assert response.body == b""


@pytest.mark.parametrize("id", [7, "abc-1", 0, -3])
def test_ping_returns_empty_result_with_same_id(server, session, id):
    assert rpc_result(server.rpc(session, "ping", id=id), id=id) == {}


def test_second_initialize_in_a_session_is_not_an_error_of_the_transport(server, session):
    # initialize always starts a new session (a client that lost its id re-initializes).
    response = server.post(initialize_message(), session=session)
    assert response.status == 200
    assert response.header("Mcp-Session-Id") not in (None, session)


# --------------------------------------------------------------------------------------------
# Methods: tools/list, logging/setLevel, unknown methods, server/discover
# --------------------------------------------------------------------------------------------


def test_tools_list_single_page_has_no_next_cursor(server, session):
    result = rpc_result(server.rpc(session, "tools/list"))
    names = [tool["name"] for tool in result["tools"]]
    assert "whatsapp_status" in names
    assert len(names) == len(set(names))
    assert "nextCursor" not in result
    for tool in result["tools"]:
        assert re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", tool["name"])
        assert tool["inputSchema"]["type"] == "object"
        assert tool["outputSchema"]["type"] == "object"
        # Hints equal to MCP's defaults are left out; destructiveHint is always stated when not read-only.
        hints = tool["annotations"]
        assert set(hints) <= {"readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "title"}, hints
        assert all(isinstance(value, bool) for key, value in hints.items() if key != "title"), hints
        assert hints.get("readOnlyHint") is True or isinstance(hints.get("destructiveHint"), bool), (tool["name"], hints)


def test_tools_list_with_empty_params_object(server, session):
    assert "tools" in rpc_result(server.rpc(session, "tools/list", params={}))


@pytest.mark.parametrize("cursor", ["bogus", "", "tools:999999", "tools:-1", 12, {"a": 1}])
def test_tools_list_bad_cursor_is_invalid_params(server, session, cursor):
    rpc_error(server.rpc(session, "tools/list", params={"cursor": cursor}), 200, -32602, id=1)


@pytest.mark.parametrize("level", ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"])
def test_logging_set_level(server, session, level):
    assert rpc_result(server.rpc(session, "logging/setLevel", params={"level": level})) == {}


@pytest.mark.parametrize("params", [{"level": "loud"}, {"level": "INFO"}, {"level": 3}, {}, None])
def test_logging_set_level_bad_level(server, session, params):
    rpc_error(server.rpc(session, "logging/setLevel", params=params), 200, -32602, id=1)


@pytest.mark.parametrize("method", ["nope", "prompts/list", "resources/list", "tools/nope", "completion/complete"])
def test_unknown_method_is_method_not_found(server, session, method):
    rpc_error(server.rpc(session, method, id=5), 200, -32601, id=5)


def test_server_discover_gets_a_jsonrpc_error_body(server):
    # A legacy-only server must answer the modern probe with a JSON-RPC error body so
    # current clients fall back to initialize (A.11, A.12).
    response = server.post({"jsonrpc": "2.0", "id": 1, "method": "server/discover"})
    assert response.status in (200, 400, 404), response
    rpc_error(response, response.status, -32601, id=1)


def test_server_discover_as_the_2_3_client_sends_it(server):
    # Exactly the 2.3.0 probe: modern version header + Mcp-Method, no session.
    response = server.post({"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {}},
                           protocol="2026-07-28", headers={"Mcp-Method": "server/discover"})
    assert response.status in (200, 400, 404), response
    body = response.json()
    assert isinstance(body["error"]["code"], int), body
    assert body["error"]["code"] != -32022 or any(
        v in PROTOCOL_VERSIONS for v in body["error"].get("data", {}).get("supported", [])
    ), "a -32022 without a handshake version would stop the client from falling back"


# --------------------------------------------------------------------------------------------
# Body-level errors: parse errors, arrays, batches
# --------------------------------------------------------------------------------------------


def test_malformed_json_is_parse_error(server, session):
    rpc_error(server.post(None, session=session, raw=b'{"jsonrpc": "2.0", "id": 1, "method": '), 400, -32700,
              id=None)


def test_malformed_json_without_session_is_parse_error(server):
    rpc_error(server.post(None, raw=b"{nope"), 400, -32700, id=None)


def test_array_under_2025_11_25_is_invalid_request(server, session):
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"}, {"jsonrpc": "2.0", "id": 2, "method": "ping"}]
    rpc_error(server.post(batch, session=session, protocol=LATEST), 400, -32600, id=None)


def test_array_under_2025_06_18_is_invalid_request(server):
    session_id, _ = server.initialize("2025-06-18")
    rpc_error(server.post([{"jsonrpc": "2.0", "id": 1, "method": "ping"}], session=session_id,
                          protocol="2025-06-18"), 400, -32600, id=None)


def test_batch_under_2025_03_26(server):
    session_id, result = server.initialize("2025-03-26")
    assert result["protocolVersion"] == "2025-03-26"
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 3, "method": "no/such/method"},
    ]
    response = server.post(batch, session=session_id, protocol="2025-03-26")
    assert response.status == 200, response
    assert response.content_type == "application/json"
    answers = response.json()
    assert isinstance(answers, list) and len(answers) == 3, answers
    by_id = {answer["id"]: answer for answer in answers}
    assert set(by_id) == {1, "two", 3}
    assert by_id[1]["result"] == {}
    assert any(t["name"] == "whatsapp_status" for t in by_id["two"]["result"]["tools"])
    assert by_id[3]["error"]["code"] == -32601


def test_batch_of_notifications_only_under_2025_03_26_is_202(server):
    session_id, _ = server.initialize("2025-03-26")
    batch = [{"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}]
    response = server.post(batch, session=session_id, protocol="2025-03-26")
    assert response.status == 202, response
    assert response.body == b""


def test_empty_array_is_invalid_request(server, session):
    rpc_error(server.post([], session=session), 400, -32600, id=None)


# --------------------------------------------------------------------------------------------
# Session and protocol-version header rules
# --------------------------------------------------------------------------------------------


def test_request_without_session_is_400(server):
    rpc_error(server.post({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}, protocol=LATEST), 400, -32600)


def test_notification_without_session_is_400(server):
    response = server.post({"jsonrpc": "2.0", "method": "notifications/initialized"}, protocol=LATEST)
    assert response.status == 400, response


def test_unknown_session_is_404(server):
    rpc_error(server.post({"jsonrpc": "2.0", "id": 4, "method": "ping"}, session="0" * 32, protocol=LATEST),
              404, -32600)
    rpc_error(server.post({"jsonrpc": "2.0", "id": 4, "method": "ping"}, session="not-a-session"), 404, -32600)


@pytest.mark.parametrize("version", ["1999-01-01", "2026-07-28", "2024-11-05", "latest", ""])
def test_unsupported_protocol_header_is_400(server, session, version):
    response = server.rpc(session, "ping", protocol=version)
    assert response.status == 400, response
    assert "error" in response.json()


@pytest.mark.parametrize("version", PROTOCOL_VERSIONS)
def test_supported_protocol_header_is_accepted(server, session, version):
    assert rpc_result(server.rpc(session, "ping", protocol=version)) == {}


def test_missing_protocol_header_after_initialize_is_accepted(server, session):
    # Absent → assume the session's (or 2025-03-26); never an error.
    assert rpc_result(server.rpc(session, "ping", protocol=None)) == {}


def test_session_id_header_name_is_case_insensitive(server, session):
    response = server.post({"jsonrpc": "2.0", "id": 1, "method": "ping"},
                           headers={"mcp-session-id": session, "mcp-protocol-version": LATEST})
    assert rpc_result(response) == {}


# --------------------------------------------------------------------------------------------
# HTTP-level refusals: 406, 415, 413, 405, 404
# --------------------------------------------------------------------------------------------


def test_accept_html_only_is_406(server, session):
    response = server.rpc(session, "ping", headers={"Accept": "text/html"})
    assert response.status == 406, response


@pytest.mark.parametrize("accept", ["*/*", "application/*, text/*", ACCEPT_BOTH,
                                    "application/json;q=0.9, text/event-stream;q=0.8", None])
def test_lenient_accept_values_work(server, session, accept):
    assert rpc_result(server.rpc(session, "ping", headers={"Accept": accept})) == {}


def test_initialize_with_accept_html_only_is_406(server):
    response = server.post(initialize_message(), headers={"Accept": "text/html"})
    assert response.status == 406, response
    assert response.header("Mcp-Session-Id") is None


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "text/json",
                                          "multipart/form-data; boundary=x"])
def test_wrong_content_type_is_415(server, session, content_type):
    response = server.rpc(session, "ping", headers={"Content-Type": content_type})
    assert response.status == 415, response


def test_content_type_with_charset_is_accepted(server, session):
    assert rpc_result(server.rpc(session, "ping", headers={"Content-Type": "application/json; charset=utf-8"})) == {}


MAX_BODY = 2048


@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    instance = WauseServer(tmp_path_factory.mktemp("wause-small"), ["--max-body-size", str(MAX_BODY)])
    yield instance
    assert instance.stop() == 0


def padded_ping(size: int) -> bytes:
    """A valid ping request of exactly `size` bytes (whitespace padding inside the object)."""
    base = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    assert len(base) < size
    return base[:-1] + b" " * (size - len(base)) + b"}"


def test_body_at_the_limit_is_accepted(small_server):
    session_id, _ = small_server.initialize()
    body = padded_ping(MAX_BODY)
    assert len(body) == MAX_BODY
    assert rpc_result(small_server.post(None, session=session_id, raw=body)) == {}


def test_body_over_limit_with_content_length_is_413(small_server):
    session_id, _ = small_server.initialize()
    body = padded_ping(MAX_BODY + 1)
    response = small_server.post(None, session=session_id, raw=body)
    assert response.status == 413, response
    # Far over the limit too (the server drains or refuses; either way a 413 arrives).
    response = small_server.post(None, session=session_id, raw=padded_ping(200_000))
    assert response.status == 413, response


def test_body_over_limit_chunked_is_413(small_server):
    session_id, _ = small_server.initialize()
    body = padded_ping(MAX_BODY * 4)
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: {small_server.authority}\r\nContent-Type: application/json\r\n"
        f"Accept: {ACCEPT_BOTH}\r\nMcp-Session-Id: {session_id}\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + chunked(body, 500)
    status, _, _ = parse_raw_response(raw_exchange(small_server.port, request))
    assert status == 413


def test_chunked_body_within_limit_is_accepted(small_server):
    session_id, _ = small_server.initialize()
    body = padded_ping(MAX_BODY)
    request = (
        f"POST /mcp HTTP/1.1\r\nHost: {small_server.authority}\r\nContent-Type: application/json\r\n"
        f"Accept: {ACCEPT_BOTH}\r\nMcp-Session-Id: {session_id}\r\nTransfer-Encoding: chunked\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + chunked(body, 300)
    status, _, payload = parse_raw_response(raw_exchange(small_server.port, request))
    assert status == 200, payload
    assert json.loads(payload)["result"] == {}


def test_413_without_session_too(small_server):
    response = small_server.post(None, raw=b"[" * (MAX_BODY + 10))
    assert response.status == 413, response


@pytest.mark.parametrize("method", ["PUT", "PATCH", "HEAD"])
def test_other_methods_on_mcp_are_405(server, method):
    response = server.request(method, "/mcp", body=b"{}" if method != "HEAD" else None,
                              headers={"Content-Type": "application/json"})
    assert response.status == 405, response
    assert "POST" in (response.header("Allow") or ""), response


def test_unknown_path_is_404(server):
    response = server.request("GET", "/nope")
    assert response.status == 404, response
    response = server.request("POST", "/mcp/extra", body=b"{}", headers={"Content-Type": "application/json"})
    assert response.status == 404, response


def test_healthz(server):
    response = server.request("GET", "/healthz")
    assert response.status == 200, response
    assert response.content_type == "application/json"
    body = response.json()
    assert body["ok"] is True
    assert body["state"] == "stopped"
    assert isinstance(body["version"], str)


# --------------------------------------------------------------------------------------------
# Host / Origin (DNS-rebinding defence) and bearer token
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/mcp", "/qr", "/qr.png", "/healthz"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1.evil.example:{port}",
                                  "localhost.evil.example", "0.0.0.0:{port}"])
def test_foreign_host_is_421(server, path, host):
    host = host.format(port=server.port)
    if path == "/mcp":
        response = server.request("POST", path, body=json.dumps(initialize_message()),
                                  headers={"Content-Type": "application/json", "Accept": ACCEPT_BOTH}, host=host)
        assert response.header("Mcp-Session-Id") is None
    else:
        response = server.request("GET", path, host=host)
    assert response.status == 421, response


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "127.0.0.1", "localhost", "[::1]:{port}"])
def test_local_host_headers_are_allowed(server, host):
    response = server.request("GET", "/healthz", host=host.format(port=server.port))
    assert response.status == 200, response


@pytest.mark.parametrize("origin", ["http://evil.example", "https://evil.example", "null",
                                    "http://localhost.evil.example:{port}", "http://127.0.0.1.evil.example",
                                    "http://evil.example/http://localhost:{port}", "file://"])
def test_foreign_origin_is_403(server, session, origin):
    origin = origin.format(port=server.port)
    response = server.rpc(session, "ping", headers={"Origin": origin})
    assert response.status == 403, response
    response = server.post(initialize_message(), headers={"Origin": origin})
    assert response.status == 403, response
    assert response.header("Mcp-Session-Id") is None
    assert server.request("GET", "/qr", headers={"Origin": origin}).status == 403


@pytest.mark.parametrize("origin", ["http://localhost:{port}", "http://127.0.0.1:{port}", "http://[::1]:{port}",
                                    "http://localhost"])
def test_local_origin_is_allowed(server, session, origin):
    response = server.rpc(session, "ping", headers={"Origin": origin.format(port=server.port)})
    assert rpc_result(response) == {}


def test_no_origin_is_allowed(server, session):
    assert rpc_result(server.rpc(session, "ping", headers={"Origin": None})) == {}


def test_token_server_without_token_is_401(token_server):
    response = token_server.post(initialize_message())
    assert response.status == 401, response
    assert (response.header("WWW-Authenticate") or "").lower().startswith("bearer"), response
    assert response.header("Mcp-Session-Id") is None


@pytest.mark.parametrize("authorization", ["Bearer wrong", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}",
                                           f"Basic {TOKEN}", TOKEN, "Bearer", "Bearer "])
def test_token_server_wrong_token_is_401(token_server, authorization):
    response = token_server.post(initialize_message(), headers={"Authorization": authorization})
    assert response.status == 401, response
    assert response.header("WWW-Authenticate") is not None


def test_token_server_right_token(token_server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    response = token_server.post(initialize_message(), headers=auth)
    assert rpc_result(response)["protocolVersion"] == LATEST
    session_id = response.header("Mcp-Session-Id")
    assert rpc_result(token_server.rpc(session_id, "ping", headers=auth)) == {}
    # The session id alone is not a credential.
    assert token_server.rpc(session_id, "ping").status == 401
    # Lower-case scheme is fine (RFC 7235: case-insensitive).
    assert rpc_result(token_server.rpc(session_id, "ping", headers={"Authorization": f"bearer {TOKEN}"})) == {}


def test_token_server_query_token_is_not_accepted_on_mcp(token_server):
    response = token_server.request("POST", f"/mcp?token={TOKEN}", body=json.dumps(initialize_message()),
                                    headers={"Content-Type": "application/json", "Accept": ACCEPT_BOTH})
    assert response.status == 401, response


def test_token_server_get_and_delete_need_token(token_server):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    session_id = token_server.post(initialize_message(), headers=auth).header("Mcp-Session-Id")
    assert token_server.request("GET", "/mcp", headers={"Mcp-Session-Id": session_id,
                                                        "Accept": "text/event-stream"}).status == 401
    assert token_server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id}).status == 401
    assert token_server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id, **auth}).status == 200


def test_token_server_qr_page(token_server):
    assert token_server.request("GET", "/qr").status == 401
    assert token_server.request("GET", "/qr?token=wrong").status == 401
    response = token_server.request("GET", f"/qr?token={TOKEN}")
    assert response.status == 200, response
    assert response.content_type == "text/html"
    response = token_server.request("GET", "/qr", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200, response
    # Nothing to scan, but the token is accepted: 404 not_found rather than 401.
    assert token_server.request("GET", f"/qr.png?token={TOKEN}").status == 404
    assert token_server.request("GET", "/qr.svg").status == 401


def test_token_server_still_checks_host_and_origin(token_server):
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    body = json.dumps(initialize_message())
    assert token_server.request("POST", "/mcp", body=body, headers=auth, host="evil.example").status == 421
    assert token_server.request("POST", "/mcp", body=body,
                                headers={**auth, "Origin": "http://evil.example"}).status == 403


# --------------------------------------------------------------------------------------------
# GET stream, DELETE
# --------------------------------------------------------------------------------------------


def test_get_without_session_is_405_with_allow(server):
    response = server.request("GET", "/mcp", headers={"Accept": "text/event-stream"})
    assert response.status == 405, response
    assert "POST" in (response.header("Allow") or ""), response


def test_get_with_unknown_session_is_404(server):
    response = server.request("GET", "/mcp", headers={"Accept": "text/event-stream", "Mcp-Session-Id": "f" * 32})
    assert response.status == 404, response


def test_get_stream_opens_with_keepalive_comment(server):
    session_id, _ = server.initialize()
    with server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session_id,
                                     "MCP-Protocol-Version": LATEST}) as stream:
        assert stream.status == 200
        assert (stream.header("Content-Type") or "").split(";")[0] == "text/event-stream"
        first = stream.readline()
        assert first.startswith(b":"), first  # an SSE comment line arrives at once


def test_get_stream_with_wrong_accept_is_406(server):
    session_id, _ = server.initialize()
    response = server.request("GET", "/mcp", headers={"Accept": "application/json", "Mcp-Session-Id": session_id})
    assert response.status == 406, response


def test_second_get_ends_the_first_stream(server):
    session_id, _ = server.initialize()
    headers = {"Accept": "text/event-stream", "Mcp-Session-Id": session_id}
    first = server.open_stream(headers=headers)
    try:
        assert first.status == 200
        assert first.readline().startswith(b":")
        with server.open_stream(headers=headers) as second:
            assert second.status == 200
            assert second.readline().startswith(b":")
            # The first stream is ended by the server (each message goes to exactly one stream).
            first.read_until_eof()
            # The second is still alive: the session still answers, and DELETE ends it.
            assert rpc_result(server.rpc(session_id, "ping")) == {}
            assert server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id}).status == 200
            second.read_until_eof()
    finally:
        first.close()


def test_delete_ends_the_session(server):
    session_id, _ = server.initialize()
    response = server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id})
    assert response.status in (200, 204), response
    assert response.body == b""
    rpc_error(server.rpc(session_id, "ping"), 404, -32600)
    assert server.request("GET", "/mcp", headers={"Accept": "text/event-stream",
                                                  "Mcp-Session-Id": session_id}).status == 404
    assert server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id}).status == 404


def test_delete_without_session_is_405(server):
    response = server.request("DELETE", "/mcp")
    assert response.status == 405, response
    assert "POST" in (response.header("Allow") or "")


def test_delete_ends_an_open_get_stream(server):
    session_id, _ = server.initialize()
    with server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session_id}) as stream:
        assert stream.readline().startswith(b":")
        assert server.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id}).status == 200
        stream.read_until_eof()


def test_posts_are_answered_while_streams_are_open(server):
    # Thread-per-connection: open GET streams must not hold up other requests.
    streams = []
    try:
        sessions = [server.initialize()[0] for _ in range(4)]
        for session_id in sessions:
            stream = server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session_id})
            assert stream.readline().startswith(b":")
            streams.append(stream)
        for session_id in sessions:
            assert rpc_result(server.rpc(session_id, "ping")) == {}
            result = rpc_result(server.rpc(session_id, "tools/call", params={"name": "whatsapp_status",
                                                                            "arguments": {}}))
            assert result["isError"] is False
        assert server.request("GET", "/healthz").status == 200
    finally:
        for stream in streams:
            stream.close()


def test_concurrent_posts(server, session):
    results: list = [None] * 16
    errors: list = []

    def worker(i: int) -> None:
        try:
            results[i] = server.rpc(session, "ping", id=i)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE)
    assert not errors, errors
    for i, response in enumerate(results):
        assert rpc_result(response, id=i) == {}


def test_concurrent_tool_calls(server, session):
    results: list = [None] * 32
    errors: list = []
    params = {"name": "whatsapp_status", "arguments": {}}

    def worker(i: int) -> None:
        try:
            results[i] = server.rpc(session, "tools/call", params=params, id=i)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(results))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE * 2)
    assert not errors, errors
    for i, response in enumerate(results):
        assert rpc_result(response, id=i)["isError"] is False


def test_many_sessions(make_server):
    """Sessions are bounded server state: creating many must neither fail nor wedge the server.
    An old session may be ended to make room, but then it answers 404 (never 400/5xx)."""
    own = make_server()  # own server: evicting the shared module session would break other tests
    first, _ = own.initialize()
    for _ in range(1100):
        assert own.post(initialize_message()).status == 200
    session_id, _ = own.initialize()
    assert rpc_result(own.rpc(session_id, "ping")) == {}
    assert own.rpc(first, "ping").status in (200, 404)


def test_keep_alive_connection_serves_a_whole_session(server):
    """One persistent HTTP/1.1 connection (as httpx uses): 200, 202, 400 and SSE answers in a row."""
    import http.client

    conn = http.client.HTTPConnection(server.host, server.port, timeout=DEADLINE)
    headers = {"Content-Type": "application/json", "Accept": ACCEPT_BOTH}
    try:
        def post(body) -> tuple[int, bytes, str]:
            conn.request("POST", "/mcp", body=body if isinstance(body, bytes) else json.dumps(body), headers=headers)
            response = conn.getresponse()
            return response.status, response.read(), response.getheader("Mcp-Session-Id") or ""

        status, _, session_id = post(initialize_message())
        assert status == 200
        headers["Mcp-Session-Id"] = session_id
        headers["MCP-Protocol-Version"] = LATEST
        assert post({"jsonrpc": "2.0", "method": "notifications/initialized"})[0] == 202
        assert post(b"{broken")[0] == 400
        assert post({"jsonrpc": "2.0", "id": 2, "method": "ping"})[:2] == (200, b'{"jsonrpc":"2.0","id":2,"result":{}}')
        status, body, _ = post({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                "params": {"name": "whatsapp_status", "_meta": {"progressToken": 3}}})
        assert status == 200 and sse_messages(body)[-1]["id"] == 3
        assert post({"jsonrpc": "2.0", "id": 4, "method": "ping"})[0] == 200
        conn.request("DELETE", "/mcp", headers={"Mcp-Session-Id": session_id})
        response = conn.getresponse()
        response.read()
        assert response.status == 200
        conn.request("GET", "/healthz")
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["ok"] is True
    finally:
        conn.close()


def test_expect_100_continue(server):
    # curl sends `Expect: 100-continue` for bodies over 1 KiB.
    import socket

    body = json.dumps(initialize_message()).encode()
    with socket.create_connection((server.host, server.port), timeout=DEADLINE) as sock:
        sock.sendall(
            f"POST /mcp HTTP/1.1\r\nHost: {server.authority}\r\nContent-Type: application/json\r\n"
            f"Accept: {ACCEPT_BOTH}\r\nExpect: 100-continue\r\nConnection: close\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        interim = b""
        while b"\r\n\r\n" not in interim:
            chunk = sock.recv(1)
            assert chunk, "connection closed before 100 Continue"
            interim += chunk
        assert interim.startswith(b"HTTP/1.1 100"), interim
        sock.sendall(body)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status, headers, payload = parse_raw_response(reply)
    assert status == 200
    assert SESSION_ID.fullmatch(headers["mcp-session-id"])
    assert json.loads(payload)["result"]["protocolVersion"] == LATEST


# --------------------------------------------------------------------------------------------
# Progress token → SSE answer
# --------------------------------------------------------------------------------------------


def test_progress_token_answers_as_sse(server, session):
    params = {"name": "whatsapp_status", "arguments": {}, "_meta": {"progressToken": "p-1"}}
    response = server.rpc(session, "tools/call", params=params, id=11)
    assert response.status == 200, response
    assert response.content_type == "text/event-stream", response
    assert response.header("Cache-Control") is not None
    messages = sse_messages(response.body)
    final = messages[-1]
    assert final["id"] == 11 and final["result"]["isError"] is False
    for note in messages[:-1]:  # anything before the result must be progress for our token
        assert note["method"] == "notifications/progress" and note["params"]["progressToken"] == "p-1"
    plain = rpc_result(server.rpc(session, "tools/call", params={"name": "whatsapp_status", "arguments": {}},
                                  id=11), id=11)
    assert final["result"] == plain


def test_wait_for_message_reports_progress_and_ends_with_a_clear_timeout(server, session):
    """whatsapp_wait_for_message with a progress token answers over SSE: progress notifications
    while it waits (they also keep the client's read timeout from firing), then a result that says
    plainly that nothing came."""
    params = {"name": "whatsapp_wait_for_message", "arguments": {"timeout": 1}, "_meta": {"progressToken": "w-1"}}
    response = server.rpc(session, "tools/call", params=params, id=21)
    assert response.status == 200, response
    assert response.content_type == "text/event-stream", response
    messages = sse_messages(response.body)
    progress = [m for m in messages[:-1] if m.get("method") == "notifications/progress"]
    assert progress and len(progress) == len(messages) - 1, messages
    for note in progress:
        assert note["params"]["progressToken"] == "w-1" and note["params"]["total"] == 1, note
        assert isinstance(note["params"]["message"], str) and "waiting" in note["params"]["message"]
    values = [note["params"]["progress"] for note in progress]
    assert values == sorted(values), values
    final = messages[-1]
    assert final["id"] == 21 and final["result"]["isError"] is False, final
    result = final["result"]["structuredContent"]
    assert result["timed_out"] is True and result["message"] is None and result["ok"] is True, result
    assert result["waited_seconds"] >= 1, result


def test_concurrent_progress_calls_do_not_deadlock(make_server):
    """Regression: several tools/call requests with a progressToken at once (each answered as
    SSE) used to wedge the server for good (every later tools/call hung, and SIGTERM then hung
    in shutdown): the SSE path ran dispatch in a task that parked its cooperative-pool thread in
    WauseClient.callBlocking, waiting for another task; as many such calls as pool threads
    (= CPUs, so 2 on a 2-CPU machine) left nothing to run the inner tasks. Expected: every call
    answers, and tool calls keep working afterwards."""
    import os

    own = make_server()  # own server: a wedged one must not break the other tests
    session_id, _ = own.initialize()
    # More concurrent calls than cooperative-pool threads (one per CPU), but well under the
    # server's connection limit (256).
    count = min(max(16, 4 * (os.cpu_count() or 2) + 8), 200)

    def wave(number: int) -> None:
        results: list = [None] * count
        barrier = threading.Barrier(count)

        def worker(i: int) -> None:
            barrier.wait(timeout=DEADLINE)
            params = {"name": "whatsapp_status", "arguments": {}, "_meta": {"progressToken": f"w{number}-{i}"}}
            try:
                results[i] = own.rpc(session_id, "tools/call", params=params, id=i)
            except OSError as exc:  # socket.timeout: no answer within DEADLINE
                results[i] = exc

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE * 3)
        unanswered = [i for i, r in enumerate(results) if not hasattr(r, "status")]
        assert not unanswered, f"wave {number}: {len(unanswered)} of {count} concurrent SSE tools/call got no answer"
        for response in results:
            assert response.content_type == "text/event-stream"
            assert sse_messages(response.body)[-1]["result"]["isError"] is False

    for number in range(3):  # a race: a few waves make a hit near-certain
        wave(number)
    # And the server still serves tool calls afterwards.
    plain = own.rpc(session_id, "tools/call", params={"name": "whatsapp_status", "arguments": {}})
    assert rpc_result(plain)["isError"] is False


def test_progress_token_with_json_only_accept_answers_json(server, session):
    params = {"name": "whatsapp_status", "arguments": {}, "_meta": {"progressToken": 5}}
    response = server.rpc(session, "tools/call", params=params, headers={"Accept": "application/json"})
    assert response.content_type == "application/json", response
    assert rpc_result(response)["isError"] is False


# --------------------------------------------------------------------------------------------
# tools/call at the wire level
# --------------------------------------------------------------------------------------------


def test_tools_call_status_wire_shape(server, session):
    result = rpc_result(server.rpc(session, "tools/call", params={"name": "whatsapp_status", "arguments": {}}))
    assert result["isError"] is False
    assert [block["type"] for block in result["content"]] == ["text"]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]
    assert result["structuredContent"]["data_dir"] == server.data_dir


def test_tools_call_without_arguments_key(server, session):
    result = rpc_result(server.rpc(session, "tools/call", params={"name": "whatsapp_status"}))
    assert result["isError"] is False


def test_tools_call_unknown_tool_is_invalid_params(server, session):
    rpc_error(server.rpc(session, "tools/call", params={"name": "nope", "arguments": {}}), 200, -32602, id=1)


def test_tools_call_without_name_is_invalid_params(server, session):
    rpc_error(server.rpc(session, "tools/call", params={"arguments": {}}), 200, -32602, id=1)


@pytest.mark.parametrize("arguments", [{"x": 1}, [], "x", 5, True])
def test_tools_call_bad_arguments_is_tool_error(server, session, arguments):
    response = server.rpc(session, "tools/call", params={"name": "whatsapp_status", "arguments": arguments})
    assert response.status == 200, response
    body = response.json()
    if "error" in body:  # a non-object `arguments` fails the CallToolRequest schema: protocol error is fine
        assert not isinstance(arguments, dict)
        assert body["error"]["code"] == -32602
        return
    result = body["result"]
    assert result["isError"] is True
    error = json.loads(result["content"][0]["text"])
    assert error["code"] == "invalid_request"
    assert isinstance(error["message"], str) and error["message"]


# --------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------


def test_request_log_line(server):
    mark = server.log_mark()
    session_id, _ = server.initialize("2025-06-18")
    server.rpc(session_id, "ping", id=1, protocol="2025-06-18")
    server.rpc(session_id, "tools/list", id=2, protocol="2025-06-18")
    server.request("GET", "/nope")
    prefix = re.escape(session_id[:8])
    server.wait_for_log(rf"POST /mcp 200 rpc=initialize session={prefix}\b.*protocol=2025-06-18", since=mark)
    server.wait_for_log(rf"POST /mcp 202 rpc=notifications/initialized session={prefix}\b.*protocol=2025-06-18",
                        since=mark)
    server.wait_for_log(rf"POST /mcp 200 rpc=ping session={prefix}\b.*protocol=2025-06-18", since=mark)
    server.wait_for_log(rf"POST /mcp 200 rpc=tools/list session={prefix}\b.*protocol=2025-06-18", since=mark)
    server.wait_for_log(r"GET /nope 404\b", since=mark)
    # The whole id never appears in the log.
    assert not any(session_id in line for line in server.log_lines)


def test_log_line_for_refused_requests(server):
    mark = server.log_mark()
    server.post({"jsonrpc": "2.0", "id": 1, "method": "ping"}, session="e" * 32, protocol=LATEST)
    server.request("GET", "/healthz", host="evil.example")
    server.wait_for_log(r"POST /mcp 404 .*session=eeeeeeee\b", since=mark)
    server.wait_for_log(r"GET /healthz 421\b", since=mark)


def test_log_never_contains_the_token(token_server):
    token_server.post(initialize_message(), headers={"Authorization": f"Bearer {TOKEN}"})
    token_server.request("GET", f"/qr?token={TOKEN}")
    mark = token_server.log_mark()
    token_server.request("GET", "/healthz")
    token_server.wait_for_log(r"GET /healthz 200", since=mark)
    assert not any(TOKEN in line for line in token_server.log_lines)


# --------------------------------------------------------------------------------------------
# Robustness: malformed input never kills the server
# --------------------------------------------------------------------------------------------

FUZZ_BODIES: list[bytes] = [
    b"",
    b" ",
    b"null",
    b"true",
    b"42",
    b'"ping"',
    b"{",
    b"}",
    b'{"jsonrpc":"2.0","id":1,"method":"ping"',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"} {"jsonrpc":"2.0","id":2,"method":"ping"}',
    b"[" * 10000,
    b"[" * 10000 + b"]" * 10000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":' + b"[" * 10000 + b"]" * 10000 + b"}",
    b'{"jsonrpc":"2.0","id":1e999,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":' + b"9" * 5000 + b',"method":"ping"}',
    b'{"jsonrpc":"2.0","id":-0.0000000000000000000001e-99999,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":Infinity,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":0x10,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":01,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\xff\xfe\xfd"}',
    b'{"jsonrpc":"2.0","id":1,"method":"p\xc3\x28ing"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\xed\xa0\x80"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\\ud800"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","x":"\\u00"}',
    b'{"jsonrpc":"2.0","id":1,"method":"pi\x00ng"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}\x00',
    b"\x00" * 64,
    b"\xef\xbb\xbf{}",
    b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
    b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
    b'{"jsonrpc":"2.0" "id":1}',
    b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}',
    b'{"jsonrpc":"2.0","id":[1],"method":"ping"}',
    b'{"jsonrpc":"2.0","id":true,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":null,"method":"ping"}',
    b'{"jsonrpc":"2.0","id":1,"method":5}',
    b'{"jsonrpc":"2.0","id":1,"method":null}',
    b'{"jsonrpc":"2.0","id":1,"method":["ping"]}',
    b'{"jsonrpc":"2.0","id":1,"method":{"name":"ping"}}',
    b'{"jsonrpc":"2.0","id":1,"method":""}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping","params":null}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":[]}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":null}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"' + b"A" * 100000 + b'"}}',
    b'{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"' + b"\\u0000" * 100 + b'"}}',
    b'{"jsonrpc":"1.0","id":1,"method":"ping"}',
    b'{"jsonrpc":2.0,"id":1,"method":"ping"}',
    b'{"id":1,"method":"ping"}',
    b'{"jsonrpc":"2.0"}',
    b'{"jsonrpc":"2.0","id":1}',
    b'{"jsonrpc":"2.0","result":{}}',
    b"[1,2,3]",
    b"[[]]",
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},' * 100 + b"1" + b"]" * 100,
]


@pytest.mark.parametrize("with_session", [True, False], ids=["session", "no-session"])
def test_fuzz_bodies_are_refused_cleanly(server, session, with_session):
    outcomes = []
    for body in FUZZ_BODIES:
        response = server.post(None, session=session if with_session else None, raw=body, protocol=LATEST)
        ok = False
        if 400 <= response.status < 500:
            ok = True
        elif response.status == 200 and response.content_type == "application/json":
            payload = response.json()
            ok = (isinstance(payload, dict) and ("error" in payload or payload.get("result", {}).get("isError")))
        outcomes.append((ok, body[:80], response.status, response.body[:200]))
        assert server.alive(), f"server died on {body[:80]!r}"
    bad = [o for o in outcomes if not o[0]]
    assert not bad, "accepted as valid:\n" + "\n".join(map(repr, bad))
    assert server.request("GET", "/healthz").status == 200
    assert rpc_result(server.rpc(session, "ping")) == {}


RAW_GARBAGE = [
    b"GARBAGE\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello start
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",  # body cut short
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n",
    b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\n\r\n",
    b"GET /" + b"a" * 100000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"b" * 200000 + b"\r\n\r\n",
    b"GET /healthz HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    b"\r\n\r\n\r\n",
]


def test_raw_garbage_does_not_kill_the_server(server):
    for data in RAW_GARBAGE:
        reply = raw_exchange(server.port, data)
        if reply:
            assert reply.startswith(b"HTTP/1."), reply[:200]
            status = int(reply.split(b" ")[1])
            assert status >= 400, reply[:300]
        assert server.alive(), f"server died on {data[:60]!r}"
    assert server.request("GET", "/healthz").status == 200


def test_abandoned_connections_do_not_kill_the_server(server, session):
    import socket

    for data in (b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n{\"a\":",
                 b"GET /mcp HTTP/1.1\r\nHo", b""):
        sock = socket.create_connection((server.host, server.port), timeout=DEADLINE)
        sock.sendall(data)
        sock.close()
    # A GET stream whose reader vanishes.
    stream = server.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session})
    assert stream.readline().startswith(b":")
    stream.close()
    assert rpc_result(server.rpc(session, "ping")) == {}
    assert server.request("GET", "/healthz").status == 200


# --------------------------------------------------------------------------------------------
# Shutdown
# --------------------------------------------------------------------------------------------


def test_sigterm_with_open_get_stream_exits_0(make_server):
    own = make_server()
    session_id, _ = own.initialize()
    stream = own.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": session_id})
    try:
        assert stream.status == 200
        assert stream.readline().startswith(b":")
        assert own.stop(signal.SIGTERM) == 0
        stream.read_until_eof()  # the server ended the stream rather than leaving it hanging
    finally:
        stream.close()
    own.wait_for_log(r"shutting down")


def test_sigint_exits_0(make_server):
    own = make_server()
    own.initialize()
    assert own.stop(signal.SIGINT) == 0


def test_sigterm_with_several_streams_and_an_idle_connection_exits_0(make_server):
    import socket

    own = make_server()
    session_id, _ = own.initialize()
    idle = socket.create_connection((own.host, own.port), timeout=DEADLINE)  # connected, says nothing
    streams = [own.open_stream(headers={"Accept": "text/event-stream", "Mcp-Session-Id": own.initialize()[0]})
               for _ in range(3)]
    try:
        for stream in streams:
            assert stream.readline().startswith(b":")
        assert own.stop(signal.SIGTERM) == 0
    finally:
        idle.close()
        for stream in streams:
            stream.close()

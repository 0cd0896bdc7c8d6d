"""The seven-tool contract (DESIGN.md "The seven-tool contract") as seen over MCP: for each seed
tool the server lists, every contract argument and result field must be there with the contract's
name, JSON type, requiredness and limits, and bad arguments must be `invalid_request` tool errors
(no clamping). Tools may offer more than the contract — extra optional arguments (`to`,
`idempotency_key`, …, DESIGN.md "Methods") and extra result fields (`status`, the QR of
`whatsapp_start_auth`) — because an agent written for the contract never sees the difference. Tools the catalogue does not list yet are skipped, so this module grows
with the engine.

The server here is pointed at a closed local port (`--server-url ws://127.0.0.1:9/ws/chat`): only
invalid arguments are sent, which must be refused before anything dials, and should a bug let one
through, it cannot reach any network.
"""

from __future__ import annotations

import json

import pytest

from wause_harness import WauseServer

NULL = "null"

STATUS_RESULT = {
    "state": "string", "ready": "boolean", "authenticated": "boolean", "has_qr": "boolean",
    "last_error": ["string", NULL], "account": ["object", NULL], "data_dir": "string", "store": "object",
}

CONTRACT: dict[str, dict] = {
    "whatsapp_status": {"args": {}, "required": set(), "result": STATUS_RESULT},
    "whatsapp_start_auth": {"args": {}, "required": set(), "result": STATUS_RESULT},
    "whatsapp_pairing_code": {
        "args": {"phone_number": "string"}, "required": {"phone_number"},
        "result": {"already_authenticated": "boolean", "phone_number": ["string", NULL], "code": ["string", NULL],
                   "instructions": "string", "status": ["object", NULL]},
    },
    "whatsapp_send_message": {
        # `to` is the general form of the recipient (DESIGN.md): one of the two is required.
        "args": {"phone_number": "string", "message": "string"}, "required": {"phone_number", "message"},
        "alternatives": {"phone_number": "to"},
        "result": {"ok": "boolean", "to": "string", "chat_id": "string", "message_id": ["string", NULL],
                   "timestamp": "string"},
    },
    "whatsapp_list_chats": {
        "args": {"limit": "integer"}, "required": set(), "limits": {"limit": (1, 100, 20)},
        "result": {"ok": "boolean", "count": "integer", "chats": "array"},
    },
    "whatsapp_read_messages": {
        "args": {"phone_number": "string", "limit": "integer"}, "required": {"phone_number"},
        "limits": {"limit": (1, 100, 10)},
        "result": {"ok": "boolean", "chat": "object", "count": "integer", "messages": "array"},
    },
    "whatsapp_logout": {"args": {}, "required": set(), "result": {"ok": "boolean"}},
}

# Arguments that break the contract, per tool: each must give isError + invalid_request.
BAD_ARGUMENTS: dict[str, list[dict]] = {
    "whatsapp_status": [{"x": 1}],
    "whatsapp_start_auth": [{"x": 1}],
    "whatsapp_pairing_code": [{}, {"phone_number": 15551234567}, {"phone_number": None}, {"phone_number": "1", "x": 1}],
    "whatsapp_send_message": [{}, {"phone_number": "15551234567"}, {"message": "hi"}, {"message": ""},
                              {"phone_number": "15551234567", "to": "15551234567", "message": "hi"},
                              {"phone_number": "15551234567", "message": 5},
                              {"phone_number": ["15551234567"], "message": "hi"}],
    "whatsapp_list_chats": [{"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "101"}, {"limit": 5.5},
                            {"limit": None}, {"limit": True}, {"x": 1}],
    "whatsapp_read_messages": [{}, {"limit": 5}, {"phone_number": "15551234567", "limit": 0},
                               {"phone_number": "15551234567", "limit": 101},
                               {"phone_number": "15551234567", "limit": "0"}, {"phone_number": 15551234567}],
    "whatsapp_logout": [{"x": 1}],
}


@pytest.fixture(scope="module")
def offline_server(tmp_path_factory):
    instance = WauseServer(tmp_path_factory.mktemp("wause-contract"),
                           ["--server-url", "ws://127.0.0.1:9/ws/chat"])
    yield instance
    assert instance.stop() == 0


@pytest.fixture(scope="module")
def listed(offline_server):
    session_id, _ = offline_server.initialize()
    tools = offline_server.rpc(session_id, "tools/list").json()["result"]["tools"]
    return session_id, {tool["name"]: tool for tool in tools}


def type_of(schema: dict):
    value = schema.get("type")
    return sorted(value) if isinstance(value, list) else value


def expected_type(spec):
    return sorted(spec) if isinstance(spec, list) else spec


@pytest.mark.parametrize("name", sorted(CONTRACT))
def test_tool_schemas_match_contract(listed, name):
    _, tools = listed
    if name not in tools:
        pytest.skip(f"{name} is not in the catalogue yet")
    tool, contract = tools[name], CONTRACT[name]

    input_schema = tool["inputSchema"]
    assert input_schema["type"] == "object"
    properties = input_schema.get("properties", {})
    assert set(contract["args"]) <= set(properties), properties
    for arg, arg_type in contract["args"].items():
        assert type_of(properties[arg]) == expected_type(arg_type), (arg, properties[arg])
    required = set(input_schema.get("required", []))
    alternatives = contract.get("alternatives", {})
    for arg in contract["required"]:
        if arg in alternatives:
            # Either form names the recipient; the server checks that exactly one is given.
            assert arg not in required and alternatives[arg] in properties, (arg, required)
        else:
            assert arg in required, (arg, required)
    # Nothing beyond the contract may be required: agents written for it never send more.
    assert required <= contract["required"], required
    assert input_schema.get("additionalProperties") is False, "unknown arguments must be refused"
    for arg, (low, high, default) in contract.get("limits", {}).items():
        assert properties[arg].get("minimum") == low, properties[arg]
        assert properties[arg].get("maximum") == high, properties[arg]
        assert properties[arg].get("default") == default, properties[arg]

    output_schema = tool["outputSchema"]
    assert output_schema["type"] == "object"
    out_properties = output_schema["properties"]
    assert set(contract["result"]) <= set(out_properties), sorted(out_properties)
    for field_name, field_type in contract["result"].items():
        assert type_of(out_properties[field_name]) == expected_type(field_type), (field_name, out_properties[field_name])
    assert set(contract["result"]) <= set(output_schema.get("required", []))


@pytest.mark.parametrize("name,arguments",
                         [(name, args) for name in sorted(BAD_ARGUMENTS) for args in BAD_ARGUMENTS[name]],
                         ids=lambda v: v if isinstance(v, str) else json.dumps(v))
def test_bad_arguments_are_invalid_request(offline_server, listed, name, arguments):
    session_id, tools = listed
    if name not in tools:
        pytest.skip(f"{name} is not in the catalogue yet")
    response = offline_server.rpc(session_id, "tools/call", params={"name": name, "arguments": arguments})
    assert response.status == 200, response
    result = response.json()["result"]
    assert result["isError"] is True, result
    assert "structuredContent" not in result or result["structuredContent"] is None
    error = json.loads(result["content"][0]["text"])
    assert error["code"] == "invalid_request", error
    assert isinstance(error["message"], str) and error["message"]


def test_integers_given_as_numeric_strings_are_accepted(offline_server, listed):
    """`"limit": "5"` (common from language models) is the integer 5 (issue 11); out of range
    as a string is still refused above, and booleans stay strict."""
    session_id, tools = listed
    response = offline_server.rpc(session_id, "tools/call", params={"name": "whatsapp_list_chats", "arguments": {"limit": "5"}})
    result = response.json()["result"]
    if result.get("isError"):
        assert json.loads(result["content"][0]["text"])["code"] != "invalid_request", result


def test_nothing_dialed(offline_server, listed):
    """After all the refused calls the engine is still `stopped` (it never tried to link)."""
    session_id, _ = listed
    response = offline_server.rpc(session_id, "tools/call", params={"name": "whatsapp_status", "arguments": {}})
    assert response.json()["result"]["structuredContent"]["state"] == "stopped"

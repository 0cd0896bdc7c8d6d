"""Helpers shared by the MCP-SDK test modules (imported only by them; needs the `mcp` package).

Works with mcp 2.3.0 (httpx2, snake_case models) and mcp 1.30.0 (httpx, camelCase models).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib.metadata import version as _dist_version
from typing import Any

import anyio

from wause_harness import DEADLINE

SDK_VERSION = _dist_version("mcp")
SDK_MAJOR = SDK_VERSION.split(".")[0]

# create_mcp_http_client(headers=..., timeout=..., auth=...) exists with the same signature in
# 1.30.0 (returns httpx.AsyncClient) and 2.3.0 (returns httpx2.AsyncClient).
from mcp.shared._httpx_utils import create_mcp_http_client  # noqa: E402

STATUS_FIELDS = {"state", "ready", "authenticated", "has_qr", "last_error", "account", "data_dir", "store"}
STORE_FIELDS = {"chats", "messages", "unread", "pending_approvals"}


def field_of(obj: Any, snake: str, camel: str) -> Any:
    """`obj.snake` on 2.x models, `obj.camel` on 1.x models."""
    return getattr(obj, snake) if hasattr(obj, snake) else getattr(obj, camel)


def error_code(exc: BaseException) -> int | None:
    """The JSON-RPC code of an MCPError (2.x: .code) / McpError (1.x: .error.code), searched
    through exception groups."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            code = error_code(inner)
            if code is not None:
                return code
        return None
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


def run(async_fn, *args: Any) -> Any:
    """Runs a coroutine function with a hard deadline (a hang fails the test, never blocks CI)."""

    async def bounded() -> Any:
        with anyio.fail_after(DEADLINE * 3):
            return await async_fn(*args)

    return anyio.run(bounded)


@dataclass
class WireRecord:
    """What the SDK's HTTP client saw: one entry per response."""

    entries: list[dict[str, Any]] = field(default_factory=list)

    def posts(self, rpc_method: str) -> list[dict[str, Any]]:
        return [e for e in self.entries if e["http_method"] == "POST" and e["rpc_method"] == rpc_method]

    def session_ids(self) -> set[str]:
        return {e["session"] for e in self.entries if e["session"]}


def recording_http_client(headers: dict[str, str] | None = None):
    """An SDK-configured AsyncClient (MCP timeouts) that records every response's status,
    content type and the JSON-RPC method/progress token of the request it answered."""
    record = WireRecord()
    client = create_mcp_http_client(headers=headers)

    async def on_response(response: Any) -> None:
        request = response.request
        rpc_method = None
        progress_token = None
        try:
            body = json.loads(request.content) if request.content else None
        except Exception:  # noqa: BLE001 — streamed or non-JSON bodies are just not annotated
            body = None
        if isinstance(body, dict):
            rpc_method = body.get("method") or ("response" if "result" in body or "error" in body else None)
            progress_token = ((body.get("params") or {}).get("_meta") or {}).get("progressToken")
        record.entries.append({
            "http_method": request.method,
            "status": response.status_code,
            "content_type": (response.headers.get("content-type") or "").split(";")[0].strip(),
            "rpc_method": rpc_method,
            "progress_token": progress_token,
            "session": response.headers.get("mcp-session-id") or request.headers.get("mcp-session-id"),
        })

    client.event_hooks["response"].append(on_response)
    return client, record


def assert_fresh_status(status: dict, data_dir: str) -> None:
    """The whatsapp_status object of a never-linked engine, with exact JSON types (DESIGN.md)."""
    assert isinstance(status, dict), status
    assert set(status) == STATUS_FIELDS, status
    assert status["state"] == "stopped"
    for key in ("ready", "authenticated", "has_qr"):
        assert status[key] is False, (key, status)
    assert status["last_error"] is None
    assert status["account"] is None
    assert type(status["data_dir"]) is str and status["data_dir"] == data_dir
    store = status["store"]
    assert isinstance(store, dict) and set(store) == STORE_FIELDS, store
    for key, value in store.items():
        assert type(value) is int and value == 0, (key, value)  # int, not bool/float


def assert_text_block_mirrors(content: list, structured: dict) -> None:
    """One text block holding the same JSON, pretty-printed (multi-line, indented)."""
    assert len(content) == 1, content
    block = content[0]
    assert block.type == "text"
    text = block.text
    assert json.loads(text) == structured
    lines = text.splitlines()
    assert len(lines) > 3 and lines[0] == "{" and lines[-1] == "}", text
    assert all(line.startswith((" ", "\t")) for line in lines[1:-1]), text


def assert_status_tool(tool: Any) -> None:
    """whatsapp_status as listed: schemas and read-only annotation (either SDK's model)."""
    input_schema = field_of(tool, "input_schema", "inputSchema")
    output_schema = field_of(tool, "output_schema", "outputSchema")
    assert input_schema["type"] == "object"
    assert input_schema.get("properties", {}) == {}
    assert output_schema["type"] == "object"
    assert set(output_schema["required"]) == STATUS_FIELDS
    assert set(output_schema["properties"]) == STATUS_FIELDS
    annotations = tool.annotations
    assert annotations is not None
    assert field_of(annotations, "read_only_hint", "readOnlyHint") is True
    assert field_of(annotations, "open_world_hint", "openWorldHint") is False
    try:
        import jsonschema
    except ImportError:  # pragma: no cover — both SDKs depend on it
        return
    jsonschema.Draft202012Validator.check_schema(output_schema)
    jsonschema.Draft202012Validator.check_schema(input_schema)


def assert_invalid_request_result(result: Any) -> None:
    assert field_of(result, "is_error", "isError") is True
    content = result.content
    assert content and content[0].type == "text"
    error = json.loads(content[0].text)
    assert error["code"] == "invalid_request", error
    assert isinstance(error["message"], str) and error["message"]


def assert_matches_schema(instance: Any, schema: dict) -> None:
    import jsonschema

    jsonschema.Draft202012Validator(schema).validate(instance)

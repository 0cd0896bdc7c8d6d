"""Issue 11 "The first hour": a tool list an agent can afford, and the /qr URL with --token.

- toolsets (`--toolsets`, `WAUSE_TOOLSETS`): `core` by default, `all` for every tool, an unknown
  name stops the start with exit code 2 and a message listing the known ones;
- the bytes of the `tools/list` result: `core` ≤ 16 KB, `all` ≤ 64 KB (the budget for the end of
  milestone 2), with short descriptions and compact output schemas that are still real JSON
  Schemas, and the long form from `whatsapp_get_tool_info`;
- `whatsapp_start_auth` names no fixed address; with `--token` the printed pairing URL carries
  the token and opens in a browser (no Authorization header).

Standard library only (plus jsonschema where both SDK venvs have it).
"""

from __future__ import annotations

import json
import subprocess
from urllib.parse import urlsplit

import pytest

from conftest import TOKEN
from wause_harness import BINARY, DEADLINE, clean_environment

KB = 1024


def tools_list(server) -> tuple[int, list[dict]]:
    session, _ = server.initialize()
    response = server.rpc(session, "tools/list")
    assert response.status == 200, response
    result = response.json()["result"]
    assert "nextCursor" not in result, result
    # What an agent's context receives: the result object, serialized compactly.
    size = len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    return size, result["tools"]


def described(schema: dict, path: str = "$") -> list[str]:
    """The paths of the schema nodes that carry a description (property names do not count)."""
    found = [path] if "description" in schema else []
    for name, sub in (schema.get("properties") or {}).items():
        found += described(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        found += described(schema["items"], f"{path}[]")
    return found


def call(server, session: str, name: str, arguments: dict) -> dict:
    response = server.rpc(session, "tools/call", {"name": name, "arguments": arguments})
    assert response.status == 200, response
    return response.json()["result"]


def test_core_is_the_default_and_fits_16_kb(make_server):
    size, tools = tools_list(make_server())
    assert size <= 16 * KB, f"core tools/list is {size} bytes"
    names = {tool["name"] for tool in tools}
    assert {"whatsapp_status", "whatsapp_wait_for_message", "whatsapp_get_tool_info"} <= names, names


def test_all_fits_64_kb_and_lists_at_least_core(make_server):
    core_size, core = tools_list(make_server())
    size, tools = tools_list(make_server("--toolsets", "all"))
    assert size <= 64 * KB, f"all tools/list is {size} bytes"
    assert {t["name"] for t in core} <= {t["name"] for t in tools}


def test_listed_schemas_are_compact_but_real_and_get_tool_info_has_the_long_form(make_server):
    server = make_server()
    _, tools = tools_list(server)
    session, _ = server.initialize()
    import jsonschema

    for tool in tools:
        output_schema = tool["outputSchema"]
        jsonschema.Draft202012Validator.check_schema(output_schema)
        assert not described(output_schema), (tool["name"], described(output_schema))
        info = call(server, session, "whatsapp_get_tool_info", {"tool": tool["name"]})
        assert info["isError"] is False, info
        long_form = info["structuredContent"]
        assert long_form["summary"] == tool["description"]
        assert len(long_form["description"]) >= len(tool["description"])
        assert long_form["input_schema"] == tool["inputSchema"]
        jsonschema.Draft202012Validator.check_schema(long_form["output_schema"])
        assert long_form["toolset"] == "core" and long_form["enabled"] is True


def test_start_auth_names_no_fixed_address(make_server):
    server = make_server("--toolsets", "all")
    _, tools = tools_list(server)
    session, _ = server.initialize()
    for tool in tools:
        assert "8790" not in tool["description"], tool
        info = call(server, session, "whatsapp_get_tool_info", {"tool": tool["name"]})["structuredContent"]
        assert "8790" not in info["description"], info


def test_toolsets_from_the_environment(make_server):
    size_all, _ = tools_list(make_server(env={"WAUSE_TOOLSETS": "all"}))
    assert size_all <= 64 * KB


@pytest.mark.parametrize("args,env", [(["--toolsets", "core,bogus"], {}), ([], {"WAUSE_TOOLSETS": "bogus"}),
                                      (["--toolsets", ""], {}), (["--toolsets", "core,"], {})])
def test_an_unknown_toolset_stops_the_start(tmp_path, args, env):
    done = subprocess.run([BINARY, "--port", "0", "--data-dir", str(tmp_path), *args], stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=DEADLINE, env=clean_environment(env))
    assert done.returncode == 2, done
    output = (done.stdout + done.stderr).decode()
    assert "listening" not in output
    assert "toolsets" in output and "core, groups, media" in output, output


def test_the_printed_pairing_url_carries_the_token_and_opens_in_a_browser(token_server):
    page = token_server.listen_line.split("(pairing page: ", 1)[1].rstrip(")")
    url = urlsplit(page)
    assert url.path == "/qr" and url.query == f"token={TOKEN}", page
    # A browser sends no Authorization header: the URL alone opens the page.
    response = token_server.request("GET", f"{url.path}?{url.query}")
    assert response.status == 200, response
    assert response.content_type == "text/html"
    # Without it: an HTML page that says how to get in, not a JSON-RPC body, and no token in it.
    refused = token_server.request("GET", "/qr")
    assert refused.status == 401 and refused.content_type == "text/html", refused
    assert b"?token=" in refused.body and TOKEN.encode() not in refused.body
    # The token never reaches the log.
    assert not any(TOKEN in line for line in token_server.log_lines)


def test_a_server_without_token_prints_the_plain_pairing_url(server):
    assert server.listen_line.endswith(f"(pairing page: {server.base}/qr)"), server.listen_line


CONTACT_TOOLS = {"whatsapp_search_contacts", "whatsapp_set_contact_name", "whatsapp_sync_contact_names",
                 "whatsapp_get_user_info", "whatsapp_is_on_whatsapp", "whatsapp_get_profile_picture",
                 "whatsapp_set_presence", "whatsapp_send_typing", "whatsapp_subscribe_presence"}


def test_the_contacts_toolset_holds_the_contact_and_presence_tools_with_true_annotations(make_server):
    """Issue 14: the nine tools are in `contacts`, not in `core`; queries are read-only, the rest are not, and none
    is destructive."""
    _, core = tools_list(make_server())
    assert not CONTACT_TOOLS & {t["name"] for t in core}
    _, tools = tools_list(make_server("--toolsets", "contacts"))
    listed = {t["name"]: t for t in tools}
    assert CONTACT_TOOLS <= set(listed), CONTACT_TOOLS - set(listed)
    read_only = {"whatsapp_search_contacts", "whatsapp_get_user_info", "whatsapp_is_on_whatsapp", "whatsapp_get_profile_picture"}
    for name in CONTACT_TOOLS:
        annotations = listed[name]["annotations"]
        # MCP's defaults where a hint is left out: readOnlyHint false, destructiveHint true (meaningful only
        # when not read-only).
        assert annotations.get("readOnlyHint", False) is (name in read_only), (name, annotations)
        assert annotations.get("readOnlyHint", False) or annotations.get("destructiveHint", True) is False, (name, annotations)

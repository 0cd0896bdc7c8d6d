"""baileys-python's binary XML codec (`baileys/wabinary.py`) as an independent oracle for ours.

Installing: baileys-python 0.1.0a1 declares Requires-Python 3.12 and depends on packages that do
not install here, but its codec needs none of them (docs/interop-oracles.md). Install the wheel alone:

    pip download --no-deps --python-version 3.12 --only-binary=:all: baileys-python==0.1.0a1 -d DIR
    pip install --no-deps --ignore-requires-python DIR/baileys_python-0.1.0a1-py3-none-any.whl

and load only `baileys/wabinary.py` (plus its `token_loader` and token JSON) by file spec, without
running the package `__init__`, which imports those missing dependencies.

This module also holds the conversions between our JSON form of a node (`wause-wire encode` /
`decode --help`) and baileys-python's `BinaryNode`, and the canonical form both are compared in.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import pathlib
import subprocess
import sys
import types
from typing import Any

# The debug build of the checkout this file is in (tests/<suite>/ → repository root), unless
# $WAUSE_WIRE names another binary.
WAUSE_WIRE = os.environ.get(
    "WAUSE_WIRE", os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "debug", "wause-wire"))
)


# --------------------------------------------------------------------------------------------
# Loading the oracle


def load_wabinary() -> types.ModuleType:
    """Return baileys-python's `baileys.wabinary` module without importing `baileys/__init__.py`."""
    if "baileys.wabinary" in sys.modules:
        return sys.modules["baileys.wabinary"]
    spec = importlib.util.find_spec("baileys")  # locates the package; does not execute it
    if spec is None or spec.origin is None:
        raise ImportError("baileys-python is not installed (see tests/interop/binary_baileys.py)")
    package_dir = pathlib.Path(spec.origin).parent
    if "baileys" not in sys.modules:
        # A stand-in package object, so `from .token_loader import …` inside wabinary.py and
        # `importlib.resources.files("baileys.generated")` resolve against the installed files.
        stand_in = types.ModuleType("baileys")
        stand_in.__path__ = [str(package_dir)]
        stand_in.__spec__ = importlib.machinery.ModuleSpec("baileys", None, is_package=True)
        stand_in.__spec__.submodule_search_locations = [str(package_dir)]
        sys.modules["baileys"] = stand_in
    module_spec = importlib.util.spec_from_file_location("baileys.wabinary", package_dir / "wabinary.py")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules["baileys.wabinary"] = module
    module_spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# Driving wause-wire


def wause_wire(*args: str, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([WAUSE_WIRE, *args], input=stdin, capture_output=True, text=True, timeout=120)


def our_encode_many(nodes: list[dict], *extra: str) -> list[bytes]:
    """Encode JSON nodes with `wause-wire encode --lines`; returns frame payloads."""
    import json

    result = wause_wire("encode", "--lines", *extra, stdin="".join(json.dumps(n) + "\n" for n in nodes))
    if result.returncode != 0:
        raise AssertionError(f"wause-wire encode failed ({result.returncode}): {result.stderr}")
    lines = result.stdout.split()
    assert len(lines) == len(nodes)
    return [bytes.fromhex(line) for line in lines]


def our_decode_many(frames: list[bytes]) -> list[dict]:
    """Decode frame payloads with `wause-wire decode --lines`; returns JSON nodes."""
    import json

    result = wause_wire("decode", "--lines", stdin="".join(f.hex() + "\n" for f in frames))
    if result.returncode != 0:
        raise AssertionError(f"wause-wire decode failed ({result.returncode}): {result.stderr}")
    lines = result.stdout.splitlines()
    assert len(lines) == len(frames)
    return [json.loads(line) for line in lines]


# --------------------------------------------------------------------------------------------
# JIDs: our text form (whatsmeow types/jid.go) and Baileys' strings


def parse_jid(value: Any) -> dict:
    """Our JSON JID ({"jid": text} or the explicit form) as fields."""
    if "jid" not in value:
        return {"user": value.get("user", ""), "agent": value.get("agent", 0), "device": value.get("device", 0),
                "integrator": value.get("integrator", 0), "server": value["server"]}
    text = value["jid"]
    if "@" not in text:
        return {"user": "", "agent": 0, "device": 0, "integrator": 0, "server": text}
    user, server = text.split("@")
    integrator = agent = device = 0
    if server == "interop" and "-" in user:
        prefix, user = user.split("-", 1)
        integrator = int(prefix)
    if "." in user:
        user, rest = user.split(".")
        agent_text, _, device_text = rest.partition(":")
        agent, device = int(agent_text), int(device_text or 0)
    elif ":" in user:
        user, device_text = user.split(":")
        device = int(device_text)
    return {"user": user, "agent": agent, "device": device, "integrator": integrator, "server": server}


def is_ad_jid(jid: dict) -> bool:
    """whatsmeow's AD_JID selection (whatsmeow binary/encoder.go writeJID), which our encoder follows."""
    server = jid["server"]
    return (server in ("s.whatsapp.net", "lid") and jid["device"] > 0) or server in ("hosted", "hosted.lid")


def baileys_decoded_jid(jid: dict) -> str:
    """The string baileys-python's decoder produces for the encoding our encoder writes."""
    server, user, device = jid["server"], jid["user"], jid["device"]
    if is_ad_jid(jid):
        return f"{user}{f':{device}' if device else ''}@{server}"
    if server == "msgr":
        return f"{user}:{device}@{server}"
    if server == "interop":
        return f"{jid['integrator']}-{user}:{device}@{server}"
    return f"{user}@{server}"  # JID_PAIR; a server-only JID reads as "@server"


def baileys_input_jid(jid: dict) -> str:
    """The string to give baileys-python's encoder for a JID (its encoder detects '@')."""
    server, user, device = jid["server"], jid["user"], jid["device"]
    if not user:
        # Baileys cannot write a server-only JID pair: "@s.whatsapp.net" is not detected as a
        # JID and "s.whatsapp.net" becomes the bare token 0x03 (the documented caveat).
        return server
    if device or is_ad_jid(jid):
        return f"{user}:{device}@{server}"
    return f"{user}@{server}"


# --------------------------------------------------------------------------------------------
# Nodes: conversions and the canonical form


def attribute_pairs(node: dict) -> list[tuple[str, Any]]:
    """A node's attributes as (name, value) in order: "attrs" is an object, or an array of
    [name, value] pairs when a name repeats."""
    attrs = node.get("attrs") or {}
    return list(attrs.items()) if isinstance(attrs, dict) else [(name, value) for name, value in attrs]


def to_baileys(wabinary: types.ModuleType, node: dict):
    """Our JSON node → baileys-python BinaryNode (JIDs become the strings its encoder detects)."""
    attrs = {}
    for key, value in attribute_pairs(node):
        attrs[key] = baileys_input_jid(parse_jid(value)) if isinstance(value, dict) else value
    content = node.get("content")
    if isinstance(content, list):
        content = [to_baileys(wabinary, child) for child in content]
    elif isinstance(content, dict):
        content = bytes.fromhex(content["bytes_hex"]) if "bytes_hex" in content else baileys_input_jid(parse_jid(content))
    return wabinary.BinaryNode(tag=node["tag"], attrs=attrs, content=content)


def text_stays_text(wabinary: types.ModuleType, text: str) -> bool:
    """Whether a string in content position decodes as a string (token or packed) rather than
    bytes (raw), in both decoders (whatsmeow binary/decoder.go read, readBytesOrString)."""
    tokens = wabinary.load_tokens()
    if text in tokens.token_map:
        return True
    if not 0 < len(text) <= 127:
        return False
    return all(c in "0123456789-." for c in text) or all(c in "0123456789ABCDEF" for c in text)


def canon_ours(wabinary: types.ModuleType, node: dict, *, intended: bool = False):
    """Our JSON node in the canonical form: (tag, ((name, str), …), content) with JIDs as the
    strings baileys-python decodes them to and content as list/bytes/str as both decoders
    return it. With `intended`, `node` is encoder input: empty attribute values are dropped
    and raw text content becomes bytes, as they do on the wire."""
    attrs = []
    for key, value in attribute_pairs(node):
        if isinstance(value, dict):
            attrs.append((key, baileys_decoded_jid(parse_jid(value))))
        elif not (intended and value == ""):
            attrs.append((key, value))
    content = node.get("content")
    if isinstance(content, list):
        content = tuple(canon_ours(wabinary, child, intended=intended) for child in content)
    elif isinstance(content, dict):
        content = bytes.fromhex(content["bytes_hex"]) if "bytes_hex" in content else baileys_decoded_jid(parse_jid(content))
    elif isinstance(content, str) and intended and not text_stays_text(wabinary, content):
        content = content.encode("utf-8")
    return (node["tag"], tuple(attrs), content)


def canon_baileys(node) -> tuple:
    """A baileys-python BinaryNode in the canonical form."""
    content = node.content
    if isinstance(content, list):
        content = tuple(canon_baileys(child) for child in content)
    elif isinstance(content, (bytes, bytearray, memoryview)):
        content = bytes(content)
    return (node.tag, tuple(node.attrs.items()), content)

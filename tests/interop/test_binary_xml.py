"""Cross-check of our binary XML codec (WauseBinary, through `wause-wire encode/decode`) against
baileys-python's independent codec (`baileys/wabinary.py`); the format of whatsmeow binary/encoder.go.

Over a shared corpus (binary_corpus.py: realistic stanzas and seeded random nodes):
  1. baileys-python decodes our encodings to the node we meant;
  2. we decode baileys-python's encodings to the node its own decoder reads;
  3. the two encoders produce identical bytes, except for the documented differences below.
Comparisons are structural, in one canonical form (binary_baileys.canon_*): attributes as
strings in wire order (JIDs as the strings baileys-python's decoder produces) and content as
child tuples, bytes (raw-length values) or strings (tokens, packed strings, JIDs).

The JID-pair caveat (docs/interop-oracles.md): baileys-python types attribute values as strings and
writes a bare "s.whatsapp.net" as the single token 0x03, and it cannot express a server-only JID
at all ("@s.whatsapp.net" is not detected as a JID). whatsmeow, and we, write a jid-typed value
as the JID pair FA 00 03; whatsmeow ignores a stanza whose `from` is the bare token. So:
  - direction 1 compares our server JID with the "@s.whatsapp.net" baileys-python decodes from
    FA 00 03 (it reads JID pairs as "user@server");
  - direction 2 feeds baileys-python "s.whatsapp.net", and we check that we decode its 0x03 as
    plain text, not as a JID, which is exactly the stanza whatsmeow would ignore;
  - direction 3 marks those corpus entries "server-jid" and checks that the encodings differ
    exactly by FA 00 03 versus 03.
baileys-python also writes msgr/interop JIDs as AD_JID/JID_PAIR rather than FB_JID/INTEROP_JID
("fb-jid" entries): direction 1 still holds (it decodes FB/INTEROP), 2 and 3 skip those.

Runs with WAUSE_WIRE (default: .build/debug/wause-wire of this checkout).
"""

from __future__ import annotations

import json
import os
import random
import sys

import pytest

import binary_baileys as bb
import binary_corpus as corpus

pytestmark = pytest.mark.skipif(not os.access(bb.WAUSE_WIRE, os.X_OK), reason=f"{bb.WAUSE_WIRE} not built")

STANZAS = corpus.stanzas()
IDS = [name for name, _, _ in STANZAS]


@pytest.fixture(scope="module")
def wabinary():
    return bb.load_wabinary()


@pytest.fixture(scope="module")
def ours_encoded():
    return dict(zip(IDS, bb.our_encode_many([n for _, n, _ in STANZAS])))


# --------------------------------------------------------------------------------------------
# Known answers (docs/interop-oracles.md; whatsmeow's codec, binary/encoder.go)

KNOWN = [
    ({"tag": "iq"}, "00f80119"),
    ({"tag": "ack", "attrs": {"id": "1.2"}}, "00f8031b08ff821b2f"),
    ({"tag": "iq", "attrs": {"id": "abc", "xmlns": "encrypt", "type": "get", "to": {"jid": "s.whatsapp.net"}},
      "content": [{"tag": "count"}]},
     "00f80a1908fc03616263" "16cb" "0429" "11fa0003" "f801f80141"),
    ({"tag": "device", "attrs": {"jid": {"jid": "1234567890:12@s.whatsapp.net"}}}, "00f8033b0cf7000cff051234567890"),
]


def _with_null_content(node: dict) -> dict:
    """Our decoder prints "content": null for nodes without content."""
    result = dict(node)
    content = node.get("content")
    result["content"] = [_with_null_content(child) for child in content] if isinstance(content, list) else content
    return result


@pytest.mark.parametrize("node,expected", KNOWN)
def test_known_answers(node, expected):
    assert bb.our_encode_many([node])[0].hex() == expected
    assert bb.our_decode_many([bytes.fromhex(expected)])[0] == _with_null_content(node)


def test_baileys_known_answers(wabinary):
    # The oracle's own known answers, so a broken install cannot pass silently.
    assert wabinary.encode_binary_node(wabinary.BinaryNode("iq")).hex() == "00f80119"
    assert wabinary.encode_binary_node(wabinary.BinaryNode("ack", {"id": "1.2"})).hex() == "00f8031b08ff821b2f"


# --------------------------------------------------------------------------------------------
# 1. baileys-python decodes what we encode


@pytest.mark.parametrize("name", IDS)
def test_baileys_decodes_our_encoding(wabinary, ours_encoded, name):
    node = dict((n, x) for n, x, _ in STANZAS)[name]
    decoded = wabinary.decode_binary_node(ours_encoded[name])
    assert bb.canon_baileys(decoded) == bb.canon_ours(wabinary, node, intended=True)


# --------------------------------------------------------------------------------------------
# 2. We decode what baileys-python encodes


@pytest.fixture(scope="module")
def baileys_encoded(wabinary):
    return {name: wabinary.encode_binary_node(bb.to_baileys(wabinary, node))
            for name, node, differences in STANZAS if "fb-jid" not in differences}


def test_we_decode_baileys_encoding(wabinary, baileys_encoded):
    names = list(baileys_encoded)
    ours = bb.our_decode_many([baileys_encoded[n] for n in names])
    for name, decoded in zip(names, ours):
        reference = wabinary.decode_binary_node(baileys_encoded[name])
        assert bb.canon_ours(wabinary, decoded) == bb.canon_baileys(reference), name


def test_bare_server_token_decodes_as_text_not_jid(wabinary, baileys_encoded):
    # The caveat from our side: baileys-python's "to" = token 0x03 is text to us, never a JID.
    decoded = bb.our_decode_many([baileys_encoded["keepalive"]])[0]
    assert decoded["attrs"]["to"] == "s.whatsapp.net"
    assert baileys_encoded["keepalive"].endswith(bytes.fromhex("1103"))


# --------------------------------------------------------------------------------------------
# 3. Identical bytes, except the documented differences


@pytest.mark.parametrize("name", IDS)
def test_encodings_match_byte_for_byte(wabinary, ours_encoded, name):
    _, node, differences = next(entry for entry in STANZAS if entry[0] == name)
    if "fb-jid" in differences:
        pytest.skip("baileys-python writes msgr/interop JIDs as AD_JID/JID_PAIR (documented)")
    theirs = wabinary.encode_binary_node(bb.to_baileys(wabinary, node))
    ours = ours_encoded[name]
    if "server-jid" in differences:
        # Exactly the JID pair FA 00 03 where baileys-python writes the token 03.
        assert ours != theirs
        assert ours.replace(bytes.fromhex("fa0003"), bytes.fromhex("03")) == theirs
    else:
        assert ours == theirs


# --------------------------------------------------------------------------------------------
# Seeded random nodes, both directions and byte equality


def test_random_nodes_agree(wabinary):
    rng = random.Random(20240611)
    nodes = [corpus.random_node(rng) for _ in range(400)]
    ours = bb.our_encode_many(nodes)
    theirs = [wabinary.encode_binary_node(bb.to_baileys(wabinary, n)) for n in nodes]
    mismatches = [i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b]
    assert not mismatches, f"encodings differ for {len(mismatches)} nodes, first: {json.dumps(nodes[mismatches[0]])[:500]}"
    for node, frame in zip(nodes, ours):
        assert bb.canon_baileys(wabinary.decode_binary_node(frame)) == bb.canon_ours(wabinary, node, intended=True)
    for decoded, frame in zip(bb.our_decode_many(theirs), theirs):
        assert bb.canon_ours(wabinary, decoded) == bb.canon_baileys(wabinary.decode_binary_node(frame))


def test_compressed_frames(wabinary):
    # Flag 0x02 + zlib (whatsmeow binary/unpack.go Unpack): we decode our own compressed frames; baileys-python's decoder has
    # no inflate step, so the check inflates with Python's zlib and hands it the plain frame.
    import zlib

    nodes = [n for _, n, _ in STANZAS[:8]]
    for node, frame in zip(nodes, bb.our_encode_many(nodes, "--zlib")):
        assert frame[0] == 0x02
        plain = b"\x00" + zlib.decompress(frame[1:])
        assert bb.canon_baileys(wabinary.decode_binary_node(plain)) == bb.canon_ours(wabinary, node, intended=True)
        assert bb.our_decode_many([frame])[0] == bb.our_decode_many([plain])[0]


# --------------------------------------------------------------------------------------------
# The CLI's contract for bad input


@pytest.mark.parametrize("args,stdin,message", [
    (["decode"], "zz", "invalid hex"),
    (["decode"], "00f802", "truncated input"),
    (["decode"], "00f80119ff", "trailing"),
    (["decode"], "", "no input"),
    (["encode"], "{", "invalid JSON"),
    (["encode"], '{"tag": ""}', "non-empty"),
    (["encode"], '{"tag": "x", "attrs": {"a": 1}}', "attribute value"),
    (["encode"], '{"tag": "x", "attrs": {"a": {"jid": "1:x@s.whatsapp.net"}}}', "invalid JID"),
    (["encode"], '{"tag": "x", "attrs": {"a": "1", "a": "2"}}', "duplicate key"),
    (["encode"], '{"tag": "x", "attrs": [["a"]]}', "[name, value] pair"),
    (["encode", "--bogus"], '{"tag": "x"}', "unknown argument"),
])
def test_bad_input_exits_2(args, stdin, message):
    result = bb.wause_wire(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr
    assert result.stdout == ""


def test_help_documents_the_json_form():
    result = bb.wause_wire("encode", "--help", stdin="")
    assert result.returncode == 0
    assert '"bytes_hex"' in result.stdout and '{"jid"' in result.stdout


def test_jid_without_a_text_form_uses_the_explicit_form():
    # A JID pair whose user contains '.' cannot be printed as text (whatsmeow's text form would
    # read it as an agent), so decode prints the explicit form and encode accepts it back.
    frame = bytes.fromhex("00f803") + bytes.fromhex("fc0178") + bytes.fromhex("fc0161") + bytes.fromhex("fafc03612e6203")
    decoded = bb.our_decode_many([frame])[0]
    assert decoded["attrs"]["a"] == {"user": "a.b", "server": "s.whatsapp.net"}
    assert bb.our_encode_many([decoded])[0] == frame


def test_repeated_attribute_names_use_the_pair_form():
    # A received node may carry a name twice; an object cannot, so decode prints [name, value]
    # pairs in wire order, and encode writes them back unchanged.
    frame = bytes.fromhex("00f805" "fc0178" "fc016155" "fc016145")  # <x a="1" a="2"/>
    decoded = bb.our_decode_many([frame])[0]
    assert decoded == {"tag": "x", "attrs": [["a", "1"], ["a", "2"]], "content": None}
    assert bb.our_encode_many([decoded])[0] == frame
    # Names that do not repeat keep the object form, also when given as pairs.
    pairs = {"tag": "x", "attrs": [["a", "1"], ["b", {"jid": "1@s.whatsapp.net"}]]}
    assert bb.our_decode_many(bb.our_encode_many([pairs]))[0]["attrs"] == {"a": "1", "b": {"jid": "1@s.whatsapp.net"}}


def test_nodes_as_deep_as_the_decoder_allows_round_trip():
    # 64 levels (NodeDecoder's limit) with attributes on the innermost node: what decode prints,
    # encode must read back.
    node = {"tag": "leaf", "attrs": {"k": "v", "j": {"jid": "1@s.whatsapp.net"}}, "content": {"bytes_hex": "00ff"}}
    for _ in range(63):
        node = {"tag": "n", "content": [node]}
    frame = bb.our_encode_many([node])[0]
    assert bb.our_encode_many(bb.our_decode_many([frame]))[0] == frame


def test_generated_tokens_are_current(tmp_path):
    # Sources/WauseBinary/Generated/Tokens.swift must be what scripts/gen-tokens.py makes from
    # the committed dictionary (scripts/data/wabinary-tokens-v3.json, from whatsmeow
    # binary/token/token.go).
    import pathlib
    import subprocess

    repo = pathlib.Path(__file__).resolve().parents[2]
    source = repo / "scripts/data/wabinary-tokens-v3.json"
    output = tmp_path / "Tokens.swift"
    subprocess.run([sys.executable, str(repo / "scripts/gen-tokens.py"), str(source), str(output)], check=True, capture_output=True)
    assert output.read_text() == (repo / "Sources/WauseBinary/Generated/Tokens.swift").read_text()

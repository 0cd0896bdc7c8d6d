"""QR codes: what `wause-mcp --render-qr` writes (the code path /qr.png and /qr.svg serve) must
scan back to the exact pairing string with an independent decoder (zxing-cpp 3.1.1,
docs/interop-oracles.md), and the /qr pages of a fresh server must say there is nothing to scan.

The zxing round trips need `zxing-cpp` and `pillow` (tests/requirements-mcp2.txt); they skip
where those are not installed (the mcp==1.30.0 venv). Everything else is stdlib-only.
"""

from __future__ import annotations

import base64
import io
import random
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from wause_harness import BINARY, DEADLINE, clean_environment

SVG_NS = "{http://www.w3.org/2000/svg}"
PAIRING_PREFIX = "https://wa.me/settings/linked_devices#"


def pairing_string(seed: int) -> str:
    """A pairing QR text shaped like whatsmeow's: ref, noise public key, identity public key,
    adv secret (each base64), then the trailing `1` field."""
    rng = random.Random(seed)
    b64 = lambda n: base64.b64encode(rng.randbytes(n)).decode()  # noqa: E731
    ref = "2@" + b64(66)  # real refs are long base64-ish strings starting "2@"
    return PAIRING_PREFIX + ",".join([ref, b64(32), b64(32), b64(32), "1"])


def render(text: str, fmt: str | None = None) -> bytes:
    command = [BINARY, "--render-qr", text] + (["--qr-format", fmt] if fmt else [])
    done = subprocess.run(command, capture_output=True, timeout=DEADLINE, env=clean_environment())
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout, "nothing written to stdout"
    return done.stdout


def zxing_decode(image) -> list:
    """All QR codes zxing finds (other symbologies are excluded: on a dense QR zxing can also
    "see" spurious EAN-13s in the module pattern)."""
    zxingcpp = pytest.importorskip("zxingcpp")
    return zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)


def decode_png_bytes(data: bytes):
    Image = pytest.importorskip("PIL.Image")
    return Image.open(io.BytesIO(data))


TEXTS = [pairing_string(seed) for seed in (1, 2, 3)] + [
    "hello",
    PAIRING_PREFIX + "2@a+b/c==,%41%,#,,1",  # characters URL/QR encoders like to mangle
    "x" * 1000,
]


# --------------------------------------------------------------------------------------------
# PNG
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: f"{len(t)}ch")
def test_png_round_trip_with_zxing(tmp_path, text):
    data = render(text)  # png is the default format
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    path = tmp_path / "qr.png"
    path.write_bytes(data)
    Image = pytest.importorskip("PIL.Image")
    results = zxing_decode(Image.open(path))
    assert len(results) == 1, results
    assert results[0].text == text
    assert results[0].valid


def test_png_explicit_format_equals_default():
    text = pairing_string(7)
    assert render(text, "png") == render(text)


def test_png_is_deterministic_and_has_quiet_zone():
    text = pairing_string(9)
    data = render(text)
    assert data == render(text)
    image = decode_png_bytes(data).convert("L")
    width, height = image.size
    assert width == height and width >= 21 * 4
    # The border (at least one module wide) is white.
    pixels = image.load()
    for i in range(width):
        assert pixels[i, 0] == 255 and pixels[0, i] == 255 and pixels[i, height - 1] == 255 and pixels[width - 1, i] == 255


def test_render_refuses_text_too_long_for_a_qr_code():
    done = subprocess.run([BINARY, "--render-qr", "a" * 5000], capture_output=True, timeout=DEADLINE,
                          env=clean_environment())
    assert done.returncode != 0
    assert done.stderr.strip()
    assert done.stdout == b""


def test_render_rejects_unknown_format():
    done = subprocess.run([BINARY, "--render-qr", "x", "--qr-format", "gif"], capture_output=True, timeout=DEADLINE,
                          env=clean_environment())
    assert done.returncode == 2
    assert b"qr-format" in done.stderr + done.stdout


# --------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------


def parse_svg(data: bytes) -> ET.Element:
    root = ET.fromstring(data)  # raises on malformed XML
    assert root.tag == SVG_NS + "svg", root.tag
    return root


@pytest.mark.parametrize("text", TEXTS[:3] + ["<&>\"' svg-hostile"], ids=lambda t: f"{len(t)}ch")
def test_svg_is_well_formed_xml_with_svg_root(text):
    root = parse_svg(render(text, "svg"))
    assert root.get("viewBox"), "an SVG QR needs a viewBox to scale"
    # The encoded text is not leaked into the SVG as markup (no <script>, no text nodes).
    assert not list(root.iter(SVG_NS + "script"))
    assert not list(root.iter(SVG_NS + "text"))


def rasterize_svg(root: ET.Element, scale: int = 8, margin_modules: int = 4):
    """Draws the SVG's axis-aligned shapes (<rect>, and <path> made of M/m/H/h/V/v/L/l/Z/z) so the
    code can be scanned by zxing; enough for a QR code, refuses anything it cannot draw."""
    Image = pytest.importorskip("PIL.Image")
    ImageDraw = pytest.importorskip("PIL.ImageDraw")
    min_x, min_y, width, height = (float(v) for v in re.split(r"[ ,]+", root.get("viewBox").strip()))
    pad = margin_modules * scale
    image = Image.new("L", (int(width * scale) + 2 * pad, int(height * scale) + 2 * pad), 255)
    draw = ImageDraw.Draw(image)

    def colour(element: ET.Element) -> int:
        fill = (element.get("fill") or "#000").lower()
        if fill in ("#fff", "#ffffff", "white", "none"):
            return 255
        assert fill in ("#000", "#000000", "black"), f"unexpected fill {fill}"
        return 0

    def to_pixels(x: float, y: float) -> tuple[float, float]:
        return (pad + (x - min_x) * scale, pad + (y - min_y) * scale)

    for element in root.iter():
        if element.tag == SVG_NS + "rect":
            w, h = element.get("width"), element.get("height")
            if w.endswith("%") or h.endswith("%"):
                continue  # the background
            x, y = float(element.get("x", 0)), float(element.get("y", 0))
            x0, y0 = to_pixels(x, y)
            x1, y1 = to_pixels(x + float(w), y + float(h))
            draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=colour(element))
        elif element.tag == SVG_NS + "path":
            fill = colour(element)
            tokens = re.findall(r"[A-Za-z]|-?\d+(?:\.\d+)?", element.get("d"))
            x = y = 0.0
            polygon: list[tuple[float, float]] = []
            i = 0

            def flush() -> None:
                if len(polygon) >= 3:
                    draw.polygon([to_pixels(px, py) for px, py in polygon], fill=fill)

            command = None
            while i < len(tokens):
                if tokens[i].isalpha():
                    command = tokens[i]
                    i += 1
                    if command in "Zz":
                        flush()
                        polygon = []
                        continue
                if command in ("M", "m", "L", "l"):
                    dx, dy = float(tokens[i]), float(tokens[i + 1])
                    i += 2
                    x, y = (dx, dy) if command in "ML" else (x + dx, y + dy)
                    if command in "Mm":
                        flush()
                        polygon = []
                elif command in ("H", "h"):
                    value = float(tokens[i])
                    i += 1
                    x = value if command == "H" else x + value
                elif command in ("V", "v"):
                    value = float(tokens[i])
                    i += 1
                    y = value if command == "V" else y + value
                else:
                    raise AssertionError(f"SVG path command {command!r} not supported by this test")
                polygon.append((x, y))
            flush()
    return image


@pytest.mark.parametrize("text", TEXTS[:3], ids=lambda t: f"{len(t)}ch")
def test_svg_round_trip_with_zxing(text):
    # The /qr page shows /qr.svg: it has to scan as well as the PNG.
    image = rasterize_svg(parse_svg(render(text, "svg")))
    results = zxing_decode(image)
    assert len(results) == 1, results
    assert results[0].text == text


# --------------------------------------------------------------------------------------------
# Terminal
# --------------------------------------------------------------------------------------------

HALF_BLOCKS = {"▀": (1, 0), "▄": (0, 1), "█": (1, 1), " ": (0, 0)}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_terminal_output_uses_half_blocks():
    out = render(pairing_string(4), "terminal").decode("utf-8")
    assert any(ch in out for ch in "▀▄"), out[:200]
    lines = [ANSI.sub("", line) for line in out.splitlines()]
    assert len({len(line) for line in lines}) == 1, "every row has the same width"
    assert set("".join(lines)) <= set(HALF_BLOCKS), set("".join(lines)) - set(HALF_BLOCKS)


@pytest.mark.parametrize("text", TEXTS[:2], ids=lambda t: f"{len(t)}ch")
def test_terminal_round_trip_with_zxing(text):
    """Each character is two modules stacked (upper, lower), dark = the glyph's ink (the output
    sets a white background and black foreground)."""
    Image = pytest.importorskip("PIL.Image")
    out = render(text, "terminal").decode("utf-8")
    assert "\x1b[47m" in out and "\x1b[30m" in out, "white background, black ink expected"
    lines = [ANSI.sub("", line) for line in out.splitlines()]
    scale, pad = 8, 32
    width = len(lines[0])
    image = Image.new("L", (width * scale + 2 * pad, len(lines) * 2 * scale + 2 * pad), 255)
    pixels = image.load()
    for row, line in enumerate(lines):
        for col, ch in enumerate(line):
            for half, dark in enumerate(HALF_BLOCKS[ch]):
                if dark:
                    for dy in range(scale):
                        for dx in range(scale):
                            pixels[pad + col * scale + dx, pad + (row * 2 + half) * scale + dy] = 0
    results = zxing_decode(image)
    assert len(results) == 1, results
    assert results[0].text == text


# --------------------------------------------------------------------------------------------
# /qr pages of a fresh (never linked, not linking) server
# --------------------------------------------------------------------------------------------


def test_qr_page_says_not_linking(server):
    response = server.request("GET", "/qr")
    assert response.status == 200, response
    assert response.content_type == "text/html"
    html = response.body.decode("utf-8")
    assert "not linking" in html.lower(), html
    assert "<img" not in html  # nothing to scan
    assert "whatsapp_start_auth" in html  # says how to start


def test_qr_page_refreshes_itself(server):
    html = server.request("GET", "/qr").body.decode("utf-8")
    match = re.search(r'<meta\s+http-equiv="refresh"\s+content="(\d+)"\s*/?>', html, re.IGNORECASE)
    assert match, html
    assert int(match.group(1)) >= 1


def test_qr_page_security_headers(server):
    response = server.request("GET", "/qr")
    csp = response.header("Content-Security-Policy")
    assert csp, response
    directives = {part.strip().split(" ")[0]: part.strip() for part in csp.split(";") if part.strip()}
    assert "default-src" in directives and "'none'" in directives["default-src"], csp
    assert "frame-ancestors" in directives, csp
    assert "no-store" in (response.header("Cache-Control") or "")
    # The page itself parses as HTML without external resources.
    html = response.body.decode("utf-8")
    assert not re.search(r'(src|href)="(https?:)?//', html), html


def test_qr_page_head(server):
    response = server.request("HEAD", "/qr")
    assert response.status == 200
    assert response.body == b""


@pytest.mark.parametrize("path", ["/qr.png", "/qr.svg"])
def test_qr_images_with_nothing_to_scan_are_404_json(server, path):
    response = server.request("GET", path)
    assert response.status == 404, response
    assert response.content_type == "application/json"
    body = response.json()
    assert body["code"] == "not_found"
    assert isinstance(body["message"], str) and body["message"]
    assert body.get("details", {}).get("state", "stopped") == "stopped"


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
@pytest.mark.parametrize("path", ["/qr", "/qr.png", "/qr.svg", "/healthz"])
def test_qr_routes_only_answer_get(server, method, path):
    response = server.request(method, path, body=b"" if method != "DELETE" else None)
    assert response.status == 405, response
    assert "GET" in (response.header("Allow") or "")

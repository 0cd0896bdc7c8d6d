"""The library itself: loading, version, catalogue, and that it carries no Swift runtime dependency."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import wause
from conftest import library_env


def test_version_is_semver() -> None:
    assert wause.version() == "0.1.0"
    assert re.fullmatch(r"\d+\.\d+\.\d+", wause.version())


def test_catalogue_describes_whatsapp_status() -> None:
    catalogue = wause.catalogue()
    methods = {method["name"]: method for method in catalogue["methods"]}
    status = methods["whatsapp_status"]
    assert isinstance(status["description"], str) and status["description"]
    assert status["input_schema"]["type"] == "object"
    assert status["input_schema"]["properties"] == {}
    output = status["output_schema"]
    assert output["type"] == "object"
    assert set(output["required"]) == {
        "state", "ready", "authenticated", "has_qr", "last_error", "account", "data_dir", "store"}
    assert output["properties"]["last_error"]["type"] == ["string", "null"]
    assert set(status["annotations"]) >= {"read_only", "destructive", "idempotent", "open_world"}


def test_catalogue_is_a_fresh_copy_each_time() -> None:
    first = wause.catalogue()
    first["methods"].clear()
    assert wause.catalogue()["methods"]


def _run_python(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)


def test_missing_library_names_every_candidate(tmp_path: Path) -> None:
    env = library_env()
    missing = tmp_path / "nowhere" / "libwause.so"
    env["WAUSE_LIBRARY"] = str(missing)
    result = _run_python(
        "import wause\n"
        "try:\n"
        "    wause.version()\n"
        "except wause.LibraryNotFound as error:\n"
        "    assert isinstance(error, OSError) and not isinstance(error, wause.Error)\n"
        "    print(error)\n", env)
    assert result.returncode == 0, result.stderr
    assert str(missing) in result.stdout
    assert "$WAUSE_LIBRARY" in result.stdout


def test_library_that_is_not_wause_is_refused(tmp_path: Path) -> None:
    env = library_env()
    env["WAUSE_LIBRARY"] = "libz.so.1"
    result = _run_python(
        "import wause\n"
        "try:\n"
        "    wause.version()\n"
        "except wause.LibraryNotFound as error:\n"
        "    print(error)\n", env)
    assert result.returncode == 0, result.stderr
    assert "not a compatible libwause" in result.stdout


def test_import_works_without_the_library(tmp_path: Path) -> None:
    env = library_env()
    env["WAUSE_LIBRARY"] = str(tmp_path / "absent.so")
    result = _run_python("import wause; print(wause.Client.__name__)", env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Client"


def test_library_has_no_swift_runtime_dependency() -> None:
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    library = wause.library_path()
    if not os.path.isabs(library):
        pytest.skip(f"library was found by the system loader as {library!r}; give WAUSE_LIBRARY a path")
    dynamic = subprocess.run([readelf, "-d", library], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed, dynamic
    assert not [name for name in needed if "swift" in name.lower() or "Foundation" in name], needed


def swift_toolchain_dir() -> str | None:
    """The Swift toolchain's root, found at run time: $WAUSE_TOOLCHAIN if set, else three levels
    above the real path of `swift` on PATH (ROOT/usr/bin/swift), as the Makefile's TOOLCHAIN."""
    if os.environ.get("WAUSE_TOOLCHAIN"):
        return os.environ["WAUSE_TOOLCHAIN"]
    swift = shutil.which("swift")
    if swift is None:
        return None
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(swift))))


def test_loads_and_runs_with_the_swift_toolchain_hidden(tmp_path: Path) -> None:
    """Mounts an empty tmpfs over the Swift toolchain's directory in a private mount namespace, then
    loads the library, opens a store and checks that nothing Swift was mapped into the process."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("unshare (util-linux) is not installed")
    probe = subprocess.run([unshare, "-m", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"unshare -m is not permitted here: {probe.stderr.strip()}")
    toolchain = swift_toolchain_dir()
    if toolchain is None or not os.path.isdir(toolchain):
        pytest.skip(f"no Swift toolchain directory to hide ({toolchain})")
    if toolchain in ("/", "/usr", "/usr/local"):
        pytest.skip(f"the toolchain is installed into {toolchain}, which cannot be hidden alone")
    code = (
        "import os, sys, wause\n"
        "toolchain = sys.argv[1]\n"
        "assert os.listdir(toolchain) == [], os.listdir(toolchain)\n"
        f"client = wause.Client(data_dir={str(tmp_path / 'store')!r})\n"
        "assert client.status()['state'] == 'stopped'\n"
        "client.close()\n"
        "maps = open('/proc/self/maps').read()\n"
        "swift = sorted({line.split()[-1] for line in maps.splitlines()\n"
        "                if toolchain + '/' in line or 'libswift' in line})\n"
        "assert not swift, swift\n"
        "print('ok', wause.version())\n")
    script = tmp_path / "probe.py"
    script.write_text(code)
    result = subprocess.run(
        [unshare, "-m", "sh", "-c",
         'mount -t tmpfs none "$2" && exec "$0" "$1" "$2"', sys.executable, str(script), toolchain],
        env=library_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == f"ok {wause.version()}"

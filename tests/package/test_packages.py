"""The Python and Node packages work on their own: installed from the checkout, they find
libwause.so without any environment variable, and building them writes nothing into the source
tree.

Python: `pip install ./bindings/python` into a fresh venv (the package's own PEP 517 backend takes
the checkout's .build/release/libwause.so — `make test-package` builds it first); the installed
package loads the library from its own directory; the wheel, copied elsewhere, installs into a
second venv. From a checkout with nothing built (a copy of this one without .build), the backend
builds the library itself, with a Swift scratch path outside the source tree: $WAUSE_SWIFT_SCRATCH,
which `make test-package` points at a directory kept between runs (PACKAGE_SCRATCH, by default
~/.cache/wause/package-build), so only the first run pays for a full release build and later
runs rebuild what changed — the path is tested for real without adding a clean release build to
every run. Node: `npm pack` of bindings/node, installed offline into a scratch project, loads
its addon and library. Every command runs without WAUSE_* variables or LD_LIBRARY_PATH.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = float(os.environ.get("WAUSE_PACKAGE_TIMEOUT", "600"))  # against hangs; pip may build


def bare_environment(**extra: str) -> dict:
    """This environment without WAUSE_*, LD_LIBRARY_PATH, PYTHONPATH or a virtualenv's marks."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("WAUSE_") and key not in ("LD_LIBRARY_PATH", "PYTHONPATH", "VIRTUAL_ENV")}
    env.update(extra)
    return env


#: Where the backend builds libwause.so when the checkout has none (kept between runs).
SCRATCH = Path(os.environ.get("WAUSE_SWIFT_SCRATCH")
               or Path.home() / ".cache" / "wause" / "package-build" / hashlib.sha1(str(REPO).encode()).hexdigest()[:12])


def run(command, cwd: Path, timeout: float = TIMEOUT, **extra: str) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=bare_environment(**extra),
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def tree_state() -> str:
    """Everything git sees in the checkout, ignored files included, minus the build trees that
    other builds may be changing while this runs."""
    out = subprocess.run(["git", "status", "--porcelain", "--ignored", "--untracked-files=all", "--",
                          ".", ":!.build", ":!build", ":!.venv*"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    # Test runs write their own bytecode caches; they are not the packages' doing.
    return "\n".join(line for line in out.splitlines() if "__pycache__" not in line or "_backend" in line)


def new_venv(path: Path) -> Path:
    # The base interpreter, not a venv's: the new venv must not see the test venv's packages.
    base = getattr(sys, "_base_executable", sys.executable)
    run([base, "-m", "venv", path], cwd=path.parent)
    return path / "bin" / "python"


PROBE = """
import json, wause
with wause.Client() as client:        # data_dir from WAUSE_DATA_DIR, read by the library
    state = client.status()["state"]
print(json.dumps({"file": wause.__file__, "library": wause.library_path(), "version": wause.version(), "state": state}))
"""


def probe(python: Path, cwd: Path) -> dict:
    return json.loads(run([python, "-c", PROBE], cwd=cwd, WAUSE_DATA_DIR=str(cwd / "store")))


def test_pip_install_carries_the_library_and_leaves_the_tree_alone(tmp_path: Path) -> None:
    before = tree_state()
    python = new_venv(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", REPO / "bindings" / "python"],
        cwd=tmp_path)
    assert tree_state() == before, "pip install wrote into the source tree"

    found = probe(python, tmp_path)
    package_dir = Path(found["file"]).parent
    assert tmp_path / "venv" in package_dir.parents, found  # the installed package, not the checkout
    assert Path(found["library"]) == package_dir / "libwause.so", found
    assert found["version"] == (REPO / "VERSION").read_text().strip() and found["state"] == "stopped", found
    assert (tmp_path / "store" / "wause.db").exists()


def unbuilt_checkout(destination: Path) -> Path:
    """This checkout's files as git sees them (tracked and untracked-but-not-ignored, as they are
    in the working tree), copied to `destination`: a checkout where nothing was built."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def manifest(root: Path) -> dict:
    """Every file and directory under `root` with its size and modification time."""
    return {str(path.relative_to(root)): (path.is_dir(), path.stat().st_size if path.is_file() else 0,
                                          path.stat().st_mtime_ns)
            for path in sorted(root.rglob("*"))}


def test_pip_install_from_an_unbuilt_checkout_builds_outside_the_source_tree(tmp_path: Path) -> None:
    checkout = unbuilt_checkout(tmp_path / "wause")
    assert not (checkout / ".build").exists()
    before = manifest(checkout)
    python = new_venv(tmp_path / "venv")
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", checkout / "bindings" / "python"],
        cwd=tmp_path, timeout=max(TIMEOUT, 3600), WAUSE_SWIFT_SCRATCH=str(SCRATCH))
    assert manifest(checkout) == before, "pip install wrote into the source tree"
    assert (SCRATCH / "swift" / "release" / "libwause.so").is_file(), "not built in WAUSE_SWIFT_SCRATCH"
    found = probe(python, tmp_path)
    assert Path(found["library"]) == Path(found["file"]).parent / "libwause.so", found
    assert found["version"] == (REPO / "VERSION").read_text().strip() and found["state"] == "stopped", found


def test_a_scratch_path_inside_the_source_tree_is_refused(tmp_path: Path) -> None:
    checkout = unbuilt_checkout(tmp_path / "wause")
    before = manifest(checkout)
    python = new_venv(tmp_path / "venv")
    done = subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check",
                           str(checkout / "bindings" / "python")], cwd=tmp_path, capture_output=True, text=True,
                          env=bare_environment(WAUSE_SWIFT_SCRATCH=str(checkout / "scratch")), timeout=TIMEOUT)
    assert done.returncode != 0, done.stdout
    assert "is inside the source tree" in done.stdout + done.stderr, done.stderr
    assert manifest(checkout) == before, "a refused build wrote into the source tree"


def test_the_wheel_installs_elsewhere_and_its_library_is_stripped(tmp_path: Path) -> None:
    before = tree_state()
    builder = new_venv(tmp_path / "builder")
    run([builder, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
         "-w", tmp_path / "wheels", REPO / "bindings" / "python"], cwd=tmp_path)
    assert tree_state() == before, "pip wheel wrote into the source tree"
    [wheel] = list((tmp_path / "wheels").glob("wause-*.whl"))
    assert not wheel.name.endswith("-any.whl"), "a wheel with native code must carry a platform tag"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "wause/libwause.so" in names and "wause/_native.py" in names, names
        library = tmp_path / "libwause.so"
        library.write_bytes(archive.read("wause/libwause.so"))
    sections = run(["readelf", "-S", "-W", library], cwd=tmp_path)
    assert ".symtab" not in sections and ".debug_info" not in sections, "libwause.so in the wheel is not stripped"

    # "Another machine": the wheel file alone, copied away from the checkout, into a new venv.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copied = Path(shutil.copy(wheel, elsewhere))
    python = new_venv(elsewhere / "venv")
    run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", copied], cwd=elsewhere)
    found = probe(python, elsewhere)
    assert Path(found["library"]).parent == Path(found["file"]).parent and found["state"] == "stopped", found


def test_npm_pack_installs_offline_and_finds_its_library(tmp_path: Path) -> None:
    node_dir = REPO / "bindings" / "node"
    if not (node_dir / "build" / "wause.node").exists():
        pytest.fail("bindings/node/build/wause.node is not built (make node-addon)")
    before = tree_state()
    tarball = run(["npm", "pack", "--silent", "--pack-destination", tmp_path], cwd=node_dir).strip().splitlines()[-1]
    assert tree_state() == before, "npm pack wrote into the source tree"
    with tarfile.open(tmp_path / tarball) as archive:
        assert {"package/build/wause.node", "package/build/libwause.so"} <= set(archive.getnames())
    project = tmp_path / "app"
    project.mkdir()
    (project / "package.json").write_text('{"name": "app", "version": "1.0.0", "private": true}')
    run(["npm", "install", "--offline", "--no-audit", "--no-fund", "--silent", tmp_path / tarball], cwd=project)
    script = ("const w = require('wause'); const c = w.open({});"
              "c.status().then(s => { console.log(JSON.stringify({version: w.version(), state: s.state})); return c.close(); });")
    found = json.loads(run(["node", "-e", script], cwd=project, WAUSE_DATA_DIR=str(project / "store")))
    assert found == {"version": (REPO / "VERSION").read_text().strip(), "state": "stopped"}, found
    assert (project / "store" / "wause.db").exists()

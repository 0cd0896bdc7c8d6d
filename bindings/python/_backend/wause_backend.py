"""The PEP 517 build backend of the wause Python package (``pip install ./bindings/python``).

Why a backend of our own: the wheel must carry ``libwause.so``, built by Swift, and building must
write nothing into the source tree (setuptools writes ``build/`` and ``*.egg-info`` beside the
sources). This backend needs nothing from PyPI, so it also works offline and under pip's build
isolation.

Where the library comes from, first match wins:

1. ``$WAUSE_LIBRARY`` — a ``libwause.so`` you built (must exist);
2. the repository's ``.build/release/libwause.so`` (``make release``), when this package sits in
   a wause checkout and that file exists;
3. ``swift build -c release --product wause --scratch-path <scratch>/swift`` on a copy of the
   checkout's package sources in ``<scratch>/source``: a release build outside the source tree.
   ``<scratch>`` is ``$WAUSE_SWIFT_SCRATCH`` when set — a directory outside the checkout that is
   kept, so the next build is incremental (the copy is synced: unchanged files are left as they
   are, so SwiftPM rebuilds only what changed) — and otherwise a temporary directory, removed
   afterwards (a full build: several minutes).

The copy in the wheel is stripped of debug symbols (as ``make install`` does) when ``strip`` is
available. The wheel is tagged for this platform only (``py3-none-linux_x86_64`` and the like): it
holds native code, so it can be copied to and installed on machines of the same kind, which need
Debian's ``libsodium23``, ``libsqlite3-0``, ``libqrencode4``, ``zlib1g``, ``libturbojpeg0``, ``libpng16-16``,
``libwebp7`` and ``libopusfile0`` (no Swift toolchain).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

# Python would cache this module's bytecode in _backend/__pycache__ — inside the source tree. The
# cache of this very module is written before it runs, so it is removed here; nothing else is
# imported from the tree.
sys.dont_write_bytecode = True
try:
    _cached = Path(__import__("importlib.util").util.cache_from_source(__file__))
    _cached.unlink()
    _cached.parent.rmdir()  # only if empty
except OSError:
    pass

PACKAGE_DIR = Path(__file__).resolve().parent.parent  # bindings/python
REPO_ROOT = PACKAGE_DIR.parent.parent
LIBRARY_NAME = "libwause.so"


def _project() -> Dict[str, str]:
    """name, version, description, requires-python from pyproject.toml's [project] table (the
    simple string keys only; scripts/gen-bindings.py writes the version there)."""
    text = (PACKAGE_DIR / "pyproject.toml").read_text(encoding="utf-8")
    table = re.search(r"^\[project\]\n(.*?)(?=^\[)", text, re.S | re.M)
    if table is None:
        raise RuntimeError("pyproject.toml has no [project] table")
    values = dict(re.findall(r'^([A-Za-z-]+) = "([^"]*)"', table.group(1), re.M))
    for key in ("name", "version"):
        if key not in values:
            raise RuntimeError(f"pyproject.toml's [project] lacks {key}")
    return values


def _dist_info_name(project: Dict[str, str]) -> str:
    return f"{project['name']}-{project['version']}.dist-info"


def _metadata(project: Dict[str, str]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.9')}",
        "Classifier: Programming Language :: Python :: 3",
        "Classifier: Operating System :: POSIX :: Linux",
        "Classifier: Typing :: Typed",
        "Provides-Extra: test",
        "Requires-Dist: pytest ; extra == \"test\"",
        "Description-Content-Type: text/markdown",
    ]
    readme = PACKAGE_DIR / "README.md"
    return "\n".join(lines) + "\n\n" + (readme.read_text(encoding="utf-8") if readme.exists() else "")


def _platform_tag() -> str:
    return re.sub(r"[^A-Za-z0-9]", "_", sysconfig.get_platform())


def _wheel_file(tag: str) -> str:
    return f"Wheel-Version: 1.0\nGenerator: wause_backend\nRoot-Is-Purelib: false\nTag: {tag}\n"


def _library(scratch: Path) -> Path:
    """The libwause.so to package (see the module docstring for the order)."""
    override = os.environ.get("WAUSE_LIBRARY")
    if override:
        path = Path(override)
        if not path.is_file():
            raise RuntimeError(f"WAUSE_LIBRARY={override} does not exist")
        return path
    built = REPO_ROOT / ".build" / "release" / LIBRARY_NAME
    if built.is_file():
        return built
    if not (REPO_ROOT / "Package.swift").is_file():
        raise RuntimeError("libwause.so not found: set WAUSE_LIBRARY to a built libwause.so "
                           "(this package is not inside a wause checkout to build one from)")
    kept = os.environ.get("WAUSE_SWIFT_SCRATCH")
    if kept:
        scratch = Path(kept).resolve()
        root = REPO_ROOT.resolve()
        if scratch == root or root in scratch.parents:
            raise RuntimeError(f"WAUSE_SWIFT_SCRATCH={kept} is inside the source tree ({root}); "
                               "building must write nothing there: name a directory outside it")
    # SwiftPM writes Package.resolved (and .swiftpm/) into the package directory, so it builds a
    # copy of the package's sources; the build products go to a scratch path beside that copy.
    source = scratch / "source"
    _sync_tree(REPO_ROOT, source, shutil.ignore_patterns(
        ".build*", "build", ".git", ".venv*", "node_modules", "bindings", "tests", "docs", "bench", "examples",
        "__pycache__"), keep=(".swiftpm",))
    swift = os.environ.get("SWIFT", "swift")
    command = [swift, "build", "-c", "release", "--product", "wause", "--scratch-path", str(scratch / "swift")]
    print(f"wause_backend: building libwause.so: {' '.join(command)}", file=sys.stderr, flush=True)
    subprocess.run(command, cwd=source, check=True, stdout=sys.stderr)
    return scratch / "swift" / "release" / LIBRARY_NAME


def _sync_tree(source: Path, target: Path, ignore, keep: Tuple[str, ...] = ()) -> None:
    """Makes `target` a copy of `source` (minus what `ignore` names), touching only what differs:
    a file whose size and modification time match is left alone (SwiftPM's incremental build
    goes by them), a changed one is copied with its times, one no longer in `source` is removed
    — except the names in `keep` (what SwiftPM itself writes into the copy: .swiftpm)."""
    target.mkdir(parents=True, exist_ok=True)
    names = os.listdir(source)
    skipped = ignore(str(source), names)
    wanted = {name for name in names if name not in skipped}
    for name in sorted(wanted):
        src, dst = source / name, target / name
        if src.is_dir() and not src.is_symlink():
            if dst.exists() and not dst.is_dir():
                dst.unlink()
            _sync_tree(src, dst, ignore)
            continue
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        there, here = src.stat(), (dst.stat() if dst.exists() else None)
        if here is None or here.st_size != there.st_size or int(here.st_mtime) != int(there.st_mtime):
            shutil.copy2(src, dst)
    for name in os.listdir(target):
        if name in wanted or name in keep:
            continue
        extra = target / name
        if extra.is_dir() and not extra.is_symlink():
            shutil.rmtree(extra)
        else:
            extra.unlink()


def _package_files() -> List[Tuple[str, Path]]:
    """(path in the wheel, source) for the wause package's own files."""
    files = []
    for path in sorted((PACKAGE_DIR / "wause").iterdir()):
        if path.is_file() and (path.suffix in (".py", ".pyi") or path.name == "py.typed"):
            files.append((f"wause/{path.name}", path))
    return files


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def _write_wheel(path: Path, entries: List[Tuple[str, bytes, int]], dist_info: str) -> None:
    record = [_record_line(name, data) for name, data, _ in entries]
    record.append(f"{dist_info}/RECORD,,")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data, mode in entries + [(f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode(), 0o644)]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # reproducible
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(info, data)


# ---- PEP 517 hooks ---------------------------------------------------------------------------

def get_requires_for_build_wheel(config_settings: Optional[dict] = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: Optional[dict] = None) -> List[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Optional[dict] = None) -> str:
    project = _project()
    dist_info = Path(metadata_directory) / _dist_info_name(project)
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata(project), encoding="utf-8")
    (dist_info / "WHEEL").write_text(_wheel_file(f"py3-none-{_platform_tag()}"), encoding="utf-8")
    return dist_info.name


def build_wheel(wheel_directory: str, config_settings: Optional[dict] = None,
                metadata_directory: Optional[str] = None) -> str:
    project = _project()
    tag = f"py3-none-{_platform_tag()}"
    dist_info = _dist_info_name(project)
    with tempfile.TemporaryDirectory(prefix="wause-wheel-") as temporary:
        scratch = Path(temporary)
        library = scratch / LIBRARY_NAME
        shutil.copyfile(_library(scratch), library)
        if shutil.which("strip"):
            subprocess.run(["strip", "--strip-unneeded", str(library)], check=True)
        entries = [(name, source.read_bytes(), 0o644) for name, source in _package_files()]
        entries.append((f"wause/{LIBRARY_NAME}", library.read_bytes(), 0o755))
        entries.append((f"{dist_info}/METADATA", _metadata(project).encode(), 0o644))
        entries.append((f"{dist_info}/WHEEL", _wheel_file(tag).encode(), 0o644))
        name = f"{project['name']}-{project['version']}-{tag}.whl"
        _write_wheel(Path(wheel_directory) / name, entries, dist_info)
    return name


def build_sdist(sdist_directory: str, config_settings: Optional[dict] = None) -> str:
    """The package's own sources (no library): building a wheel from it needs $WAUSE_LIBRARY."""
    import tarfile

    project = _project()
    base = f"{project['name']}-{project['version']}"
    name = f"{base}.tar.gz"
    sources = [("pyproject.toml", PACKAGE_DIR / "pyproject.toml"), ("README.md", PACKAGE_DIR / "README.md"),
               ("_backend/wause_backend.py", Path(__file__).resolve())] + _package_files()
    with tarfile.open(Path(sdist_directory) / name, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        for arcname, source in sources:
            archive.add(str(source), arcname=f"{base}/{arcname}", recursive=False)
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        data = _metadata(project).encode()
        info.size = len(data)
        import io
        archive.addfile(info, io.BytesIO(data))
    return name

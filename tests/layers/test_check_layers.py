"""scripts/check-layers.py against the repo as it is, and against copies with a planted violation:
an upward import, an upward Package.swift dependency, and a target the layer table does not place."""
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "check-layers.py"


def run(root: pathlib.Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--root", str(root)], capture_output=True, text=True)


@pytest.fixture
def copy(tmp_path: pathlib.Path) -> pathlib.Path:
    for name in ("Package.swift", "ARCHITECTURE.md"):
        shutil.copy(REPO / name, tmp_path / name)
    for folder in ("Sources", "Tests"):
        shutil.copytree(REPO / folder, tmp_path / folder, ignore=shutil.ignore_patterns("Generated"))
    return tmp_path


def test_the_repo_passes():
    result = run(REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_copy_passes_before_anything_is_planted(copy):
    assert run(copy).returncode == 0


def test_an_upward_import_fails(copy):
    victim = sorted((copy / "Sources" / "WauseSim").glob("*.swift"))[0]
    victim.write_text("import WauseCore\n" + victim.read_text())
    result = run(copy)
    assert result.returncode == 1
    assert f"{victim.relative_to(copy)}: WauseSim" in result.stdout
    assert "imports WauseCore" in result.stdout


def test_an_import_between_peers_fails(copy):
    victim = sorted((copy / "Sources" / "WauseCore").rglob("*.swift"))[0]
    victim.write_text("import WauseSim\n" + victim.read_text())
    result = run(copy)
    assert result.returncode == 1
    assert "imports WauseSim" in result.stdout


def test_an_upward_package_dependency_fails(copy):
    package = copy / "Package.swift"
    text = package.read_text()
    planted = text.replace('.target(name: "WauseHTTP", dependencies: [', '.target(name: "WauseHTTP", dependencies: ["WauseCore", ', 1)
    assert planted != text
    package.write_text(planted)
    result = run(copy)
    assert result.returncode == 1
    assert "Package.swift: WauseHTTP" in result.stdout and "depends on WauseCore" in result.stdout


def test_a_target_missing_from_the_table_fails(copy):
    package = copy / "Package.swift"
    package.write_text(package.read_text().replace(
        '.target(name: "WauseSupport"),', '.target(name: "WauseSupport"),\n        .target(name: "WauseStray"),', 1))
    result = run(copy)
    assert result.returncode == 1
    assert "WauseStray: a target of Package.swift that ARCHITECTURE.md's layer table does not place" in result.stdout

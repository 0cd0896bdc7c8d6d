#!/usr/bin/env python3
"""Checks that wause's modules stack bottom-up as ARCHITECTURE.md's layer table says.

The table (between the `<!-- layers:begin -->` and `<!-- layers:end -->` markers) gives every
SwiftPM target a layer number. A target may depend on, and import, only targets on a strictly
lower layer; C system-library targets and external packages are layer 0 and always allowed.
Checked: every target of Package.swift is in the table (and every table row is a target), every
target's Package.swift dependencies, and every `import` line of its sources.

Usage: scripts/check-layers.py [--root DIR]   (exit 1 and one line per violation on failure)
"""
import argparse
import pathlib
import re
import sys

IMPORT = re.compile(r'^\s*(?:@testable\s+|@_exported\s+|@preconcurrency\s+)*import\s+(?:(?:struct|class|enum|func|protocol|typealias|var|let)\s+)?([A-Za-z_][A-Za-z0-9_]*)', re.M)


def layer_table(architecture: str) -> dict[str, int]:
    try:
        section = architecture.split("<!-- layers:begin -->", 1)[1].split("<!-- layers:end -->", 1)[0]
    except IndexError:
        sys.exit("check-layers: ARCHITECTURE.md has no <!-- layers:begin --> … <!-- layers:end --> table")
    layers: dict[str, int] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].isdigit():
            continue
        for name in re.findall(r"`([^`]+)`", cells[1]):
            layers[name] = int(cells[0])
    return layers


def package_targets(package: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (kind, [our own dependency names]); products of external packages are skipped."""
    code = "\n".join(line.split("//", 1)[0] for line in package.splitlines())
    targets: dict[str, tuple[str, list[str]]] = {}
    for match in re.finditer(r'\.(target|executableTarget|testTarget|systemLibrary)\(\s*name:\s*"([^"]+)"', code):
        kind, name = match.group(1), match.group(2)
        # The call's arguments: up to the parenthesis that closes this call.
        depth, end = 0, match.start()
        for index in range(code.index("(", match.start()), len(code)):
            if code[index] == "(":
                depth += 1
            elif code[index] == ")":
                depth -= 1
                if depth == 0:
                    end = index
                    break
        arguments = code[match.end():end]
        dependencies: list[str] = []
        found = re.search(r"dependencies:\s*\[", arguments)
        if found:
            depth, start = 1, found.end()
            for index in range(start, len(arguments)):
                depth += {"[": 1, "]": -1}.get(arguments[index], 0)
                if depth == 0:
                    listed = arguments[start:index]
                    break
            listed = re.sub(r"\.product\([^)]*\)", "", listed)
            dependencies = re.findall(r'"([^"]+)"', listed)
        targets[name] = (kind, dependencies)
    return targets


def source_folder(root: pathlib.Path, name: str, kind: str) -> pathlib.Path:
    return root / ("Tests" if kind == "testTarget" else "Sources") / name


def check(root: pathlib.Path) -> list[str]:
    layers = layer_table((root / "ARCHITECTURE.md").read_text())
    targets = package_targets((root / "Package.swift").read_text())
    problems: list[str] = []
    for name in sorted(set(targets) - set(layers)):
        problems.append(f"{name}: a target of Package.swift that ARCHITECTURE.md's layer table does not place")
    for name in sorted(set(layers) - set(targets)):
        problems.append(f"{name}: in ARCHITECTURE.md's layer table but not a target of Package.swift")
    for name, (kind, dependencies) in sorted(targets.items()):
        if name not in layers:
            continue
        own = layers[name]
        for dependency in dependencies:
            if dependency in layers and layers[dependency] != 0 and layers[dependency] >= own:
                problems.append(f"Package.swift: {name} (layer {own}) depends on {dependency} (layer {layers[dependency]}), "
                                "which is not below it")
        folder = source_folder(root, name, kind)
        for path in sorted(folder.rglob("*.swift")) if folder.is_dir() else []:
            for module in IMPORT.findall(path.read_text(errors="replace")):
                if module == name or module not in layers or layers[module] == 0:
                    continue
                if layers[module] >= own:
                    problems.append(f"{path.relative_to(root)}: {name} (layer {own}) imports {module} "
                                    f"(layer {layers[module]}), which is not below it")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=pathlib.Path(__file__).resolve().parent.parent, type=pathlib.Path)
    root = parser.parse_args().root.resolve()
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"check-layers: {len(problems)} problem(s); the layer order is ARCHITECTURE.md's table", file=sys.stderr)
        return 1
    print(f"check-layers: every target's dependencies and imports run down the stack ({root / 'ARCHITECTURE.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

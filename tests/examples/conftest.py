"""The examples against a real wause-sim: tests/sim's process helper, shared through sys.path."""

from __future__ import annotations

import pathlib
import sys

SIM_TESTS = pathlib.Path(__file__).resolve().parent.parent / "sim"
if str(SIM_TESTS) not in sys.path:
    sys.path.insert(0, str(SIM_TESTS))

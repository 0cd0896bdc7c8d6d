#!/usr/bin/env python3
"""Open a wause client, print the library version and the status, then print events for a while.

How to run (from the repository root, with libwause built):

    WAUSE_LIBRARY=$PWD/.build/debug/libwause.so python3 examples/python/status.py [DATA_DIR] [--seconds N]

DATA_DIR is the store directory (created if missing); without it a temporary directory is used and
removed afterwards. --seconds is how long to listen for events (default 2). If the `wause` package
is not installed (`pip install bindings/python`), it is imported from bindings/python of this
checkout. Exits 0 on success, 1 if the client cannot be opened, 130 on Ctrl-C.

The engine never dials WhatsApp while it is not linked, so running this contacts no server.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

try:
    import wause
except ImportError:  # running from a checkout without installing the binding
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import wause


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Print wause's version and status, then listen for events.")
    parser.add_argument("data_dir", nargs="?", help="store directory (default: a temporary one)")
    parser.add_argument("--seconds", type=float, default=2.0, help="how long to listen for events (default 2)")
    return parser.parse_args()


def listen(data_dir: str, seconds: float) -> None:
    with wause.Client(data_dir=data_dir) as client:
        print(json.dumps(client.status(), indent=2))
        print(f"listening for events for {seconds:g} s ...", flush=True)
        count = 0
        for event in client.events(timeout=seconds):
            count += 1
            print(f"event #{event['cursor']} {event['name']} at {event['ts']}: {json.dumps(event['data'])}",
                  flush=True)
        print(f"{count} event(s) received")


def main() -> int:
    arguments = parse_arguments()
    try:
        print(f"wause {wause.version()} ({wause.library_path()})")
        if arguments.data_dir:
            listen(arguments.data_dir, arguments.seconds)
        else:
            with tempfile.TemporaryDirectory(prefix="wause-example-") as temporary:
                listen(str(Path(temporary) / "store"), arguments.seconds)
    except wause.LibraryNotFound as error:
        print(error, file=sys.stderr)
        return 1
    except wause.Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

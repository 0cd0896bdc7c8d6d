"""baileys-python's binary XML codec timed on the frames wause-bench measured (`make bench`).

    python tests/interop/binary_bench.py --corpus FILE [--seconds S]

FILE holds lines "corpus-name hex-frame" written by wause-bench. For each corpus this prints

    figures NAME DECODE_MBPS ENCODE_MBPS

in MB (10^6 bytes) of frame bytes per second of thread CPU time (as wause-bench measures, so
other load on a shared machine does not skew the comparison): decoding the frames, and encoding the nodes that
decoding produced (baileys-python's own representation), median of 5 rounds, as wause-bench
measures ours. Run standalone with --self-test to time a built-in corpus.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import binary_baileys  # noqa: E402


def median_throughput(total_bytes: int, seconds: float, work, rounds: int = 5) -> float:
    passes = 1
    while True:  # calibrate passes per round
        start = time.thread_time()
        for _ in range(passes):
            work()
        elapsed = time.thread_time() - start
        if elapsed >= seconds / rounds / 4:
            passes = max(1, int(passes * (seconds / rounds) / elapsed))
            break
        passes *= 2
    results = []
    for _ in range(rounds):
        start = time.thread_time()
        for _ in range(passes):
            work()
        results.append(total_bytes * passes / (time.thread_time() - start) / 1e6)
    return statistics.median(results)


def measure(wabinary, frames: list[bytes], seconds: float) -> tuple[float, float]:
    decode, encode = wabinary.decode_binary_node, wabinary.encode_binary_node
    nodes = [decode(frame) for frame in frames]
    total = sum(map(len, frames))
    encoded_total = sum(len(encode(node)) for node in nodes)

    def decode_all():
        for frame in frames:
            decode(frame)

    def encode_all():
        for node in nodes:
            encode(node)

    return median_throughput(total, seconds, decode_all), median_throughput(encoded_total, seconds, encode_all)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=pathlib.Path)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--self-test", action="store_true", help="time the cross-check corpus instead of --corpus")
    args = parser.parse_args()

    wabinary = binary_baileys.load_wabinary()
    corpora: dict[str, list[bytes]] = {}
    if args.self_test:
        import binary_corpus

        corpora["stanzas"] = [wabinary.encode_binary_node(binary_baileys.to_baileys(wabinary, n))
                              for _, n, _ in binary_corpus.stanzas()]
    elif args.corpus:
        for line in args.corpus.read_text().splitlines():
            name, _, frame = line.partition(" ")
            if frame:
                corpora.setdefault(name, []).append(bytes.fromhex(frame))
    else:
        parser.error("--corpus or --self-test is required")

    for name, frames in corpora.items():
        decode_mbps, encode_mbps = measure(wabinary, frames, args.seconds)
        print(f"figures {name} {decode_mbps:.3f} {encode_mbps:.3f}", flush=True)


if __name__ == "__main__":
    main()

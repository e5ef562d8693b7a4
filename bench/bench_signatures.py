"""Sign and verify rates for draft-cavage and RFC 9421, beside the raw key operations.

Run: ``python bench/bench_signatures.py [seconds_per_case]`` (``--help``). Each line
prints our rate, the raw ``cryptography`` rate of the same key over the same bytes
measured in the same run (each the best of many short slices), their ratio (the
median over adjacent pairs of slices: see ``_paired``), and the issue's target ratio (signing 0.9;
cavage verify 0.75; RFC 9421 verify 0.6, structured-field parsing included).
Ed25519 signing is ours on libsodium against raw ``cryptography`` (OpenSSL), as
the issue asks; an "info" row sets it beside raw libsodium too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_signatures_cavage
import bench_signatures_rfc9421


def _target(case: str) -> float | None:
    if "(+ body digest)" in case:
        return None  # information: the reference verifier hashed no body
    if "libsodium" in case:
        return None  # information: our overhead over the library that signs
    if "sign" in case and "verify" not in case:
        return 0.9
    return 0.75 if "cavage" in case else 0.6


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Sign/verify rates of draft-cavage and RFC 9421 beside the raw "
        "cryptography operation on the same key and bytes; exits 1 if a ratio misses "
        "its target."
    )
    parser.add_argument(
        "seconds",
        nargs="?",
        type=float,
        default=1.0,
        help="time spent on each case, split between ours and raw (default 1.0)",
    )
    seconds = parser.parse_args().seconds
    rows = bench_signatures_cavage.run(seconds) + bench_signatures_rfc9421.run(seconds)
    print(f"{'case':52} {'ops/s':>10} {'raw ops/s':>10} {'ratio':>6} {'target':>6}")
    missed = 0
    for case, ours, raw, ratio in rows:
        target = _target(case)
        if target is None:
            print(f"{case:52} {ours:10,.0f} {raw:10,.0f} {ratio:6.2f} {'info':>6}")
            continue
        flag = "" if ratio >= target else "  BELOW TARGET"
        missed += ratio < target
        print(f"{case:52} {ours:10,.0f} {raw:10,.0f} {ratio:6.2f} {target:6.2f}{flag}")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())

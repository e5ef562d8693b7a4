"""Microseconds per parse and per serialise of real documents.

Run: ``python bench/bench_vocab.py``. For scale, pyld's expand of the
Mastodon Create(Note) is printed last (about a millisecond).
"""

from __future__ import annotations

import json
import timeit
from pathlib import Path

from activitypub.jsonld import expand
from activitypub.vocab import parse

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
CASES = [
    "mastodon/create_note.json",
    "mastodon/person.json",
    "lemmy/announce_create_page.json",
    "lemmy/group.json",
    "peertube/video.json",
]


def per_call(call: object, number: int) -> float:
    timer = timeit.Timer(call)  # type: ignore[arg-type]
    return min(timer.repeat(repeat=5, number=number)) / number * 1e6


def main() -> None:
    print(f"{'document':34} {'bytes':>6} {'loads+parse':>12} {'parse(dict)':>12} {'to_json':>9}")
    for name in CASES:
        raw = (FIXTURES / name).read_bytes()
        data = json.loads(raw)
        obj = parse(data)
        n = 2000
        from_bytes = per_call(lambda: parse(raw), n)  # noqa: B023
        from_dict = per_call(lambda: parse(data), n)  # noqa: B023
        dump = per_call(obj.to_json, n)
        print(f"{name:34} {len(raw):6d} {from_bytes:10.1f}µs {from_dict:10.1f}µs {dump:7.1f}µs")
    data = json.loads((FIXTURES / CASES[0]).read_bytes())
    print(f"pyld expand of {CASES[0]}: {per_call(lambda: expand(data), 50):.0f}µs")


if __name__ == "__main__":
    main()

"""Cost of the JSON-LD paths on real documents.

Run: ``python bench/bench_jsonld.py``. ``needs_compaction`` runs on every
incoming document, so it must stay orders of magnitude below ``expand``.
"""

from __future__ import annotations

import copy
import json
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from activitypub import jsonld

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "real"
CASES = ["mastodon/create_note.json", "mastodon/person.json", "lemmy/announce_create_page.json"]


def per_call_ms(call: Callable[[], Any], number: int) -> float:
    best = min(timeit.Timer(call).repeat(repeat=5, number=number))
    return best / number * 1e3


def prefixed(doc: Any) -> Any:
    """The same document with one key written as a compact IRI (forces compaction)."""
    doc = copy.deepcopy(doc)
    target = doc.get("object") if isinstance(doc.get("object"), dict) else doc
    if "content" in target:
        target["as:content"] = target.pop("content")
    else:
        target["as:name"] = target.pop("name", "x")
    return doc


def main() -> None:
    print(f"{'document':34} {'bytes':>6} {'operation':26} {'ms/doc':>9}")
    for name in CASES:
        doc = json.loads((FIXTURES / name).read_text("utf-8"))
        size = len(json.dumps(doc))
        unusual = prefixed(doc)
        rows: list[tuple[str, Callable[[], Any], int]] = [
            ("needs_compaction", lambda d=doc: jsonld.needs_compaction(d), 5000),
            ("normalize (usual: identity)", lambda d=doc: jsonld.normalize(d), 5000),
            ("normalize (as:content key)", lambda d=unusual: jsonld.normalize(d), 30),
            ("expand", lambda d=doc: jsonld.expand(d), 50),
            ("compact", lambda d=doc: jsonld.compact(d), 30),
            ("canonicalize (URDNA2015)", lambda d=doc: jsonld.canonicalize(d), 30),
        ]
        for label, call, number in rows:
            print(f"{name:34} {size:6} {label:26} {per_call_ms(call, number):9.4f}")


if __name__ == "__main__":
    main()

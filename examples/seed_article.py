"""Read the seed article in ``seeds/``: a title line, paragraphs, then site navigation.

The navigation (lines starting with a bullet, the magazine list of the Mbin page the
article was captured from) is not part of the article and is dropped.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

SEED = Path(__file__).resolve().parent.parent / "seeds" / "putin-in-china-seeking-support.txt"


@dataclass(frozen=True)
class SeedArticle:
    title: str
    summary: str
    paragraphs: tuple[str, ...]

    @property
    def html(self) -> str:
        return "".join(f"<p>{html.escape(p)}</p>" for p in self.paragraphs)

    @property
    def markdown(self) -> str:
        return "\n\n".join(self.paragraphs)


def load_seed(path: Path = SEED) -> SeedArticle:
    lines = path.read_text(encoding="utf-8").splitlines()
    title = lines[0].strip()
    paragraphs: list[str] = []
    for line in lines[1:]:
        text = line.strip()
        if text.startswith("\u2022"):
            break  # the site navigation starts here
        if text:
            paragraphs.append(text)
    return SeedArticle(title=title, summary=paragraphs[0], paragraphs=tuple(paragraphs[1:]))

"""The mail corpus the tests read: our own small one, plus the shared one when it is there.

tests/data/corpus/ travels with the repository, so a fresh clone runs every corpus test;
../shared/corpus/ (hundreds of real-world messages beside the project) adds to it when present.
A message is named by its path inside a corpus ("flanker/bounce/zed.eml"); the two corpora use
the same layout, and a name found in both is one message.
"""

import os
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCAL = HERE / "data" / "corpus"
# HM_SHARED_CORPUS: where it is when the checkout is not beside it (a worktree elsewhere).
SHARED = Path(os.environ.get("HM_SHARED_CORPUS") or HERE.parents[1] / "shared" / "corpus")


def has_shared() -> bool:
    return SHARED.is_dir()


def corpus_files(under: str = "") -> dict[str, Path]:
    """{name: path} of every .eml below `under` in the corpora, sorted by name."""
    found: dict[str, Path] = {}
    for root in (LOCAL, SHARED):
        if (root / under).is_dir():
            for path in (root / under).rglob("*.eml"):
                found.setdefault(path.relative_to(root).as_posix(), path)
    return dict(sorted(found.items()))

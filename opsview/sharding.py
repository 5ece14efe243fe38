"""Split sources across collector processes or hosts: `opsview collect --shard I/N`."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from opsview.config import AnySource

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True, slots=True)
class Shard:
    index: int  # 1-based, as people count hosts: 1/3, 2/3, 3/3
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        match = _SHARD.match(text)
        if not match:
            raise ValueError(f'invalid shard "{text}" (expected I/N, e.g. 1/3)')
        index, count = int(match.group(1)), int(match.group(2))
        if count < 1 or not 1 <= index <= count:
            raise ValueError(f'invalid shard "{text}" (I must be between 1 and N)')
        return cls(index, count)

    def owns(self, source: AnySource) -> bool:
        return shard_of(source, self.count) == self.index


def shard_of(source: AnySource, count: int) -> int:
    """A stable 1-based shard for a source: the same on every host and Python run (no hash seed)."""
    digest = hashlib.sha256(f"{source.type}:{source.name}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def select(sources: Sequence[AnySource], shard: Shard | None) -> list[AnySource]:
    return [s for s in sources if shard is None or shard.owns(s)]

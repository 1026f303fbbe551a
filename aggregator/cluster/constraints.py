"""Readers' corrections as constraints the clusterer must keep.

A correction says that some articles (``moved``) left others (``stayed``) and joined a third set
(``joined``):

- a move of one article: it left its old story's articles and joined the target's;
- a split: the chosen articles left the rest of their story and form a story of their own;
- a merge: a story's articles joined the articles of the story it was merged into.

From each follows a must-link group (``moved`` and ``joined`` stay in one story) and a cannot-link
pair (``moved`` never again shares a story with ``stayed``). Consolidation may not merge two
stories that a cannot-link pair spans; the split pass may not part a story across a must-link
group. New articles are in no constraint, so they may join any story.

Corrections are read oldest first, and a later one overrides what it contradicts: a group loses
the articles a later correction took out of it, and a cannot-link pair loses the articles a later
correction put together. So a story split by hand and later merged back by hand is one story again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Correction:
    """The articles of one correction in force (see the module docstring)."""

    moved: frozenset[int]
    stayed: frozenset[int] = frozenset()
    joined: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Constraints:
    """Must-link groups and cannot-link pairs of article ids."""

    together: tuple[frozenset[int], ...] = ()
    apart: tuple[tuple[frozenset[int], frozenset[int]], ...] = ()
    _apart_index: dict[int, list[int]] = field(default_factory=dict, compare=False, repr=False)
    _together_index: dict[int, list[int]] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        for number, (first, second) in enumerate(self.apart):
            for article in first | second:
                self._apart_index.setdefault(article, []).append(number)
        for number, group in enumerate(self.together):
            for article in group:
                self._together_index.setdefault(article, []).append(number)

    @classmethod
    def from_corrections(cls, corrections: Iterable[Correction]) -> Constraints:
        """The constraints of ``corrections``, oldest first; later ones override earlier ones."""
        together: list[frozenset[int]] = []
        apart: list[tuple[frozenset[int], frozenset[int]]] = []
        for correction in corrections:
            moved, stayed = correction.moved, correction.stayed
            united = moved | correction.joined
            # the moved articles leave the groups that tied them to what they left
            together = [g - moved if g & stayed and g & moved else g for g in together]
            # pairs this correction puts together are void for the articles it moved
            kept: list[tuple[frozenset[int], frozenset[int]]] = []
            for first, second in apart:
                if first & united and second & united:
                    first, second = first - moved, second - moved
                if first and second:
                    kept.append((first, second))
            apart = kept
            together = [g for g in together if len(g) > 1]
            if len(united) > 1:
                together.append(united)
            if moved and stayed:
                apart.append((moved, stayed))
        return cls(tuple(together), tuple(apart))

    def __bool__(self) -> bool:
        return bool(self.together or self.apart)

    def may_merge(self, first: Iterable[int], second: Iterable[int]) -> bool:
        """Whether stories with these members may become one: no cannot-link pair spans them."""
        a, b = set(first), set(second)
        for number in {n for article in a for n in self._apart_index.get(article, ())}:
            left, right = self.apart[number]
            if (left & a and right & b) or (right & a and left & b):
                return False
        return True

    def may_part(self, first: Iterable[int], second: Iterable[int]) -> bool:
        """Whether a story may be cut into these two halves: no must-link group spans them."""
        a, b = set(first), set(second)
        for number in {n for article in a for n in self._together_index.get(article, ())}:
            group = self.together[number]
            if group & a and group & b:
                return False
        return True

    def articles(self) -> frozenset[int]:
        """Every article some constraint names."""
        return frozenset(self._apart_index) | frozenset(self._together_index)

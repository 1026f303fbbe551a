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

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
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
        together, apart = _in_force(corrections)
        return cls(tuple(g for _, g in together), tuple(p for _, p in apart))

    @classmethod
    def each(cls, corrections: Sequence[Correction]) -> list[Constraints]:
        """The constraints each of ``corrections`` (oldest first) still sets, after the later
        ones overrode what they contradict: empty for a correction undone by later ones."""
        together, apart = _in_force(corrections)
        return [
            cls(
                tuple(g for n, g in together if n == number),
                tuple(p for n, p in apart if n == number),
            )
            for number in range(len(corrections))
        ]

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

    def kept_by(self, story_of: Mapping[int, int]) -> tuple[int, int]:
        """How many of the article pairs these constraints name a clustering keeps, of how
        many: a must-link pair in one story, a cannot-link pair in two. ``story_of`` maps
        article ids to story ids; articles it lacks (deleted since) are left out."""
        kept = total = 0
        for group in self.together:
            stories = [story_of[a] for a in sorted(group) if a in story_of]
            for i, first in enumerate(stories):
                for second in stories[i + 1 :]:
                    total += 1
                    kept += first == second
        for left, right in self.apart:
            right_stories = Counter(story_of[a] for a in right if a in story_of)
            count = sum(right_stories.values())
            for article in left:
                if article in story_of:
                    total += count
                    kept += count - right_stories[story_of[article]]
        return kept, total


Pair = tuple[frozenset[int], frozenset[int]]


def _in_force(
    corrections: Iterable[Correction],
) -> tuple[list[tuple[int, frozenset[int]]], list[tuple[int, Pair]]]:
    """Must-link groups and cannot-link pairs in force, each with the number of the correction
    (in the order given) that set it; see the module docstring for how later ones override."""
    together: list[tuple[int, frozenset[int]]] = []
    apart: list[tuple[int, Pair]] = []
    for number, correction in enumerate(corrections):
        moved, stayed = correction.moved, correction.stayed
        united = moved | correction.joined
        # the moved articles leave the groups that tied them to what they left
        together = [(n, g - moved if g & stayed and g & moved else g) for n, g in together]
        # pairs this correction puts together are void for the articles it moved
        kept: list[tuple[int, Pair]] = []
        for n, (first, second) in apart:
            if first & united and second & united:
                first, second = first - moved, second - moved
            if first and second:
                kept.append((n, (first, second)))
        apart = kept
        together = [(n, g) for n, g in together if len(g) > 1]
        if len(united) > 1:
            together.append((number, united))
        if moved and stayed:
            apart.append((number, (moved, stayed)))
    return together, apart

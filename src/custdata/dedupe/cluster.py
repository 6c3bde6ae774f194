"""Scored pairs -> clusters, without chaining strangers together through one weak link.

Links at or above the threshold are joined strongest first (union-find would chain
A-B-C even when A and C are plainly two people). Two groups are joined only if no pair
across them contradicts the match: every such pair needs an evidence-only probability
(the match probability at even prior odds, i.e. field evidence for >= against at 0.5) of
at least `min_coherence`. Pairs inside a group that blocking did not compare are scored
on demand with `rescore`. A cluster's score is its weakest link: the lowest match
probability among the links that hold it together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Hashable, Iterable

Pair = tuple[Hashable, Hashable, float, float]  # (a, b, probability, evidence bits)


@dataclass(frozen=True)
class Cluster:
    """Members (sorted), weakest link (`score`) and lowest evidence-only probability."""

    members: tuple
    score: float
    coherence: float
    links: tuple[tuple[Hashable, Hashable, float], ...]


def evidence_probability(bits: float) -> float:
    """Match probability at even prior odds: 0.5 when evidence for and against balance."""
    return 1.0 / (1.0 + math.pow(2.0, -max(min(bits, 60.0), -60.0)))


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        parent = self.parent.setdefault(x, x)
        while parent != x:
            grand = self.parent[parent]
            self.parent[x] = grand
            x, parent = parent, grand
        return x

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _split_component(members: list, links: list[Pair], known: dict, min_coherence: float,
                     rescore: Callable | None, max_rescore: int) -> list[Cluster]:
    group = {m: frozenset((m,)) for m in members}
    held: dict[frozenset, list] = {g: [] for g in group.values()}

    def coherent(x, y) -> float:
        key = (x, y) if (x, y) in known else (y, x)
        if key not in known:
            if rescore is None or len(members) > max_rescore:
                return 1.0  # never compared and too costly to: no evidence against
            known[key] = rescore(x, y)[1]
        return evidence_probability(known[key])

    if len(links) == 1 and len(members) == 2:  # most components: two records, one link
        a, b, probability, _ = links[0]
        if coherent(a, b) < min_coherence:
            return []
        ordered = tuple(sorted(members))
        return [Cluster(ordered, probability, coherent(*ordered), ((a, b, probability),))]
    for a, b, probability, _ in sorted(links, key=lambda p: (-p[2], p[0], p[1])):
        ga, gb = group[a], group[b]
        if ga is gb:
            continue
        if any(coherent(x, y) < min_coherence for x in ga for y in gb):
            continue
        merged = ga | gb
        held[merged] = held.pop(ga) + held.pop(gb) + [(a, b, probability)]
        for member in merged:
            group[member] = merged
    out = []
    for members_set, used in held.items():
        if len(members_set) < 2:
            continue
        ordered = tuple(sorted(members_set))
        worst = min((coherent(x, y) for i, x in enumerate(ordered) for y in ordered[i + 1:]),
                    default=1.0)
        out.append(Cluster(ordered, min(p for _, _, p in used), worst, tuple(used)))
    return out


def clusters(pairs: Iterable[Pair], threshold: float, *, min_coherence: float = 0.5,
             rescore: Callable[[Hashable, Hashable], tuple[float, float]] | None = None,
             max_rescore: int = 200) -> list[Cluster]:
    """Clusters of records linked by pairs scoring >= `threshold`, ordered by first member.

    `pairs` are (a, b, probability, bits) for every compared pair, weak ones included:
    they are the evidence the coherence check uses.
    """
    pairs = list(pairs)
    uf = _UnionFind()
    strong: list[Pair] = []
    for a, b, probability, bits in pairs:
        if probability >= threshold:
            strong.append((a, b, probability, bits))
            uf.union(a, b)
    known: dict[tuple, float] = {
        (a, b): bits for a, b, _, bits in pairs
        if a in uf.parent and b in uf.parent and uf.find(a) == uf.find(b)
    }
    components: dict[Hashable, list] = {}
    links: dict[Hashable, list[Pair]] = {}
    for pair in strong:
        root = uf.find(pair[0])
        links.setdefault(root, []).append(pair)
    for node in list(uf.parent):
        components.setdefault(uf.find(node), []).append(node)
    out: list[Cluster] = []
    for root, component in components.items():
        if root not in links:
            continue
        out.extend(_split_component(component, links[root], known, min_coherence, rescore,
                                    max_rescore))
    return sorted(out, key=lambda c: c.members[0])

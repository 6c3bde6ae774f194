"""Scored pairs -> clusters, without chaining strangers together through one weak link.

Links at or above the threshold are joined strongest first (union-find would chain
A-B-C even when A and C are plainly two people). Two groups are joined only if no pair
across them contradicts the match: every such pair needs an evidence-only probability
(the match probability at even prior odds, i.e. field evidence for >= against at 0.5) of
at least `min_coherence`. Pairs inside a group that blocking did not compare are scored
on demand with `rescore`. A cluster's score is its weakest link: the lowest match
probability among the links that hold it together.

Given `need` (the bits a pair needs to clear the threshold), a record or group joins a
cluster only on its evidence against the whole cluster: the mean bits over every pair
across the two must reach `need`, and no such pair may fall below `floor` bits (a record
whose own score with one member is 0.82 is not absorbed through a strong third record).
Labelled pairs: `forbid` pairs are never put in one cluster; `force` pairs always are.
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


@dataclass(frozen=True)
class JoinRule:
    """When two groups may join: `need` mean bits across them, no pair under `floor`
    bits (None: the coherence test alone), never a `forbid` pair, always a `force` one."""

    need: float | None = None
    floor: float | None = None
    forbid: frozenset = frozenset()
    force: frozenset = frozenset()

    def forbids(self, ga: frozenset, gb: frozenset) -> bool:
        return bool(self.forbid) and any(
            frozenset((x, y)) in self.forbid for x in ga for y in gb)

    def forces(self, a: Hashable, b: Hashable) -> bool:
        return frozenset((a, b)) in self.force


def _bits_of(known: dict, rescore: Callable | None, allowed: bool, x, y) -> float | None:
    key = (x, y) if (x, y) in known else (y, x)
    if key not in known:
        if rescore is None or not allowed:
            return None  # never compared and too costly to: no evidence either way
        known[key] = rescore(x, y)[1]
    return known[key]


def _joins(rule: JoinRule, ga: frozenset, gb: frozenset, bits_of: Callable) -> bool:
    """Whether the evidence of every pair across ga and gb lets them join (see JoinRule)."""
    if rule.need is None:
        return True
    across = [bits_of(x, y) for x in ga for y in gb]
    known = [b for b in across if b is not None]
    if not known:
        return True
    floor = rule.floor if rule.floor is not None else -math.inf
    return sum(known) / len(known) >= rule.need and min(known) >= floor


def _split_component(members: list, links: list[Pair], known: dict, min_coherence: float,
                     rescore: Callable | None, max_rescore: int,
                     rule: JoinRule = JoinRule()) -> list[Cluster]:
    group = {m: frozenset((m,)) for m in members}
    held: dict[frozenset, list] = {g: [] for g in group.values()}
    allowed = len(members) <= max_rescore

    def bits_of(x, y) -> float | None:
        return _bits_of(known, rescore, allowed, x, y)

    def coherent(x, y) -> float:
        bits = bits_of(x, y)
        return 1.0 if bits is None else evidence_probability(bits)

    if len(links) == 1 and len(members) == 2:  # most components: two records, one link
        a, b, probability, _ = links[0]
        forced = rule.forces(a, b)
        if (coherent(a, b) < min_coherence and not forced) or rule.forbids(group[a], group[b]):
            return []
        ordered = tuple(sorted(members))
        return [Cluster(ordered, probability, coherent(*ordered), ((a, b, probability),))]
    ordered_links = sorted(links, key=lambda p: (not rule.forces(p[0], p[1]), -p[2], p[0], p[1]))
    for a, b, probability, _ in ordered_links:
        ga, gb = group[a], group[b]
        if ga is gb or rule.forbids(ga, gb):
            continue
        if not rule.forces(a, b) and (
                any(coherent(x, y) < min_coherence for x in ga for y in gb)
                or not _joins(rule, ga, gb, bits_of)):
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
             max_rescore: int = 200, rule: JoinRule | None = None) -> list[Cluster]:
    """Clusters of records linked by pairs scoring >= `threshold`, ordered by first member.

    `pairs` are (a, b, probability, bits) for every compared pair, weak ones included:
    they are the evidence the coherence check uses. `rule`: the group evidence and the
    labelled pairs that decide a join (default: the coherence test alone); a forced pair
    counts as a link whatever its score.
    """
    pairs = list(pairs)
    rule = rule or JoinRule()
    uf = _UnionFind()
    strong: list[Pair] = []
    for a, b, probability, bits in pairs:
        if probability >= threshold or rule.forces(a, b):
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
                                    max_rescore, rule))
    return sorted(out, key=lambda c: c.members[0])

"""Choosing which counts of a campaign to withhold, so that no published figure, alone or with
the rest, narrows what a handful of raters answered.

The rules of docs/methodology.md "Disclosure control", applied to the whole count hierarchy of
:mod:`app.results.tables` at once and in this order:

0. latent and fixed: counts no audience sees (a department's flagged evaluations, where
   they are left out of its count) are unknowns to the attacker and need no protection; the
   figures published before the results (ballots counted, credentials issued,
   codes used; see :mod:`app.results.tables`) are shown or withheld as their own rules
   decided, and are never withheld later: the results are withheld around them;
1. threshold: any campaign, target or target × group count, and any quality-flag count,
   below the disclosure threshold k (zero included) is withheld, a group's answer cells
   with it; in a shown group, an item with fewer than k answers other than 不了解 has all
   its answer cells withheld, 不了解 included, since how many people gave an opinion is
   itself a count below k;
2. unanimity: a target × group whose evaluations all scored the same, fewer than 2k of
   them, is withheld whole; an item with k ≤ answers < 2k, all at one level, has all its
   answer cells withheld, 不了解 included. Either looks exactly like a small count, so the
   withholding says nothing about why (a withheld score beside shown items and counts would
   tell that everyone scored the same, and the items would give the score back);
3. remainder: a shown target (or campaign, or stored) total that leaves fewer than k, but
   more than none, beside one of its shown groups (or targets) is withheld: the subgroup
   keeps its detail and the total goes; likewise a flag count that leaves fewer than k
   evaluations without it;
4. complementary: while the attacker's linear programme (:mod:`app.results.attack`), over
   every relation and inequality the audience knows, narrows some withheld cell to an
   interval less than ``width`` wide, more cells are withheld.

Withholding a group's count always withholds its answer cells too: any fully shown item
would otherwise add up to the count again, and the published results show nothing of a
withheld group anyway.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from app.results.attack import Attacker, Interval
from app.results.tables import (
    CAMPAIGN_KEY,
    FLAGGED_KEY,
    STRAIGHT_LINING_KEY,
    TOO_FAST_KEY,
    CellKey,
    CountTables,
)

THRESHOLD = "threshold"
UNANIMITY = "unanimity"
REMAINDER = "remainder"
COMPLEMENTARY = "complementary"

FIXED = "fixed"
LATENT = "latent"

NOT_APPLICABLE_LEVEL = 0  # 不了解
REMAINDER_PARENT_KINDS = ("target", "campaign", "stored")  # sums of people, unlike levels
COUNT_KINDS = ("campaign", "target", "group", "quality", "stored")  # each a count of people

Link = tuple[CellKey, ...]  # cells tied by one relation or inequality


@dataclass(frozen=True)
class Suppression:
    """The withheld cells of a campaign, each with the rule that withheld it first."""

    withheld: dict[CellKey, str]

    def shows(self, key: CellKey) -> bool:
        return key not in self.withheld


def plan_suppression(tables: CountTables, *, threshold: int, width: float) -> Suppression:
    """Withhold cells until every withheld cell's attacker interval is at least ``width`` wide.

    ``threshold`` is the disclosure threshold k; ``width`` how wide the range of values an
    attacker can narrow a withheld count to must stay (k unless the campaign sets another).
    The plan depends on the counts alone, not on the order targets, groups or relations are
    listed in.
    """
    if threshold < 1:
        raise ValueError(f"the disclosure threshold must be at least 1, got {threshold}")
    if not width > 0:
        raise ValueError(f"the protection width must be positive, got {width}")
    plan = _Plan(tables)
    plan.withhold(sorted(tables.latent, key=repr), LATENT)
    plan.withhold([cell for cell, shown in tables.fixed.items() if not shown], FIXED)
    _withhold_small_counts(plan, threshold)
    plan.withhold(sorted(tables.unanimous, key=repr), UNANIMITY)
    _withhold_small_and_unanimous_items(plan, threshold)
    _withhold_totals_with_small_remainders(plan, threshold)
    _withhold_flags_with_small_remainders(plan, threshold)
    _withhold_complements(plan, width)
    return Suppression(
        {cell: reason for cell, reason in plan.withheld.items() if cell not in tables.latent}
    )


class _Plan:
    """The tables, the relations around each cell, and the cells withheld so far."""

    def __init__(self, tables: CountTables) -> None:
        self.tables = tables
        self.withheld: dict[CellKey, str] = {}
        self.links_around: dict[CellKey, list[Link]] = {}
        self.parents_of: dict[CellKey, list[CellKey]] = {}
        self.items_of: dict[CellKey, list[Link]] = {}  # group → its items' cells
        links = [(relation.parent, *relation.children) for relation in tables.relations]
        links += [(*rule.smaller, *rule.larger) for rule in tables.inequalities]
        for link in links:
            for cell in link:
                self.links_around.setdefault(cell, []).append(link)
        for relation in tables.relations:
            for child in relation.children:
                self.parents_of.setdefault(child, []).append(relation.parent)
            if _kind(relation.parent) == "group":
                self.items_of.setdefault(relation.parent, []).append(relation.children)

    def shows(self, cell: CellKey) -> bool:
        return cell not in self.withheld

    def may_withhold(self, cell: CellKey) -> bool:
        """Whether withholding ``cell`` could protect another: shown and not fixed."""
        return self.shows(cell) and cell not in self.tables.fixed

    def value(self, cell: CellKey) -> int:
        return self.tables.values[cell]

    def withhold(self, cells: Iterable[CellKey], reason: str) -> None:
        """Withhold cells not yet withheld, and a withheld group's answer cells with it."""
        for cell in cells:
            if cell in self.withheld:
                continue
            self.withheld[cell] = reason
            for item in self.items_of.get(cell, []):
                self.withhold(item, reason)


def _withhold_small_counts(plan: _Plan, threshold: int) -> None:
    plan.withhold(
        [
            cell
            for cell, count in plan.tables.values.items()
            if _kind(cell) in COUNT_KINDS and count < threshold and cell not in plan.tables.fixed
        ],
        THRESHOLD,
    )


def _withhold_small_and_unanimous_items(plan: _Plan, threshold: int) -> None:
    for group, items in plan.items_of.items():
        if not plan.shows(group):
            continue
        for item in items:
            level_cells = [cell for cell in item if not _is_not_applicable(cell)]
            not_applicable = sum(plan.value(cell) for cell in item if _is_not_applicable(cell))
            answered = plan.value(group) - not_applicable
            if answered < threshold:
                plan.withhold(item, THRESHOLD)
            elif answered < 2 * threshold:
                levels_used = sum(1 for cell in level_cells if plan.value(cell) > 0)
                if levels_used == 1:
                    plan.withhold(item, UNANIMITY)


def _withhold_totals_with_small_remainders(plan: _Plan, threshold: int) -> None:
    """Judged on the cells shown before this rule, so the outcome is order-free."""
    totals = []
    for relation in plan.tables.relations:
        parent = relation.parent
        if _kind(parent) not in REMAINDER_PARENT_KINDS or not plan.shows(parent):
            continue
        if any(
            0 < plan.value(parent) - plan.value(child) < threshold
            for child in relation.children
            if plan.shows(child)
        ):
            totals.append(parent)
    plan.withhold(totals, REMAINDER)


def _withhold_flags_with_small_remainders(plan: _Plan, threshold: int) -> None:
    """A flag count is withheld when it leaves fewer than k, but more than none, without it:
    of the evaluations counted, or of the flagged (one flag beside all of them)."""
    pairs = [(CAMPAIGN_KEY, FLAGGED_KEY), (FLAGGED_KEY, STRAIGHT_LINING_KEY)]
    pairs.append((FLAGGED_KEY, TOO_FAST_KEY))
    values = plan.tables.values
    withheld = [
        part
        for whole, part in pairs
        if whole in values
        and part in values
        and plan.shows(whole)
        and plan.shows(part)
        and 0 < values[whole] - values[part] < threshold
    ]
    plan.withhold(withheld, REMAINDER)


def _withhold_complements(plan: _Plan, width: float) -> None:
    """Withhold more cells until no withheld cell can be narrowed below ``width``.

    Each round asks the attacker for every withheld cell's interval; for every cell narrower
    than ``width`` it withholds one cell that is still shown (:func:`_protector`).

    Cells the shape of the tables and the fixed figures alone pin (a target with no rater
    groups is 0 whatever is published; with one department, the campaign's evaluations are
    the ballots counted) are left out: hiding more cannot widen them, and what they tell is
    public anyway.

    It terminates: a round either withholds at least one cell that was shown, or finds no
    protector and stops; there are finitely many cells, so there are at most as many rounds
    as cells. And it stops only when every withheld cell is wide enough or pinned by shape:
    for a narrow cell with no protector, no relation reachable from it through withheld
    cells holds a shown cell, so its constraints are homogeneous (x ≥ 0, Ax = 0), which
    leave it [0, ∞) or pinned at 0 by shape alone.
    """
    attacker = Attacker(plan.tables)
    unfixed = {cell for cell in plan.tables.values if plan.tables.fixed.get(cell) is not True}
    unfixed |= plan.tables.latent
    pinned_by_shape = {
        cell for cell, (low, high) in attacker.intervals(unfixed).items() if high - low < width
    }
    while True:
        bounds = attacker.intervals(set(plan.withheld))
        protectors = set()
        for cell, (low, high) in bounds.items():
            if high - low < width and cell not in pinned_by_shape | plan.tables.latent:
                protector = _protector(plan, cell, bounds)
                if protector is not None:
                    protectors.add(protector)
        if not protectors:
            return
        plan.withhold(sorted(protectors, key=repr), COMPLEMENTARY)


def _protector(plan: _Plan, exposed: CellKey, bounds: dict[CellKey, Interval]) -> CellKey | None:
    """The shown cell to withhold for an exposed one.

    First the nearest shown ancestor, walking upward (item → group → target → campaign):
    hiding a total is what widens a hidden part. With none, the smallest shown cell of the
    exposed cell's narrowest relation (the one whose other withheld cells are least
    uncertain). With none there either, the smallest shown cell of the nearest relation
    reachable through withheld cells.
    """
    return (
        _nearest_shown_ancestor(plan, exposed)
        or _smallest_in_narrowest_relation(plan, exposed, bounds)
        or _smallest_in_nearest_relation(plan, exposed)
    )


def _nearest_shown_ancestor(plan: _Plan, cell: CellKey) -> CellKey | None:
    generation = plan.parents_of.get(cell, [])
    seen = set(generation)
    while generation:
        shown = [ancestor for ancestor in generation if plan.may_withhold(ancestor)]
        if shown:
            return min(shown, key=repr)
        parents = {parent for child in generation for parent in plan.parents_of.get(child, [])}
        generation = sorted(parents - seen, key=repr)
        seen |= parents
    return None


def _smallest_in_narrowest_relation(
    plan: _Plan, exposed: CellKey, bounds: dict[CellKey, Interval]
) -> CellKey | None:
    def uncertainty(link: Link) -> tuple[float, str]:
        spread = sum(
            bounds[cell][1] - bounds[cell][0]
            for cell in link
            if cell != exposed and not plan.shows(cell)
        )
        return (spread, repr(link))

    for link in sorted(plan.links_around.get(exposed, []), key=uncertainty):
        shown = _shown_cells(plan, [link])
        if shown:
            return _smallest(plan, shown)
    return None


def _smallest_in_nearest_relation(plan: _Plan, exposed: CellKey) -> CellKey | None:
    """Breadth first through withheld cells, relation by relation."""
    reached = {exposed}
    frontier = [exposed]
    while frontier:
        links = list({link for cell in frontier for link in plan.links_around.get(cell, [])})
        shown = _shown_cells(plan, links)
        if shown:
            return _smallest(plan, shown)
        next_cells = {cell for link in links for cell in link}
        frontier = sorted(next_cells - reached, key=repr)
        reached |= next_cells
    return None


def _shown_cells(plan: _Plan, links: Iterable[Link]) -> set[CellKey]:
    return {cell for link in links for cell in link if plan.may_withhold(cell)}


def _smallest(plan: _Plan, cells: Iterable[CellKey]) -> CellKey:
    return min(cells, key=lambda cell: (plan.value(cell), repr(cell)))


def _kind(cell: CellKey) -> object:
    return cell[0]


def _is_not_applicable(cell: CellKey) -> bool:
    return _kind(cell) == "answer" and cell[-1] == NOT_APPLICABLE_LEVEL

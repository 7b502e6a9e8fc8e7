"""The counts a campaign publishes, as one hierarchy that disclosure control reasons about.

Every published count is a cell with a key:

- ``("campaign",)``: evaluations in the campaign, E;
- ``("target", t)``: evaluations of target t, E[t];
- ``("group", t, g)``: evaluations of target t by rater group g, E[t,g];
- ``("answer", t, g, i, level)``: answers to item i at ``level`` in that group, level 0 being
  不了解 (don't know).

and the cells are tied by sums, each a :class:`Relation` ``parent = sum(children)``:
E = Σ_t E[t]; E[t] = Σ_g E[t,g]; and for every item i the group sees,
E[t,g] = Σ_level n[t,g,i,level] (every evaluation answers every item it is shown, possibly
with 不了解).

Means, rates, deviations, intervals and scores are published only beside the counts they are
computed from, and withheld with them, so the counts alone decide what an attacker can
recompute. Keys use the target's and group's database ids, and item ids.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

TargetId = int
GroupId = int
CellKey = tuple[object, ...]

CAMPAIGN_KEY: CellKey = ("campaign",)


def target_key(target: TargetId) -> CellKey:
    return ("target", target)


def group_key(target: TargetId, group: GroupId) -> CellKey:
    return ("group", target, group)


def answer_key(target: TargetId, group: GroupId, item: str, level: int) -> CellKey:
    return ("answer", target, group, item, level)


@dataclass(frozen=True)
class Relation:
    parent: CellKey
    children: tuple[CellKey, ...]


@dataclass
class CountTables:
    """Every count cell of a campaign with its true value, and the sums that tie them."""

    values: dict[CellKey, int] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)

    def relations_of(self, key: CellKey) -> Iterator[Relation]:
        for relation in self.relations:
            if relation.parent == key or key in relation.children:
                yield relation


def build_count_tables(
    targets: list[TargetId],
    groups: list[GroupId],
    items_by_group: dict[GroupId, list[tuple[str, list[int]]]],
    answers: dict[tuple[TargetId, GroupId, str], dict[int, int]],
    evaluations: dict[tuple[TargetId, GroupId], int],
) -> CountTables:
    """Lay out a campaign's counts.

    ``items_by_group`` gives, per group, its items with the levels each accepts (0, the
    不了解 level, is added here); ``answers`` the counts per level of each
    (target, group, item); ``evaluations`` the evaluations per (target, group). Missing
    entries are zero: an empty cell is a cell too.
    """
    tables = CountTables()
    target_keys = []
    for target in targets:
        group_keys = []
        for group in groups:
            evaluated = evaluations.get((target, group), 0)
            key = group_key(target, group)
            tables.values[key] = evaluated
            group_keys.append(key)
            for item, levels in items_by_group.get(group, []):
                counts = answers.get((target, group, item), {})
                children = []
                for level in [*levels, 0]:
                    cell = answer_key(target, group, item, level)
                    tables.values[cell] = counts.get(level, 0)
                    children.append(cell)
                tables.relations.append(Relation(key, tuple(children)))
        key = target_key(target)
        tables.values[key] = sum(tables.values[child] for child in group_keys)
        tables.relations.append(Relation(key, tuple(group_keys)))
        target_keys.append(key)
    tables.values[CAMPAIGN_KEY] = sum(tables.values[key] for key in target_keys)
    tables.relations.append(Relation(CAMPAIGN_KEY, tuple(target_keys)))
    return tables

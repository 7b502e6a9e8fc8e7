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

Other figures the same audience sees are cells too, tied to the hierarchy by
:class:`Inequality` (``sum(smaller) <= sum(larger)``) where no sum holds exactly
(:func:`add_surroundings`): the ballots counted at the tally (the length of the public tracker
list), the credentials issued and codes used per rater group, the quality-flag counts, and the
least number of evaluations a department with published comments must have. Those published
before the results (the ballots, credentials and codes) are *fixed*: decided by their own
rules and never withheld later to protect a result; results are withheld around them instead.
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


@dataclass(frozen=True)
class Inequality:
    """``sum(smaller) <= sum(larger)``: what the audience knows where no sum holds exactly."""

    smaller: tuple[CellKey, ...]
    larger: tuple[CellKey, ...]


@dataclass
class CountTables:
    """Every count cell of a campaign with its true value, and the sums that tie them.

    ``fixed`` names the cells published before the results, each with whether it is shown;
    ``unanimous`` the target × group cells whose evaluations all scored the same and are too
    few to show so (withheld whole, as if small, so the withholding itself says nothing);
    ``latent`` counts no audience is ever shown and nobody knows, with no value: unknowns
    kept only for the facts that tie them to the others (a rater group's ballots; a
    department's flagged evaluations, where they are left out of its count).
    """

    values: dict[CellKey, int] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)
    inequalities: list[Inequality] = field(default_factory=list)
    fixed: dict[CellKey, bool] = field(default_factory=dict)
    unanimous: set[CellKey] = field(default_factory=set)
    latent: set[CellKey] = field(default_factory=set)

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


BALLOTS_KEY: CellKey = ("ballots",)  # ballots counted at the tally
USED_TOTAL_KEY: CellKey = ("used",)  # codes used in all rater groups, on the turnout page
STORED_KEY: CellKey = ("stored",)  # evaluations stored, when excluded ones are not in E
FLAGGED_KEY: CellKey = ("quality", "flagged")
STRAIGHT_LINING_KEY: CellKey = ("quality", "straight_lining")
TOO_FAST_KEY: CellKey = ("quality", "too_fast")


def issued_key(group: GroupId) -> CellKey:
    return ("issued", group)


def used_key(group: GroupId) -> CellKey:
    return ("used", group)


def comments_key(target: TargetId) -> CellKey:
    return ("comments", target)


def latent_key(*names: object) -> CellKey:
    """A count no audience is shown (see ``CountTables.latent``)."""
    return ("latent", *names)


@dataclass(frozen=True)
class Surroundings:
    """What else an audience sees beside the results tables, as counts (see the module).

    ``ballots``: the ballots counted at the tally and whether the public list of trackers
    shows them (None when the campaign has no ballot box). ``issued`` and ``used``: per
    rater group, credentials issued and codes used, each with whether it is shown (empty
    where this deployment knows none); staff also see, per group, the codes issued and not
    revoked (``codes_usable``), the codes used in revoked batches, and the total codes used
    with whether it is shown. ``quality``: evaluations flagged (any flag,
    straight-lining, too fast), and whether flagged evaluations are left out of the counts.
    ``released_comments``: per target, the least number of evaluations its published
    comments prove (the release minimum, or the comments copied if more).
    """

    ballots: tuple[int, bool] | None = None
    issued: dict[GroupId, tuple[int, bool]] = field(default_factory=dict)
    used: dict[GroupId, tuple[int, bool]] = field(default_factory=dict)
    codes_usable: dict[GroupId, int] = field(default_factory=dict)
    used_in_revoked_batches: dict[GroupId, int] = field(default_factory=dict)
    used_total: tuple[int, bool] | None = None
    flagged: int = 0
    straight_lining: int = 0
    too_fast: int = 0
    excluded: bool = False
    released_comments: dict[TargetId, int] = field(default_factory=dict)


def add_surroundings(
    tables: CountTables, around: Surroundings, targets: list[TargetId], groups: list[GroupId]
) -> CountTables:
    """Add the cells and inequalities of ``around`` to a campaign's results tables."""
    # Evaluations stored per cell: those counted and, where flagged ones are left out of the
    # counts, the cell's flagged ones too (unknowns: nobody publishes them).
    stored_in: dict[tuple[TargetId, GroupId], tuple[CellKey, ...]] = {
        (target, group): (group_key(target, group),) for target in targets for group in groups
    }
    stored_of: dict[TargetId, tuple[CellKey, ...]] = {
        target: (target_key(target),) for target in targets
    }
    stored_total = CAMPAIGN_KEY
    tables.values[FLAGGED_KEY] = around.flagged
    tables.values[STRAIGHT_LINING_KEY] = around.straight_lining
    tables.values[TOO_FAST_KEY] = around.too_fast
    tables.inequalities.extend(
        [
            Inequality((STRAIGHT_LINING_KEY,), (FLAGGED_KEY,)),
            Inequality((TOO_FAST_KEY,), (FLAGGED_KEY,)),
            Inequality((FLAGGED_KEY,), (STRAIGHT_LINING_KEY, TOO_FAST_KEY)),
        ]
    )
    if around.excluded:
        for target in targets:
            in_cells = [latent_key("flagged", target, group) for group in groups]
            tables.latent.update([latent_key("flagged", target), *in_cells])
            tables.relations.append(Relation(latent_key("flagged", target), tuple(in_cells)))
            stored_of[target] = (target_key(target), latent_key("flagged", target))
            for group, flagged in zip(groups, in_cells, strict=True):
                stored_in[(target, group)] = (group_key(target, group), flagged)
        tables.relations.append(
            Relation(FLAGGED_KEY, tuple(latent_key("flagged", target) for target in targets))
        )
        tables.values[STORED_KEY] = tables.values[CAMPAIGN_KEY] + around.flagged
        tables.relations.append(Relation(STORED_KEY, (CAMPAIGN_KEY, FLAGGED_KEY)))
        stored_total = STORED_KEY
    else:
        tables.inequalities.append(Inequality((FLAGGED_KEY,), (CAMPAIGN_KEY,)))
    # Every ballot is of one rater group and rates each department at most once, and at
    # least one: per group, its ballots (an unknown) lie between its largest cell and the
    # sum of its cells.
    for group in groups:
        ballots_of = latent_key("ballots", group)
        tables.latent.add(ballots_of)
        cells = [stored_in[(target, group)] for target in targets]
        tables.inequalities.extend(Inequality(cell, (ballots_of,)) for cell in cells)
        tables.inequalities.append(
            Inequality((ballots_of,), tuple(key for cell in cells for key in cell))
        )
    if around.ballots is not None:
        counted, shown = around.ballots
        tables.values[BALLOTS_KEY] = counted
        tables.fixed[BALLOTS_KEY] = shown
        tables.relations.append(
            Relation(BALLOTS_KEY, tuple(latent_key("ballots", group) for group in groups))
        )
        tables.inequalities.extend(
            Inequality(stored_of[target], (BALLOTS_KEY,)) for target in targets
        )
        tables.inequalities.append(Inequality((BALLOTS_KEY,), (stored_total,)))
    for group, (count, shown) in around.issued.items():
        tables.values[issued_key(group)] = count
        tables.fixed[issued_key(group)] = shown
    for group, (count, shown) in around.used.items():
        tables.values[used_key(group)] = count
        tables.fixed[used_key(group)] = shown
    for group in sorted(set(around.issued) | set(around.used)):
        # a group's ballots come from codes used directly and credentials: at most both
        admitting = tuple(
            key for key in (used_key(group), issued_key(group)) if key in tables.values
        )
        tables.inequalities.append(Inequality((latent_key("ballots", group),), admitting))
    _add_turnout(tables, around)
    for target, least in around.released_comments.items():
        tables.values[comments_key(target)] = least
        tables.fixed[comments_key(target)] = True
        # copied for enough evaluations stored
        tables.inequalities.append(Inequality((comments_key(target),), stored_of[target]))
    return tables


def _add_turnout(tables: CountTables, around: Surroundings) -> None:
    """What the turnout page tells staff of the codes used: at most those issued and not
    revoked, at least those used in revoked batches, and the total where it is shown."""
    for group, usable in around.codes_usable.items():
        key = ("codes", group, "usable")
        tables.values[key] = usable
        tables.fixed[key] = True
        tables.inequalities.append(Inequality((used_key(group),), (key,)))
    for group, least in around.used_in_revoked_batches.items():
        key = ("codes", group, "used_in_revoked_batches")
        tables.values[key] = least
        tables.fixed[key] = True
        tables.inequalities.append(Inequality((key,), (used_key(group),)))
    if around.used_total is not None:
        total, shown = around.used_total
        tables.values[USED_TOTAL_KEY] = total
        tables.fixed[USED_TOTAL_KEY] = shown
        tables.relations.append(
            Relation(USED_TOTAL_KEY, tuple(used_key(group) for group in sorted(around.used)))
        )

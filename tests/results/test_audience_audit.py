"""One audit over everything an audience sees, by a linear programme of its own.

Random campaigns are drawn ballot first: per rater group, the ballots and the departments each
rates (once at most, one at least), with zeros and small cells; the codes and credentials the
ballots came through; quality flags per evaluation; the comments copied for departments with
enough evaluations. The counts come from the ballots. From them the count tables are built
(:func:`app.results.tables.build_count_tables` and :func:`add_surroundings`, the fixed cells
decided as :mod:`app.results.publication` and :func:`app.admission.turnout.disclose_turnout`
decide them) and planned (:func:`app.results.disclosure.plan_suppression`).

The auditor uses neither :mod:`app.results.attack` nor the tables' relations: it writes its own
programme from what the counts mean, reads the values from the drawn ballots, and minimises
and maximises every withheld cell with ``scipy.optimize.linprog`` (the integer programme where
the relaxation's optimum is fractional, so the attacker is exact). Two attackers:

- *the documented relations* (docs/privacy.md, tables.py): sums, E[t] ≤ ballots ≤ E,
  E[t,g] ≤ used_g + issued_g, the flag counts' inequalities, E[t] ≥ the released-comments
  minimum. Where flagged evaluations are excluded they are written for the evaluations stored,
  which is what holds: a department's flagged evaluations are an unknown nobody publishes,
  and ballots ≤ E + F, E[t] + F[t] ≤ ballots, comments' minimum ≤ E[t] + F[t];
- *knowing how ballots are made*: besides, every ballot is of one rater group, so per group
  ballots B_g (unknown) with E[t,g] ≤ B_g ≤ Σ_t E[t,g], Σ_g B_g = ballots and
  B_g ≤ used_g + issued_g; and staff see the turnout page too (codes issued and revoked per
  group, the total used when shown).

Audiences: staff see every shown cell of the tables and every shown fixed cell; the public the
same without the codes used per rater group (turnout is staff-only). No withheld cell may be
narrower than the protection width unless the shape of the tables and the fixed figures alone
pin it so (worked out the same way, every result unknown).

The explicit examples are counter-examples found by these properties (see each docstring).
"""

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from scipy.optimize import linprog  # type: ignore[import-untyped]

from app.admission.turnout import GroupCodeCounts, disclose_turnout
from app.results.disclosure import Suppression, plan_suppression
from app.results.tables import (
    BALLOTS_KEY,
    CAMPAIGN_KEY,
    FLAGGED_KEY,
    STORED_KEY,
    STRAIGHT_LINING_KEY,
    TOO_FAST_KEY,
    CellKey,
    CountTables,
    Surroundings,
    add_surroundings,
    answer_key,
    build_count_tables,
    group_key,
    issued_key,
    target_key,
    used_key,
)

AUDIT_SETTINGS = settings(max_examples=50, deadline=None)
THREE_LEVELS = [1, 2, 3]
FIVE_LEVELS = [1, 2, 3, 4, 5]
TOLERANCE = 1e-6

Levels = dict[int, int]  # level → answers; 0 is 不了解
Cell = tuple[int, int]  # (department, rater group)
Interval = tuple[float, float]
FloatArray = npt.NDArray[np.float64]


# --- a campaign drawn from its ballots ------------------------------------------------------


@dataclass(frozen=True)
class Codes:
    """One rater group's admission: ``direct`` ballots each spent a code; ``vouchers`` codes
    were exchanged for credentials and ``roster`` members were served one; the group's other
    ballots were cast with those credentials."""

    direct: int
    vouchers: int
    roster: int
    unused: int  # codes issued and never used, revoked ones among them
    revoked: int
    used_in_revoked_batches: int

    @property
    def used(self) -> int:
        """Codes used: spent on a ballot or exchanged for a credential."""
        return self.direct + self.vouchers

    @property
    def credentials(self) -> int:
        return self.vouchers + self.roster

    @property
    def codes_issued(self) -> int:
        return self.used + self.unused


@dataclass
class DrawnCampaign:
    threshold: int
    width: float
    targets: list[int]
    groups: list[int]
    items_by_group: dict[int, list[tuple[str, list[int]]]]
    ballots: dict[int, list[frozenset[int]]]  # per rater group, the departments each ballot rates
    flags: dict[Cell, tuple[int, int, int]]  # (straight-lining only, too fast only, both)
    excluded: bool  # flagged evaluations are left out of the results' counts
    answers: dict[tuple[int, int, str], Levels]  # over the counted evaluations
    unanimous: set[CellKey] = field(default_factory=set)
    ballot_box: bool = True
    codes: dict[int, Codes] = field(default_factory=dict)  # none: a collecting deployment
    min_respondents: int = 10
    comment_copies: dict[int, int] = field(default_factory=dict)

    def stored(self, cell: Cell) -> int:
        target, group = cell
        return sum(1 for ballot in self.ballots[group] if target in ballot)

    def flagged(self, cell: Cell) -> int:
        return sum(self.flags.get(cell, (0, 0, 0)))

    def counted(self, cell: Cell) -> int:
        """E[t,g] as the results count it."""
        return self.stored(cell) - (self.flagged(cell) if self.excluded else 0)

    def cells(self) -> list[Cell]:
        return list(itertools.product(self.targets, self.groups))

    @property
    def straight_lining(self) -> int:
        return sum(only + both for only, _, both in self.flags.values())

    @property
    def too_fast(self) -> int:
        return sum(only + both for _, only, both in self.flags.values())

    @property
    def all_flagged(self) -> int:
        return sum(map(sum, self.flags.values()))

    @property
    def ballots_counted(self) -> int:
        return sum(len(ballots) for ballots in self.ballots.values())

    def ballots_shown(self) -> bool:
        """``app.results.publication.ballots_shown``: at least max(k, width)."""
        return self.ballots_counted >= max(self.threshold, math.ceil(self.width))

    def turnout_counts(self) -> list[GroupCodeCounts]:
        return [
            GroupCodeCounts(
                rater_group=f"group{group}",
                name=f"group{group}",
                issued=self.codes[group].codes_issued,
                revoked=self.codes[group].revoked,
                used=self.codes[group].used,
                used_in_revoked_batches=self.codes[group].used_in_revoked_batches,
            )
            for group in self.groups
        ]

    def released_comments(self) -> dict[int, int]:
        return {
            target: max(self.min_respondents, copies)
            for target, copies in self.comment_copies.items()
            if copies
        }

    def surroundings(self) -> Surroundings:
        issued: dict[int, tuple[int, bool]] = {}
        used: dict[int, tuple[int, bool]] = {}
        used_total = None
        if self.codes:
            turnout = disclose_turnout(self.turnout_counts(), self.threshold)
            for group, shown in zip(self.groups, turnout.groups, strict=True):
                credentials = self.codes[group].credentials
                issued[group] = (credentials, credentials >= self.threshold)
                used[group] = (self.codes[group].used, shown.used is not None)
            used_total = (
                sum(codes.used for codes in self.codes.values()),
                turnout.used is not None,
            )
        return Surroundings(
            ballots=(self.ballots_counted, self.ballots_shown()) if self.ballot_box else None,
            issued=issued,
            used=used,
            codes_usable={
                group: codes.codes_issued - codes.revoked for group, codes in self.codes.items()
            },
            used_in_revoked_batches={
                group: codes.used_in_revoked_batches for group, codes in self.codes.items()
            },
            used_total=used_total,
            flagged=self.all_flagged,
            straight_lining=self.straight_lining,
            too_fast=self.too_fast,
            excluded=self.excluded,
            released_comments=self.released_comments(),
        )

    def tables(self) -> CountTables:
        tables = build_count_tables(
            self.targets,
            self.groups,
            self.items_by_group,
            self.answers,
            {cell: self.counted(cell) for cell in self.cells()},
        )
        tables.unanimous = set(self.unanimous)
        return add_surroundings(tables, self.surroundings(), self.targets, self.groups)


def ballots_rating(counts: Mapping[int, int], ballots: int) -> list[frozenset[int]]:
    """``ballots`` ballots of one group rating department t on ``counts[t]`` of them: each
    department on consecutive ballots, round the list, so that with max ≤ ballots ≤ sum every
    ballot rates a department at most once and at least one department."""
    rated: list[set[int]] = [set() for _ in range(ballots)]
    position = 0
    for target, count in counts.items():
        for step in range(count):
            rated[(position + step) % ballots].add(target)
        position += count
    return [frozenset(departments) for departments in rated]


@st.composite
def level_counts(draw: st.DrawFn, count: int, levels: list[int]) -> Levels:
    """``count`` answers over the levels and 不了解: sometimes all at one level."""
    if draw(st.booleans()):
        not_applicable = draw(st.integers(0, count))
        return {0: not_applicable, draw(st.sampled_from(levels)): count - not_applicable}
    cuts = sorted(draw(st.lists(st.integers(0, count), min_size=len(levels), max_size=len(levels))))
    parts = [high - low for low, high in itertools.pairwise([0, *cuts, count])]
    return dict(zip([0, *levels], parts, strict=True))


def small_or_any(threshold: int, most: int) -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, min(most, threshold + 1)), st.integers(0, most))


@st.composite
def drawn_campaigns(draw: st.DrawFn, *, excluded: bool) -> DrawnCampaign:
    """1–4 departments, 1–3 rater groups, 1–3 items; k 3–6; width k, k + ½ or k + 1."""
    threshold = draw(st.integers(3, 6))
    width = threshold + draw(st.sampled_from([0, 0, 0, 0.5, 1]))
    targets = list(range(1, draw(st.integers(1, 4)) + 1))
    groups = list(range(11, 11 + draw(st.integers(1, 3))))
    items = [
        (f"item{index}", draw(st.sampled_from([THREE_LEVELS, FIVE_LEVELS])))
        for index in range(draw(st.integers(1, 3)))
    ]
    seen = st.sets(st.integers(0, len(items) - 1), min_size=1)
    items_by_group = {group: [items[index] for index in sorted(draw(seen))] for group in groups}
    per_department = st.one_of(st.integers(0, 2 * threshold + 1), st.integers(0, 30))
    ballots = {}
    for group in groups:
        counts = {target: draw(per_department) for target in targets}
        ballots[group] = ballots_rating(
            counts, draw(st.integers(max(counts.values()), sum(counts.values())))
        )
    campaign = DrawnCampaign(
        threshold=threshold,
        width=width,
        targets=targets,
        groups=groups,
        items_by_group=items_by_group,
        ballots=ballots,
        flags={},
        excluded=excluded,
        answers={},
        ballot_box=draw(st.integers(0, 5)) > 0,  # a campaign opened before the box had none
    )
    for cell in campaign.cells():
        stored = campaign.stored(cell)
        flagged = draw(
            st.one_of(st.just(0), st.integers(0, min(stored, 3)), st.integers(0, stored))
        )
        both = draw(st.integers(0, flagged))
        straight_only = draw(st.integers(0, flagged - both))
        campaign.flags[cell] = (straight_only, flagged - both - straight_only, both)
    if draw(st.integers(0, 4)):  # mostly a deployment that issues codes and credentials
        for group in groups:
            direct = draw(st.integers(0, len(ballots[group])))
            with_credentials = len(ballots[group]) - direct
            vouchers = draw(st.integers(0, with_credentials + 2))
            unused = draw(small_or_any(threshold, 10))
            campaign.codes[group] = Codes(
                direct=direct,
                vouchers=vouchers,
                roster=max(0, with_credentials - vouchers) + draw(small_or_any(threshold, 6)),
                unused=unused,
                revoked=draw(st.integers(0, unused)),
                used_in_revoked_batches=draw(st.integers(0, min(2, direct + vouchers))),
            )
    campaign.min_respondents = draw(st.sampled_from([10, threshold]))
    for target in targets:  # every evaluation stored counts towards the release minimum
        stored = sum(campaign.stored((target, group)) for group in groups)
        if stored >= campaign.min_respondents:
            campaign.comment_copies[target] = draw(st.integers(0, stored))
    for cell in campaign.cells():
        target, group = cell
        counted = campaign.counted(cell)
        alike = counted > 0 and draw(st.integers(0, 3)) == 0  # every evaluation the same
        for item, levels in items_by_group[group]:
            campaign.answers[(target, group, item)] = (
                {draw(st.sampled_from(levels)): counted}
                if alike
                else draw(level_counts(counted, levels))
            )
        scores_agree = alike or draw(st.integers(0, 5)) == 0
        if scores_agree and 0 < counted < 2 * threshold:
            campaign.unanimous.add(group_key(target, group))
    return campaign


# --- what the counts mean, as linear facts --------------------------------------------------

Form = dict[CellKey, float]


@dataclass
class Knowledge:
    """Linear facts that hold between a campaign's counts: ``equalities`` (Σ form = constant)
    and ``at_most`` (Σ form ≤ constant); ``values`` every count's true value, ``latent`` the
    counts no audience is ever shown."""

    values: dict[CellKey, int] = field(default_factory=dict)
    latent: set[CellKey] = field(default_factory=set)
    equalities: list[tuple[Form, float]] = field(default_factory=list)
    at_most: list[tuple[Form, float]] = field(default_factory=list)

    def total(self, whole: CellKey, parts: Iterable[CellKey], constant: float = 0) -> None:
        """whole = Σ parts + constant."""
        form: Form = {whole: 1.0}
        for part in parts:
            form[part] = form.get(part, 0.0) - 1.0
        self.equalities.append((form, constant))

    def no_more(
        self, smaller: Iterable[CellKey], larger: Iterable[CellKey], constant: float = 0
    ) -> None:
        """Σ smaller ≤ Σ larger + constant."""
        form: Form = {}
        for cell in smaller:
            form[cell] = form.get(cell, 0.0) + 1.0
        for cell in larger:
            form[cell] = form.get(cell, 0.0) - 1.0
        self.at_most.append((form, constant))

    def unknown(self, cell: CellKey, value: int) -> CellKey:
        self.values[cell] = value
        self.latent.add(cell)
        return cell


def documented_relations(campaign: DrawnCampaign) -> Knowledge:
    """The counts and the relations docs/privacy.md and tables.py name, each as it truly holds."""
    known = Knowledge()
    values = known.values
    for target in campaign.targets:
        for group in campaign.groups:
            values[group_key(target, group)] = campaign.counted((target, group))
            for item, levels in campaign.items_by_group[group]:
                counts = campaign.answers[(target, group, item)]
                keys = [answer_key(target, group, item, level) for level in [*levels, 0]]
                values.update({key: counts.get(key[-1], 0) for key in keys})
                known.total(group_key(target, group), keys)  # each evaluation answers each item
        values[target_key(target)] = sum(campaign.counted((target, g)) for g in campaign.groups)
        known.total(target_key(target), [group_key(target, g) for g in campaign.groups])
    values[CAMPAIGN_KEY] = sum(values[target_key(target)] for target in campaign.targets)
    known.total(CAMPAIGN_KEY, [target_key(target) for target in campaign.targets])

    values[FLAGGED_KEY] = campaign.all_flagged
    values[STRAIGHT_LINING_KEY] = campaign.straight_lining
    values[TOO_FAST_KEY] = campaign.too_fast
    known.no_more([STRAIGHT_LINING_KEY], [FLAGGED_KEY])
    known.no_more([TOO_FAST_KEY], [FLAGGED_KEY])
    known.no_more([FLAGGED_KEY], [STRAIGHT_LINING_KEY, TOO_FAST_KEY])  # each has a flag
    # A department's evaluations stored: those counted, and where flagged ones are left out of
    # the counts, its flagged ones too (how many, nobody publishes).
    stored_of = {target: [target_key(target)] for target in campaign.targets}
    stored_total = [CAMPAIGN_KEY]
    if campaign.excluded:
        for target in campaign.targets:
            flagged = sum(campaign.flagged((target, group)) for group in campaign.groups)
            stored_of[target].append(known.unknown(("flagged of", target), flagged))
        known.total(FLAGGED_KEY, [stored_of[target][1] for target in campaign.targets])
        values[STORED_KEY] = values[CAMPAIGN_KEY] + campaign.all_flagged
        known.total(STORED_KEY, [CAMPAIGN_KEY, FLAGGED_KEY])
        stored_total = [STORED_KEY]
    else:
        known.no_more([FLAGGED_KEY], [CAMPAIGN_KEY])

    if campaign.ballot_box:
        values[BALLOTS_KEY] = campaign.ballots_counted
        for target in campaign.targets:  # a ballot rates a department at most once
            known.no_more(stored_of[target], [BALLOTS_KEY])
        known.no_more([BALLOTS_KEY], stored_total)  # and at least one
    for group, codes in campaign.codes.items():
        values[issued_key(group)] = codes.credentials
        values[used_key(group)] = codes.used
        for target in campaign.targets:  # each ballot came with a code or a credential
            known.no_more([group_key(target, group)], [used_key(group), issued_key(group)])
    for target, least in campaign.released_comments().items():
        known.no_more([], stored_of[target], -least)  # copied for enough evaluations stored
    return known


def knowing_how_ballots_are_made(campaign: DrawnCampaign, *, staff: bool) -> Knowledge:
    """The documented relations, and per rater group its ballots (see the module); staff
    also know the turnout page's codes issued and revoked and its total used when shown."""
    known = documented_relations(campaign)
    for group in campaign.groups:
        ballots = known.unknown(("ballots of", group), len(campaign.ballots[group]))
        stored_cells = []
        for target in campaign.targets:
            stored = [group_key(target, group)]
            if campaign.excluded:
                flagged = campaign.flagged((target, group))
                stored.append(known.unknown(("flagged of", target, group), flagged))
            known.no_more(stored, [ballots])
            stored_cells += stored
        known.no_more([ballots], stored_cells)
        if group in campaign.codes:
            codes = campaign.codes[group]
            known.no_more([ballots], [used_key(group), issued_key(group)])
            if staff:
                known.no_more([used_key(group)], [], codes.codes_issued - codes.revoked)
                known.no_more([], [used_key(group)], -codes.used_in_revoked_batches)
    if campaign.excluded:
        for target in campaign.targets:
            known.total(
                ("flagged of", target), [("flagged of", target, g) for g in campaign.groups]
            )
    if campaign.ballot_box:
        known.total(BALLOTS_KEY, [("ballots of", group) for group in campaign.groups])
    if campaign.codes and staff:
        total = disclose_turnout(campaign.turnout_counts(), campaign.threshold).used
        if total is not None:
            known.equalities.append(({used_key(g): 1.0 for g in campaign.groups}, total))
    return known


# --- the attacker's programme ---------------------------------------------------------------


class Audit:
    """The interval each cell can take given the cells ``seen`` and the facts ``known``."""

    def __init__(self, known: Knowledge, seen: Mapping[CellKey, bool]) -> None:
        self.known = known
        self.cells = sorted(known.values, key=repr)
        self.column = {cell: index for index, cell in enumerate(self.cells)}
        self.bounds: list[tuple[float, float | None]] = [
            (known.values[cell], known.values[cell]) if seen.get(cell, False) else (0, None)
            for cell in self.cells
        ]
        self.equalities = self._matrix(known.equalities)
        self.at_most = self._matrix(known.at_most)
        truth = np.array([known.values[cell] for cell in self.cells], dtype=float)
        self.points = [truth]  # whole-number points the facts allow
        for matrix, constants, equal in (
            (*self.equalities, True),
            (*self.at_most, False),
        ):
            difference = matrix @ truth - constants
            holds = np.abs(difference) <= TOLERANCE if equal else difference <= TOLERANCE
            assert holds.all(), "a relation the auditor wrote does not hold for the ballots"

    def _matrix(self, rows: list[tuple[Form, float]]) -> tuple[FloatArray, FloatArray]:
        matrix = np.zeros((len(rows), len(self.cells)))
        for index, (form, _) in enumerate(rows):
            for cell, coefficient in form.items():
                matrix[index, self.column[cell]] += coefficient
        return matrix, np.array([constant for _, constant in rows], dtype=float)

    def _minimum(
        self, objective: FloatArray, *, integral: bool = False, presolve: bool = True
    ) -> float:
        """The least ``objective · x``; -inf when there is none.

        The drawn ballots are a feasible point, so "infeasible" is HiGHS's presolve meaning
        "infeasible or unbounded": it is asked again without presolve, which tells the two
        apart.
        """
        result = linprog(
            objective,
            A_ub=self.at_most[0] if len(self.at_most[1]) else None,
            b_ub=self.at_most[1] if len(self.at_most[1]) else None,
            A_eq=self.equalities[0] if len(self.equalities[1]) else None,
            b_eq=self.equalities[1] if len(self.equalities[1]) else None,
            bounds=self.bounds,
            method="highs",
            integrality=np.ones(len(self.cells)) if integral else None,
            options={"presolve": presolve},
        )
        if result.status == 2 and presolve:
            return self._minimum(objective, integral=integral, presolve=False)
        if result.status == 3:  # unbounded; with a whole-number point, so is the integer one
            return -math.inf
        assert result.status == 0, f"the auditor's programme failed: {result.message}"
        point = np.asarray(result.x, dtype=float)
        if np.all(np.abs(point - np.round(point)) <= TOLERANCE):
            self.points.append(np.round(point))
            return float(round(result.fun))
        if integral:
            return float(result.fun)
        return self._minimum(objective, integral=True)  # counts are whole numbers

    def interval(self, cell: CellKey) -> Interval:
        column = self.column[cell]
        low, high = self.bounds[column]
        if high is not None:
            return (low, high)
        objective = np.zeros(len(self.cells))
        objective[column] = 1.0
        if not any(point[column] == 0 for point in self.points):
            low = self._minimum(objective)
        return (low, -self._minimum(-objective))


@dataclass(frozen=True)
class Exposure:
    cell: CellKey
    value: int
    interval: Interval


STAFF_TURNOUT_KINDS = ("used", "codes")  # codes used per group and in all; codes usable


def staff_view(tables: CountTables, suppression: Suppression) -> dict[CellKey, bool]:
    """Every shown cell of the tables, fixed ones included."""
    return {cell: suppression.shows(cell) for cell in tables.values}


def public_view(tables: CountTables, suppression: Suppression) -> dict[CellKey, bool]:
    """The staff's view without the turnout page's codes."""
    return {
        cell: shown and cell[0] not in STAFF_TURNOUT_KINDS
        for cell, shown in staff_view(tables, suppression).items()
    }


def audit(
    campaign: DrawnCampaign, known: Knowledge, tables: CountTables, seen: Mapping[CellKey, bool]
) -> tuple[list[Exposure], dict[CellKey, Interval]]:
    """Every withheld cell's interval, and those narrower than the width that the tables'
    shape and the fixed figures alone do not pin so."""
    attacker = Audit(known, seen)
    shape = Audit(known, {cell: shown and cell in tables.fixed for cell, shown in seen.items()})
    exposed: list[Exposure] = []
    intervals: dict[CellKey, Interval] = {}
    for cell in attacker.cells:
        if seen.get(cell, False) or cell in known.latent:
            continue
        low, high = intervals[cell] = attacker.interval(cell)
        assert low <= known.values[cell] <= high, (cell, low, high)
        if high - low < campaign.width:
            pinned_low, pinned_high = shape.interval(cell)
            if pinned_high - pinned_low >= campaign.width:
                exposed.append(Exposure(cell, known.values[cell], (low, high)))
    return exposed, intervals


def check_every_audience(campaign: DrawnCampaign, *, ballot_structure: bool) -> None:
    note(repr(campaign))
    tables = campaign.tables()
    for group, ballots in campaign.ballots.items():
        assert all(ballots), f"group {group} has a ballot rating no department"
    documented = documented_relations(campaign)
    assert {
        cell: value for cell, value in documented.values.items() if cell not in documented.latent
    } == {
        cell: value
        for cell, value in tables.values.items()
        if cell[0] not in ("codes", "comments") and cell != ("used",) and cell not in tables.latent
    }

    suppression = plan_suppression(tables, threshold=campaign.threshold, width=campaign.width)
    note(f"withheld: {sorted(suppression.withheld.items(), key=repr)}")

    for cell, shown in tables.fixed.items():  # fixed cells keep the status they were given
        assert suppression.shows(cell) == shown, cell
    found: dict[str, list[Exposure]] = {}
    intervals: dict[str, dict[CellKey, Interval]] = {}
    for audience, view in (("staff", staff_view), ("public", public_view)):
        known = (
            knowing_how_ballots_are_made(campaign, staff=audience == "staff")
            if ballot_structure
            else documented
        )
        found[audience], intervals[audience] = audit(
            campaign, known, tables, view(tables, suppression)
        )
    assert found == {"staff": [], "public": []}
    for cell, (low, high) in intervals["staff"].items():  # the public never knows more
        public_low, public_high = intervals["public"][cell]
        assert public_low <= low, (cell, (low, high), (public_low, public_high))
        assert public_high >= high, (cell, (low, high), (public_low, public_high))


# --- counter-examples the properties found ----------------------------------------------

ITEM = [("item0", THREE_LEVELS)]


def one_department(
    threshold: int, counts: dict[int, int], flags: dict[int, tuple[int, int, int]], **options
) -> DrawnCampaign:
    """Department 1 rated by each rater group's ``counts[g]`` ballots, answers spread over the
    three levels, one item per group; ``flags`` per group."""
    groups = sorted(counts)
    answers = {}
    for group, count in counts.items():
        counted = count - (sum(flags.get(group, (0, 0, 0))) if options.get("excluded") else 0)
        answers[(1, group, "item0")] = {
            level: counted // 3 + (index < counted % 3) for index, level in enumerate([1, 2, 3])
        }
    return DrawnCampaign(
        threshold=threshold,
        width=threshold,
        targets=[1],
        groups=groups,
        items_by_group=dict.fromkeys(groups, ITEM),
        ballots={group: [frozenset({1})] * count for group, count in counts.items()},
        flags={(1, group): flags.get(group, (0, 0, 0)) for group in groups},
        answers=answers,
        **options,
    )


# Excluding flagged evaluations. k = 5; citizens cast 20 ballots, 2 of them straight-lined and
# excluded, cadres 6. Shown: ballots 26 (public tracker list), department 24, citizens 18,
# cadres 6. Withheld: flagged 2, straight-lining 2, too fast 0, stored 26. Each ballot rates the
# department once, so stored = 26 and flagged = 26 − 24 = 2 exactly: (2, 2), and straight-
# lining (0, 2), too fast (0, 2). The planner's programme has E[t] ≤ ballots but not
# E[t] + F[t] ≤ ballots (nor ballots ≤ stored), so it sees flagged ∈ [0, ∞).
FLAGGED_RECOMPUTED = one_department(
    5, {11: 20, 12: 6}, {11: (2, 0, 0)}, excluded=True, comment_copies={}
)
# Excluding flagged evaluations. k = 3; citizens 12 ballots, 4 too fast and excluded, cadres 1:
# department 9 counted (withheld, remainder 1 beside citizens' 8), campaign 9 (withheld),
# flagged 4 and stored 13 shown, 13 ballots shown. The tables say ballots ≤ E, i.e. 13 ≤ 9:
# stored − flagged pins E to 9, and plan_suppression raises "the published counts contradict
# each other around ('campaign',)".
BALLOTS_ABOVE_COUNTED = one_department(3, {11: 12, 12: 1}, {11: (0, 4, 0)}, excluded=True)
# The same without a ballot box but with comments released: 13 evaluations stored ≥ 10, so the
# comments are copied, and the tables say E[1] ≥ 10 while stored − flagged pins it to 9:
# plan_suppression raises "... contradict each other around ('target', 1)".
COMMENTS_ABOVE_COUNTED = one_department(
    3, {11: 12, 12: 1}, {11: (0, 4, 0)}, excluded=True, ballot_box=False, comment_copies={1: 3}
)
# Keeping flagged evaluations. k = 6; department 1 rated by group 12's 12 ballots (one of them
# also rates department 2); department 2 by group 11's single ballot and group 13's 12.
# Shown: ballots 25, E[1,12] = 12, E[2,13] = 12. Every ballot is of one group, so group 12 cast
# at least 12 ballots and group 13 at least 12: group 11 cast at most 25 − 24 = 1, and its
# withheld cells E[1,11] = 0 and E[2,11] = 1 (with their answer cells) are each in [0, 1],
# for staff and the public alike.
ONE_BALLOT_LEFT = DrawnCampaign(
    threshold=6,
    width=6,
    targets=[1, 2],
    groups=[11, 12, 13],
    items_by_group=dict.fromkeys([11, 12, 13], ITEM),
    ballots={
        11: [frozenset({2})],
        12: [frozenset({1})] * 11 + [frozenset({1, 2})],
        13: [frozenset({2})] * 12,
    },
    flags={},
    excluded=False,
    answers={
        (1, 11, "item0"): {},
        (1, 12, "item0"): {1: 12},
        (1, 13, "item0"): {},
        (2, 11, "item0"): {1: 1},
        (2, 12, "item0"): {1: 1},
        (2, 13, "item0"): {1: 12},
    },
    unanimous={group_key(2, 11), group_key(2, 12)},
)

# Keeping flagged evaluations; staff only. k = 5; two rater groups log in from a roster of 5
# members each (5 credentials issued per group, shown; no codes, so the turnout page shows 0
# codes issued and 0 used can be no more). Each of the 3 + 3 ballots rates both departments:
# E[1] = E[2] = 6 shown, every group cell 3 withheld. A group's ballots came with a code or a
# credential, so each group cell is at most 0 + 5, and each department's 6 leaves each of its
# two cells in [1, 5]. The planner's tables bound E[t,g] by used_g + issued_g but do not know
# used_g ≤ codes issued − revoked (the turnout page's figures), so used_g is unbounded there.
ROSTER_CAPS = DrawnCampaign(
    threshold=5,
    width=5,
    targets=[1, 2],
    groups=[11, 12],
    items_by_group=dict.fromkeys([11, 12], ITEM),
    ballots=dict.fromkeys([11, 12], [frozenset({1, 2})] * 3),
    flags={},
    excluded=False,
    answers={
        (target, group, "item0"): {1: 1, 2: 1, 3: 1} for target in (1, 2) for group in (11, 12)
    },
    codes=dict.fromkeys(
        [11, 12],
        Codes(direct=0, vouchers=0, roster=5, unused=0, revoked=0, used_in_revoked_batches=0),
    ),
)


class TestEveryAudienceAudit:
    """Staff and the public, audited over everything each sees."""

    @AUDIT_SETTINGS
    @given(drawn_campaigns(excluded=False))
    def test_documented_relations_keeping_flagged_evaluations(
        self, campaign: DrawnCampaign
    ) -> None:
        check_every_audience(campaign, ballot_structure=False)

    @AUDIT_SETTINGS
    @given(drawn_campaigns(excluded=True))
    @example(FLAGGED_RECOMPUTED)
    @example(BALLOTS_ABOVE_COUNTED)
    @example(COMMENTS_ABOVE_COUNTED)
    def test_documented_relations_excluding_flagged_evaluations(
        self, campaign: DrawnCampaign
    ) -> None:
        check_every_audience(campaign, ballot_structure=False)

    @AUDIT_SETTINGS
    @given(drawn_campaigns(excluded=False))
    @example(ONE_BALLOT_LEFT)
    @example(ROSTER_CAPS)
    def test_knowing_how_ballots_are_made_keeping_flagged_evaluations(
        self, campaign: DrawnCampaign
    ) -> None:
        check_every_audience(campaign, ballot_structure=True)

    @AUDIT_SETTINGS
    @given(drawn_campaigns(excluded=True))
    @example(FLAGGED_RECOMPUTED)
    def test_knowing_how_ballots_are_made_excluding_flagged_evaluations(
        self, campaign: DrawnCampaign
    ) -> None:
        check_every_audience(campaign, ballot_structure=True)


@pytest.mark.parametrize("excluded", [False, True])
def test_drawn_ballots_make_a_valid_ballot_structure(excluded: bool) -> None:
    """The counts come from ballots: max ≤ ballots ≤ Σ per group, comments only where the
    evaluations stored reach the minimum, codes and credentials cover every ballot."""

    @settings(max_examples=50, deadline=None)
    @given(drawn_campaigns(excluded=excluded))
    def check(campaign: DrawnCampaign) -> None:
        for group, ballots in campaign.ballots.items():
            cells = [campaign.stored((target, group)) for target in campaign.targets]
            assert max(cells) <= len(ballots) <= sum(cells)
            if group in campaign.codes:
                codes = campaign.codes[group]
                assert len(ballots) <= codes.direct + codes.credentials
        for target in campaign.comment_copies:
            stored = sum(campaign.stored((target, group)) for group in campaign.groups)
            assert stored >= campaign.min_respondents
        for cell in campaign.cells():
            assert campaign.flagged(cell) <= campaign.stored(cell)
        assert campaign.straight_lining <= campaign.all_flagged
        assert campaign.all_flagged <= campaign.straight_lining + campaign.too_fast

    check()

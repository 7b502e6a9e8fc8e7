"""How closely an attacker who reads everything published can pin down each withheld count.

The attacker knows every shown cell exactly, knows every :class:`Relation` holds
(parent = sum of children) and that counts are never negative. The values a withheld cell can
take under all that form an interval, whose ends are the cell's minimum and maximum over the
polytope {withheld cells ≥ 0, every relation an equality}: a linear programme per end, solved
with HiGHS (``scipy.optimize.linprog``). An end the programme cannot bound is ``inf``.

The linear programme is the continuous relaxation of the attacker's integer problem. For the
campaign hierarchy it loses nothing: once the answer cells are folded away (below), what is
left is a network matrix (every column holds at most a +1 and a -1), so every vertex is
integral and the integer and continuous bounds coincide.

Keeping the programmes small, without changing their answers:

- The problem splits into independent components: withheld cells are linked when they share
  a relation, and a component's bounds depend on nothing outside it.
- A withheld child that appears in no other relation (an answer cell) is a *leaf*. The leaves
  of one relation matter only through their sum, which must be ≥ 0; so they leave the
  programme, and the relation becomes the inequality "parent − other children ≥ 0" on the
  remaining unknowns. One leaf then equals that difference; two or more leaves can each take
  anything from 0 to its maximum, the others absorbing the rest.
- A relation left with one unknown becomes a bound on it, not a row.

So a campaign of 12 targets × 3 groups × 14 items never has more than 49 unknowns in one
programme (campaign, targets, groups), and :class:`_Programme` certifies most of their ends
from solutions it already has instead of solving for each.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from app.results.tables import CellKey, CountTables

Interval = tuple[float, float]  # (lowest, highest) value an attacker cannot rule out

# Counts are integers and the optimal vertices integral, so HiGHS's answers are snapped to the
# nearest integer when they are this close to it: 4.999999999 must not read as "narrower than 5".
INTEGRALITY_TOLERANCE = 1e-6

# linprog statuses (scipy.optimize.OptimizeResult.status)
_OPTIMAL = 0
_INFEASIBLE = 2
_UNBOUNDED = 3

LinearForm = dict[CellKey, float]  # unknown → coefficient
FloatArray = npt.NDArray[np.float64]


def intervals(tables: CountTables, withheld: set[CellKey]) -> dict[CellKey, Interval]:
    """The interval of values each withheld cell can take given everything else published."""
    return Attacker(tables).intervals(withheld)


@dataclass(frozen=True)
class _Row:
    """One relation or inequality seen by the attacker, the shown cells folded into
    ``constant``.

    A relation with no leaves: ``Σ unknowns[c]·c + constant = 0``. With leaves: the leaves'
    sum equals ``Σ unknowns[c]·c + constant``, which therefore must be ≥ 0. An inequality
    (``equality`` False, no leaves): ``Σ unknowns[c]·c + constant ≥ 0``.
    """

    unknowns: LinearForm
    constant: float
    leaves: tuple[CellKey, ...]
    equality: bool = True

    @property
    def is_equality(self) -> bool:
        return self.equality and not self.leaves


@dataclass
class _Component:
    """Withheld cells linked by rows, with the rows that link or bound them."""

    cells: list[CellKey] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)


class Attacker:
    """The attacker's programme over one campaign's tables, remembering solved components.

    Suppression planning asks again after each round of withholding; components it did not
    touch are answered from memory. A component's programme depends only on its unknowns and
    on which leaves of its relations are withheld, so those two sets are the memory's key
    (the tables must not change while an attacker is in use).
    """

    def __init__(self, tables: CountTables) -> None:
        self._tables = tables
        self._relation_counts: dict[CellKey, int] = {}
        for relation in tables.relations:
            for cell in (relation.parent, *relation.children):
                self._relation_counts[cell] = self._relation_counts.get(cell, 0) + 1
        for inequality in tables.inequalities:  # a cell in one is no leaf
            for cell in (*inequality.smaller, *inequality.larger):
                self._relation_counts[cell] = self._relation_counts.get(cell, 0) + 2
        self._solved: dict[frozenset[CellKey], dict[CellKey, Interval]] = {}

    def intervals(self, withheld: set[CellKey]) -> dict[CellKey, Interval]:
        """Each withheld cell's interval; the tables' latent cells are unknowns throughout."""
        rows = self._rows(withheld | self._tables.latent)
        found: dict[CellKey, Interval] = {}
        for component in _components(rows):
            leaves = {leaf for row in component.rows for leaf in row.leaves}
            memory_key = frozenset([*component.cells, *leaves])
            solved = self._solved.get(memory_key)
            if solved is None:
                solved = self._solved[memory_key] = _solve_component(component)
            found.update(solved)
        for row in rows:
            if not row.unknowns and row.leaves:  # only leaves: their sum is shown outright
                found.update(_leaf_intervals(row.leaves, (row.constant, row.constant)))
        for cell in withheld:  # in no relation at all: nothing bounds it
            found.setdefault(cell, (0.0, math.inf))
        return found

    def _rows(self, withheld: set[CellKey]) -> list[_Row]:
        rows = []
        for relation in self._tables.relations:
            unknowns: LinearForm = {}
            leaves: list[CellKey] = []
            constant = 0.0
            terms = [(relation.parent, 1.0)] + [(child, -1.0) for child in relation.children]
            for cell, sign in terms:
                if cell not in withheld:
                    constant += sign * self._tables.values[cell]
                elif sign < 0 and self._relation_counts[cell] == 1:
                    leaves.append(cell)
                else:
                    unknowns[cell] = unknowns.get(cell, 0.0) + sign
            unknowns = {cell: sign for cell, sign in unknowns.items() if sign}
            if unknowns or leaves:
                rows.append(_Row(unknowns, constant, tuple(leaves)))
        for inequality in self._tables.inequalities:  # Σ larger − Σ smaller ≥ 0
            unknowns = {}
            constant = 0.0
            terms = [(cell, 1.0) for cell in inequality.larger]
            terms += [(cell, -1.0) for cell in inequality.smaller]
            for cell, sign in terms:
                if cell in withheld:
                    unknowns[cell] = unknowns.get(cell, 0.0) + sign
                else:
                    constant += sign * self._tables.values[cell]
            unknowns = {cell: sign for cell, sign in unknowns.items() if sign}
            if unknowns:
                rows.append(_Row(unknowns, constant, (), equality=False))
        return rows


def _components(rows: Iterable[_Row]) -> list[_Component]:
    """Group the rows by the withheld cells they link (union–find)."""
    representative: dict[CellKey, CellKey] = {}

    def find(cell: CellKey) -> CellKey:
        root = cell
        while representative[root] != root:
            root = representative[root]
        while representative[cell] != root:
            representative[cell], cell = root, representative[cell]
        return root

    linking = [row for row in rows if row.unknowns]
    for row in linking:
        cells = list(row.unknowns)
        for cell in cells:
            representative.setdefault(cell, cell)
        for cell in cells[1:]:
            representative[find(cell)] = find(cells[0])
    components: dict[CellKey, _Component] = {}
    for cell in representative:
        components.setdefault(find(cell), _Component()).cells.append(cell)
    for row in linking:
        components[find(next(iter(row.unknowns)))].rows.append(row)
    return list(components.values())


def _solve_component(component: _Component) -> dict[CellKey, Interval]:
    """Bounds of every unknown of the component and of the leaves hanging from its rows."""
    cells = sorted(component.cells, key=repr)
    lower = dict.fromkeys(cells, 0.0)
    upper = dict.fromkeys(cells, math.inf)
    equalities: list[_Row] = []
    inequalities: list[_Row] = []
    for row in component.rows:
        if len(row.unknowns) == 1:
            _tighten(row, lower, upper)
        else:
            (equalities if row.is_equality else inequalities).append(row)
    for cell in cells:
        if lower[cell] > upper[cell] + INTEGRALITY_TOLERANCE:
            raise ValueError(f"the published counts contradict each other around {cell!r}")

    programme = _Programme(cells, lower, upper, equalities, inequalities)
    found = programme.cell_intervals()
    for row in component.rows:
        if row.leaves:
            found.update(_leaf_intervals(row.leaves, _range_of_row(row, found, programme)))
    return found


def _tighten(row: _Row, lower: dict[CellKey, float], upper: dict[CellKey, float]) -> None:
    """Turn a row with one unknown into bounds: ``a·x + b = 0`` or ``a·x + b ≥ 0``."""
    ((cell, coefficient),) = row.unknowns.items()
    value = -row.constant / coefficient
    if row.is_equality or coefficient > 0:
        lower[cell] = max(lower[cell], value)
    if row.is_equality or coefficient < 0:
        upper[cell] = min(upper[cell], value)


def _range_of_row(
    row: _Row, found: Mapping[CellKey, Interval], programme: "_Programme"
) -> Interval:
    """The range of the leaves' sum, ``Σ unknowns[c]·c + constant``."""
    if len(row.unknowns) == 1:
        ((cell, coefficient),) = row.unknowns.items()
        low_end, high_end = found[cell]
        if coefficient > 0:
            low, high = coefficient * low_end, coefficient * high_end
        else:
            low, high = coefficient * high_end, coefficient * low_end
        return (low + row.constant, high + row.constant)
    low, high = programme.range_of(row.unknowns)
    return (low + row.constant, high + row.constant)


def _leaf_intervals(leaves: tuple[CellKey, ...], total: Interval) -> dict[CellKey, Interval]:
    """One leaf is its relation's remainder; several share it, each anywhere from 0 up."""
    low, high = max(total[0], 0.0), total[1]
    if high < -INTEGRALITY_TOLERANCE:
        raise ValueError(f"the published counts contradict each other around {leaves[0]!r}")
    if len(leaves) == 1:
        return {leaves[0]: (low, high)}
    return {leaf: (0.0, high) for leaf in leaves}


class _Programme:
    """The component's linear constraints, ready to minimise and maximise linear forms.

    Two certificates spare most of the per-cell programmes without changing any answer.
    Every optimum found is a feasible point; a point where a cell sits at its own lower (or
    upper) bound proves that bound is the cell's minimum (or maximum). And one programme over
    the recession cone finds at once every cell that can grow without limit (see
    :meth:`_unbounded_above`).
    """

    def __init__(
        self,
        cells: list[CellKey],
        lower: Mapping[CellKey, float],
        upper: Mapping[CellKey, float],
        equalities: list[_Row],
        inequalities: list[_Row],
    ) -> None:
        self._cells = cells
        self._columns = {cell: index for index, cell in enumerate(cells)}
        self._lower = [lower[cell] for cell in cells]
        self._upper = [upper[cell] for cell in cells]
        self._has_rows = bool(equalities or inequalities)
        # Σ a·x + b = 0  →  Σ a·x = −b;   Σ a·x + b ≥ 0  →  Σ −a·x ≤ b
        self._equality_matrix = self._matrix(equalities, 1.0)
        self._equality_bounds = np.array([-row.constant for row in equalities])
        self._inequality_matrix = self._matrix(inequalities, -1.0)
        self._inequality_bounds = np.array([row.constant for row in inequalities])
        self._points: list[FloatArray] = []

    def _matrix(self, rows: list[_Row], sign: float) -> FloatArray:
        matrix = np.zeros((len(rows), len(self._columns)))
        for index, row in enumerate(rows):
            for cell, coefficient in row.unknowns.items():
                matrix[index, self._columns[cell]] = sign * coefficient
        return matrix

    def cell_intervals(self) -> dict[CellKey, Interval]:
        if not self._has_rows:  # a lone unknown: its bounds are all there is
            return {cell: (self._lower[0], self._upper[0]) for cell in self._cells}
        size = len(self._cells)
        self._minimum(np.ones(size))  # a first point, most cells at their lower bounds
        unbounded = self._unbounded_above()
        found: dict[CellKey, Interval] = {}
        for index, cell in enumerate(self._cells):
            unit = np.zeros(size)
            unit[index] = 1.0
            low = self._lower[index]
            if not self._attained(index, low):
                low = self._minimum(unit)
            high = self._upper[index]
            if index in unbounded:
                high = math.inf
            elif not self._attained(index, high):
                high = -self._minimum(-unit)
            found[cell] = (low, high)
        return found

    def range_of(self, form: LinearForm) -> Interval:
        objective = np.zeros(len(self._cells))
        for cell, coefficient in form.items():
            objective[self._columns[cell]] = coefficient
        return (self._minimum(objective), -self._minimum(-objective))

    def _attained(self, index: int, bound: float) -> bool:
        return math.isfinite(bound) and any(
            abs(point[index] - bound) < INTEGRALITY_TOLERANCE for point in self._points
        )

    def _minimum(self, objective: FloatArray) -> float:
        """The minimum of ``objective · x``; ``-inf`` when it has none."""
        solution = _solve(
            objective,
            inequality_matrix=self._inequality_matrix,
            inequality_bounds=self._inequality_bounds,
            equality_matrix=self._equality_matrix,
            equality_bounds=self._equality_bounds,
            bounds=list(zip(self._lower, self._upper, strict=True)),
        )
        if solution is None:
            return -math.inf
        self._points.append(solution.point)
        return _snapped(solution.value)

    def _unbounded_above(self) -> set[int]:
        """The cells that can grow without limit, by one programme over the recession cone.

        A cell is unbounded above exactly when some direction d keeps every constraint when
        followed forever (d ≥ 0, d = 0 where a cell has an upper bound, A_eq·d = 0,
        A_ub·d ≤ 0) and has d_cell > 0. Maximising Σ t subject to t ≤ d and 0 ≤ t ≤ 1
        reaches t_cell = 1 for every such cell at once (directions add up and scale), and
        t_cell = 0 for every other.
        """
        size = len(self._cells)
        solution = _solve(
            np.concatenate([np.zeros(size), -np.ones(size)]),  # maximise Σ t
            inequality_matrix=np.vstack(
                [
                    np.hstack([self._inequality_matrix, np.zeros(self._inequality_matrix.shape)]),
                    np.hstack([-np.eye(size), np.eye(size)]),  # t − d ≤ 0
                ]
            ),
            inequality_bounds=np.zeros(len(self._inequality_matrix) + size),
            equality_matrix=np.hstack(
                [self._equality_matrix, np.zeros(self._equality_matrix.shape)]
            ),
            equality_bounds=np.zeros(len(self._equality_matrix)),
            bounds=[(0.0, 0.0 if math.isfinite(high) else math.inf) for high in self._upper]
            + [(0.0, 1.0)] * size,
        )
        if solution is None:
            raise RuntimeError("HiGHS found the recession-cone programme unbounded")
        return {index for index in range(size) if solution.point[size + index] > 0.5}


@dataclass(frozen=True)
class _Solution:
    value: float
    point: FloatArray


def _solve(
    objective: FloatArray,
    *,
    inequality_matrix: FloatArray,
    inequality_bounds: FloatArray,
    equality_matrix: FloatArray,
    equality_bounds: FloatArray,
    bounds: list[tuple[float, float]],
) -> _Solution | None:
    """Minimise ``objective · x`` with HiGHS; None when the minimum is unbounded below."""
    # Imported here, not at the top: scipy.optimize takes about 0.4 s to import, and every
    # worker process (and every replacement of a dead one) imports this module at start.
    from scipy.optimize import linprog  # type: ignore[import-untyped]  # scipy ships no stubs

    result = linprog(
        objective,
        A_ub=inequality_matrix if len(inequality_matrix) else None,
        b_ub=inequality_bounds if len(inequality_matrix) else None,
        A_eq=equality_matrix if len(equality_matrix) else None,
        b_eq=equality_bounds if len(equality_matrix) else None,
        bounds=[(low, None if math.isinf(high) else high) for low, high in bounds],
        method="highs",
    )
    status = int(result.status)
    if status == _UNBOUNDED:
        return None
    if status == _INFEASIBLE:
        raise ValueError("the published counts contradict each other")
    if status != _OPTIMAL:
        raise RuntimeError(f"HiGHS could not bound a withheld count: {result.message}")
    return _Solution(float(result.fun), np.asarray(result.x, dtype=float))


def _snapped(value: float) -> float:
    nearest = round(value)
    return float(nearest) if abs(value - nearest) < INTEGRALITY_TOLERANCE else value

"""The counts results rest on, computed in plain SQL: the baseline the results benchmark
compares the application against.

Two queries over ``evaluations (target_id, rater_group_id, quality_flags, answers)``, the
same counts :func:`app.results.tally.tally_concatenated` makes:

- answers per target × rater group × quality flags × item × symbol (``substr`` of the
  answers string, one row per item through a series of item positions);
- evaluations per target × rater group × quality flags × (points, answered scored items),
  the points summed with one ``CASE`` per scored item: the evaluation score distribution.

Written once, with the dialect's name for a series of integers, for DuckDB and PostgreSQL;
and for DuckDB once more over the answers split into one integer column per item, the layout
a column store would choose (:func:`split_queries`).
"""

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction

from app.results.tally import CampaignTally, exact
from app.surveys.schemas import Questionnaire

LevelKey = tuple[int, int, int, int, str]  # target, group, flags, item position (1-), symbol
ScoreKey = tuple[int, int, int, int, int]  # target, group, flags, scaled points, answered


@dataclass(frozen=True)
class BaselineQueries:
    levels: str
    scores: str
    denominator: int  # points are scaled by it to integers


def queries(questionnaire: Questionnaire, series: str, campaign_id: int | None) -> BaselineQueries:
    """``series`` is a FROM item giving column ``position`` = 1 … items, e.g.
    ``generate_series(1, 12) AS s(position)`` (PostgreSQL) or ``range(1, 13) AS s(position)``
    (DuckDB)."""
    where = f"WHERE campaign_id = {int(campaign_id)}" if campaign_id is not None else ""
    levels = f"""
        SELECT target_id, rater_group_id, quality_flags, position,
               substr(answers, position, 1) AS symbol, count(*) AS answers
        FROM evaluations CROSS JOIN {series}
        {where}
        GROUP BY target_id, rater_group_id, quality_flags, position, symbol
    """  # noqa: S608 - made of the questionnaire's points and integers only
    denominator = 1
    for item in questionnaire.items:
        if item.scored:
            for value in questionnaire.points_for(item).values():
                denominator = denominator * exact(value).denominator
    points_terms = []
    answered_terms = []
    for position, item in enumerate(questionnaire.items, start=1):
        if not item.scored:
            continue
        symbol = f"substr(answers, {position}, 1)"
        cases = " ".join(
            f"WHEN '{level}' THEN {int(exact(value) * denominator)}"
            for level, value in questionnaire.points_for(item).items()
        )
        points_terms.append(f"CASE {symbol} {cases} ELSE 0 END")
        answered_terms.append(f"CASE WHEN {symbol} BETWEEN '1' AND '9' THEN 1 ELSE 0 END")
    scores = f"""
        SELECT target_id, rater_group_id, quality_flags, points, answered, count(*) AS evaluations
        FROM (
            SELECT target_id, rater_group_id, quality_flags,
                   {" + ".join(points_terms)} AS points,
                   {" + ".join(answered_terms)} AS answered
            FROM evaluations {where}
        ) AS scored
        WHERE answered > 0
        GROUP BY target_id, rater_group_id, quality_flags, points, answered
    """  # noqa: S608 - made of the questionnaire's points and integers only
    return BaselineQueries(levels, scores, denominator)


def split_table(questionnaire: Questionnaire) -> str:
    """DuckDB: ``evaluations_split``, the answers as one small integer column per item
    (``a1`` …; the level, 0 for 不了解, 255 for an unseen item): DuckDB's own layout."""
    columns = ", ".join(
        f"CAST(CASE substr(answers, {position}, 1) WHEN '-' THEN 255 "
        f"ELSE CAST(substr(answers, {position}, 1) AS INTEGER) END AS UTINYINT) AS a{position}"
        for position in range(1, len(questionnaire.items) + 1)
    )
    head = "CREATE TABLE evaluations_split AS SELECT target_id, rater_group_id, quality_flags"
    return f"{head}, {columns} FROM evaluations"


def split_queries(questionnaire: Questionnaire) -> BaselineQueries:
    """The same two queries over ``evaluations_split`` (DuckDB), giving the same rows."""
    levels = " UNION ALL ".join(
        f"""
        SELECT target_id, rater_group_id, quality_flags, {position} AS position,
               CASE a{position} WHEN 255 THEN '-' ELSE CAST(a{position} AS VARCHAR) END,
               answers
        FROM (
            SELECT target_id, rater_group_id, quality_flags, a{position}, count(*) AS answers
            FROM evaluations_split
            GROUP BY target_id, rater_group_id, quality_flags, a{position}
        ) AS counted
        """  # noqa: S608 - integers only
        for position in range(1, len(questionnaire.items) + 1)
    )
    denominator = queries(questionnaire, "", None).denominator
    points_terms = []
    answered_terms = []
    for position, item in enumerate(questionnaire.items, start=1):
        if not item.scored:
            continue
        cases = " ".join(
            f"WHEN {level} THEN {int(exact(value) * denominator)}"
            for level, value in questionnaire.points_for(item).items()
        )
        points_terms.append(f"CASE a{position} {cases} ELSE 0 END")
        answered_terms.append(f"CASE WHEN a{position} BETWEEN 1 AND 9 THEN 1 ELSE 0 END")
    scores = f"""
        SELECT target_id, rater_group_id, quality_flags, points, answered, count(*) AS evaluations
        FROM (
            SELECT target_id, rater_group_id, quality_flags,
                   {" + ".join(points_terms)} AS points,
                   {" + ".join(answered_terms)} AS answered
            FROM evaluations_split
        ) AS scored
        WHERE answered > 0
        GROUP BY target_id, rater_group_id, quality_flags, points, answered
    """  # noqa: S608 - made of the questionnaire's points and integers only
    return BaselineQueries(levels, scores, denominator)


def check_against(
    counted: CampaignTally,
    questionnaire: Questionnaire,
    level_rows: list[tuple[int, int, int, int, str, int]],
    score_rows: list[tuple[int, int, int, int, int, int]],
    denominator: int,
) -> None:
    """Raise if the baseline's counts differ from the application's tally."""
    items = questionnaire.items
    ours_levels: Counter[tuple[int, int, bool, str, int]] = Counter()
    for (target, group), cell in counted.cells.items():
        for item_id, item_tally in cell.items.items():
            for flagged, counts in ((False, item_tally.counts), (True, item_tally.flagged_counts)):
                for level, count in counts.items():
                    ours_levels[(target, group, flagged, item_id, level)] += count
    theirs_levels: Counter[tuple[int, int, bool, str, int]] = Counter()
    for target, group, flags, position, symbol, count in level_rows:
        if symbol != "-":
            key = (target, group, flags != 0, items[position - 1].id, int(symbol))
            theirs_levels[key] += count
    if ours_levels != theirs_levels:
        raise AssertionError("the baseline's answer counts differ from the application's")
    ours_scores: Counter[tuple[int, int, bool, Fraction]] = Counter()
    for (target, group), cell in counted.cells.items():
        for flagged, scores in ((False, cell.scores), (True, cell.flagged_scores)):
            for score, count in scores.items():
                ours_scores[(target, group, flagged, score)] += count
    theirs_scores: Counter[tuple[int, int, bool, Fraction]] = Counter()
    for target, group, flags, points, answered, count in score_rows:
        score = Fraction(points, answered * denominator)
        theirs_scores[(target, group, flags != 0, score)] += count
    if ours_scores != theirs_scores:
        raise AssertionError("the baseline's score distribution differs from the application's")

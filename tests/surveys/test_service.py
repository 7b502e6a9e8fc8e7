"""Questionnaire templates: the shipped ones validate; a bad one names file, item and problem."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.surveys import service as survey_service
from app.surveys.service import QuestionnaireInvalid

SHIPPED_TEMPLATES = ("conduct-efficiency-annual.yaml", "service-rating.yaml")

VALID_TEMPLATE = """\
id: trial
version: 1
title: {zh: 试用问卷, en: Trial questionnaire}
rater_groups:
  - key: citizens
    name: {zh: 群众, en: Citizens}
  - key: cadres
    name: {zh: 基层干部, en: Cadres}
dimensions:
  - id: attitude
    name: {zh: 服务态度, en: Attitude}
items:
  - id: courtesy
    dimension: attitude
    scale: five_level
    text: {zh: 态度热情, en: Courteous}
  - id: guidance
    dimension: attitude
    scale: three_level
    points: {3: 100, 2: 70, 1: 30}
    groups: [cadres]
    text: {zh: 指导基层, en: Guides grassroots units}
"""


def variant(*replacements: tuple[str, str]) -> str:
    """The valid template with each ``(old, new)`` applied; ``old`` must occur exactly once."""
    text = VALID_TEMPLATE
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} must occur once in the template"
        text = text.replace(old, new)
    return text


def write_template(directory: Path, text: str, name: str = "template.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> QuestionnaireInvalid:
    with pytest.raises(QuestionnaireInvalid) as caught:
        survey_service.load_questionnaire(path)
    return caught.value


@dataclass(frozen=True)
class InvalidCase:
    text: str
    subject: str  # how the problem must name the item (or group) it concerns
    words: tuple[str, ...]  # what the problem must say about it


INVALID_TEMPLATES: dict[str, InvalidCase] = {
    "unknown dimension": InvalidCase(
        variant(
            (
                "dimension: attitude\n    scale: five_level",
                "dimension: manners\n    scale: five_level",
            )
        ),
        "'courtesy'",
        ("dimension", "manners", "not declared"),
    ),
    "unknown rater group in an item's groups": InvalidCase(
        variant(("groups: [cadres]", "groups: [cadres, farmers]")),
        "'guidance'",
        ("rater group", "farmers", "not declared"),
    ),
    "duplicate item id": InvalidCase(
        variant(("- id: guidance", "- id: courtesy")),
        "'courtesy'",
        ("twice",),
    ),
    "scale not five_level or three_level": InvalidCase(
        variant(("scale: five_level", "scale: ten_level")),
        "'courtesy'",
        ("scale", "five_level", "three_level"),
    ),
    "points missing a level": InvalidCase(
        variant(("{3: 100, 2: 70, 1: 30}", "{3: 100, 1: 30}")),
        "'guidance'",
        ("points", "levels"),
    ),
    "points decreasing with level": InvalidCase(
        variant(("{3: 100, 2: 70, 1: 30}", "{3: 30, 2: 70, 1: 100}")),
        "'guidance'",
        ("points", "higher level"),
    ),
    "questionnaire-wide points missing a level": InvalidCase(
        variant(("items:\n", "points:\n  five_level: {5: 100, 4: 80, 3: 60, 2: 40}\nitems:\n")),
        "five_level",
        ("points", "levels"),
    ),
    "missing zh text": InvalidCase(
        variant(("text: {zh: 态度热情, en: Courteous}", "text: {en: Courteous}")),
        "'courtesy'",
        ("text.zh", "required"),
    ),
    "rater group that sees no item": InvalidCase(
        variant(
            (
                "    name: {zh: 基层干部, en: Cadres}\n",
                "    name: {zh: 基层干部, en: Cadres}\n"
                "  - key: supervisors\n    name: {zh: 特邀监督员, en: Supervisors}\n",
            ),
            ("    scale: five_level\n", "    scale: five_level\n    groups: [citizens]\n"),
        ),
        "'supervisors'",
        ("rater group", "no item"),
    ),
    "extra unknown key in an item": InvalidCase(
        variant(("    scale: five_level\n", "    scale: five_level\n    colour: red\n")),
        "'courtesy'",
        ("colour", "not permitted"),
    ),
    "extra unknown key at the top": InvalidCase(
        variant(("version: 1\n", "version: 1\ncolour: red\n")),
        "colour",
        ("not permitted",),
    ),
    "item without an id is named by its position": InvalidCase(
        variant(("  - id: guidance\n    dimension", "  - dimension")),
        "item #2",
        ("id", "required"),
    ),
}


class TestShippedTemplatesValidate:
    @pytest.mark.parametrize("file_name", SHIPPED_TEMPLATES)
    def test_shipped_template_loads_with_items_for_every_group(self, file_name: str) -> None:
        questionnaire = survey_service.load_questionnaire(PROJECT_ROOT / "surveys" / file_name)

        assert questionnaire.problems() == []
        for group in questionnaire.rater_groups:
            assert questionnaire.items_for(group.key), f"{group.key} sees no item"

    def test_every_template_in_the_surveys_directory_loads(self) -> None:
        paths = survey_service.template_paths(PROJECT_ROOT / "surveys")

        assert {path.name for path in paths} >= set(SHIPPED_TEMPLATES)
        for path in paths:
            survey_service.load_questionnaire(path)

    def test_shipped_template_is_found_by_the_id_it_declares(self) -> None:
        surveys_dir = PROJECT_ROOT / "surveys"
        for path in survey_service.template_paths(surveys_dir):
            declared = survey_service.load_questionnaire(path)

            assert survey_service.find_template(surveys_dir, declared.id) == declared


class TestTheTestTemplateIsValid:
    """Guards the table below: each case must fail for its own reason, not the base's."""

    def test_base_template_loads(self, tmp_path: Path) -> None:
        questionnaire = survey_service.load_questionnaire(write_template(tmp_path, VALID_TEMPLATE))

        assert [item.id for item in questionnaire.items] == ["courtesy", "guidance"]


class TestInvalidTemplateNamesFileItemAndProblem:
    @pytest.mark.parametrize("case", INVALID_TEMPLATES.values(), ids=INVALID_TEMPLATES.keys())
    def test_problem_names_the_item_and_what_is_wrong(
        self, tmp_path: Path, case: InvalidCase
    ) -> None:
        path = write_template(tmp_path, case.text)

        error = problems_of(path)

        assert error.source == str(path)
        assert str(path) in str(error)
        matching = [
            problem
            for problem in error.problems
            if case.subject in problem and all(word in problem for word in case.words)
        ]
        assert matching, f"no problem names {case.subject} and {case.words}: {error.problems}"


class TestCrossReferenceProblemsAreAllReported:
    def test_unknown_dimension_and_unknown_group_in_different_items_both_reported(
        self, tmp_path: Path
    ) -> None:
        path = write_template(
            tmp_path,
            variant(
                (
                    "dimension: attitude\n    scale: five_level",
                    "dimension: manners\n    scale: five_level",
                ),
                ("groups: [cadres]", "groups: [cadres, farmers]"),
            ),
        )

        problems = problems_of(path).problems

        assert any("'courtesy'" in problem and "manners" in problem for problem in problems)
        assert any("'guidance'" in problem and "farmers" in problem for problem in problems)


class TestYamlSyntaxErrorGivesLineNumber:
    @pytest.mark.parametrize(
        ("old", "new", "bad_line"),
        [
            pytest.param("version: 1\n", "version: 1\n\tcolour: red\n", "\tcolour: red", id="tab"),
            pytest.param("version: 1\n", "version: 1: 2\n", "version: 1: 2", id="two colons"),
        ],
    )
    def test_problem_says_yaml_and_the_line(
        self, tmp_path: Path, old: str, new: str, bad_line: str
    ) -> None:
        text = variant((old, new))
        line_number = text.splitlines().index(bad_line) + 1
        path = write_template(tmp_path, text)

        error = problems_of(path)

        assert error.source == str(path)
        assert len(error.problems) == 1
        assert "YAML" in error.problems[0]
        assert f"line {line_number}," in error.problems[0]


class TestFileThatIsNotAMappingIsRefused:
    @pytest.mark.parametrize(
        "text",
        [
            pytest.param("- id: courtesy\n- id: guidance\n", id="list"),
            pytest.param("just a sentence\n", id="string"),
            pytest.param("", id="empty"),
        ],
    )
    def test_problem_says_the_file_must_hold_a_mapping(self, tmp_path: Path, text: str) -> None:
        path = write_template(tmp_path, text)

        error = problems_of(path)

        assert error.source == str(path)
        assert any("mapping" in problem for problem in error.problems)


class TestUnreadableFileIsRefused:
    def test_file_not_in_utf8_is_reported_as_unreadable(self, tmp_path: Path) -> None:
        path = tmp_path / "gbk.yaml"
        path.write_bytes(VALID_TEMPLATE.encode("gbk"))

        error = problems_of(path)

        assert error.source == str(path)
        assert any("cannot be read" in problem for problem in error.problems)


class TestDuplicateKeys:
    def test_a_key_written_twice_is_an_error_with_its_line(self, tmp_path: Path) -> None:
        from app.surveys import service as survey_service

        text = (PROJECT_ROOT / "surveys" / "service-rating.yaml").read_text(encoding="utf-8")
        path = tmp_path / "twice.yaml"
        path.write_text(text + "version: 2\n", encoding="utf-8")

        with pytest.raises(survey_service.QuestionnaireInvalid) as refused:
            survey_service.load_questionnaire(path)

        (problem,) = refused.value.problems
        assert "'version' appears twice" in problem
        assert f"line {text.count(chr(10)) + 1}" in problem

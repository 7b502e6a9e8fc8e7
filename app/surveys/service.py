"""Loading and checking questionnaire templates."""

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import strict_yaml, text_rules
from app.errors import InvalidInput, NotFound
from app.i18n import N_
from app.surveys.models import QuestionnaireTemplate
from app.surveys.schemas import REFERENCE_ERROR_TYPE, Questionnaire

TEMPLATE_SUFFIXES = (".yaml", ".yml")


class QuestionnaireInvalid(InvalidInput):
    """A template that does not validate; ``problems`` name the item and what is wrong."""

    message = N_("Questionnaire %(source)s is invalid: %(summary)s")

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(source=source, summary="; ".join(problems))


def parse_questionnaire(data: Any, source: str) -> Questionnaire:
    if not isinstance(data, Mapping):
        raise QuestionnaireInvalid(source, ["the file must hold a mapping (id, title, items, ...)"])
    try:
        questionnaire = Questionnaire.model_validate(data)
    except ValidationError as error:
        raise QuestionnaireInvalid(source, _describe(error, data)) from None
    check_texts(questionnaire, source)
    return questionnaire


def check_texts(questionnaire: Questionnaire, source: str) -> None:
    """Refuse a questionnaire whose texts (title, rater group and dimension names, item
    texts, prompts) hold a character :mod:`app.text_rules` refuses, naming each place.

    Checked where a template is read or a campaign made from one, not in the schema, so a
    campaign's stored copy always loads."""
    problems = text_problems(questionnaire)
    if problems:
        raise QuestionnaireInvalid(source, problems)


def text_problems(questionnaire: Questionnaire) -> list[str]:
    data = questionnaire.model_dump(mode="json")
    return [
        f"{_subject(location, data)}: {problem}"
        for location, text in _texts(data, [])
        if (problem := text_rules.staff_text_problem(text)) is not None
    ]


def _texts(value: object, location: list[str | int]) -> list[tuple[list[str | int], str]]:
    """Every string in a dumped questionnaire, with where it is."""
    if isinstance(value, str):
        return [(location, value)]
    if isinstance(value, Mapping):
        return [found for key, inner in value.items() for found in _texts(inner, [*location, key])]
    if isinstance(value, list):
        return [
            found
            for index, inner in enumerate(value)
            for found in _texts(inner, [*location, index])
        ]
    return []


def parse_questionnaire_text(text: str, source: str) -> Questionnaire:
    try:
        data = strict_yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise QuestionnaireInvalid(source, [f"YAML syntax error at {where}{problem}"]) from None
    return parse_questionnaire(data, source)


def load_questionnaire(path: Path) -> Questionnaire:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise QuestionnaireInvalid(str(path), [f"cannot be read: {error}"]) from None
    return parse_questionnaire_text(text, str(path))


def template_paths(surveys_dir: Path) -> list[Path]:
    return sorted(path for path in surveys_dir.iterdir() if path.suffix in TEMPLATE_SUFFIXES)


def find_template(surveys_dir: Path, reference: str) -> Questionnaire:
    """A template by file path, or by the ``id`` declared inside one of the shipped files."""
    as_path = Path(reference)
    if as_path.suffix in TEMPLATE_SUFFIXES and as_path.exists():
        return load_questionnaire(as_path)
    for path in template_paths(surveys_dir):
        questionnaire = load_questionnaire(path)
        if questionnaire.id == reference:
            return questionnaire
    raise QuestionnaireInvalid(
        reference, [f"no questionnaire with this id or path in {surveys_dir}"]
    )


def _describe(error: ValidationError, data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for detail in error.errors():
        if detail["type"] == REFERENCE_ERROR_TYPE:
            problems += detail["ctx"]["problems"]
            continue
        location = list(detail["loc"])
        subject = _subject(location, data)
        problems.append(f"{subject}: {detail['msg']}")
    return problems


# Lists whose entries problems name by their id: list -> (what an entry is, its id's key).
NAMED_ENTRIES = {
    "items": ("item", "id"),
    "rater_groups": ("rater group", "key"),
    "dimensions": ("dimension", "id"),
}


def _subject(location: list[str | int], data: Mapping[str, Any]) -> str:
    """Name the part of the file a validation error points at, by id where possible."""
    if len(location) >= 2 and location[0] in NAMED_ENTRIES and isinstance(location[1], int):
        what, id_key = NAMED_ENTRIES[str(location[0])]
        index = location[1]
        entries = data.get(str(location[0]))
        entry_id = None
        if (
            isinstance(entries, list)
            and index < len(entries)
            and isinstance(entries[index], Mapping)
        ):
            entry_id = entries[index].get(id_key)
        field = ".".join(str(part) for part in location[2:]) or what
        named = f"{what} '{entry_id}'" if entry_id else f"{what} #{index + 1}"
        return f"{named}, {field}"
    return ".".join(str(part) for part in location) or "file"


@dataclass(frozen=True)
class TemplateChoice:
    """A questionnaire a campaign can be created from: a shipped file or an upload."""

    reference: str  # "file:<name>" or "upload:<id>"
    questionnaire: Questionnaire
    source: str  # the YAML text

    @property
    def shipped(self) -> bool:
        return self.reference.startswith("file:")


def save_upload(
    session: Session, text: str, *, source_name: str, uploaded_by: str, surveys_dir: Path
) -> QuestionnaireTemplate:
    """Check an uploaded template and keep it; refuses an id and version already taken."""
    questionnaire = parse_questionnaire_text(text, source_name)
    taken = session.scalar(
        select(QuestionnaireTemplate.id).where(
            QuestionnaireTemplate.key == questionnaire.id,
            QuestionnaireTemplate.version == questionnaire.version,
        )
    )
    shipped = any(
        choice.questionnaire.id == questionnaire.id
        and choice.questionnaire.version == questionnaire.version
        for choice in shipped_templates(surveys_dir)
    )
    if taken is not None or shipped:
        raise QuestionnaireInvalid(
            source_name,
            [
                f"questionnaire '{questionnaire.id}' version {questionnaire.version} exists "
                "already; raise the version to upload a revision"
            ],
        )
    template = QuestionnaireTemplate(
        key=questionnaire.id,
        version=questionnaire.version,
        title_zh=questionnaire.title.zh,
        source=text,
        uploaded_by=uploaded_by,
    )
    session.add(template)
    session.flush()
    return template


def shipped_templates(surveys_dir: Path) -> list[TemplateChoice]:
    return [
        TemplateChoice(
            reference=f"file:{path.name}",
            questionnaire=load_questionnaire(path),
            source=path.read_text(encoding="utf-8"),
        )
        for path in template_paths(surveys_dir)
    ]


def all_templates(session: Session, surveys_dir: Path) -> list[TemplateChoice]:
    """Shipped templates, then uploads, newest first."""
    uploads = session.scalars(
        select(QuestionnaireTemplate).order_by(QuestionnaireTemplate.id.desc())
    )
    return shipped_templates(surveys_dir) + [
        TemplateChoice(
            reference=f"upload:{upload.id}",
            questionnaire=parse_questionnaire_text(upload.source, f"upload {upload.id}"),
            source=upload.source,
        )
        for upload in uploads
    ]


def template_by_reference(session: Session, surveys_dir: Path, reference: str) -> TemplateChoice:
    for choice in all_templates(session, surveys_dir):
        if choice.reference == reference:
            return choice
    raise NotFound(name=reference)

from pydantic import BaseModel, ConfigDict, Field

from app.admission.service import Admission
from app.credentials.schemas import CredentialKeyOut
from app.i18n import Locale
from app.surveys.schemas import NOT_APPLICABLE_LABEL


class AdmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=64, description="The admission code, grouped or not")


class CampaignOut(BaseModel):
    slug: str
    title: str


class RaterGroupOut(BaseModel):
    key: str
    name: str


class TargetOut(BaseModel):
    code: str
    name: str
    category: str


class LevelOut(BaseModel):
    value: int
    label: str


class ItemOut(BaseModel):
    id: str
    text: str
    dimension: str
    dimension_name: str
    scale: str
    levels: list[LevelOut] = Field(description="Accepted levels; null means 不了解 (don't know)")
    not_applicable_label: str


class CommentOut(BaseModel):
    prompt: str
    max_length: int


class QuestionnaireOut(BaseModel):
    id: str
    title: str
    description: str | None
    items: list[ItemOut]
    comment: CommentOut | None


class AdmissionOut(BaseModel):
    campaign: CampaignOut
    rater_group: RaterGroupOut
    targets: list[TargetOut]
    questionnaire: QuestionnaireOut
    started: str = Field(
        description=(
            "A start token for the first target's form: send it back as that evaluation's "
            "`started`, and take a fresh one from `GET /api/v1/start-token` for each further "
            "target. It holds a random value and the time it was signed, nothing else."
        )
    )
    credential_key: CredentialKeyOut | None = Field(
        default=None,
        description=(
            "The key this code's credential would be signed with (`POST /api/v1/credentials`), "
            "for its rater group and scope; null while the campaign has none"
        ),
    )

    @classmethod
    def of(
        cls,
        admission: Admission,
        locale: Locale,
        *,
        started: str,
        credential_key: CredentialKeyOut | None = None,
    ) -> "AdmissionOut":
        questionnaire = admission.questionnaire
        campaign = admission.campaign
        group = admission.rater_group
        return cls(
            campaign=CampaignOut(slug=campaign.slug, title=campaign.title_for(locale)),
            rater_group=RaterGroupOut(key=group.key, name=group.name_for(locale)),
            targets=[
                TargetOut(
                    code=target.department.code,
                    name=target.department.name_for(locale),
                    category=target.department.category,
                )
                for target in admission.targets
            ],
            questionnaire=QuestionnaireOut(
                id=questionnaire.id,
                title=questionnaire.title.get(locale),
                description=questionnaire.description.get(locale)
                if questionnaire.description
                else None,
                items=[
                    ItemOut(
                        id=item.id,
                        text=item.text.get(locale),
                        dimension=item.dimension,
                        dimension_name=questionnaire.dimension(item.dimension).name.get(locale),
                        scale=item.scale,
                        levels=[
                            LevelOut(value=level.value, label=level.label.get(locale))
                            for level in item.levels
                        ],
                        not_applicable_label=NOT_APPLICABLE_LABEL.get(locale),
                    )
                    for item in admission.items
                ],
                comment=CommentOut(
                    prompt=questionnaire.comment.prompt.get(locale),
                    max_length=questionnaire.comment.max_length,
                )
                if questionnaire.comment
                else None,
            ),
            started=started,
            credential_key=credential_key,
        )

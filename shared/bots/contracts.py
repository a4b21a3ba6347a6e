"""The bots API's request and response models. The rules themselves are the functions of
shared/bots/validation.py (also used where no request is involved); the models apply
them and say them in the OpenAPI document."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field

from shared.api.contract import Body, Reply, rule
from shared.bots import validation as v
from shared.errors import BadRequest

Language = Literal["ko", "en", "auto"]
Slug = Annotated[
    str,
    Field(
        json_schema_extra={
            "pattern": f"^[a-z0-9][a-z0-9-]{{{v.SLUG_MIN - 2},{v.SLUG_MAX - 2}}}[a-z0-9]$"
        },
        description="The bot's address (widget, URLs); set at creation, cannot change",
    ),
    rule(v.slug),
]
Name = Annotated[
    str, Field(json_schema_extra={"minLength": 1, "maxLength": v.NAME_MAX}), rule(v.name)
]
Persona = Annotated[
    str | None,
    Field(
        json_schema_extra={"maxLength": v.PERSONA_MAX},
        description="Instructions that shape the answers; never shown publicly",
    ),
    rule(v.persona),
]
Greeting = Annotated[
    str | None, Field(json_schema_extra={"maxLength": v.GREETING_MAX}), rule(v.greeting)
]
Questions = Annotated[
    list[Annotated[str, Field(json_schema_extra={"minLength": 1, "maxLength": v.QUESTION_MAX})]]
    | None,
    Field(json_schema_extra={"maxItems": v.QUESTIONS_MAX}),
    rule(v.suggested_questions),
]
Origins = Annotated[
    list[str] | None,
    Field(
        json_schema_extra={"maxItems": v.ORIGINS_MAX},
        description="Pages that may embed the bot: exact origins, scheme://host[:port]",
    ),
    rule(v.allowed_origins),
]
Webhook = Annotated[
    str | None,
    Field(description="https://discord.com/api/webhooks/<id>/<token>; null or '' for none"),
    rule(v.discord_webhook),
]


_NEVER_NULL = ("name", "language", "discoverable")


def _no_null_defaults(schema: dict[str, Any]) -> None:
    for field in _NEVER_NULL:
        schema.get("properties", {}).get(field, {}).pop("default", None)


class BotSettings(Body):
    """A change to a bot (PATCH): only the fields sent change. ``slug`` may be sent back
    unchanged; any other slug is refused."""

    model_config = ConfigDict(**Body.model_config, json_schema_extra=_no_null_defaults)
    codes: ClassVar = {"allowed_origins.*": "invalid_origin"}
    extra_code: ClassVar = "invalid_field"
    slug: str | None = None
    # Optional but never null: absent means unchanged (the default is never validated
    # and not documented, so the document says what is accepted: a string, no null).
    name: Name = Field(None, validate_default=False)  # type: ignore[assignment]
    persona: Persona = None
    greeting: Greeting = None
    suggested_questions: Questions = None
    language: Language = Field(None, validate_default=False)  # type: ignore[call-overload]
    allowed_origins: Origins = None
    discoverable: bool = Field(None, validate_default=False)  # type: ignore[assignment]
    discord_webhook: Webhook = None

    def changes(self, current_slug: str) -> dict[str, object]:
        """The columns a PATCH changes. The slug is the bot's address (embed snippets,
        guest identities, URLs) and cannot change; sending the same slug back is harmless."""
        if "slug" in self.model_fields_set and self.slug != current_slug:
            raise BadRequest(
                "slug cannot be changed; create a new bot instead", code="immutable_field"
            )
        return {
            field: _stored(field, getattr(self, field))
            for field in self.model_fields_set
            if field != "slug"
        }


class NewBot(BotSettings):
    """A new bot: ``slug`` and ``name`` are required, the rest take their defaults."""

    slug: Slug
    name: Name

    def values(self) -> dict[str, object]:
        """Every column of the new bot."""
        return {field: _stored(field, getattr(self, field)) for field in type(self).model_fields}


_EMPTY: dict[str, object] = {
    "persona": "",
    "greeting": "",
    "suggested_questions": [],
    "language": "auto",
    "allowed_origins": [],
    "discoverable": False,
}


def _stored(field: str, value: object) -> object:
    """A field's column value: null is the empty value where the column has one."""
    return _EMPTY.get(field) if value is None else value


class BotView(Reply):
    """Everything, for the owner (the webhook is theirs to see), and whether notify
    stopped using the webhook, and why."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    slug: str
    name: str
    persona: str
    greeting: str
    suggested_questions: list[str]
    language: Language
    allowed_origins: list[str]
    discoverable: bool
    discord_webhook: str | None
    discord_webhook_disabled_at: datetime | None = Field(
        description="When notify stopped using the webhook (Discord answered 404/401)"
    )
    discord_webhook_disabled_reason: str | None = Field(
        description="Why; cleared when a webhook is set again"
    )
    created_at: datetime
    updated_at: datetime


class BotList(Reply):
    bots: list[BotView]


class PublicBotView(Reply):
    """What a bot's widget shows: nothing private."""

    slug: str
    name: str
    greeting: str
    suggested_questions: list[str]
    language: Language

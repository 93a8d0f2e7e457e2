"""Bodies of the webhook endpoints. The URL's own rules (scheme, credentials, fragment,
length, allowed hosts) are service/webhooks/destinations.py's, which names the setting."""

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from service.schemas import Body, Patch

Entity = Literal["student", "course", "enrollment"]
ENTITIES: tuple[Entity, ...] = ("student", "course", "enrollment")
Entities = Annotated[list[Entity], Field(min_length=1, max_length=3)]
Description = Annotated[str, StringConstraints(max_length=200)]


class _WebhookFields:
    @field_validator("entities", mode="after", check_fields=False)
    @classmethod
    def once_each(cls, entities: list[Entity] | None) -> list[Entity] | None:
        if entities is not None and len(set(entities)) != len(entities):
            raise ValueError("must name each entity once")
        return entities


class WebhookCreate(_WebhookFields, Body):
    url: str
    entities: Entities = Field(default_factory=lambda: list(ENTITIES))
    description: Description = ""
    cursor: str | None = None  # a feed cursor: deliveries start right after it


class WebhookUpdate(_WebhookFields, Patch):
    url: str | None = None
    entities: Entities | None = None
    description: Description | None = None
    status: Literal["active", "paused"] | None = None
    cursor: str | None = None

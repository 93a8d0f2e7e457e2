"""Request bodies, one pydantic model each: pydantic rather than msgspec because its errors
carry a structured location for every failing field, which maps straight to JSON pointers."""

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, field_validator

# The caller's own identifier for a student or a course (API.md v1.2 "External ids"): 1..128
# visible ASCII characters, matched exactly; the same rule as the tables' CHECK.
EXTERNAL_ID_PATTERN = r"^[!-~]{1,128}$"
ExternalId = Annotated[str, StringConstraints(pattern=EXTERNAL_ID_PATTERN)]


class Body(BaseModel):
    """A request body: unknown fields are refused, so no caller can set what it must not."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @field_validator("*", mode="after")
    @classmethod
    def refuse_nul(cls, value: Any) -> Any:
        # Postgres text cannot hold U+0000; refuse it here rather than fail in the database.
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("must not contain the NUL character")
        return value


class Patch(Body):
    """A partial update: absent fields stay as they are, and `null` clears nothing by accident."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def refuse_null(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("must not be null")
        return value

    def changes(self) -> dict[str, Any]:
        """Only the fields the caller sent."""
        return {name: getattr(self, name) for name in self.model_fields_set}

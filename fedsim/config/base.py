"""The strict base every topology section derives from: frozen, and an unknown key is
an error at that key that lists the keys allowed there. Unknown keys are reported
among the section's other errors, so the first mistake in the file's order wins."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, PlainValidator, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Section", "at_key", "keys_of"]


def at_key(key: str, message: str) -> PydanticCustomError:
    """An error located at `key` (`a.b[2].c`, relative to the model being validated)."""
    return PydanticCustomError("at_key", "{message}", {"key": key, "message": message})


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a section accepts, as written in files (aliases where declared)."""
    return [f.alias or name for name, f in model.model_fields.items()]


class _UnknownKey:
    """Stands in for the value of a key the section does not declare."""

    def __init__(self, message: str) -> None:
        self.message = message


def _reject(value: Any) -> Any:
    raise ValueError(value.message if isinstance(value, _UnknownKey) else "unknown key")


class Section(BaseModel):
    """One mapping of a topology file."""

    model_config = ConfigDict(
        extra="allow",  # undeclared keys reach `_reject` below, at their own key path
        frozen=True,
        populate_by_name=True,
        arbitrary_types_allowed=True,
        json_schema_extra={"additionalProperties": False},
        # Validators are built on first use, not per class at import: the topology's
        # validator is built once for the whole tree instead of again for every section
        # class below it (~15 ms of each command that reads a file).
        defer_build=True,
    )
    __pydantic_extra__: dict[str, Annotated[Any, PlainValidator(_reject)]]

    unknown_key_message: ClassVar[str] = "unknown key (allowed here: {allowed})"

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if data is None:
            return {}
        if not isinstance(data, Mapping):
            raise PydanticCustomError(
                "expected_mapping", "expected a mapping, got {got}", {"got": _kind(data)}
            )
        allowed = keys_of(cls)
        message = cls.unknown_key_message.format(allowed=", ".join(sorted(allowed)))
        return {
            k: (v if k in allowed else _UnknownKey(message))
            for k, v in data.items()
            if v is not None or k not in allowed  # null: the default
        }


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"{value!r}"
    return type(value).__name__

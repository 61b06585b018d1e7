"""The strict base every topology section derives from: frozen, unknown keys rejected
with the keys that are allowed, and a helper to raise an error at a sub-key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

__all__ = ["Section", "at_key", "keys_of"]


def at_key(key: str, message: str) -> PydanticCustomError:
    """An error located at `key` (dotted, relative to the model being validated)."""
    return PydanticCustomError("at_key", "{message}", {"key": key, "message": message})


def keys_of(model: type[BaseModel]) -> list[str]:
    """The keys a section accepts, as written in files (aliases where declared)."""
    return [f.alias or name for name, f in model.model_fields.items()]


class Section(BaseModel):
    """One mapping of a topology file."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, arbitrary_types_allowed=True
    )

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
        for key in data:
            if key not in allowed:
                raise PydanticCustomError(
                    "unknown_key",
                    cls.unknown_key_message,
                    {"key": str(key), "allowed": ", ".join(sorted(allowed))},
                )
        return {k: v for k, v in data.items() if v is not None}  # null: the default


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"{value!r}"
    return type(value).__name__

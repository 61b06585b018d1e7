"""Tagged unions keyed by `kind`, where a file may leave `kind` out for a default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from fedsim.config.errors import TAG_PREFIX

__all__ = ["tagged"]


def tagged(variants: Mapping[str, type], default: str | None = None) -> Any:
    """A union of `variants` (kind -> model) chosen by the mapping's `kind`."""

    def pick(value: Any) -> str | None:
        if isinstance(value, Mapping):
            kind = value.get("kind", default)
        else:
            kind = getattr(value, "kind", None)
        return f"{TAG_PREFIX}{kind}" if isinstance(kind, str) else None

    members = tuple(Annotated[cls, Tag(f"{TAG_PREFIX}{k}")] for k, cls in variants.items())
    return Annotated[Union[members], Discriminator(pick)]  # noqa: UP007 - built at run time

"""User device profiles (`devices:`): a built-in profile (`like`) with keys replaced."""

from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from fedsim.config.base import Section
from fedsim.config.units import Energy, Rate, Size, choice
from fedsim.devices import BUILTIN_DEVICES, DEVICE_KEYS, DeviceProfile

__all__ = ["DeviceModel", "device_profile"]

_TYPES = {"compute": Rate, "memory": Size}

_fields: dict[str, Any] = {
    "like": (
        choice(sorted(BUILTIN_DEVICES)) | None,
        Field(None, description="start from a built-in profile (default esp32)"),
    )
}
for _key, (_attr, _doc) in DEVICE_KEYS.items():
    _fields[_key] = (_TYPES.get(_key, Energy) | None, Field(None, description=_doc))

DeviceModel: type[Section] = create_model("DeviceModel", __base__=Section, **_fields)
"""One profile: `{like: esp32, compute: 50MFLOPS, memory: 512KB, battery: 5Wh, ...}`."""


def device_profile(name: str, model: Any) -> DeviceProfile:
    base = BUILTIN_DEVICES[model.like or "esp32"]
    values = {attr: getattr(base, attr) for attr, _doc in DEVICE_KEYS.values()}
    for key, (attr, _doc) in DEVICE_KEYS.items():
        given = getattr(model, key)
        if given is not None:
            values[attr] = given
    return DeviceProfile(name=name, **values)

"""Channel names and colours from OME-XML, when the TIFF has it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from readers.base import Channel, default_channels


def channels(ome_xml: str | None, n: int) -> list[Channel]:
    defaults = default_channels(n)
    if not ome_xml:
        return defaults
    try:
        root = ET.fromstring(ome_xml)
    except ET.ParseError:
        return defaults
    found = [el for el in root.iter() if el.tag.endswith("}Channel") or el.tag == "Channel"]
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is not None:  # channels of the first image only
        found = [el for el in pixels if el.tag.endswith("}Channel") or el.tag == "Channel"]
    if len(found) != n:
        return defaults
    out = []
    for default, el in zip(defaults, found, strict=True):
        color = default.color
        if el.get("Color") is not None:
            try:
                rgba = int(el.get("Color")) & 0xFFFFFFFF
                color = f"{rgba >> 24:02X}{(rgba >> 16) & 0xFF:02X}{(rgba >> 8) & 0xFF:02X}"
            except ValueError:
                pass
        out.append(Channel(el.get("Name") or default.name, color))
    return out

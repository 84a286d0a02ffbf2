"""The sidecar schema: what a hand-written ``dataset.json`` may say, validated by pydantic.

Every key, type and size is checked, so one bad sidecar refuses its own dataset with a reason instead
of storing a value that later breaks every page listing it (a NaN voxel size answered 500 on the
search API) or aborting a whole scan (``contributors: 5``). Unknown keys are errors: a misspelt key
(``"Public"``) must not be silently ignored. Free-form facts go under ``extra``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

Text = Annotated[str, Field(max_length=1_000)]
LongText = Annotated[str, Field(max_length=20_000)]
# a voxel is between a picometre and a metre: anything else is a typo (or NaN/Infinity)
Micrometres = Annotated[float, Field(gt=1e-6, le=1e6, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
ChannelName = Annotated[str, Field(max_length=200)]
#: one edge of a chunk in voxels: a chunk of 2 GiB uint8 voxels already is more than any client asks
ChunkEdge = Annotated[int, Field(ge=1, le=2048)]
#: nesting allowed inside ``extra`` (the parser itself is protected by MAX_DEPTH below)
MAX_DEPTH = 8


class ChannelMeta(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: ChannelName | None = None
    color: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{6}$")] | None = None  # RRGGBB
    window: Annotated[list[Finite], Field(min_length=2, max_length=2)] | None = None  # display start, end


class Funder(BaseModel):
    """DataCite ``fundingReference``: who paid, and the award number."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Text
    award: Text | None = None


class Publication(BaseModel):
    """A related publication (DataCite ``relatedIdentifier`` IsCitedBy/IsDescribedBy)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    citation: LongText
    doi: Annotated[str, Field(max_length=1_000, pattern=r"^10\.\S+/\S+$")] | None = None  # 10.xxxx/yyyy
    url: Annotated[str, Field(max_length=2_000, pattern=r"^https?://\S+$")] | None = None


ShortList = Annotated[list[Text], Field(max_length=1_000)]
#: a file or glob of attached objects (``swc/*.swc``), relative to the sidecar's folder
Pattern = Annotated[str, Field(min_length=1, max_length=1_000, pattern=r"^[^/\x00][^\x00]*$")]
Patterns = Pattern | Annotated[list[Pattern], Field(min_length=1, max_length=100)]
Units = Literal["um", "voxel"]


class Sidecar(BaseModel):
    """The keys a sidecar may hold; all optional."""

    model_config = ConfigDict(extra="forbid", strict=True)

    title: Annotated[str, Field(max_length=500)] | None = None
    description: LongText | None = None
    species: Text | None = None
    technique: Text | None = None
    license: Text | None = None
    citation: LongText | None = None
    doi: Text | None = None
    contributors: ShortList | None = None
    # the 3D Microscopy Metadata Standards (3D-MMS) / DataCite fields a landing page shows
    affiliations: ShortList | None = None
    funders: Annotated[list[Text | Funder], Field(max_length=1_000)] | None = None
    publications: Annotated[list[LongText | Publication], Field(max_length=1_000)] | None = None
    specimen: LongText | None = None  # e.g. "P56 male C57BL/6J, iDISCO-cleared hemisphere"
    instrument: Text | None = None  # microscope make and model, objective
    keywords: ShortList | None = None
    voxel_size: Annotated[list[Micrometres], Field(min_length=3, max_length=3)] | None = None  # z, y, x
    channels: Annotated[list[ChannelName | ChannelMeta], Field(max_length=1_024)] | None = None
    kind: Literal["intensity", "labels"] | None = None
    public: bool | None = None  # ``false`` is the older spelling of ``access: "private"``
    access: Literal["public", "embargoed", "private"] | None = None
    embargo_until: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")] | None = None  # YYYY-MM-DD, UTC
    # this dataset's chunk layout, over the server's --chunks: "auto" or one [z, y, x] shape for every level
    chunks: Literal["auto"] | Annotated[list[ChunkEdge], Field(min_length=3, max_length=3)] | None = None
    # objects beside the image (catalog/attached.py): SWC neurons and cell tables, with their units
    neurons: Patterns | None = None
    neurons_units: Units | None = None
    cells: Patterns | None = None
    cells_units: Units | None = None
    extra: dict[str, Any] | None = None

    @field_validator("voxel_size", mode="before")
    @classmethod
    def _voxel_object(cls, value: Any) -> Any:
        """``{"z": .., "y": .., "x": ..}`` is accepted as well as ``[z, y, x]``."""
        if isinstance(value, dict):
            if set(value) != {"z", "y", "x"}:
                raise ValueError("an object voxel_size has exactly the keys z, y, x")
            return [value["z"], value["y"], value["x"]]
        return value

    @field_validator("embargo_until")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)  # ValueError for 2026-02-30
        return value

    @model_validator(mode="after")
    def _one_access(self) -> Sidecar:
        """Access keys the service could not honour exactly are errors, never a guess."""
        if self.public is not None and self.access is not None and self.public != (self.access == "public"):
            raise ValueError(f"public: {str(self.public).lower()} contradicts access: {self.access}")
        if self.embargo_until is not None and self.access != "embargoed":
            raise ValueError('embargo_until needs access: "embargoed"')
        return self

    @field_validator("extra")
    @classmethod
    def _shallow(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and depth(value) > MAX_DEPTH:
            raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
        return value


def depth(value: Any) -> int:
    """How deeply ``value`` nests lists and objects (a scalar is 0)."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def validate(data: Any) -> dict:
    """The sidecar as plain data with only the keys it sets; raises ValueError naming every problem."""
    try:
        model = Sidecar.model_validate(data)
    except ValidationError as exc:
        raise ValueError(_explain(exc)) from None
    out = model.model_dump(exclude_none=True)
    # a plain string is the short form of an object: records always hold the objects
    for key, field in (("channels", "name"), ("funders", "name"), ("publications", "citation")):
        if key in out:
            out[key] = [{field: item} if isinstance(item, str) else item for item in out[key]]
    for key in ("neurons", "cells"):  # one pattern is the short form of a list
        if isinstance(out.get(key), str):
            out[key] = [out[key]]
    return out


def _explain(exc: ValidationError) -> str:
    """One line per problem: ``where: what`` (never the rejected value itself: it may be huge)."""
    lines = []
    for error in exc.errors()[:10]:
        where = ".".join(str(p) for p in error["loc"]) or "sidecar"
        what = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        lines.append(f"{where}: {what}")
    if exc.error_count() > 10:
        lines.append(f"... and {exc.error_count() - 10} more")
    return "; ".join(lines)

"""A catalog record: what the service knows about one dataset."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from catalog.access import effective, strictest

DESCRIPTIVE = ("title", "description", "species", "technique", "license", "citation", "doi")
#: sidecar keys copied into the record as they are (the scanner sets title, voxel size, channels, access itself)
SIDECAR_FIELDS = ("description", "species", "technique", "license", "citation", "doi", "contributors", "kind",
                  "affiliations", "funders", "publications", "specimen", "instrument", "keywords", "chunks")


@dataclass
class Record:
    id: str
    source: str  # server-side path: private, never in a response
    reader: str
    format: str
    title: str
    shape: list[int]
    dtype: str
    voxel_size: list[float]  # z, y, x in micrometres
    channels: list[dict]
    native_levels: int
    byte_size: int
    description: str = ""
    species: str = ""
    technique: str = ""
    license: str = ""
    citation: str = ""
    doi: str = ""
    contributors: list[str] = field(default_factory=list)
    affiliations: list[str] = field(default_factory=list)
    funders: list[dict] = field(default_factory=list)  # {"name", "award"?}
    publications: list[dict] = field(default_factory=list)  # {"citation", "doi"?, "url"?}
    specimen: str = ""
    instrument: str = ""
    keywords: list[str] = field(default_factory=list)
    manifest: list[dict] = field(default_factory=list)  # name relative to the dataset, size, sha256
    public: bool = True  # kept for clients and old records: True exactly when ``access`` is public
    access: str = ""  # public | embargoed | private (catalog.access); "" takes it from ``public``
    embargo_until: str = ""  # YYYY-MM-DD: an embargoed dataset is public from that day on (UTC)
    kind: str = "intensity"  # or "labels": segmentations are downsampled by mode and served as such
    voxel_size_source: str = "default"
    chunks: str | list[int] = ""  # the sidecar's layout ("auto" or [z, y, x]); "" follows the server's --chunks
    added: str = ""  # when this content was registered: part of the version that keys caches and ETags
    stamp: str = ""  # digest of every source file's name, size, mtime and inode: changes when the content does
    extra: dict = field(default_factory=dict)
    #: objects beside the image (catalog/attached.py): {"kind", "id", "name" (relative to the dataset's folder),
    #: "units"} each; their files are in ``stamp``, so the version follows them
    attached: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        # an old record has only ``public``; an unknown word is private
        self.access = strictest(self.access) if self.access else ("public" if self.public else "private")
        self.public = self.access == "public"

    def access_now(self) -> str:
        """The access level that applies today (an embargo past its date is public)."""
        return effective(self.access, self.embargo_until)

    @property
    def version(self) -> str:
        """What keys every cache of this dataset: a digest of the whole record, whose ``stamp`` follows
        the source files, so it changes when the content or any metadata does (even within the second
        ``added`` resolves) and stays when a rescan finds nothing new."""
        text = json.dumps(self.fields(), sort_keys=True, separators=(",", ":"))
        return f"{self.id}@{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"

    def fields(self) -> dict:
        """The fields by name, not copied: they hold plain JSON values, so this dumps to the same text as
        ``asdict`` without deep-copying a 10,000-slice manifest (0.25 s per call; a dataset open made four)."""
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if not self.attached:  # a record without objects keeps the version it had before they existed
            del out["attached"]
        return out

    def public_dict(self) -> dict:
        """Everything but the server path."""
        out = asdict(self)
        out.pop("source")
        out["access"] = self.access_now()
        out["public"] = out["access"] == "public"
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Record:
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

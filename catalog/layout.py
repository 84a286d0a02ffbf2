"""The scan's layout rules: what a folder becomes (one stack of slices, its files one by one, or
refused) and why, so that no folder swallows what lies beside or under it.

A folder is one stack only when no sub-folder holds a dataset and ALL its slice files are single 2-D
images of one shape, sample type and sample count, as their headers say (every file is checked: a
sample of them let an RGB slice into a grey stack, served as its first sample). A folder where most
slices agree and some do not (or cannot be read) is a damaged stack: refused with the reason, never
split into one dataset per slice. A folder of images no majority of which agree is a collection:
each file is a dataset of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from readers.base import ReaderPlugin, UnsupportedSource
from readers.registry import claimants


@dataclass(frozen=True)
class Verdict:
    kind: str  # "stack" (one dataset), "parts" (its files one by one) or "refused"
    reason: str
    #: the folder's slice files (a refused folder's are not considered one by one either)
    slices: list[Path] = field(default_factory=list)
    #: the stack's slices were checked here: if the reader then cannot open it, refuse it, never split it
    checked: bool = False


def folder_verdict(folder: Path, datasets_below: bool) -> Verdict | None:
    """What ``folder`` becomes; None when no reader claims it as a stack (its files are datasets)."""
    plugins = claimants(folder)
    if not plugins:
        return None
    if datasets_below:
        return Verdict("parts", "sub-folders hold datasets, so the files beside them are datasets of their own")
    plugin = plugins[0]
    if not hasattr(plugin, "slice_signature"):  # a plugin without the header check: its claim decides
        return Verdict("stack", f"the {plugin.name} reader opens it as one dataset")
    return _slices_verdict(folder, plugin)


def _slices_verdict(folder: Path, plugin: ReaderPlugin) -> Verdict:
    files = plugin.slice_files(folder)
    groups: dict[object, list[Path]] = {}  # signature (or the error of an unreadable header) -> files
    for path in files:
        try:
            signature, single = plugin.slice_signature(path)
        except UnsupportedSource as exc:
            signature = exc
        else:
            if not single:
                return Verdict("parts", f"{path.name} is not a single 2-D image, so each file is a dataset of its own")
        groups.setdefault(signature if isinstance(signature, tuple) else str(signature), []).append(path)
    if len(groups) == 1 and isinstance(next(iter(groups)), tuple):
        (signature,) = groups
        return Verdict("stack", f"{len(files)} 2-D slices of {_text(signature)}", files, checked=True)
    common, members = max(groups.items(), key=lambda item: len(item[1]))
    if not isinstance(common, tuple) or len(members) * 2 <= len(files):
        # no geometry most files share: a collection of separate images, not a damaged stack
        return Verdict("parts", "its images differ in size, sample type or samples, so each file is a dataset "
                       "of its own")
    odd, what = next((paths[0], key) for key, paths in groups.items() if key != common)
    said = f"is {_text(what)}" if isinstance(what, tuple) else f"cannot be read ({what})"
    return Verdict("refused", f"{folder.name}: slice {odd.name} {said} but {members[0].name} is {_text(common)}; "
                   "the slices of a stack must share size, sample type and samples", files)


def _text(signature: tuple) -> str:
    height, width, kind, samples = signature
    return f"{width} x {height} {kind}, {samples} sample{'s' if samples != 1 else ''}"

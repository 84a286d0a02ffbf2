"""Hostile URLs over every route family, generated from a seed (the fuzz test and the soak bench).

Each URL starts from a valid one of its family (a view key spelt by the view itself, a catalog query, a
neuroglancer state, a viewer file, health) and has one token replaced by something a scanner or a broken
client sends: huge, signed, padded or non-ASCII numbers, long names, dots, empty segments, encodings.
Paths are ASCII (non-ASCII is percent-encoded), so every request is valid HTTP and reaches the app.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from urllib.parse import quote

from writers.view import View

HOSTILE_TOKENS = (
    "9" * 5000, "9" * 4301, "1" + "0" * 19, "9" * 19, "18446744073709551616", "-1", "-0", "+1", "01", "00",
    " 1", "1 ", "1_0", "1.0", "1e9", "0x10", "²", "①", "١", "٣", "０", "𝟘", "NaN", "inf", "", ".", "..",
    "%2e%2e", "%00", "a" * 300, "é" * 200, "~", "*", "null", "true", "[]", "{}", "0/0", "//", "\\", ";",
)
QUERY_NAMES = ("t", "limit", "offset", "q", "source", "species", "technique", "level", "c", "z", "y", "x",
               "format", "id")


def _encode(text: str) -> str:
    return quote(text, safe="/?=&%-_.~:+,;*@!$'()")


class FuzzUrls:
    """``generate(n)`` yields ``n`` URLs (paths with query) for the datasets ``dataset_ids``."""

    def __init__(self, views: Sequence[View], dataset_ids: Sequence[str], sample_keys: dict[str, list[str]],
                 viewer_files: Sequence[str] = ("index.html", "main.bundle.js"), seed: int = 12) -> None:
        """``sample_keys``: per view name, valid keys of some dataset (their tokens are what gets broken)."""
        self.views = list(views)
        self.ids = list(dataset_ids)
        self.keys = sample_keys
        self.viewer_files = list(viewer_files)
        self.rng = random.Random(seed)

    def generate(self, n: int) -> Iterator[str]:
        families = (self._view, self._view, self._view, self._catalog, self._neuroglancer, self._viewer,
                    self._health, self._cutout)
        for i in range(n):
            yield _encode(families[i % len(families)]())

    # --- the pieces ------------------------------------------------------------------------------
    def _token(self) -> str:
        return self.rng.choice(HOSTILE_TOKENS)

    def _id(self) -> str:
        return self.rng.choice([*self.ids, *self.ids, "nope-nope-nope", self._token()])

    def _break(self, path: str) -> str:
        """One segment (or one number inside it) replaced, or segments added or dropped."""
        parts = path.split("/")
        i = self.rng.randrange(len(parts))
        how = self.rng.randrange(5)
        if how == 0:
            parts[i] = self._token()
        elif how == 1:  # one number inside a segment, e.g. a precomputed bound
            digits = [j for j, ch in enumerate(parts[i]) if ch.isdigit()]
            if digits:
                j = self.rng.choice(digits)
                parts[i] = parts[i][:j] + self._token() + parts[i][j + 1:]
        elif how == 2:
            parts.insert(i, self._token())
        elif how == 3 and len(parts) > 1:
            del parts[i]
        else:
            parts.append(self._token())
        return "/".join(parts)

    def _query(self, names: Sequence[str]) -> str:
        chosen = self.rng.sample(list(names), k=self.rng.randint(1, min(3, len(names))))
        return "&".join(f"{name}={self._token() if self.rng.random() < 0.8 else '0'}" for name in chosen)

    def _view(self) -> str:
        view = self.rng.choice(self.views)
        keys = self.keys.get(view.name) or ["0"]
        key = self._break(self.rng.choice(keys)) if self.rng.random() < 0.9 else self.rng.choice(keys)
        segment = view.dataset_segment(self.rng.choice(self.ids)) if self.rng.random() < 0.85 else self._id()
        return f"{view.prefix}/{segment}/{key}"

    def _catalog(self) -> str:
        return self.rng.choice([
            f"/api/datasets?{self._query(('limit', 'offset', 'q', 'species', 'technique'))}",
            f"/api/query?{self._query(('limit', 'offset', 'q'))}",
            f"/api/datasets/{self._id()}",
            f"/api/retrieve?{self._query(('id', 'limit'))}",
            f"/api/datasets/{self._id()}/{self._token()}",
        ])

    def _neuroglancer(self) -> str:
        which = self.rng.choice(["/api/datasets/{}/neuroglancer", "/neuroglancer/{}"]).format(self._id())
        return f"{which}?{self._query(('t', 'source'))}"

    def _viewer(self) -> str:
        name = self.rng.choice(self.viewer_files)
        return self.rng.choice([f"/viewer/{self._token()}", f"/viewer/{self._token()}.js",
                                f"/viewer/{self._token()}.js.map", f"/viewer/v/{self._token()}/{name}",
                                f"/viewer/{name}?{self._query(QUERY_NAMES)}"])

    def _health(self) -> str:
        return self.rng.choice([f"/healthz?{self._query(QUERY_NAMES)}", f"/metrics/{self._token()}",
                                f"/healthz/{self._token()}", f"/{self._token()}"])

    def _cutout(self) -> str:
        box = {"z": "0:4", "y": "0:8", "x": "0:8", "level": "0", "t": "0", "c": "0", "format": "npy"}
        name = self.rng.choice(list(box))
        box[name] = self._token()
        query = "&".join(f"{k}={v}" for k, v in box.items())
        return f"/api/datasets/{self._id()}/cutout?{query}"


#: valid keys of the built-in views at level 0 (every dataset has them), the starting points of the breaks
SAMPLE_KEYS = {
    "zarr": [".zattrs", ".zgroup", ".zmetadata", "0/.zarray", "0/0/0/0/0/0", "1/0/0/0/0/1"],
    "zarr3": ["zarr.json", "0/zarr.json", "0/c/0/0/0/0/0", "1/c/0/0/0/1/0"],
    "precomputed": ["info", "t/0/info", "0/0-64_0-64_0-32", "1/0-32_0-32_0-16", "t/1/jpeg/0/0-64_0-64_0-32"],
}

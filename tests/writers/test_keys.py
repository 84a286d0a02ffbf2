"""Keys are an encode/decode pair: every key a view spells parses back to itself, and nothing but the
canonical spelling of a key is served."""

from __future__ import annotations

import pytest

from tests.writers.conftest import VIEWS, keys_of
from tests.writers.specs import SPECS
from writers.errors import MalformedKey, NoSuchKey
from writers.precomputed import Info, PrecomputedChunk
from writers.view import Chunk, Document

CASES = [(view, spec) for view in VIEWS for spec in SPECS]


@pytest.mark.parametrize("view,spec", CASES)
def test_parse_inverts_spell_at_every_level_and_grid_edge(view, spec):
    keys = keys_of(VIEWS[view], SPECS[spec])
    assert any(isinstance(k, Chunk) for k in keys) and any(isinstance(k, Document) for k in keys)
    spelt = [VIEWS[view].spell(k, SPECS[spec]) for k in keys]
    assert len(set(spelt)) == len(keys)  # one spelling per key
    for key, text in zip(keys, spelt, strict=True):
        assert VIEWS[view].parse(text, SPECS[spec]) == key, text


def test_spellings_are_the_documented_urls():
    u16, tc = SPECS["u16"], SPECS["tc"]
    assert VIEWS["zarr"].spell(Chunk(2, (0, 0, 0, 0, 1)), u16) == "2/0/0/0/0/1"
    assert VIEWS["zarr"].spell(Document(".zarray", 1), u16) == "1/.zarray"
    assert VIEWS["zarr3"].spell(Chunk(1, (0, 0, 1, 0, 1)), u16) == "1/c/0/0/1/0/1"
    assert VIEWS["zarr3"].spell(Document("zarr.json"), u16) == "zarr.json"
    pc = VIEWS["precomputed"]
    assert pc.spell(PrecomputedChunk(0, (0, 1, 2, 2)), u16) == "0/128-150_128-130_32-45"
    assert pc.spell(PrecomputedChunk(1, (1, 0, 0, 1), "jpeg"), tc) == "t/1/jpeg/1/32-45_0-32_0-16"
    assert pc.spell(Info(t=1), tc) == "t/1/info"
    # the default time point has a second name
    assert pc.parse("t/0/info", tc) == pc.parse("info", tc) == Info()


MALFORMED = {
    "zarr": ["0/0/0/0/0/00", "0/0/0/0/0/+1", "0/0/0/0/0/1 ", " 0/0/0/0/0/0", "0/0/0/0/0/²", "0/0/0/0/0/١",
             "00/0/0/0/0/0", "0.0.0.0.0.0", "0//0/0/0/0", "0/0/0/0/0/0/", "0/0/0/0/0", "0/c/0/0/0/0/0", "a", "",
             "0\\0\\0\\0\\0\\0", "0/0/0/0/0/-0"],
    "zarr3": ["0/c/0/0/0/0/00", "0/c/0/0/0/0/+1", "0/c/0/0/0/0/1 ", "0/c/0/0/0/0/²", "0/c/0/0/0/0/١",
              "0/0/0/0/0/0", "0/c.0.0.0.0.0", "0/c/0/0/0/0", "0/C/0/0/0/0/0", "01/c/0/0/0/0/0", "0/c//0/0/0/0", ""],
    "precomputed": ["0/0-64_0-64_0-31", "0/1-65_0-64_0-32", "0/00-64_0-64_0-32", "0/+0-64_0-64_0-32",
                    "0/0-64_0-64_0-32 ", "0/0-64_0-64_0-3²", "0/0-64_0-64_0-3٢", "0/0-64-0-64-0-32",
                    "0/0_64_0_64_0_32", "0/0-64_0-64", "01/0-64_0-64_0-32", "0/64-128_0-64_0-32/",
                    "t/01/info", "t/+1/info", "t/١/info", "t/x/info", "png/info", "", "0", "info/0"],
}
ABSENT = {
    "zarr": ["3/0/0/0/0/0", "0/1/0/0/0/0", "0/0/1/0/0/0", "0/0/0/2/0/0", "0/0/0/0/3/0", "0/0/0/0/0/3",
             "2/0/0/0/1/1", "zarr.json", "0/.zattrs", "3/.zarray", ".zarray", "labels"],
    "zarr3": ["3/c/0/0/0/0/0", "0/c/1/0/0/0/0", "0/c/0/0/2/0/0", "0/c/0/0/0/0/3", ".zattrs", "0/.zarray",
              "3/zarr.json", "OME"],
    "precomputed": ["3/0-64_0-64_0-32", "0/192-256_0-64_0-32", "0/0-64_192-256_0-32", "0/0-64_0-64_64-96",
                    "t/1/info", "t/1/0/0-64_0-64_0-32", "jpeg/info", "compressed_segmentation/info",
                    "provenance", "transform.json"],
}


@pytest.mark.parametrize("view,key", [(v, k) for v, keys in MALFORMED.items() for k in keys])
def test_non_canonical_spellings_are_malformed(view, key):
    with pytest.raises(MalformedKey):
        VIEWS[view].parse(key, SPECS["u16"])


@pytest.mark.parametrize("view,key", [(v, k) for v, keys in ABSENT.items() for k in keys])
def test_keys_outside_the_grid_name_nothing(view, key):
    with pytest.raises(NoSuchKey):
        VIEWS[view].parse(key, SPECS["u16"])


def test_zarr_v2_keys_are_canonical():
    """Moved from tests/test_units.py: a two-channel level with a y-x grid of 2 x 3."""
    from writers.spec import ChannelSpec, ImageSpec, LevelSpec

    level = LevelSpec((1, 2, 10, 100, 130), (1, 1, 10, 64, 64), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    spec = ImageSpec("x", "uint16", (level,), (ChannelSpec("a", "FFFFFF", (0, 1), (0, 1)),) * 2)
    zarr = VIEWS["zarr"]
    assert zarr.parse("0/0/1/0/1/2", spec) == Chunk(0, (0, 1, 0, 1, 2))
    assert zarr.parse("0/.zarray", spec) == Document(".zarray", 0)
    for bad in ("0/0/01/0/1/2", "0/0/0/0/1", "a", "0/0/0/0/0/x", "0/0/0/0/0/٣"):
        with pytest.raises(MalformedKey):
            zarr.parse(bad, spec)
    for absent in ("0/0/2/0/0/0", "1/.zarray", "0/0/0/0/2/0", "zarr.json", "0/.zattrs"):
        with pytest.raises(NoSuchKey):
            zarr.parse(absent, spec)


def test_precomputed_chunk_names_of_every_chunk_size():
    """A scale offering flat (1, 64, 128) and deeper (16, 48, 48) chunks: a name is a chunk of the first
    chunk size it fits exactly, and must fit one of them."""
    pc, flat = VIEWS["precomputed"], SPECS["flat"]
    assert pc.parse("0/0-128_64-128_3-4", flat) == PrecomputedChunk(0, (0, 3, 1, 0))
    assert pc.parse("0/48-96_96-130_32-45", flat) == PrecomputedChunk(0, (0, 2, 2, 1), None, 1)
    assert pc.spell(PrecomputedChunk(0, (0, 2, 2, 1), None, 1), flat) == "0/48-96_96-130_32-45"
    assert pc.parse("1/0-48_0-48_0-16", flat) == PrecomputedChunk(1, (0, 0, 0, 0), None, 1)
    for misfit in ("0/0-128_0-64_0-2", "0/0-48_0-64_0-1", "0/0-48_0-48_0-1", "0/48-96_0-48_16-31"):
        with pytest.raises(MalformedKey, match="any"):
            pc.parse(misfit, flat)
    assert pc.parse("0/0-48_0-48_16-32", flat).layout == 1
    with pytest.raises(NoSuchKey):
        pc.parse("0/0-48_0-48_45-46", flat)

"""JPEG2000 reader: conformance on generated and real files, wavelet levels, fallbacks, errors."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import imagecodecs
import numpy as np
import pytest

from readers.base import SourceError, UnsupportedSource
from readers.jpeg2000 import PLUGIN, Jpeg2000Plugin
from readers.jpeg2000.header import read_header
from readers.jpeg2000.openjpeg import OpenJPEGError, decode_area
from readers.resources import ReaderResources
from readers.slices import natural_key
from readers.testing import ReaderTests, open_fds, read_all
from tests.helpers import real_data
from tests.require import module, unavailable

glymur = module("glymur")

REAL = real_data()
REAL_JP2 = REAL / "jp2" if REAL else None
REAL_FILES = sorted(p.name for p in REAL_JP2.glob("*") if p.is_file()) if REAL_JP2 and REAL_JP2.is_dir() else []
BAD_FILES = sorted(p.name for p in (REAL_JP2 / "bad").glob("*")) if REAL_JP2 and REAL_JP2.is_dir() else []
MISSING = "(real data not present)"


def quiet(fn):
    """glymur warns about harmless non-conformance (e.g. colr box methods); keep test output clean."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn(*args, **kwargs)

    return wrapper


# --------------------------------------------------------------------------- generated sources


def textured(shape: tuple[int, ...], dtype, seed: int, lo: int = 0, hi: int = 60000) -> np.ndarray:
    """Gradients plus noise: exercises every bit and makes misplaced tiles or slices obvious."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = (yy * 37 + xx * 11 + seed * 1000) % (hi - lo) + lo
    if len(shape) == 3:
        base = np.stack([base + 97 * k for k in range(shape[2])], axis=-1)
    noise = rng.integers(0, max(2, (hi - lo) // 64), shape)
    return np.clip(base + noise, lo, hi - 1).astype(dtype)


def encode_imagecodecs(path: Path, a: np.ndarray, resolutions: int = 4, **kw) -> None:
    codec = "j2k" if path.suffix in (".j2k", ".j2c") else "jp2"
    path.write_bytes(
        imagecodecs.jpeg2k_encode(a, level=0, reversible=True, resolutions=resolutions, codecformat=codec, **kw)
    )


@quiet
def encode_glymur(path: Path, a: np.ndarray, **kw) -> None:
    kw.setdefault("numres", 4)
    glymur.Jp2k(path, data=a, **kw)


def as_tczyx(planes: list[np.ndarray]) -> np.ndarray:
    """(z, y, x[, c]) slices -> (t, c, z, y, x)."""
    stack = np.stack([p if p.ndim == 3 else p[..., None] for p in planes])  # z, y, x, c
    return stack.transpose(3, 0, 1, 2)[None]


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> dict[str, tuple[Path, np.ndarray]]:
    root = tmp_path_factory.mktemp("jp2")
    out: dict[str, tuple[Path, np.ndarray]] = {}

    # 5 odd-sized uint16 slices, single tile; numbered so that text order (z10 < z2) is wrong
    folder = root / "stack16_untiled"
    folder.mkdir()
    planes = []
    for n in (1, 2, 3, 9, 10):
        planes.append(textured((301, 457), np.uint16, n))
        encode_imagecodecs(folder / f"slice_z{n}.j2k", planes[-1])
    (folder / "dataset.json").write_text(json.dumps({"title": "not a slice"}))
    (folder / "._slice_z1.j2k").write_bytes(b"resource fork, not an image")
    out["stack16_untiled"] = (folder, as_tczyx(planes))

    # the same geometry in 128x128 tiles (imagecodecs cannot write tiles; glymur can)
    folder = root / "stack16_tiled"
    folder.mkdir()
    planes = []
    for n in range(1, 6):
        planes.append(textured((301, 457), np.uint16, 10 + n))
        encode_glymur(folder / f"z{n}.jp2", planes[-1], tilesize=(128, 128))
    out["stack16_tiled"] = (folder, as_tczyx(planes))

    rgb = textured((203, 157, 3), np.uint8, 3, hi=256)
    encode_imagecodecs(root / "rgb8.jp2", rgb)
    out["rgb8"] = (root / "rgb8.jp2", as_tczyx([rgb]))

    signed = textured((131, 77), np.int16, 4, lo=-3000, hi=3000)
    encode_imagecodecs(root / "int16.j2k", signed)
    out["int16"] = (root / "int16.j2k", as_tczyx([signed]))

    twelve = textured((150, 170), np.uint16, 5, hi=4096)
    encode_imagecodecs(root / "uint12.j2c", twelve, bitspersample=12)
    out["uint12"] = (root / "uint12.j2c", as_tczyx([twelve]))

    # a reference grid that does not start at 0 (SIZ XOsiz/YOsiz): reduced sizes are not ceil(n/2^r)
    shifted = textured((301, 457), np.uint16, 6)
    encode_glymur(root / "origin.jp2", shifted, grid_offset=(5, 3), tilesize=(64, 64))
    out["origin"] = (root / "origin.jp2", as_tczyx([shifted]))

    # High-Throughput JPEG2000 (Part 15), whose sub-tile regions OpenJPEG 2.5.0 decodes wrongly
    for name, tile in (("htj2k", None), ("htj2k_tiled", (128, 128))):
        ht = textured((301, 457), np.uint16, 7)
        (root / f"{name}.j2c").write_bytes(imagecodecs.htj2k_encode(ht, reversible=True, resolutions=4, tile=tile))
        out[name] = (root / f"{name}.j2c", as_tczyx([ht]))
    return out


GENERATED = ["stack16_untiled", "stack16_tiled", "rgb8", "int16", "uint12", "origin", "htj2k", "htj2k_tiled"]


@functools.cache
@quiet
def glymur_full(path: Path) -> np.ndarray:
    return glymur.Jp2k(path)[:]


def real_file(name: str) -> Path:
    if name == MISSING:
        unavailable("shared", f"no real data at {REAL}")
    return REAL_JP2 / name


# --------------------------------------------------------------------------- conformance


class TestJpeg2000Conformance(ReaderTests):
    reader_name = "jpeg2000"

    @pytest.fixture(params=GENERATED + [f"real:{n}" for n in REAL_FILES or [MISSING]])
    def case(self, request, generated):
        if not request.param.startswith("real:"):
            return generated[request.param]
        path = real_file(request.param[5:])
        return path, as_tczyx([glymur_full(path)])


# --------------------------------------------------------------------------- native levels


def open_(path: Path, backend: str | None = "glymur"):
    return Jpeg2000Plugin(backend).open(path)


def test_levels_follow_the_ceil_rule_and_stop_at_64(tmp_path):
    a = textured((1001, 999), np.uint16, 7)
    encode_imagecodecs(tmp_path / "a.j2k", a, resolutions=6)  # 5 DWT levels
    with open_(tmp_path / "a.j2k") as vol:
        assert vol.downsampling == "wavelet"
        assert vol.metadata["dwt_levels"] == 5
        # r=4 is 63x63 (both <= 64), so r=5 (32x32) is not added
        assert [lv.shape for lv in vol.levels] == [
            (1, 1, 1, 1001, 999),
            (1, 1, 1, 501, 500),
            (1, 1, 1, 251, 250),
            (1, 1, 1, 126, 125),
            (1, 1, 1, 63, 63),
        ]
        assert [lv.voxel_size for lv in vol.levels] == [(1.0, 2.0**r, 2.0**r) for r in range(5)]
        assert [lv.read_chunks for lv in vol.levels] == [
            (1, 512, 512),
            (1, 501, 500),
            (1, 251, 250),
            (1, 126, 125),
            (1, 63, 63),
        ]

    # fewer DWT levels than the size allows: levels stop at R
    encode_imagecodecs(tmp_path / "b.j2k", a, resolutions=3)
    with open_(tmp_path / "b.j2k") as vol:
        assert [lv.shape[3:] for lv in vol.levels] == [(1001, 999), (501, 500), (251, 250)]

    # tiles: read_chunks are the tile at each reduction
    encode_glymur(tmp_path / "c.jp2", a, tilesize=(256, 320), numres=6)
    with open_(tmp_path / "c.jp2") as vol:
        assert [lv.read_chunks for lv in vol.levels] == [
            (1, 256, 320),
            (1, 128, 160),
            (1, 64, 80),
            (1, 32, 40),
            (1, 16, 20),
        ]


@quiet
def check_levels_match_glymur(path: Path, samples: int = 12) -> None:
    """Every level's full read equals glymur's reduced decode of each slice, and random regions
    read at that level equal the same crop of it (region + reduction is exactly a crop)."""
    rng = np.random.default_rng(1)
    with open_(path) as vol:
        files = vol.files
        for level in vol.levels:
            # read_bands: glymur's j[::s, ::s] crops wrongly when the grid origin is not (0, 0)
            reduced = [glymur.Jp2k(f).read_bands(rlevel=level.r) for f in files]
            expected = as_tczyx(reduced)[0]
            _, nc, nz, ny, nx = level.shape
            assert expected.shape == (nc, nz, ny, nx)
            for c in range(nc):
                np.testing.assert_array_equal(read_all(level, 0, c), expected[c])
            for _ in range(samples):
                z0, y0, x0 = (int(rng.integers(0, n)) for n in (nz, ny, nx))
                z1, y1, x1 = (int(rng.integers(a + 1, n + 1)) for a, n in ((z0, nz), (y0, ny), (x0, nx)))
                c = int(rng.integers(0, nc))
                got = level.read(0, c, slice(z0, z1), slice(y0, y1), slice(x0, x1))
                np.testing.assert_array_equal(got, expected[c, z0:z1, y0:y1, x0:x1])
            # the last row/column of odd sizes is where an off-by-one would show
            got = level.read(0, 0, slice(0, 1), slice(ny - 1, ny), slice(nx - 1, nx))
            np.testing.assert_array_equal(got, expected[0, 0:1, ny - 1 :, nx - 1 :])


@pytest.mark.parametrize("name", ["stack16_untiled", "stack16_tiled", "rgb8", "origin", "htj2k", "htj2k_tiled"])
def test_levels_equal_glymur_reduced_decode(generated, name):
    check_levels_match_glymur(generated[name][0])


@pytest.mark.parametrize("name", ["p1_04.j2k", "balloon_aware.jp2", "file9.jp2", "pacs.ge.j2k", "byte.jph"])
def test_real_levels_equal_glymur_reduced_decode(name):
    path = real_file(name if REAL_FILES else MISSING)
    check_levels_match_glymur(path, samples=4)


def smooth_image(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(float)
    a = np.zeros(shape)
    for _ in range(12):
        cy, cx, sigma = rng.uniform(0, shape[0]), rng.uniform(0, shape[1]), rng.uniform(40, 150)
        a += rng.uniform(0.3, 1) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma * sigma))
    return (a / a.max() * 50000 + 2000).astype(np.uint16)


def block_mean(a: np.ndarray, s: int) -> np.ndarray:
    """Mean of each s x s block, partial blocks at the far edges averaged over what they hold."""
    ys, xs = np.arange(0, a.shape[0], s), np.arange(0, a.shape[1], s)
    sums = np.add.reduceat(np.add.reduceat(a.astype(float), ys, axis=0), xs, axis=1)
    counts = np.outer(np.diff(np.append(ys, a.shape[0])), np.diff(np.append(xs, a.shape[1])))
    return sums / counts


def centred_box(a: np.ndarray, s: int) -> np.ndarray:
    """Mean over a box of width s centred on pixel k*s (where the LL sample k sits)."""
    k = np.ones(s + 1)
    k[0] = k[-1] = 0.5
    k /= k.sum()
    p = np.pad(a.astype(float), s // 2, mode="edge")
    p = np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 0, p)
    p = np.apply_along_axis(lambda v: np.convolve(v, k, "valid"), 1, p)
    return p[::s, ::s]


@pytest.mark.parametrize("irreversible", [False, True], ids=["5-3", "9-7"])
def test_wavelet_levels_are_close_to_block_means(tmp_path, irreversible):
    """Measured on this smooth 1001x999 image, mean |LL - block mean| / range: 0.09% (r=1), 0.26%,
    0.60%, 1.28% (r=4, the coarsest native level); same for 5/3 and 9/7. The error doubles per level
    because the LL sample k is centred on level-0 pixel k*2^r, not on the block centre
    k*2^r + (2^r-1)/2: against a box centred on k*2^r it is <= 0.08% at every native level."""
    a = smooth_image((1001, 999))
    encode_glymur(tmp_path / "s.j2k", a, numres=6, irreversible=irreversible)
    dynamic_range = float(a.max()) - float(a.min())
    with open_(tmp_path / "s.j2k") as vol:
        level0 = read_all(vol.levels[0], 0, 0)[0].astype(float)
        assert len(vol.levels) == 5
        for level in vol.levels[1:]:
            s = 2**level.r
            got = read_all(level, 0, 0)[0].astype(float)
            assert np.abs(got - block_mean(level0, s)).mean() / dynamic_range < 0.02
            assert np.abs(got - centred_box(level0, s)).mean() / dynamic_range < 0.001


# --------------------------------------------------------------------------- errors


def refused_or_raises(path: Path) -> str:
    """UnsupportedSource at open, or SourceError on every read: never an array."""
    try:
        vol = PLUGIN.open(path)
    except UnsupportedSource as exc:
        return str(exc)
    with vol:
        for level in vol.levels:
            with pytest.raises(SourceError) as info:
                read_all(level, 0, 0)
    return str(info.value)


@pytest.mark.parametrize("name", BAD_FILES or [MISSING])
@quiet
def test_bad_real_files_are_refused(name):
    path = real_file(name if name == MISSING else f"bad/{name}")
    message = refused_or_raises(path)
    assert path.name in message and str(path.parent) not in message


@quiet
def test_corrupt_generated_files_are_refused(tmp_path, generated):
    tiled = next(generated["stack16_tiled"][0].glob("z1.jp2")).read_bytes()
    cases = {
        "half.jp2": tiled[: len(tiled) // 2],
        "header_only.jp2": tiled[:400],
        "empty.jp2": b"",
        "garbage.j2k": b"\xff\x4f\xff\x51" + os.urandom(300),
        "signature_only.jp2": tiled[:12],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        message = refused_or_raises(tmp_path / name)
        assert name in message and str(tmp_path) not in message, message


@quiet
def test_a_truncated_middle_slice_raises_source_error_naming_it(tmp_path, generated):
    src, expected = generated["stack16_tiled"]
    for f in src.glob("*.jp2"):
        data = f.read_bytes()
        (tmp_path / f.name).write_bytes(data[: len(data) // 3] if f.name == "z3.jp2" else data)
    with PLUGIN.open(tmp_path) as vol:  # open probes the first and last slice only
        level = vol.levels[0]
        np.testing.assert_array_equal(read_all_z(level, 0, 2), expected[0, 0, 0:2])
        with pytest.raises(SourceError, match="z3.jp2") as info:
            level.read(0, 0, slice(2, 3), slice(0, 10), slice(0, 10))
        assert str(tmp_path) not in str(info.value)


def read_all_z(level, z0: int, z1: int) -> np.ndarray:
    _, _, _, ny, nx = level.shape
    return level.read(0, 0, slice(z0, z1), slice(0, ny), slice(0, nx))


@pytest.mark.parametrize(
    "odd", [("size", (301, 456), np.uint16), ("dtype", (301, 457), np.uint8), ("rgb", (301, 457, 3), np.uint16)]
)
def test_slices_that_disagree_are_refused_by_name(tmp_path, odd):
    _, shape, dtype = odd
    for n in range(1, 4):
        encode_imagecodecs(tmp_path / f"s{n}.j2k", textured((301, 457), np.uint16, n))
    encode_imagecodecs(tmp_path / "s10.j2k", textured(shape, dtype, 4, hi=256))
    with pytest.raises(UnsupportedSource, match="s10.j2k") as info:
        PLUGIN.open(tmp_path)
    assert str(tmp_path) not in str(info.value)


# --------------------------------------------------------------------------- sniffing, order, channels


def test_claims(tmp_path, generated):
    assert PLUGIN.claims(generated["stack16_untiled"][0])  # slices plus dataset.json
    assert PLUGIN.claims(generated["rgb8"][0])
    (tmp_path / "dataset.json").write_text("{}")
    assert not PLUGIN.claims(tmp_path)  # no slices
    (tmp_path / "fake.jp2").write_bytes(b"II*\x00" + bytes(100))  # a TIFF with a jp2 name
    assert not PLUGIN.claims(tmp_path / "fake.jp2")
    assert not PLUGIN.claims(tmp_path)
    other = tmp_path / "x.tif"
    other.write_bytes(b"II*\x00" + bytes(100))
    assert not PLUGIN.claims(other)
    assert PLUGIN.name == "jpeg2000" and ".jph" in PLUGIN.extensions


def test_natural_order():
    names = ["z10.jp2", "z2.jp2", "z1.jp2", "Z3.jp2", "z010b.jp2"]
    assert sorted(names, key=natural_key) == ["z1.jp2", "z2.jp2", "Z3.jp2", "z10.jp2", "z010b.jp2"]


def test_channels(generated):
    with PLUGIN.open(generated["rgb8"][0]) as vol:
        assert [(c.name, c.color, c.window) for c in vol.channels] == [
            ("red", "FF0000", None),
            ("green", "00FF00", None),
            ("blue", "0000FF", None),
        ]
    with PLUGIN.open(generated["int16"][0]) as vol:
        assert len(vol.channels) == 1 and vol.dtype == np.int16


# --------------------------------------------------------------------------- voxel size


def test_voxel_size_from_resc_box_of_text_gbr():
    path = real_file("text_GBR.jp2" if REAL_FILES else MISSING)
    with quiet(PLUGIN.open)(path) as vol:
        um = 1e6 / 2834.0  # 2834 pixels per metre
        assert vol.voxel_size == pytest.approx((um, um, um))
        assert vol.levels[1].voxel_size == pytest.approx((um, 2 * um, 2 * um))
        assert "resc" in vol.metadata["voxel_size_source"]


def test_voxel_size_from_generated_resc_and_default(tmp_path, generated):
    encode_glymur(tmp_path / "r.jp2", textured((100, 120), np.uint16, 1), capture_resolution=(2000, 4000))
    with PLUGIN.open(tmp_path / "r.jp2") as vol:  # vertical 2000 px/m, horizontal 4000 px/m
        assert vol.voxel_size == pytest.approx((250.0, 500.0, 250.0))
        assert "resc" in vol.metadata["voxel_size_source"]
    with PLUGIN.open(generated["int16"][0]) as vol:
        assert vol.voxel_size == (1.0, 1.0, 1.0)
        assert vol.metadata["voxel_size_source"].startswith("default")


# --------------------------------------------------------------------------- imagecodecs fallback


def fallback_cases() -> list[str]:
    return GENERATED + [f"real:{n}" for n in REAL_FILES or [MISSING]]


@pytest.mark.parametrize("name", fallback_cases())
@quiet
def test_imagecodecs_fallback_gives_identical_level0(monkeypatch, generated, name):
    path = real_file(name[5:]) if name.startswith("real:") else generated[name][0]
    with PLUGIN.open(path) as ref:
        expected = np.stack([read_all(ref.levels[0], 0, c) for c in range(ref.shape[1])])
        reversible = ref.metadata["reversible"]
    with PLUGIN.open(path, ReaderResources.create(jp2_backend="imagecodecs")) as vol:
        assert vol.metadata["decoder"] == "imagecodecs"
        assert len(vol.levels) == 1  # imagecodecs cannot give the LL bands
        assert vol.shape == ref.shape and vol.dtype == ref.dtype
        got = np.stack([read_all(vol.levels[0], 0, c) for c in range(vol.shape[1])])
    if reversible:
        np.testing.assert_array_equal(got, expected)
    else:
        # 9/7 rounding differs by at most 1 between the system OpenJPEG 2.5.0 (glymur) and the
        # 2.5.4 bundled in imagecodecs (seen on a few pixels of the balloon files)
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1


def test_auto_uses_imagecodecs_without_the_system_library(monkeypatch, generated):
    from glymur.lib import openjp2

    monkeypatch.setattr(openjp2, "OPENJP2", None)
    path, expected = generated["stack16_tiled"]
    with Jpeg2000Plugin().open(path) as vol:
        assert vol.metadata["decoder"] == "imagecodecs" and len(vol.levels) == 1
        np.testing.assert_array_equal(read_all(vol.levels[0], 0, 0), expected[0, 0])
    with Jpeg2000Plugin("glymur").open(path) as vol:  # asked for but unusable: falls back
        assert vol.metadata["decoder"] == "imagecodecs"


def test_without_glymur_at_all(monkeypatch, tmp_path, generated):
    from readers.jpeg2000 import backend

    monkeypatch.setattr(backend, "glymur_module", lambda: None)
    path, expected = generated["stack16_untiled"]
    with Jpeg2000Plugin().open(path) as vol:
        assert vol.shape == expected.shape and len(vol.levels) == 1
        np.testing.assert_array_equal(read_all(vol.levels[0], 0, 0), expected[0, 0])
    # without a header parser a disagreeing slice is caught when it is decoded
    for n in (1, 2):
        encode_imagecodecs(tmp_path / f"s{n}.j2k", textured((50, 60), np.uint16, n))
    encode_imagecodecs(tmp_path / "s3.j2k", textured((50, 61), np.uint16, 3))
    with Jpeg2000Plugin().open(tmp_path) as vol:
        with pytest.raises(SourceError, match="s3.j2k"):
            read_all(vol.levels[0], 0, 0)


# --------------------------------------------------------------------------- handles, threads, imports


def test_no_file_stays_open_and_close_discards_cached_regions(generated):
    resources = ReaderResources.create()
    vol = PLUGIN.open(generated["stack16_tiled"][0], resources)
    before = open_fds()
    read_all(vol.levels[1], 0, 0)
    assert resources.regions.stats()["entries"] >= 5  # one reduced slice each (and the probes at open)
    assert len(resources.slices) == len(resources.handles) == 0 and open_fds() <= before
    vol.close()
    assert resources.regions.stats()["entries"] == 0


@pytest.mark.parametrize("name", ["stack16_tiled", "rgb8", "htj2k_tiled"])
def test_concurrent_reads_are_correct(generated, name):
    """Many threads reading one file at once (the service's thread pool) get exactly the right voxels."""
    path, _ = generated[name]
    rng = np.random.default_rng(3)
    with PLUGIN.open(path) as vol:
        nc = vol.shape[1]
        refs = [np.stack([read_all(level, 0, c) for c in range(nc)]) for level in vol.levels]
        jobs = []
        for _ in range(200):
            r, c = int(rng.integers(0, len(vol.levels))), int(rng.integers(0, nc))
            _, _, nz, ny, nx = vol.levels[r].shape
            z0, y0, x0 = (int(rng.integers(0, n)) for n in (nz, ny, nx))
            jobs.append((r, c, z0, y0, x0, min(nz, z0 + 2), min(ny, y0 + 70), min(nx, x0 + 90)))

        def read(job):
            r, c, z0, y0, x0, z1, y1, x1 = job
            return vol.levels[r].read(0, c, slice(z0, z1), slice(y0, y1), slice(x0, x1))

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(read, jobs))
    for (r, c, z0, y0, x0, z1, y1, x1), got in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(got, refs[r][c, z0:z1, y0:y1, x0:x1])


def test_region_outside_a_coarse_level_is_refused(generated):
    with PLUGIN.open(generated["stack16_tiled"][0]) as vol:
        level = vol.levels[-1]
        _, _, nz, ny, nx = level.shape
        with pytest.raises(IndexError):
            level.read(0, 0, slice(0, 1), slice(0, ny + 1), slice(0, 1))
        with pytest.raises(IndexError):
            level.read(0, 1, slice(0, 1), slice(0, 1), slice(0, 1))


def test_plugin_import_is_cheap():
    code = (
        "import sys, readers.jpeg2000 as m; assert m.PLUGIN.name == 'jpeg2000'; "
        "print(sorted(k for k in sys.modules if k.split('.')[0] in ('glymur', 'imagecodecs')))"
    )
    repo = Path(__file__).parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=repo)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- the OpenJPEG driver


@pytest.mark.parametrize("name", ["stack16_tiled", "rgb8", "int16", "uint12", "origin"])
def test_the_small_buffer_driver_decodes_what_glymur_decodes(generated, name):
    """Regions (tile-crossing, reduced) through readers/jpeg2000/openjpeg.py equal glymur's own decode of the
    same area: JP2 and raw codestreams, RGB, signed, 12-bit, a shifted reference grid."""
    path = generated[name][0]
    path = sorted(path.iterdir())[0] if path.is_dir() else path
    head = read_header(path)
    jp2 = glymur.Jp2k(path)
    for r in range(min(head.dwt_levels, 2) + 1):
        area = head.grid_area(r, 1, 40, 2, 70)
        s = 1 << r
        want = quiet(lambda a=area, s=s: jp2[a[0] : a[2] : s, a[1] : a[3] : s])()
        got = decode_area(path, head.codestream, r, area, head.dtype)
        np.testing.assert_array_equal(got, want.reshape(got.shape), f"{name} r={r}")


def test_the_driver_reports_openjpegs_own_message_for_a_damaged_file(tmp_path, generated):
    path = tmp_path / "cut.jp2"
    whole = generated["rgb8"][0].read_bytes()
    path.write_bytes(whole[: len(whole) // 3])
    head = read_header(generated["rgb8"][0])
    with pytest.raises(OpenJPEGError) as caught:
        decode_area(path, False, 0, (0, 0, head.height, head.width), head.dtype)
    assert str(caught.value) not in ("", "decoding failed")  # OpenJPEG said why

"""The Level/Volume contract itself: geometry validation, the public read methods around the hooks,
how failures are sorted, voxel-size overrides, closing, and the server's answer to a reader bug."""

from __future__ import annotations

import errno
import json
import logging

import numpy as np
import pytest

from readers.base import (
    Channel,
    InvalidGeometry,
    Level,
    LevelGeometry,
    OutsideVolume,
    ReaderBug,
    ReaderError,
    SourceError,
    Volume,
)
from transformer.server.errors import classify
from transformer.server.http import error_response

DATA = np.arange(4 * 10 * 12, dtype=np.uint16).reshape(4, 10, 12)


def geometry(**changes) -> LevelGeometry:
    fields = {"shape": (1, 1, *DATA.shape), "dtype": DATA.dtype, "voxel_size": (2.0, 0.5, 0.5),
              "read_chunks": (1, 10, 12)}
    return LevelGeometry(**{**fields, **changes})


class Memory(Level):
    """A complete reader level over an array; ``fail`` makes its hook raise, ``answer`` replaces its result."""

    def __init__(self, geo: LevelGeometry | None = None, fail: BaseException | None = None, answer=None) -> None:
        super().__init__(geo or geometry())
        self.fail, self.answer, self.calls = fail, answer, []

    def _read(self, t, c, z, y, x):
        self.calls.append((t, c, z, y, x))
        if self.fail is not None:
            raise self.fail
        return DATA[z, y, x].copy() if self.answer is None else self.answer


class Strided(Memory):
    def _read_sampled(self, t, c, z, y, x):
        return DATA[z, y, x].copy()


# --- geometry -----------------------------------------------------------------------------------


def test_geometry_normalises_numbers_and_dtype():
    geo = LevelGeometry(np.array([1, 2, 3, 4, 5]), "<u2", np.array([1, 2, 3]), (np.int64(1), 2, 5))
    assert geo.shape == (1, 2, 3, 4, 5) and all(type(n) is int for n in geo.shape)
    assert geo.dtype == np.dtype("uint16")
    assert geo.voxel_size == (1.0, 2.0, 3.0)
    assert geo.read_chunks == (1, 2, 5)
    assert geo.cost == geo.voxel_bytes == 3 * 4 * 5 * 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"shape": (4, 10, 12)}, "shape must be 5 values"),
    ({"shape": (1, 1, 0, 10, 12)}, "shape must be positive"),
    ({"shape": (1, 1, 4.5, 10, 12)}, "shape must be an integer"),
    ({"shape": (1, True, 4, 10, 12)}, "shape must be an integer"),
    ({"dtype": None}, "dtype is missing"),
    ({"dtype": "U4"}, "not a numeric dtype"),
    ({"dtype": ">u2"}, "native byte order"),
    ({"voxel_size": (1.0, 0.0, 1.0)}, "positive finite"),
    ({"voxel_size": (1.0, float("nan"), 1.0)}, "positive finite"),
    ({"voxel_size": (1.0, 1.0)}, "voxel_size must be 3 values"),
    ({"read_chunks": (1, 11, 12)}, "exceed"),
    ({"read_chunks": (1, 0, 12)}, "read_chunks must be positive"),
    ({"origin": (0.0, float("inf"), 0.0)}, "finite"),
    ({"read_cost": -1}, "negative"),
])
def test_impossible_geometry_fails_when_the_level_is_made(changes, message):
    with pytest.raises(InvalidGeometry, match=message):
        Memory(geometry(**changes))


def test_read_cost_is_never_below_the_voxel_bytes():
    assert Memory(geometry(read_cost=5)).read_cost() == DATA.nbytes
    assert Memory(geometry(read_cost=5 << 40)).read_cost() == 5 << 40


def test_a_level_that_skips_the_base_init_is_named_as_the_bug():
    class Forgetful(Level):
        def __init__(self) -> None:
            pass

        def _read(self, t, c, z, y, x):
            return DATA[z, y, x]

    with pytest.raises(ReaderBug, match=r"Forgetful.__init__ did not call Level.__init__"):
        _ = Forgetful().shape


def test_geometry_cannot_be_set_as_loose_attributes():
    class OldStyle(Level):
        def __init__(self) -> None:
            self.shape = (1, 1, 1, 1, 1)

        def _read(self, t, c, z, y, x):
            return DATA[z, y, x]

    with pytest.raises(AttributeError):
        OldStyle()


# --- read and read_sampled ----------------------------------------------------------------------


def test_read_returns_the_region_through_the_hook():
    level = Memory()
    got = level.read(0, 0, slice(1, 3), slice(2, 9), slice(0, 12))
    np.testing.assert_array_equal(got, DATA[1:3, 2:9, 0:12])
    assert level.calls == [(0, 0, slice(1, 3, 1), slice(2, 9, 1), slice(0, 12, 1))]  # explicit steps


@pytest.mark.parametrize(("t", "c", "region"), [
    (1, 0, (slice(0, 1), slice(0, 1), slice(0, 1))),
    (0, -1, (slice(0, 1), slice(0, 1), slice(0, 1))),
    (0, 0, (slice(0, 5), slice(0, 1), slice(0, 1))),
    (0, 0, (slice(2, 2), slice(0, 1), slice(0, 1))),
    (0, 0, (slice(None, 2), slice(0, 1), slice(0, 1))),
    (0, 0, (slice(0, 2), slice(-1, 1), slice(0, 1))),
    (0, 0, (slice(0, 2), slice(0, 1), slice(0, 13))),
])
def test_regions_outside_the_level_never_reach_the_hook(t, c, region):
    level = Memory()
    with pytest.raises(OutsideVolume):
        level.read(t, c, *region)
    with pytest.raises(OutsideVolume):
        level.read_sampled(t, c, *region)
    assert level.calls == []


def test_read_takes_step_one_and_read_sampled_a_positive_step():
    level = Memory()
    with pytest.raises(OutsideVolume, match="step 2"):
        level.read(0, 0, slice(0, 4, 2), slice(0, 1), slice(0, 1))
    with pytest.raises(OutsideVolume, match="step 0"):
        level.read_sampled(0, 0, slice(0, 4, 0), slice(0, 1), slice(0, 1))
    assert level.calls == []


@pytest.mark.parametrize("steps", [(1, 1, 1), (2, 3, 5), (3, 1, 4), (1, 9, 11)])
def test_the_default_sampled_read_equals_a_strided_full_read(steps):
    level = Memory()
    region = tuple(slice(1, n, s) for n, s in zip(DATA.shape, steps, strict=True))
    np.testing.assert_array_equal(level.read_sampled(0, 0, *region), DATA[region])
    assert not level.cheap_sampled_reads
    assert Strided().cheap_sampled_reads


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [AttributeError("'NoneType' object has no attribute 'x'"), TypeError("bad"),
                                   NameError("name 'y' is not defined"), AssertionError(), NotImplementedError(),
                                   ImportError("no codec module"), OutsideVolume("confused hook")])
def test_a_programming_error_in_a_hook_is_a_reader_bug_not_a_damaged_source(error):
    with pytest.raises(ReaderBug, match=f"Memory._read failed: {type(error).__name__}") as info:
        Memory(fail=error).read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
    assert not isinstance(info.value, ReaderError)
    assert info.value.__cause__ is error


@pytest.mark.parametrize("error", [ValueError("corrupt tile"), RuntimeError("Jpeg2kError: truncated"),
                                   KeyError("dataset"), IndexError("tile 99 of 4"), EOFError()])
def test_a_library_failing_on_the_bytes_is_a_source_error(error):
    with pytest.raises(SourceError, match=f"reading the source failed: {type(error).__name__}"):
        Memory(fail=error).read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))


def test_an_os_error_names_the_file_but_not_its_folder():
    error = FileNotFoundError(errno.ENOENT, "No such file or directory", "/srv/secret/brains/z0001.tif")
    with pytest.raises(SourceError) as info:
        Memory(fail=error).read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
    assert str(info.value) == "reading the source failed: FileNotFoundError: No such file or directory (z0001.tif)"


@pytest.mark.parametrize("error", [SourceError("slice 3 is truncated"), MemoryError()])
def test_reader_errors_and_memory_errors_pass_unchanged(error):
    with pytest.raises(type(error)) as info:
        Memory(fail=error).read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
    assert info.value is error


@pytest.mark.parametrize(("answer", "got"), [
    (np.zeros((1, 1, 2), np.uint16), "(1, 1, 2) uint16"),
    (np.zeros((1, 1, 1), np.float32), "(1, 1, 1) float32"),
    ([[[0]]], "list"),
])
def test_a_hook_returning_the_wrong_array_is_a_reader_bug(answer, got):
    with pytest.raises(ReaderBug) as info:
        Memory(answer=answer).read(0, 0, slice(0, 1), slice(0, 1), slice(0, 1))
    assert str(info.value) == f"Memory._read returned {got} for a region of (1, 1, 1) uint16"


def test_the_server_answers_a_reader_bug_with_a_generic_internal_error_and_logs_it(caplog):
    bug = ReaderBug("Memory._read failed: AttributeError: 'NoneType' object has no attribute 'x'")
    assert classify(bug) == (500, "internal_error", "the server failed to handle this request")
    with caplog.at_level(logging.ERROR, logger="transformer.server.errors"):
        body = json.loads(error_response(bug).body)
    # one log line (no traceback per request) holding the details and the id the client was given
    lines = [r.getMessage() for r in caplog.records if body["error_id"] in r.getMessage()]
    assert len(lines) == 1 and "AttributeError: 'NoneType' object has no attribute 'x'" in lines[0]
    assert body == {"error": "internal_error", "reason": "the server failed to handle this request",
                    "status": 500, "error_id": body["error_id"]}
    assert classify(SourceError("slice 3 is truncated")) == (500, "source_error", "slice 3 is truncated")


# --- voxel-size overrides -----------------------------------------------------------------------


def test_a_voxel_size_override_rewrites_geometry_and_keeps_everything_else():
    level = Memory(geometry(origin=(0.0, 0.25, 0.5), read_cost=1 << 40))
    other = level.with_voxel_size((4.0, 1.0, 0.25))
    assert other.voxel_size == (4.0, 1.0, 0.25)
    assert other.origin == (0.0, 0.5, 0.25)
    assert other.read_cost() == 1 << 40
    assert (other.shape, other.dtype, other.read_chunks) == (level.shape, level.dtype, level.read_chunks)
    assert type(other) is Memory and other.calls is level.calls  # same reader state, same hooks
    assert level.voxel_size == (2.0, 0.5, 0.5)  # the original is untouched
    np.testing.assert_array_equal(other.read(0, 0, slice(0, 4), slice(0, 10), slice(0, 12)), DATA)


# --- Volume -------------------------------------------------------------------------------------


def test_a_volume_checks_its_levels_and_channels():
    with pytest.raises(TypeError):
        Volume([], [Channel("c")], "mem")
    with pytest.raises(ValueError, match="differs"):
        Volume([Memory(), Memory(geometry(shape=(2, 1, 4, 10, 12)))], [Channel("c")], "mem")
    with pytest.raises(ValueError, match="2 channels described for 1"):
        Volume([Memory()], [Channel("a"), Channel("b")], "mem")


def test_closers_run_once_latest_first_even_when_one_fails():
    ran = []
    volume = Volume([Memory()], [Channel("c")], "mem")
    volume.on_close(lambda: ran.append("handles"))
    volume.on_close(lambda: 1 / 0)
    volume.on_close(lambda: ran.append("cache"))
    with pytest.raises(ZeroDivisionError):
        volume.close()
    assert ran == ["cache", "handles"]
    volume.close()
    assert ran == ["cache", "handles"]

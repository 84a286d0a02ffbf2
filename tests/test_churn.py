"""Archive churn against a real server: a served uncompressed TIFF is re-copied over itself, replaced
with other bytes, truncated, deleted and restored while a client reads. The server survives (re-copying killed it
with SIGBUS when raw strips were read through a memory map), answers 500s with a reason and no server
path while the file is unusable, recovers once it is back, and never serves a mix of old and new content:
each chunk, of the native level and of a computed one, is all old or all new, and never old again once
new content was served."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import numcodecs
import numpy as np
import pytest
import tifffile

from catalog.scan import scan
from catalog.store import Catalog
from tests.helpers import Server, reference_mean
from transformer.engine.datasets import DatasetRegistry

SHAPE = (32, 256, 256)
#: how long the server may take to notice a changed source (DatasetRegistry.RECHECK_SECONDS is 5 s)
RECOVERY_SECONDS = 30


class Client:
    """Chunks of one dataset's levels, decoded with the codec the server announces."""

    def __init__(self, http: httpx.Client, base: str) -> None:
        self.http, self.base = http, base
        self.arrays = {level: http.get(f"{base}/{level}/.zarray").json() for level in (0, 1)}

    def keys(self, level: int) -> list[tuple[int, int, int]]:
        shape, chunks = self.arrays[level]["shape"][2:], self.arrays[level]["chunks"][2:]
        grid = [range(-(-s // c)) for s, c in zip(shape, chunks, strict=True)]
        return [(z, y, x) for z in grid[0] for y in grid[1] for x in grid[2]]

    def chunk(self, level: int, key: tuple[int, int, int]) -> tuple[int, np.ndarray | str]:
        r = self.http.get(f"{self.base}/{level}/0/0/" + "/".join(map(str, key)))
        if r.status_code != 200:
            return r.status_code, r.text
        meta = self.arrays[level]
        raw = numcodecs.get_codec(meta["compressor"]).decode(r.content)
        return 200, np.frombuffer(raw, np.dtype(meta["dtype"])).reshape(meta["chunks"][2:])

    def expected(self, level: int, data: np.ndarray, key: tuple[int, int, int]) -> np.ndarray:
        """The chunk ``key`` of ``data`` (level 0) or of its mean (level 1), padded to the chunk shape."""
        meta = self.arrays[level]
        if level == 1:
            factors = tuple(a // b for a, b in zip(self.arrays[0]["shape"][2:], meta["shape"][2:], strict=True))
            data = reference_mean(data, factors)
        chunks = meta["chunks"][2:]
        out = np.zeros(chunks, data.dtype)
        part = data[tuple(slice(k * c, (k + 1) * c) for k, c in zip(key, chunks, strict=True))]
        out[tuple(slice(0, n) for n in part.shape)] = part
        return out


def _reason_ok(body: str, root) -> None:
    """A 500 says why in JSON and never where the archive lives on the server."""
    assert '"source_error"' in body and str(root) not in body and "/tmp" not in body, body


def _wait_for(client: Client, level: int, data: np.ndarray, key, root) -> None:
    deadline = time.monotonic() + RECOVERY_SECONDS
    while time.monotonic() < deadline:
        status, got = client.chunk(level, key)
        if status == 200 and np.array_equal(got, client.expected(level, data, key)):
            return
        if status != 200:
            _reason_ok(got, root)
        time.sleep(0.2)
    pytest.fail(f"level {level} chunk {key} never served the restored content")


def _refused_after_a_change(client: Client, seen, unread: list, copy) -> None:
    """A read under offsets parsed from content the file no longer holds is refused (500), not served.

    Deterministic: after RECHECK_SECONDS idle, a request makes the server re-confirm the file (its window
    opens); the file is then re-copied (a new modification time: other content, for all the parsed offsets
    know) and a level-0 chunk never read before (so not cached) is asked for inside that window. Should the
    machine stall past the window, the next unread chunk is tried; every attempt outside it is said."""
    window = DatasetRegistry.RECHECK_SECONDS
    late = []
    for key in unread:
        time.sleep(window + 0.5)
        assert client.chunk(0, seen)[0] == 200  # re-confirmed: the window starts now
        start = time.monotonic()
        copy()
        status, body = client.chunk(0, key)
        if time.monotonic() - start < window - 1:
            assert status == 500, f"chunk {key} read after the file changed was served ({status}), not refused"
            _reason_ok(body, "/tmp")
            return
        late.append(round(time.monotonic() - start, 1))
    pytest.fail(f"no attempt fit the {window} s recheck window (took {late} s)")


def _wait_for_500(client: Client, key, root) -> None:
    """A chunk cached under the current version may be served until the recheck sees the change."""
    deadline = time.monotonic() + RECOVERY_SECONDS
    while (answer := client.chunk(0, key))[0] == 200 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert answer[0] == 500
    _reason_ok(answer[1], root)


@pytest.mark.slow
def test_server_survives_churn_and_never_mixes_contents(tmp_path):
    root, spare = tmp_path / "root", tmp_path / "spare"
    root.mkdir()
    spare.mkdir()
    rng = np.random.default_rng(12)
    old = rng.integers(0, 60000, SHAPE, dtype=np.uint16)  # incompressible: a small cache re-reads the file
    new = rng.integers(0, 60000, SHAPE, dtype=np.uint16)
    # one whole-plane strip per page, uncompressed: the raw path that used a memory map
    tifffile.imwrite(spare / "old.tif", old, rowsperstrip=SHAPE[1])
    tifffile.imwrite(spare / "new.tif", new, rowsperstrip=SHAPE[1])
    shutil.copyfile(spare / "old.tif", root / "served.tif")
    healthy = np.arange(8 * 64 * 64, dtype=np.uint16).reshape(8, 64, 64)
    tifffile.imwrite(root / "healthy.tif", healthy)
    db = tmp_path / "catalog.sqlite"
    catalog = Catalog(db)
    scan(root, catalog)
    ids = {r.title: r.id for r in catalog.all()}
    catalog.close()

    srv = Server(db, "--cache-mb", "8")
    try:
        with httpx.Client(timeout=30) as http:
            served = Client(http, f"{srv.url}/zarr/{ids['served.tif']}.ome.zarr")
            other = Client(http, f"{srv.url}/zarr/{ids['healthy.tif']}.ome.zarr")
            # the last keys are kept unread until _refused_after_a_change, so they are not in the cache
            keys, unread = served.keys(0)[:-3], served.keys(0)[-3:]
            for key in served.keys(1):  # the computed level is cached from the old content
                assert served.chunk(1, key)[0] == 200

            # 1. re-copied over itself again and again (truncate, then rewrite) while the client reads
            stop, copies = threading.Event(), []

            def recopy() -> None:
                while not stop.is_set() and len(copies) < 200:
                    shutil.copyfile(spare / "old.tif", root / "served.tif")
                    copies.append(1)

            churn = threading.Thread(target=recopy)
            churn.start()
            try:
                i = 0
                while churn.is_alive() or i < len(keys):  # read for as long as the copies go on
                    i += 1
                    status, got = served.chunk(0, keys[i % len(keys)])
                    if status == 200:  # the same bytes come back: anything served must equal them
                        np.testing.assert_array_equal(got, served.expected(0, old, keys[i % len(keys)]))
                    else:
                        assert status == 500
                        _reason_ok(got, tmp_path)
            finally:
                stop.set()
                churn.join()
            assert srv.proc.poll() is None and len(copies) > 0
            assert other.chunk(0, (0, 0, 0))[0] == 200  # the rest keeps serving meanwhile
            _wait_for(served, 0, old, keys[0], tmp_path)
            # whether a read of the churn met a change is timing; that a changed file is refused is not
            _refused_after_a_change(served, keys[0], unread,
                                    lambda: shutil.copyfile(spare / "old.tif", root / "served.tif"))
            _wait_for(served, 0, old, unread[0], tmp_path)

            # 2. replaced by other bytes: once new content is served, old is never served again,
            # neither at level 0 nor from the computed level cached before
            shutil.copyfile(spare / "new.tif", root / "served.tif")
            _wait_for(served, 0, new, keys[0], tmp_path)
            for level in (0, 1):
                for key in served.keys(level):
                    status, got = served.chunk(level, key)
                    assert status == 200
                    np.testing.assert_array_equal(got, served.expected(level, new, key))

            # 3. truncated to 40 % (a copy cut short), then deleted: 500s with a reason, the server and the
            # other dataset carry on; restored: served again, every level
            raw = (root / "served.tif").read_bytes()
            (root / "served.tif").write_bytes(raw[: len(raw) * 2 // 5])
            _wait_for_500(served, keys[-1], tmp_path)
            (root / "served.tif").unlink()
            _wait_for_500(served, keys[0], tmp_path)
            status, got = other.chunk(0, (0, 0, 0))
            assert status == 200 and np.array_equal(got, other.expected(0, healthy, (0, 0, 0)))
            shutil.copyfile(spare / "old.tif", root / "served.tif")
            for level in (0, 1):
                for key in served.keys(level):
                    _wait_for(served, level, old, key, tmp_path)
            assert httpx.get(f"{srv.url}/healthz").status_code == 200
        assert srv.proc.poll() is None, "the server died"
    except BaseException as exc:  # the original failure stays the error; a dead server is said beside it
        if srv.proc.poll() is not None:
            exc.add_note(f"the server died (exit status {srv.proc.returncode})")
        raise
    finally:
        srv.stop()

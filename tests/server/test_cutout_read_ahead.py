"""How a cutout reads its slabs (transformer/server/routes/cutout.py), on real thread pools: the next slab is
read while the current one is used, never more than two ahead of the consumer, each slab once; a full pool
costs the overlap, never a deadlock; a slab's tasks are shared by the executor and the calling thread."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from transformer.server.routes.cutout import _ReadAhead, _share, _split
from writers import cutout
from writers.cutout import parse_box, reads, slabs

VOLUME = np.arange(12 * 8 * 10, dtype=np.uint16).reshape(1, 1, 12, 8, 10)
WAIT_S = 30  # only a broken read-ahead waits this long (then the test fails)


@pytest.fixture
def box(monkeypatch):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 2 * 8 * 10 * 2)  # two planes a slab: six slabs
    return parse_box(0, {}, VOLUME.shape)


def test_the_next_slab_is_read_while_the_current_one_is_and_each_once(box):
    order = list(slabs(box, np.uint16))
    second_started, started, lock = threading.Event(), [], threading.Lock()

    def read(t, c, z, y):
        with lock:
            started.append(z.start)
        if z.start == 2:
            second_started.set()
        if z.start == 0:  # the first slab is only done once the second is under way
            assert second_started.wait(WAIT_S), "slab 2 was not read ahead while slab 0 was read"
        return VOLUME[t, c, z, y]

    with ThreadPoolExecutor(2) as pool:
        ahead = _ReadAhead(read, order, pool)
        out = [ahead(*slab) for slab in order]
    assert np.array_equal(np.concatenate(out), VOLUME[0, 0])
    assert sorted(started) == [0, 2, 4, 6, 8, 10]


def test_at_most_two_slabs_are_read_before_the_consumer_takes_them(box):
    order = list(slabs(box, np.uint16))
    taken, lead, lock = [0], [], threading.Lock()

    def read(t, c, z, y):
        with lock:
            lead.append(z.start // 2 + 1 - taken[0])  # slabs started but not yet taken, this one included
        return VOLUME[t, c, z, y]

    with ThreadPoolExecutor(4) as pool:
        ahead = _ReadAhead(read, order, pool)
        for slab in order:
            ahead(*slab)
            with lock:
                taken[0] += 1
    assert max(lead) <= 2


def test_a_full_pool_reads_every_slab_in_the_caller(box):
    order = list(slabs(box, np.uint16))
    release, threads = threading.Event(), []

    def read(t, c, z, y):
        threads.append(threading.current_thread().name)
        return VOLUME[t, c, z, y]

    with ThreadPoolExecutor(1, thread_name_prefix="busy") as pool:
        pool.submit(release.wait, WAIT_S)  # the pool's one thread is taken, as by other cutouts
        ahead = _ReadAhead(read, order, pool)
        out = [ahead(*slab) for slab in order]
        release.set()
    assert np.array_equal(np.concatenate(out), VOLUME[0, 0])
    assert threads == [threading.current_thread().name] * len(order)


def test_slabs_asked_out_of_order_are_still_right(box):
    order = list(slabs(box, np.uint16))
    with ThreadPoolExecutor(2) as pool:
        ahead = _ReadAhead(lambda t, c, z, y: VOLUME[t, c, z, y], order, pool)
        for slab in reversed(order):
            assert np.array_equal(ahead(*slab), VOLUME[slab[0], slab[1], slab[2], slab[3]])
        ahead.close()


def test_the_tiff_writer_reads_bands_in_the_order_reads_names(monkeypatch, tmp_path):
    monkeypatch.setattr(cutout, "SLAB_BYTES", 1000)  # a 40x40 plane (3200 bytes) is over it: tiles
    volume = np.arange(2 * 40 * 40, dtype=np.uint16).reshape(1, 1, 2, 40, 40)
    monkeypatch.setattr(cutout, "TIFF_TILE", 16)
    b = parse_box(0, {}, volume.shape)
    asked = []

    def read(t, c, z, y):
        asked.append((z.start, y.start, y.stop))
        return volume[t, c, z, y]

    meta = cutout.Physical((1.0, 1.0, 1.0), (0.0, 0.0, 0.0), ("a",), "bands")
    cutout.write_tiff(tmp_path / "b.ome.tif", b, np.uint16, read, meta)
    assert asked == [(z.start, y.start, y.stop) for _, _, z, y in reads("tiff", b, np.uint16)]
    assert len(asked) == 6  # two planes of three bands of 16 rows


def test_shared_tasks_give_their_results_in_order_even_with_a_busy_executor():
    release = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        pool.submit(release.wait, WAIT_S)
        results = _share(pool, [lambda i=i: i * i for i in range(7)])
        release.set()
    assert results == [i * i for i in range(7)]
    with ThreadPoolExecutor(2) as pool:
        assert _share(pool, [lambda i=i: -i for i in range(50)]) == [-i for i in range(50)]


def test_a_failing_task_fails_the_slab():
    def fail():
        raise OSError("damaged slice")

    with ThreadPoolExecutor(1) as pool, pytest.raises(OSError, match="damaged slice"):
        _share(pool, [lambda: 1, fail, lambda: 3])


def test_split_cuts_at_chunk_edges():
    assert _split(slice(3, 11), 4) == [slice(3, 4), slice(4, 8), slice(8, 11)]
    assert _split(slice(4, 8), 4) == [slice(4, 8)]
    assert _split(slice(0, 3), 1) == [slice(0, 1), slice(1, 2), slice(2, 3)]


def test_a_closed_read_ahead_starts_no_more_reads(box):
    order = list(slabs(box, np.uint16))
    started, lock = [], threading.Lock()

    def read(t, c, z, y):
        with lock:
            started.append(z.start)
        return VOLUME[t, c, z, y]

    with ThreadPoolExecutor(2) as pool:
        ahead = _ReadAhead(read, order, pool)
        ahead(*order[0])  # starts slab 1 ahead
        ahead.close()  # the client went away
        assert np.array_equal(ahead(*order[1]), VOLUME[0, 0, 2:4])  # still right if asked
    assert sorted(started) in ([0, 2], [0, 2, 2])  # slab 1 read once (or again if cancelled in time), no slab 2

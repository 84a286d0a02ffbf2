"""Shared benchmark plumbing: settings, generated datasets, fresh servers, HTTP fetching, result tables."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import platform
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import numpy as np

from bench.sources import FORMATS, brain, ensure, written
from catalog.record import Record
from catalog.scan import ScanReport, describe, scan
from catalog.store import Catalog
from transformer.testing import Server
from writers.registry import view_named
from writers.spec import ImageSpec, LevelSpec
from writers.view import Chunk, Document

MiB = 1024 * 1024


# -- settings and results ------------------------------------------------------------------------


@dataclass
class Settings:
    shape: tuple[int, int, int] = (256, 2048, 2048)  # z, y, x
    data: Path = Path(tempfile.gettempdir()) / "transformer-bench"
    formats: tuple[str, ...] = FORMATS
    samples: int = 30  # random level-0 chunks per format (part 1, part 7)
    duration: float = 10.0  # seconds of load per wrk run
    concurrency: tuple[int, ...] = (1, 8, 64)
    fetch_concurrency: int = 8  # cold bulk fetches (parts 2, 4)
    memory_cache_mb: int = 512  # --cache-mb of the servers whose peak RSS part 6 reports
    seed: int = 7
    cap_s: float = 300.0  # longest one cold request may take: a coarsest chunk or a first view reports "> cap"
    jp2_cap_s: float = 60.0  # part 5 gives the imagecodecs server's overview chunk this long
    soak_seconds: float = 180.0  # part 9: minutes of mixed load
    soak_clients: int = 64
    soak_fuzz: int = 20_000  # fuzzed URLs part 9 sends at least


@dataclass
class Goal:
    name: str
    value: float | None
    target: str
    met: bool | None  # None: not measured

    def verdict(self) -> str:
        return "n/a" if self.met is None else ("met" if self.met else "MISSED")


@dataclass
class Part:
    key: str
    title: str
    tables: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    goals: list[Goal] = field(default_factory=list)
    seconds: float = 0.0
    skipped: str | None = None

    def markdown(self) -> str:
        out = [f"## {self.title}", ""]
        if self.skipped:
            return "\n".join([*out, f"Skipped: {self.skipped}", ""])
        for t in self.tables:
            out += [t, ""]
        out += [f"- {n}" for n in self.notes]
        if self.notes:
            out.append("")
        out.append(f"_part took {self.seconds:.0f} s_")
        return "\n".join(out) + "\n"


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A markdown table; floats are printed with 3 significant digits (or 1 decimal if larger)."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            if math.isnan(v):
                return "–"
            return f"{v:.1f}" if abs(v) >= 100 else f"{v:.3g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), p)) if values else math.nan


# -- machine -----------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    return {"nproc": str(os.cpu_count()), "memory": mem, "cpu": cpu, "python": platform.python_version(),
            "kernel": platform.release(), "code": code_version()}


def code_version() -> str:
    """The commit measured: $BENCH_CODE (for a run from an exported tree), else git's HEAD (+ '-dirty')."""
    if os.environ.get("BENCH_CODE"):
        return os.environ["BENCH_CODE"]
    repo = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "transformer", "readers",
                                "writers", "catalog"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("-dirty" if dirty else "")


def proc_status(pid: int) -> dict[str, int]:
    """The kB fields of /proc/PID/status, in bytes (VmHWM, VmRSS, RssAnon, RssFile, ...)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if len(parts) == 2 and parts[1] == "kB":
            out[name] = int(parts[0]) * 1024
    return out


def peak_rss(pid: int) -> int:
    """VmHWM (peak resident set, file-backed mapped pages included) of a live process, in bytes."""
    return proc_status(pid).get("VmHWM", 0)


@dataclass
class Peak:
    hwm: int  # VmHWM: peak resident set, including file pages the process maps (e.g. memory-mapped TIFFs)
    anon: int  # highest RssAnon seen by sampling (heap, caches, buffers: what the budget is about)
    budget_mb: int


class MemoryWatch:
    """Samples a process's anonymous RSS ten times a second until ``peak()`` is called."""

    def __init__(self, pid: int, budget_mb: int, interval: float = 0.1) -> None:
        self.pid, self.budget_mb, self.interval = pid, budget_mb, interval
        self.anon = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.anon = max(self.anon, proc_status(self.pid).get("RssAnon", 0))
            self._stop.wait(self.interval)

    def peak(self) -> Peak:
        self._stop.set()
        self._thread.join()
        status = proc_status(self.pid)
        return Peak(status.get("VmHWM", 0), max(self.anon, status.get("RssAnon", 0)), self.budget_mb)


# -- datasets and servers --------------------------------------------------------------------------


class Context:
    """One benchmark run: settings, a scratch folder, the generated sources, figures shared by parts."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.settings.data.mkdir(parents=True, exist_ok=True)
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-")
        self.tmp = Path(self._tmp.name)
        self.tmp.chmod(0o755)  # nginx's workers (another user when run as root) serve a copy from here
        self._volume: np.ndarray | None = None
        self.peaks: dict[str, Peak] = {}  # server label -> its memory peaks (parts 3 and 4, for part 6)
        self.extra: dict[str, object] = {}  # what one part leaves for another (e.g. part 4's copy)

    def close(self) -> None:
        self._tmp.cleanup()

    def prepare(self) -> None:
        """Write every format's dataset that is missing (one generated volume for all), then drop it."""
        for fmt in self.settings.formats:
            self.source(fmt)
        self._volume = None

    def source(self, fmt: str) -> Path:
        """The dataset of ``fmt`` at the run's shape (generated on first use, reused across runs)."""
        shape = self.settings.shape
        if not written(fmt, shape, self.settings.data) and self._volume is None:
            self._volume = brain(shape)
        return ensure(fmt, shape, self.settings.data, self._volume)

    def register(self, fmt: str, label: str) -> tuple[Record, Path, float]:
        """A fresh catalog holding only ``fmt``'s dataset: (record, catalog path, seconds to describe + put)."""
        path = self.source(fmt)
        db = self.tmp / f"{label}.sqlite"
        db.unlink(missing_ok=True)
        start = time.perf_counter()
        catalog = Catalog(db)
        record = describe(path, path if path.is_dir() else path.parent, catalog)
        catalog.put(record)
        catalog.close()
        return record, db, time.perf_counter() - start


def timed_scan(root: Path, db: Path) -> tuple[float, ScanReport]:
    """Seconds to scan ``root`` into a fresh catalog at ``db`` (removed first), and the scan's report."""
    db.unlink(missing_ok=True)
    catalog = Catalog(db)
    start = time.perf_counter()
    report = scan(root, catalog)
    seconds = time.perf_counter() - start
    catalog.close()
    return seconds, report


@contextlib.contextmanager
def serve(db: Path, *args: str, env: dict | None = None) -> Iterator[Server]:
    """A fresh ``transformer serve`` (production settings, loopback) on catalog ``db``."""
    srv = Server(db, *args, env=env)
    try:
        yield srv
    finally:
        srv.stop()


def metrics(url: str) -> dict[str, float]:
    """The server's /metrics as {'name{labels}': value}."""
    out = {}
    for line in httpx.get(url + "/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


# -- the zarr v2 view of a dataset -----------------------------------------------------------------


EMPTY = ImageSpec("", "uint8", (), ())  # documents of the zarr view are spelt without any geometry


class ZarrView:
    """``/zarr/{id}.ome.zarr`` of one dataset on one server: its levels, and its paths as the view spells them."""

    def __init__(self, url: str, dataset_id: str, client: httpx.Client | None = None) -> None:
        self.view = view_named("zarr")
        segment = f"{self.view.prefix}/{self.view.dataset_segment(dataset_id)}"
        self.root = url + segment
        self.path = segment
        # one keep-alive client, as a viewer has: a new httpx client per request costs ~15 ms of TLS setup
        get = client.get if client is not None else functools.partial(httpx.get, timeout=600)
        zattrs = get(self.root + "/" + self.view.spell(Document(".zattrs"), EMPTY)).json()  # opens the dataset
        levels = []
        for i, _ in enumerate(zattrs["multiscales"][0]["datasets"]):
            za = get(f"{self.root}/{self.view.spell(Document('.zarray', i), EMPTY)}").json()
            levels.append(LevelSpec(tuple(za["shape"]), tuple(za["chunks"]), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)))
        #: the geometry the view needs to spell keys (voxel sizes and channels are not fetched)
        self.spec = ImageSpec("", "uint8", tuple(levels), ())
        self.levels = self.spec.levels

    def key(self, level: int, index: Sequence[int]) -> str:
        return self.view.spell(Chunk(level, tuple(index)), self.spec)

    def metadata_keys(self) -> list[str]:
        documents = [Document(".zgroup"), Document(".zattrs"), Document(".zmetadata")]
        documents += [Document(".zarray", i) for i in range(len(self.levels))]
        return [self.view.spell(d, self.spec) for d in documents]

    def all_keys(self, levels: Iterable[int]) -> list[str]:
        return [self.key(lv, tuple(int(i) for i in idx)) for lv in levels for idx in np.ndindex(*self.levels[lv].grid)]


# -- fetching ------------------------------------------------------------------------------------------


@dataclass
class Fetched:
    seconds: float
    latencies: list[float]
    nbytes: int
    statuses: dict[int, int]


def timed_get(client: httpx.Client, url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    r = client.get(url)
    r.raise_for_status()
    return time.perf_counter() - start, r.content


def get_status(client: httpx.Client, url: str) -> tuple[int, int]:
    """(status, connection resets): one GET, retried on a fresh connection if the server reset the kept-alive
    one (as browsers do for idempotent requests)."""
    for resets in range(3):
        try:
            return client.get(url).status_code, resets
        except httpx.TransportError:
            continue
    raise RuntimeError(f"GET {url}: connection reset three times")


def fetch_all(base: str, keys: Sequence[str], concurrency: int,
              sink: Callable[[str, bytes], None] | None = None, timeout: float = 3600) -> Fetched:
    """GET ``base/key`` for every key, issued in order by ``concurrency`` keep-alive workers."""
    return asyncio.run(_fetch_all(base, list(keys), concurrency, sink, timeout))


async def _fetch_all(base: str, keys: list[str], concurrency: int,
                     sink: Callable[[str, bytes], None] | None, timeout: float) -> Fetched:
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    nbytes = 0
    it = iter(keys)
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn, timeout=aiohttp.ClientTimeout(total=timeout),
                                     auto_decompress=False) as session:

        async def worker() -> None:
            nonlocal nbytes
            for key in it:
                t0 = time.perf_counter()
                async with session.get(f"{base}/{key}") as r:
                    body = await r.read()
                latencies.append(time.perf_counter() - t0)
                statuses[r.status] = statuses.get(r.status, 0) + 1
                nbytes += len(body)
                if sink is not None and r.status == 200:
                    sink(key, body)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - start
    return Fetched(seconds, latencies, nbytes, statuses)


def disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def shape_label(shape: Sequence[int]) -> str:
    z, y, x = shape
    return f"{x}×{y}×{z} (x×y×z) uint16, {x * y * z * 2 / 2**30:.2f} GiB"

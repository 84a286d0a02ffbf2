"""The one owner of memory, handles and threads: every cache, pool and executor, built from Config.

``--cache-mb`` is the budget of ALL decoded and encoded data; :data:`SHARES` splits it. Why these shares:

- ``blocks`` 35 %: decoded chunks every level and every encoding reads through; the working set of a
  view, and what a coarser level is computed from. It took over the 10 % that bounded the resident pages
  of memory-mapped raw TIFF files: raw strips are now read with ``pread`` (a map of a file a curator
  re-copies is a SIGBUS), so reads leave no mapped pages behind, and a raw chunk is re-read at the cost
  of a page-cache copy, so keeping more decoded blocks is where the memory helps.
- ``parts`` 10 %: blocks reduced for the next level are 1/8 of a block, so a tenth holds the parts of
  more chunks than the blocks cache holds blocks. A slice stack's flat chunks under a level that halves z
  are no exception: a one-plane part's 2×2 sums (32 bits, half a 16-bit block) wait only for the next
  plane's, and the pair is kept as one finished mean, 1/8 of the two blocks (issue 22 item 14); a part or
  group the share lets go is reduced again from kept blocks for the chunk that needs it.
- ``encoded`` 15 % and ``responses`` 10 %: compressed chunks (often 2-4x smaller than decoded), ready
  to send; a response shares its body with ``encoded`` while both hold it, so that share is partly
  counted twice and kept smaller. ``encoded`` also keeps the catalog pages' PNG thumbnails and previews
  (tens of KiB per dataset, keyed by dataset version; transformer/server/routes/pages.py): too few bytes
  for a share of their own.
- ``tiles`` 15 %: decoded TIFF tiles/strips; a 256² tile feeds sixteen 64² chunks.
- ``regions`` 5 % and ``planes`` 5 %: JPEG2000 only (RGB regions; whole slices with imagecodecs).
- ``hdf`` 3 %: HDF5's own chunk cache, spread over the ``max_open_files`` handles (the Imaris reader
  decodes most chunks itself, and the blocks cache keeps what it decoded).
- ``objects`` 10 % (taken from blocks 5, tiles 3, hdf 2): parsed neurons and indexed cell tables
  (transformer/engine/objects.py). A brain's 2,000,000 detected cells are about 50 MB indexed and must stay
  whole (every spatial cell and box query reads from the one table), so the share holds that with room for
  the neurons on screen (a 100,000-node neuron is about 5 MB parsed; its encoded skeleton goes to ``encoded``).

Outside the budget, in the 300 MB the service may use beyond it: the open files' parsed headers. The
slices of TIFF slice folders have a pool of their own (``--max-open-slices``, slots of 32 KiB: at most 64 MiB of
headers), because an xz or yz view reads one row of every slice under the screen's height, more than the
shared ``--max-open-files`` pool held (it re-parsed each slice at every level of the view).
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction

from readers.caching import Cache
from readers.resources import ReaderResources
from transformer.config import Config
from transformer.engine.options import Engine, PyramidOptions

SHARES = {
    "blocks": Fraction(30, 100),
    "parts": Fraction(10, 100),
    "encoded": Fraction(15, 100),
    "responses": Fraction(10, 100),
    "tiles": Fraction(12, 100),
    "regions": Fraction(5, 100),
    "planes": Fraction(5, 100),
    "hdf": Fraction(3, 100),
    "objects": Fraction(10, 100),
}
assert sum(SHARES.values()) == 1
#: descriptors left for connections, logs and libraries beside the handle pools
SOCKETS = 1024

log = logging.getLogger(__name__)


def split(budget: int, max_open_files: int) -> dict[str, int]:
    """Bytes of each share of ``budget``; rounding goes to ``blocks`` so the parts add up exactly."""
    sizes = {name: int(budget * share) for name, share in SHARES.items()}
    sizes["hdf"] -= sizes["hdf"] % max(1, max_open_files)  # whole bytes per open file
    sizes["blocks"] += budget - sum(sizes.values())
    return sizes


def allow_open_files(wanted: int) -> int:
    """Raise the soft limit on open descriptors towards ``wanted`` (within the hard limit): a soft limit of
    1,024 is common, and the handle pools alone may keep more files open. Returns the limit now in force."""
    try:
        import resource
    except ImportError:  # not on POSIX: nothing to raise
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft != resource.RLIM_INFINITY and soft < wanted:
        log.warning("only %d open files allowed (ulimit -n) for %d handles and connections: lower "
                    "--max-open-slices or raise the limit", soft, wanted)
    return soft


def _body_size(entry) -> int:
    """Encoded chunks and kept responses weigh their body (a response's headers are small)."""
    return len(entry.body)


class Resources:
    """Every cache, pool and executor of one running service, sized from one ``Config``."""

    def __init__(self, config: Config) -> None:
        self.sizes = split(config.cache_bytes, config.max_open_files)
        # blocks and parts are shared by every request that reads them: read-only once kept
        self.blocks = Cache("blocks", self.sizes["blocks"], freeze=True)
        self.parts = Cache("parts", self.sizes["parts"], freeze=True)
        self.encoded = Cache("encoded", self.sizes["encoded"], size=_body_size)
        self.responses = Cache("responses", self.sizes["responses"], size=_body_size)
        self.objects = Cache("objects", self.sizes["objects"])  # neurons and cell tables (engine/objects.py)
        self.readers = ReaderResources.create(
            tiles=self.sizes["tiles"], regions=self.sizes["regions"], planes=self.sizes["planes"],
            hdf5_chunk_cache=self.sizes["hdf"] // max(1, config.max_open_files),
            max_open_files=config.max_open_files, max_open_slices=config.max_open_slices,
            jp2_backend=config.jp2_backend,
        )
        allow_open_files(config.max_open_files + config.max_open_slices + SOCKETS)
        self.counters: Counter[str] = Counter()
        self.pool = ThreadPoolExecutor(config.threads, thread_name_prefix="chunk")
        # source reads split across cores (decoders release the GIL); never waits on other work
        self.leaves = ThreadPoolExecutor(os.cpu_count() or 2, thread_name_prefix="leaf")
        # a cutout's slab computes the chunks it touches here, in parallel, while one pool thread waits for
        # them: a separate executor (waiting on the pool from inside it could deadlock), half the threads so
        # cutouts never take every core from chunk requests
        self.cutouts = ThreadPoolExecutor(max(1, config.threads // 2), thread_name_prefix="cutout")
        self.engine = Engine(self.blocks, self.parts, self.leaves, self.counters, self.readers)
        self.pyramid_options = PyramidOptions.from_chunks(config.chunks, overview=config.overview,
                                              exact_limit=config.exact_limit_mb << 20)

    def caches(self) -> dict[str, dict[str, int]]:
        """Statistics of every byte budget, by name; their budgets add up to ``--cache-mb``."""
        readers = self.readers
        hdf5 = {"budget": self.sizes["hdf"], "per_file": readers.hdf5_chunk_cache}
        return {"blocks": self.blocks.stats(), "parts": self.parts.stats(), "encoded": self.encoded.stats(),
                "responses": self.responses.stats(), "tiles": readers.tiles.stats(),
                "regions": readers.regions.stats(), "planes": readers.planes.stats(), "hdf": hdf5,
                "objects": self.objects.stats()}

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.leaves.shutdown(wait=False, cancel_futures=True)
        self.cutouts.shutdown(wait=False, cancel_futures=True)
        self.readers.close()

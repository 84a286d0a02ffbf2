"""Command line: transformer serve | stack | prewarm | scan | add | info | remove | demo | cutout | export | token |
readers."""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

from catalog.access import LEVELS
from transformer import malloc
from transformer.config import Config, data_dir, default_text, env_name, parse

#: settings given once for every command, before it (``transformer --catalog X serve``)
GLOBAL_SETTINGS = ("catalog",)


def _catalog(args):
    from catalog.store import Catalog

    return Catalog(Config.from_env(catalog=args.catalog).catalog)


#: where ``cutout`` and ``prewarm`` look for a token when no ``--token`` is given (a command line shows in ``ps``)
TOKEN_ENV = "TRANSFORMER_TOKEN"


def token_of(args) -> str | None:
    """``--token``, else the first line of ``--token-file``, else ``$TRANSFORMER_TOKEN`` (docs/security.md)."""
    if args.token:
        return args.token
    if args.token_file:
        return Path(args.token_file).read_text().strip() or None
    return os.environ.get(TOKEN_ENV) or None


def add_token_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="access token for embargoed or private datasets (visible in `ps` to other "
                        f"users of this machine: prefer --token-file or ${TOKEN_ENV})")
    parser.add_argument("--token-file", metavar="PATH", help="read the token from this file")


def cmd_scan(args) -> int:
    from catalog.scan import scan

    catalog = _catalog(args)
    root = Path(args.root)
    if not root.exists():
        print(f"error: {root} does not exist", file=sys.stderr)
        return 2

    def progress(report, name):
        print(f"\r{report.folders} folders, {len(report.added)} datasets, {len(report.refused)} refused: "
              f"{name[:60]:<60}", end="", file=sys.stderr, flush=True)

    report = scan(root, catalog, progress=progress, checksums=args.checksums, access=args.access,
                  prune=args.prune)
    print(file=sys.stderr)
    for name, became in report.layout:
        print(f"folder {name}: {became}", file=sys.stderr)
    for name, reason in report.refused:
        print(f"refused {name}: {reason}", file=sys.stderr)
    for name, reason in report.pruned:
        print(f"pruned {name}: {reason}", file=sys.stderr)
    for dataset_id in report.added:
        record = catalog.get(dataset_id)
        print(f"{dataset_id}\t{record.format}\t{record.title}")
    return 0


def cmd_add(args) -> int:
    from catalog.scan import describe, register
    from catalog.sidecar import SidecarError, parse_options
    from readers.base import ReaderError

    catalog = _catalog(args)
    path = Path(args.path).resolve()
    try:
        meta = parse_options(args.meta or [])
        if args.title:
            meta["title"] = args.title
        if args.access:
            meta["access"] = args.access
        root = path if path.is_dir() else path.parent
        record = describe(path, root, catalog, reader=args.reader, overrides=meta, checksums=args.checksums)
    except (ReaderError, SidecarError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    register(catalog, record)
    print(record.id)
    return 0


def cmd_info(args) -> int:
    catalog = _catalog(args)
    record = catalog.get(args.id)
    if record is None:
        print(f"error: no dataset {args.id!r}", file=sys.stderr)
        return 1
    print(json.dumps(record.public_dict() | ({"source": record.source} if args.source else {}), indent=2))
    return 0


def cmd_remove(args) -> int:
    return 0 if _catalog(args).remove(args.id) else 1


def cmd_cutout(args) -> int:
    from transformer.client import download

    config = Config.from_env()
    base = args.base_url or os.environ.get("TRANSFORMER_URL") or config.public_url or f"http://{config.host}:{config.port}"
    out = download(args.dataset, args.output, args.level, args.region, args.t, args.channels, base, token_of(args))
    print(out)
    return 0


def cmd_export(args) -> int:
    from transformer.export import export

    catalog = Config.from_env(catalog=args.catalog).catalog
    box = export(catalog, args.id, Path(args.to), args.level, args.region, args.t, args.c, args.scheduler,
                 progress=not args.quiet)
    print(f"{args.to}: level {box.level}, shape {box.shape}")
    return 0


def cmd_token(args) -> int:
    from datetime import UTC, datetime

    from catalog.tokens import new_token, parse_lifetime

    catalog = _catalog(args)
    if args.action == "create":
        if bool(args.dataset) == bool(args.all):
            print("error: give --dataset ID (one or more) or --all", file=sys.stderr)
            return 2
        unknown = [d for d in args.dataset or [] if catalog.get(d) is None]
        if unknown:
            print(f"error: no dataset {', '.join(unknown)}", file=sys.stderr)
            return 1
        try:
            token, row = new_token(args.name, None if args.all else args.dataset,
                                   parse_lifetime(args.expires) if args.expires else None)
            catalog.put_token(row)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(token)  # shown once: only its sha256 is stored
        return 0
    if args.action == "list":
        for row in catalog.tokens():
            state = f"revoked {row.revoked}" if row.revoked else ("valid" if row.valid() else "expired")
            scope = "all" if row.datasets is None else ",".join(row.datasets)
            print(f"{row.name}\t{state}\tcreated {row.created}\texpires {row.expires or 'never'}\t{scope}")
        return 0
    if not catalog.revoke_token(args.name, datetime.now(UTC).isoformat(timespec="seconds")):
        print(f"error: no valid token named {args.name!r}", file=sys.stderr)
        return 1
    return 0


def cmd_readers(args) -> int:
    from readers.registry import plugins

    for plugin in plugins():
        print(f"{plugin.name}\tpriority {plugin.priority}\t{' '.join(plugin.extensions)}")
    return 0


def demo_root() -> Path:
    return data_dir() / "demo"


def cmd_demo(args) -> int:
    from catalog.scan import scan
    from transformer.demo import write_demo

    root = write_demo(Path(args.dir) if args.dir else demo_root())
    report = scan(root, _catalog(args))
    for name, reason in report.refused:
        print(f"refused {name}: {reason}", file=sys.stderr)
    print(f"demo catalog: {len(report.added)} datasets from {root}")
    return 0


def cmd_serve(args) -> int:
    import uvicorn

    from transformer.server.app import create_app
    from transformer.server.protocol import header_timeout_protocol

    if args.demo:
        cmd_demo(argparse.Namespace(dir=None, catalog=args.catalog))
    config = Config.from_env(**{f.name: getattr(args, f.name) for f in fields(Config)})
    if args.workers > 1:
        return serve_workers(args, config)
    if config.data_root:  # scanned once here; the app rechecks it while it runs (server/app.py)
        from catalog.scan import scan
        from catalog.store import Catalog
        from readers.resources import default_resources

        with contextlib.closing(Catalog(config.catalog)) as catalog:
            report = scan(config.data_root, catalog)
        print(f"scanned {config.data_root}: {len(report.added)} datasets", file=sys.stderr)
        # the scan read through the library's default caches and file pool: the server has its own
        default_resources().close()
    app = create_app(config)
    malloc.tune()
    # Opening files (tifffile parses every tag into objects) triggers cyclic collections that walk
    # every object the server holds: move the start-up objects out of their reach and collect less
    # often. A cold chunk that opens 64 slices measured 36-49 ms before, 28-32 ms after. Interpreter-wide
    # state, so it is set here by the command and not by the app factory (which tests embed).
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    print(f"serving on http://{config.host}:{config.port}/  (catalog {config.catalog})", file=sys.stderr)
    uvicorn.run(app, host=config.host, port=config.port, log_level=args.log_level,
                http=header_timeout_protocol(config.header_timeout), loop="uvloop", access_log=args.access_log)
    return 0


def given_settings(args, skip: tuple[str, ...] = ("host", "port", "worker_name", "catalog", "metrics_port")
                   ) -> list[str]:
    """The setting flags given on this command line, spelt again for a worker's ``serve`` (not ``--metrics-port``:
    one port cannot serve N workers)."""
    out = []
    for f in fields(Config):
        value = getattr(args, f.name, None)
        if value is None or f.name in skip:
            continue
        out += [f"--{f.name.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return out


def serve_workers(args, config: Config) -> int:
    """``serve --workers N``: N processes on ports PORT..PORT+N-1 (one port each: nginx's consistent hash
    needs to tell them apart), restarted one by one on SIGHUP, all stopped on Ctrl-C or SIGTERM."""
    from transformer.stack import Stack, run_until_stopped

    stack = Stack(config.catalog, serve_args=given_settings(args), proxy=False, host=config.host,
                  worker_ports=[config.port + i for i in range(args.workers)])
    return run_until_stopped(stack, [w.url for w in stack.workers])


def cmd_stack(args) -> int:
    from transformer.stack import Proxy, Stack, run_until_stopped

    run = Path(args.run).resolve() if args.run else None
    render = {"cache_size": args.cache_size, "nginx_workers": args.nginx_workers, "access_log": args.access_log}
    if args.upstream:  # the workers run elsewhere (docker/compose.yml): nginx only
        run = run or Path("/var/cache/transformer-proxy")
        proxy = Proxy(args.port, args.upstream, run, run / "cache", host=args.host, **render)
        return run_until_stopped(proxy, args.upstream)
    serve_args = [a for a in args.serve_args if a != "--"]
    catalog = Config.from_env(catalog=args.catalog).catalog
    stack = Stack(catalog, args.workers, args.port, serve_args, run=run, host=args.host, **render)
    return run_until_stopped(stack, [w.url for w in stack.workers])


def cmd_prewarm(args) -> int:
    from transformer.prewarm import prewarm

    base = args.base_url or os.environ.get("TRANSFORMER_URL") or "http://127.0.0.1:8080"
    done = prewarm(base, args.id, args.levels, args.scheduler, token_of(args))
    print(f"{args.id}: {done.requests} chunks requested, {done.bytes / 1e6:.1f} MB, {done.failed} failed")
    return 1 if done.failed else 0


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--name`` flag per Config field (type, help and choices from the field)."""
    for f in fields(Config):
        if f.name in GLOBAL_SETTINGS:
            continue
        choices = f.metadata.get("choices")
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=functools.partial(_flag_value, f), choices=choices,
                            help=f"{f.metadata['help']} (default {default_text(f)}; ${env_name(f)})")


def _flag_value(f, raw: str):
    try:
        return parse(f, raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{raw!r}: {exc}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformer", description=__doc__)
    parser.add_argument("--catalog", help="catalog database (default: $TRANSFORMER_CATALOG or user data dir)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the catalog over HTTP")
    add_setting_flags(p)
    p.add_argument("--demo", action="store_true", help="generate and register the demo datasets first")
    p.add_argument("--log-level", default="info")
    p.add_argument("--access-log", action="store_true")
    p.add_argument("--workers", type=int, default=1, help="worker processes on ports PORT..PORT+N-1 (put nginx "
                   "in front: `transformer stack`)")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("stack", help="nginx (docker/nginx.conf.template) in front of N workers, on loopback",
                       description="Starts N `transformer serve` workers and nginx in front of them (consistent "
                       "hashing, a disk cache); Ctrl-C stops all, SIGHUP restarts the workers one by one. "
                       "Flags after -- go to every worker's serve.")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--port", type=int, default=8080, help="nginx's port")
    p.add_argument("--host", default="127.0.0.1", help="nginx's interface (workers always listen on loopback)")
    p.add_argument("--run", help="folder for logs, the nginx configuration and its cache (default: a temporary one)")
    p.add_argument("--cache-size", default="10g", help="nginx's disk cache limit (max_size)")
    p.add_argument("--nginx-workers", type=int, default=1, help="nginx worker processes")
    p.add_argument("--access-log", action="store_true", help="nginx access log in the run folder")
    p.add_argument("--upstream", action="append", metavar="HOST:PORT",
                   help="a worker started elsewhere (repeat): run nginx only, as docker/compose.yml's proxy does")
    p.add_argument("serve_args", nargs=argparse.REMAINDER, help="-- then flags for every worker's serve")
    p.set_defaults(fn=cmd_stack)

    p = sub.add_parser("prewarm", help="request a dataset's coarse levels (or all) through the proxy, so its cache "
                       "holds them")
    p.add_argument("id")
    p.add_argument("--levels", choices=("coarse", "all"), default="coarse",
                   help="coarse: the levels with at most 4096 chunks (default); all: every level")
    p.add_argument("--base-url", help="the proxy (default: $TRANSFORMER_URL, else http://127.0.0.1:8080)")
    p.add_argument("--scheduler", help="dask.distributed scheduler address: its workers make the requests")
    add_token_flags(p)  # requests with a token are never cached by the proxy
    p.set_defaults(fn=cmd_prewarm)

    p = sub.add_parser("scan", help="register every dataset under ROOT")
    p.add_argument("root")
    p.add_argument("--checksums", action="store_true", help="record sha256 of every file (slow)")
    p.add_argument("--access", choices=LEVELS, help="at least this strict for everything found (sidecars can "
                   "only make a dataset stricter)")
    p.add_argument("--prune", action="store_true", help="remove the records under ROOT whose source vanished "
                   "or is now refused")
    p.set_defaults(fn=cmd_scan)

    p = sub.add_parser("add", help="register one dataset")
    p.add_argument("path")
    p.add_argument("--title")
    p.add_argument("--reader", help="force a reader plugin")
    p.add_argument("--meta", action="append", metavar="KEY=VALUE",
                   help="descriptive metadata, e.g. species=mouse or voxel_size=2,0.5,0.5 (z,y,x µm)")
    p.add_argument("--checksums", action="store_true")
    p.add_argument("--access", choices=LEVELS, help="at least this strict (its sidecars can only make it stricter)")
    p.set_defaults(fn=cmd_add)

    p = sub.add_parser("info", help="print a dataset's record")
    p.add_argument("id")
    p.add_argument("--source", action="store_true", help="include the server-side path")
    p.set_defaults(fn=cmd_info)

    p = sub.add_parser("remove", help="unregister a dataset")
    p.add_argument("id")
    p.set_defaults(fn=cmd_remove)

    p = sub.add_parser("demo", help="generate and register the demo datasets")
    p.add_argument("--dir", help="where to write them (default: user data dir)")
    p.set_defaults(fn=cmd_demo)

    p = sub.add_parser("cutout", help="download a box of one level from a running service as .npy, .tif or .h5")
    p.add_argument("dataset", help="a dataset id, or its URL http://host/api/datasets/ID")
    p.add_argument("-o", "--output", required=True, help="box.npy, box.ome.tif or box.h5 (format from the suffix)")
    p.add_argument("--level", type=int, default=0)
    p.add_argument("--region", help="z0:z1,y0:y1,x0:x1 (default: the whole level)")
    p.add_argument("--t", help="time points, i or i:j (default: all)")
    p.add_argument("--channels", help="channels, i or i:j (default: all)")
    p.add_argument("--base-url", help="the service (default: $TRANSFORMER_URL, --public-url or host:port)")
    add_token_flags(p)
    p.set_defaults(fn=cmd_cutout)

    p = sub.add_parser("export", help="write a box of one level to OME-Zarr, OME-TIFF or HDF5 with dask")
    p.add_argument("id")
    p.add_argument("--to", required=True, help="out.ome.zarr, out.ome.tif or out.h5 (format from the suffix)")
    p.add_argument("--level", type=int, default=0)
    p.add_argument("--region", help="z0:z1,y0:y1,x0:x1 (default: the whole level)")
    p.add_argument("--t", help="time points, i or i:j (default: all)")
    p.add_argument("--c", help="channels, i or i:j (default: all)")
    p.add_argument("--scheduler", help="dask.distributed scheduler address, e.g. tcp://host:8786 (default: local "
                   "threads)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("token", help="access tokens for embargoed and private datasets")
    tokens = p.add_subparsers(dest="action", required=True)
    t = tokens.add_parser("create", help="make a token and print it (once)")
    t.add_argument("--name", required=True)
    t.add_argument("--dataset", action="append", metavar="ID", help="a dataset it grants (repeatable)")
    t.add_argument("--all", action="store_true", help="grant every dataset")
    t.add_argument("--expires", metavar="30d", help="lifetime: a number and m, h, d or w (default: never)")
    tokens.add_parser("list", help="names, state, expiry and grants (never the tokens)")
    t = tokens.add_parser("revoke", help="stop a token working (from the next request on)")
    t.add_argument("name")
    p.set_defaults(fn=cmd_token)

    p = sub.add_parser("readers", help="list installed reader plugins")
    p.set_defaults(fn=cmd_readers)

    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())

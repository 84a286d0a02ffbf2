"""Liveness and Prometheus-style metrics."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from transformer.server.errors import NotFound
from transformer.server.http import json_response


async def healthz(request: Request) -> Response:
    svc = request.app.state.service
    # not through the chunk pool: a liveness probe must not queue behind a flood of cold chunks
    total, _ = await asyncio.to_thread(svc.catalog.search, "", "", "", 1, 0)
    return json_response(request, {"status": "ok", "datasets": total}, max_age=0)


async def metrics(request: Request) -> Response:
    """The public metrics: operational numbers only. With ``--metrics-port`` there are none here, a 404 as for a
    route nobody has; the metrics listener (transformer.server.metrics_listener) has all of them."""
    svc = request.app.state.service
    if svc.config.metrics_port is not None:
        raise NotFound(f"no route for {request.url.path!r}")
    return PlainTextResponse(metrics_text(svc, trusted=False), headers={"Cache-Control": "no-store"})


def metrics_text(svc, trusted: bool) -> str:
    """Prometheus text. ``trusted`` (the loopback metrics listener) adds the restricted reads per token name and
    dataset id: labels that would reveal private datasets and who reads them to anyone else."""
    lines = []
    # every byte budget (their budgets add up to --cache-mb), then the open-file pool (a count)
    for name, stats in svc.resources.caches().items():
        for stat, value in stats.items():
            lines.append(f'transformer_cache_{stat}{{cache="{name}"}} {value}')
    for stat, value in svc.resources.readers.handles.stats().items():
        lines.append(f"transformer_open_files_{stat} {value}")
    for stat, value in svc.resources.readers.slices.stats().items():  # slots: one per small slice header
        lines.append(f"transformer_open_slices_{stat} {value}")
    for stat, value in svc.datasets.stats().items():
        lines.append(f"transformer_open_datasets_{stat} {value}")
    for name, value in sorted(dict(svc.counters).items()):  # a copy: the listener's thread reads while the loop counts
        lines.append(f"transformer_{name}_total {value}")
    lines.append(f"transformer_inflight {svc.encoded.stats()['inflight']}")
    for (token, dataset, status), value in sorted(dict(svc.audit).items() if trusted else ()):  # names, not tokens
        lines.append(f'transformer_restricted_reads_total{{token="{token}",dataset="{dataset}",status="{status}"}} '
                     f"{value}")
    return "\n".join(lines) + "\n"


routes = [Route("/healthz", healthz), Route("/metrics", metrics)]

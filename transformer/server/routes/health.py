"""Liveness and Prometheus-style metrics."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from transformer.server.http import json_response


async def healthz(request: Request) -> Response:
    svc = request.app.state.service
    total, _ = await svc.run(svc.catalog.search, "", "", "", 1, 0)
    return json_response(request, {"status": "ok", "datasets": total}, max_age=0)


async def metrics(request: Request) -> Response:
    svc = request.app.state.service
    lines = []
    for name, cache in (("blocks", svc.blocks), ("parts", svc.parts), ("encoded", svc.encoded),
                        ("responses", svc.responses)):
        for stat, value in cache.stats().items():
            lines.append(f'transformer_cache_{stat}{{cache="{name}"}} {value}')
    for name, value in sorted(svc.counters.items()):
        lines.append(f"transformer_{name}_total {value}")
    lines.append(f"transformer_inflight {len(svc.flights)}")
    return PlainTextResponse("\n".join(lines) + "\n", headers={"Cache-Control": "no-store"})


routes = [Route("/healthz", healthz), Route("/metrics", metrics)]

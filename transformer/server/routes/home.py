"""A plain HTML list of the catalog at / (for people; programs use /api/datasets)."""

from __future__ import annotations

import functools
import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from transformer.server.auth import grant_of, link_base, listing
from transformer.server.http import base_url
from transformer.server.routes.links import dataset_links


async def home(request: Request) -> Response:
    svc = request.app.state.service
    total, records = await svc.run(functools.partial(
        svc.catalog.search, request.query_params.get("q", ""), "", "", 200, 0, **listing(grant_of(request))))
    base = link_base(request, base_url(request, svc.config))
    rows = []
    for r in records:
        links = " ".join(
            f'<a href="{html.escape(url)}">{html.escape(name)}</a>'
            for name, url in dataset_links(base, r.id, request.app.state.views).items()
        )
        shape = "×".join(str(n) for n in r.shape)
        rows.append(
            f"<tr><td><code>{r.id}</code></td><td>{html.escape(r.title)}</td><td>{html.escape(r.format)}</td>"
            f"<td>{shape}</td><td>{html.escape(r.dtype)}</td><td>{links}</td></tr>"
        )
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>Datasets</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.3em .8em;text-align:left}}</style></head>
<body><h1>Datasets ({total})</h1><form><input name="q" placeholder="search"
value="{html.escape(request.query_params.get('q', ''))}"></form>
<table><tr><th>id</th><th>title</th><th>format</th><th>shape (t,c,z,y,x)</th><th>type</th><th>views</th></tr>
{''.join(rows)}</table></body></html>"""
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


routes = [Route("/", home)]

"""``serve --metrics-port``: the full metrics on a listener of their own, on loopback unless told otherwise.

The public port's /metrics then answers 404. Only here are the restricted reads labelled with token names and
dataset ids (docs/security.md): a scraper reaches this port from the host (or a network the operator chose with
``--metrics-host``), never through the proxy. A plain threaded HTTP server: a scrape reads counters and cache
statistics and never touches the event loop or the chunk pool.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class MetricsListener:
    """Serves ``GET /metrics`` (``text()`` on each request) on ``host:port`` in a daemon thread until closed."""

    def __init__(self, host: str, port: int, text: Any) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                status, body, kind = ((200, text().encode(), "text/plain; charset=utf-8") if self.path == "/metrics"
                                      else (404, b'{"error":"not_found","reason":"only /metrics is served here"}',
                                            "application/json"))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # scrapes every few seconds: not logged
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="metrics", daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

"""Part 6 — memory: peak RSS (VmHWM) of the server processes of parts 3 and 4 against their cache budget.

Parts 3 and 4 run their servers with ``--cache-mb`` = the memory budget and record the peak resident
set of each server process just before stopping it; run alone, this part runs them first.
"""

from __future__ import annotations

from bench import first_view, throughput
from bench.common import Context, Goal, Part, table

ALLOWANCE_MB = 300


def run(ctx: Context) -> Part:
    part = Part("memory", f"6. Memory (server peak RSS ÷ cache budget + {ALLOWANCE_MB} MB)")
    if not any(k.startswith("3.") for k in ctx.peaks):
        throughput.run(ctx)
    if not any(k.startswith("4.") for k in ctx.peaks):
        first_view.run(ctx)
    if not ctx.peaks:
        part.skipped = "parts 3 and 4 did not run a server"
        return part
    rows, worst = [], 0.0
    for label, (peak, budget) in ctx.peaks.items():
        limit = budget + ALLOWANCE_MB
        mb = peak / (1 << 20)
        worst = max(worst, mb / limit)
        rows.append((label, budget, mb, limit, mb / limit, "yes" if mb <= limit else "NO"))
    part.tables.append(table(["server", "--cache-mb", "peak RSS MB", "limit MB", "÷ limit", "within"], rows))
    part.notes.append("Peak RSS is the kernel's VmHWM of the uvicorn process (/proc/PID/status), read before it "
                      "stops; MB here are MiB.")
    part.goals.append(Goal(f"peak RSS ≤ --cache-mb + {ALLOWANCE_MB} MB (worst server, ÷ limit)", worst, "≤ 1.0",
                           worst <= 1.0))
    return part

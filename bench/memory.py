"""Part 6 — memory: peak RSS (VmHWM) of the server processes of parts 3 and 4 against their cache budget.

Parts 3 and 4 run their servers with ``--cache-mb`` = the memory budget and record the peak resident
set of each server process just before stopping it; run alone, this part runs them first.
"""

from __future__ import annotations

from bench import first_view, throughput
from bench.common import Context, Goal, MiB, Part, table

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
    rows, worst, worst_hwm = [], 0.0, 0.0
    for label, peak in ctx.peaks.items():
        limit = peak.budget_mb + ALLOWANCE_MB
        anon, hwm = peak.anon / MiB, peak.hwm / MiB
        worst, worst_hwm = max(worst, anon / limit), max(worst_hwm, hwm / limit)
        rows.append((label, peak.budget_mb, hwm, anon, limit, hwm / limit, anon / limit,
                     "yes" if hwm <= limit else "NO"))
    part.tables.append(table(["server", "--cache-mb", "peak RSS (VmHWM) MB", "peak anonymous RSS MB", "limit MB",
                              "VmHWM ÷ limit", "anonymous ÷ limit", "VmHWM within"], rows))
    part.notes += [
        "VmHWM is the kernel's peak resident set of the uvicorn process (/proc/PID/status), kept by the kernel: "
        "the true peak, whenever it happened. It includes file pages the process maps (libraries; a "
        "memory-mapped source's pages while mapped). Anonymous RSS (RssAnon: heap, caches, buffers) is sampled "
        "ten times a second, so a peak between samples is missed. MB here are MiB.",
        f"The goal is judged on VmHWM; the worst sampled anonymous RSS ÷ limit is {worst:.2f}.",
    ]
    part.goals.append(Goal(f"peak RSS (VmHWM) ≤ --cache-mb + {ALLOWANCE_MB} MB (worst server, ÷ limit)", worst_hwm,
                           "≤ 1.0", worst_hwm <= 1.0))
    return part

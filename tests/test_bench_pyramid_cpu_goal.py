"""The pyramid part's server-CPU goal (issue 22 item 14): the median of the pairs' CPU ratios at most 1.2 and every
pair under 1.3, so one marginal median cannot pass a spread that reaches 1.36."""

from __future__ import annotations

from bench.pyramid_cost import _cpu_goal


def _runs(cpus):
    return [{"cpu": c} for c in cpus]


def test_median_and_every_pair_are_judged():
    alone = _runs([2.0, 2.0, 2.0])
    met = _cpu_goal("cpu", _runs([2.3, 2.4, 2.5]), alone)
    assert met.met is True and met.value == 1.2 and "spread 1.15–1.25" in met.target
    wide = _cpu_goal("cpu", _runs([2.2, 2.3, 2.72]), alone)  # median 1.15, one pair 1.36
    assert wide.met is False and wide.value == 1.15
    high = _cpu_goal("cpu", _runs([2.42, 2.44, 2.46]), alone)  # all under 1.3, median 1.22
    assert high.met is False

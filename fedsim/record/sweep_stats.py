"""Statistics of a sweep a reviewer accepts: intervals inside a quantity's range, effects
against a reference point, and a warning when the seeds cannot resolve them.

Why not a plain t-interval everywhere: bytes and times are positive and skewed, and with 2
or 3 seeds `mean ± t·s/√n` runs below zero (a bytes axis to −4 MB). Positive quantities are
summarised on the log scale: the geometric mean and `exp(mean(log x) ± t·sd(log x)/√n)`, an
interval that is always positive and reads as a factor; their effect against the reference
is a ratio with its interval (Welch on the logs). Bounded quantities (accuracy, a share)
keep the t-interval, clipped to their range, and their effect is a difference. Where an
effect's interval is wider than the effect itself, the seeds are too few: the interval's
half-width shrinks as 1/√n, so about n·(half-width / effect)² seeds per point resolve it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Effect",
    "effect",
    "interval",
    "seeds_needed",
]

Stat = tuple[int, float | None, float | None, float | None]
"""(n, centre, low, high): the centre is the geometric mean on the log scale."""


def _t(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _sd(values: list[float], mean: float) -> float:
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def interval(values: list[float], scale: str, bounds: tuple[float, float] | None = None) -> Stat:
    """The 95 % interval of `values` on `scale` (`log` or `linear`, clipped to `bounds`).
    A log-scale quantity with a value <= 0 falls back to the linear interval clipped at 0."""
    n = len(values)
    if n == 0:
        return 0, None, None, None
    if scale == "log" and min(values) <= 0:
        scale, bounds = "linear", (0.0, math.inf)
    if scale == "log":
        logs = [math.log(v) for v in values]
        centre = math.fsum(logs) / n
        if n == 1:
            return 1, math.exp(centre), None, None
        half = _t(n - 1) * _sd(logs, centre) / math.sqrt(n)
        return n, math.exp(centre), math.exp(centre - half), math.exp(centre + half)
    mean = math.fsum(values) / n
    if n == 1:
        return 1, mean, None, None
    half = _t(n - 1) * _sd(values, mean) / math.sqrt(n)
    lo, hi = mean - half, mean + half
    if bounds is not None:
        lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
    return n, mean, lo, hi


@dataclass(frozen=True)
class Effect:
    """A grid point against the reference: a ratio (log scale) or a difference (linear),
    with its 95 % interval (None: too few seeds), on the scale's own terms."""

    kind: str  # "ratio" or "difference"
    value: float
    low: float | None
    high: float | None
    half_width: float | None
    """Of the interval on the comparison scale (log ratio or difference)."""
    size: float
    """|log ratio| or |difference|: the effect on that scale."""
    n: int
    """The smaller seed count of the two points."""

    @property
    def resolved(self) -> bool:
        """The interval excludes "no effect" (ratio 1, difference 0)."""
        return self.half_width is not None and self.half_width < self.size

    def text(self) -> str:
        if self.kind == "ratio":
            core = f"×{self.value:.3g}"
            if self.low is not None and self.high is not None:
                core += f" [{self.low:.3g}, {self.high:.3g}]"
            return core
        core = f"{self.value:+.3g}"
        if self.low is not None and self.high is not None:
            core += f" [{self.low:+.3g}, {self.high:+.3g}]"
        return core


def effect(values: list[float], reference: list[float], scale: str) -> Effect | None:
    """`values` against `reference` (each over its seeds): Welch's interval of the
    difference of means, on the log scale for `log` quantities (then a ratio)."""
    if not values or not reference:
        return None
    ratio = scale == "log" and min(values) > 0 and min(reference) > 0
    a = [math.log(v) for v in values] if ratio else list(values)
    b = [math.log(v) for v in reference] if ratio else list(reference)
    ma, mb = math.fsum(a) / len(a), math.fsum(b) / len(b)
    diff = ma - mb
    n = min(len(a), len(b))
    half = None
    if len(a) > 1 and len(b) > 1:
        se = math.sqrt(_sd(a, ma) ** 2 / len(a) + _sd(b, mb) ** 2 / len(b))
        half = _t(n - 1) * se
    if ratio:
        lo, hi = (None, None) if half is None else (math.exp(diff - half), math.exp(diff + half))
        return Effect("ratio", math.exp(diff), lo, hi, half, abs(diff), n)
    lo, hi = (None, None) if half is None else (diff - half, diff + half)
    return Effect("difference", diff, lo, hi, half, abs(diff), n)


def seeds_needed(e: Effect, cap: int = 200) -> int | None:
    """Seeds per point that would make `e`'s interval narrower than the effect (its
    half-width shrinks as 1/√n); None if it already is, or there is no effect to resolve."""
    if e.resolved or e.half_width is None or e.size == 0:
        return None
    return min(cap, max(e.n + 1, math.ceil(e.n * (e.half_width / e.size) ** 2)))

"""Statistics of a sweep a reviewer accepts: intervals inside a quantity's range, effects
against a reference point, and a warning when the seeds cannot resolve them.

Why not a plain t-interval everywhere: bytes and times are positive and skewed, and with 2
or 3 seeds `mean ± t·s/√n` runs below zero (a bytes axis to −4 MB). Positive quantities are
summarised on the log scale: the geometric mean and `exp(mean(log x) ± t·sd(log x)/√n)`, an
interval that is always positive and reads as a factor; their effect against the reference
is a ratio with its interval. Bounded quantities (accuracy, a share) keep the t-interval,
clipped to their range, and their effect is a difference.

Why paired: a sweep runs every grid point with the same seeds, so seed s at two points
differs only in the swept keys, and most of the seed-to-seed spread (the data split, who is
selected) is common to both. The effect is then the mean of the per-seed differences (of
logs: the geometric mean of the per-seed ratios) with a t-interval from their spread; an
unpaired (Welch) interval would count the shared spread twice and overstate the noise many
times over. Welch is the fallback when the two points do not have values for the same
seeds (a to-target quantity that some seeds never reached, a run that failed).

Where an effect's interval is wider than the effect itself, the seeds are too few: the
seeds per point that would resolve it are the fewest n whose t(0.975, n−1)·spread/√n is
below the effect (`seeds_needed`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "PAIRED",
    "WELCH",
    "Effect",
    "effect",
    "effect_by_seed",
    "interval",
    "paired_effect",
    "seeds_needed",
]

PAIRED, WELCH = "paired", "Welch"
"""Which test an effect's interval comes from."""

Stat = tuple[int, float | None, float | None, float | None]
"""(n, centre, low, high): the centre is the geometric mean on the log scale."""


def _t(df: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, df))


def _sd(values: list[float], mean: float) -> float:
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def interval(values: list[float], scale: str, bounds: tuple[float, float] | None = None) -> Stat:
    """The 95 % interval of `values` on `scale` (`log` or `linear`, clipped to `bounds`).
    A log-scale quantity with a value <= 0 falls back to the linear interval clipped at 0.

    The clip keeps a t-interval inside the quantity's range (a share below 0, bytes
    below 0, from 2 or 3 seeds). It never cuts past the values themselves: a value
    outside `bounds` (a wrong number; the run's audit says so, `audit_warnings`) widens
    the clip to it, so the interval always holds its centre. Before, a sweep printed an
    overhead share of -1.3 % with the interval [0.0, 3.9]."""
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
        lo = max(lo, min(bounds[0], min(values)))
        hi = min(hi, max(bounds[1], max(values)))
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
    """Pairs of seeds (paired), or the smaller seed count of the two points (Welch)."""
    test: str = WELCH
    """`paired` (per-seed differences) or `Welch` (two independent samples)."""
    spread: float | None = None
    """The standard deviation per seed behind the interval, on the comparison scale:
    of the per-seed differences (paired), or √(sd₁² + sd₂²) (Welch, as if both points
    had the same seeds); `half_width` is t(0.975, n−1)·spread/√n."""

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


def _on_scale(values: list[float], ratio: bool) -> list[float]:
    return [math.log(v) for v in values] if ratio else list(values)


def _effect(
    diff: float, half: float | None, ratio: bool, n: int, test: str, spread: float | None
) -> Effect:
    if ratio:
        lo, hi = (None, None) if half is None else (math.exp(diff - half), math.exp(diff + half))
        return Effect("ratio", math.exp(diff), lo, hi, half, abs(diff), n, test, spread)
    lo, hi = (None, None) if half is None else (diff - half, diff + half)
    return Effect("difference", diff, lo, hi, half, abs(diff), n, test, spread)


def effect(values: list[float], reference: list[float], scale: str) -> Effect | None:
    """`values` against `reference` as two independent samples: Welch's interval of the
    difference of means (df = the smaller n − 1), on the log scale for `log` quantities
    (then a ratio of geometric means)."""
    if not values or not reference:
        return None
    ratio = scale == "log" and min(values) > 0 and min(reference) > 0
    a, b = _on_scale(values, ratio), _on_scale(reference, ratio)
    ma, mb = math.fsum(a) / len(a), math.fsum(b) / len(b)
    n = min(len(a), len(b))
    half = spread = None
    if len(a) > 1 and len(b) > 1:
        sa, sb = _sd(a, ma), _sd(b, mb)
        half = _t(n - 1) * math.sqrt(sa**2 / len(a) + sb**2 / len(b))
        spread = math.sqrt(sa**2 + sb**2)
    return _effect(ma - mb, half, ratio, n, WELCH, spread)


def paired_effect(pairs: list[tuple[float, float]], scale: str) -> Effect | None:
    """(value, reference value) of the same seed at two points: the mean per-seed
    difference with its t-interval (df = pairs − 1); on the log scale the geometric mean of
    the per-seed ratios."""
    if not pairs:
        return None
    ratio = scale == "log" and min(min(p) for p in pairs) > 0
    a = _on_scale([v for v, _ in pairs], ratio)
    b = _on_scale([r for _, r in pairs], ratio)
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    n = len(diffs)
    mean = math.fsum(diffs) / n
    half = spread = None
    if n > 1:
        spread = _sd(diffs, mean)
        half = _t(n - 1) * spread / math.sqrt(n)
    return _effect(mean, half, ratio, n, PAIRED, spread)


def effect_by_seed(
    values: dict[int, float], reference: dict[int, float], scale: str
) -> Effect | None:
    """Paired when both points have values for the same seeds (a sweep's points share
    their seeds, so seed s differs only in the swept keys); Welch when they do not."""
    if values and values.keys() == reference.keys():
        return paired_effect([(values[s], reference[s]) for s in sorted(values)], scale)
    return effect(list(values.values()), list(reference.values()), scale)


def seeds_needed(e: Effect, cap: int = 200) -> int | None:
    """Seeds per point that would make `e`'s interval narrower than the effect: the fewest
    n > e.n with t(0.975, n−1)·spread/√n < effect, the spread staying what it is now
    (paired: of the per-seed differences); `cap` when even that many would not. None if
    it is resolved already, or there is no effect or spread to go by."""
    if e.resolved or e.spread is None or e.size == 0:
        return None
    for n in range(e.n + 1, cap + 1):
        if _t(n - 1) * e.spread / math.sqrt(n) < e.size:
            return n
    return cap

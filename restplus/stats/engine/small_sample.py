"""Reference distributions for Wald statistics of the factor-effect models (small-sample inference).

A cluster-robust (sandwich) covariance is estimated from G clusters (problems): it is an average of G
per-problem outer products, so with few problems it is itself noisy, and treating ``estimate / SE``
as standard normal (or a joint Wald statistic as chi2) gives intervals that are too narrow and
p-values that are far too small. With 7 problems a z of -12.9 reads as p = 4.5e-38 against the
normal, 1.3e-5 against t(6), while an exact sign test over the 7 problems can give no less than
2 / 2^7 = 0.016 (the t reference is still a parametric approximation, only a far less optimistic one).

The rule (the usual practice for cluster-robust inference, e.g. Stata's ``vce(cluster)`` and Cameron &
Miller 2015, "A practitioner's guide to cluster-robust inference"):

- every fit whose covariance is cluster-robust (GEE with ``cov_type`` ``"robust"`` or
  ``"bias_reduced"``, logit or linear probability model; the fixed-effects logit's clustered
  covariance) refers a row's ``z = estimate / SE`` to Student t with ``G - 1`` degrees of freedom
  (its p-value and interval both), and a term's joint Wald statistic ``W = chi2`` on ``q``
  restrictions to the Hotelling-type ``F = (G - q) / ((G - 1) q) * W`` on (q, G - q) (``dist``
  ``"F(q,G-q)"``; ``W / q`` on (q, G - 1), ``"F(q,G-1)"``, only when G <= q), see ``Reference.joint``;
- G is the number of clusters in the fit: all problems for GEE, the informative problems (those
  whose answers vary) for the fixed-effects logit;
- this holds for every G, not only below the 40 problems where ``cov_type="auto"`` switches to the
  bias-reduced (Mancl-DeRouen) covariance: the two corrections address different things (the
  sandwich's downward bias versus the noise in any variance estimate), and using t at every G avoids
  a jump in the p-values at 40 problems. With many problems t(G - 1) is the normal distribution for
  every practical purpose (the 97.5 % quantile is 1.972 at G = 200 against 1.960), so large tables
  are essentially unchanged;
- model-based covariances (a single problem: plain logit, least squares with HC1; GEE with
  ``cov_type="naive"``) keep the normal / chi2 reference: there is no cluster count to take df from.

Rows and tests say which reference they used (``dist`` and ``df_denom`` columns of
:class:`restplus.stats.EffectTable`); the exact comparisons of :mod:`restplus.stats.engine.exact` are
labelled ``"exact"`` (sign test) or ``"friedman"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import chi2 as chi2_dist, f as f_dist, norm, t as t_dist

from restplus.errors import AnalysisError

ROW_NORMAL, ROW_T, ROW_EXACT = "normal", "t(G-1)", "exact"
TEST_CHI2, TEST_F, TEST_EXACT, TEST_FRIEDMAN = "chi2", "F(q,G-1)", "exact", "friedman"
TEST_HOTELLING = "F(q,G-q)"


@dataclass(frozen=True, slots=True)
class Reference:
    """How a fit's Wald statistics are referred: normal / chi2 (``df_denom`` None) or t / F with
    ``df_denom = G - 1``."""

    df_denom: int | None

    def __post_init__(self) -> None:
        if self.df_denom is not None and self.df_denom < 1:
            raise AnalysisError(f"a t / F reference needs at least 2 clusters (df_denom >= 1), got "
                                f"df_denom={self.df_denom}.")

    @property
    def row_dist(self) -> str:
        return ROW_NORMAL if self.df_denom is None else ROW_T

    @property
    def test_dist(self) -> str:
        return TEST_CHI2 if self.df_denom is None else TEST_F

    def critical(self, ci: float) -> float:
        """Two-sided critical value for an interval of coverage ``ci``."""
        q = 0.5 + ci / 2
        return float(norm.ppf(q) if self.df_denom is None else t_dist.ppf(q, self.df_denom))

    def p_row(self, z: float) -> float:
        """Two-sided p-value of ``z = estimate / SE``."""
        return float(2 * (norm.sf(abs(z)) if self.df_denom is None else t_dist.sf(abs(z), self.df_denom)))

    def p_joint(self, chi2: float, q: int) -> float:
        """p-value of a Wald statistic on ``q`` restrictions (see :meth:`joint`)."""
        return self.joint(chi2, q)[0]

    def joint(self, chi2: float, q: int) -> tuple[float, str, int | None]:
        """(p, dist, df_denom) of a Wald statistic ``W`` on ``q`` restrictions.

        Model-based: chi2(q). Cluster-robust with G clusters: the Hotelling-type reference
        ``F = (G - q) / ((G - 1) q) * W`` on (q, G - q) whenever G > q, else ``W / q`` on (q, G - 1).
        ``W / q`` on (q, G - 1) ignores that a q-dimensional covariance estimated from G clusters is
        noisier in more directions; for null 4-df interaction tests it ran at 0.069 (G = 20) and 0.064
        (G = 30), the Hotelling form at 0.039 and 0.038 (bench/stats_validity.py, 2000 replicates, MC SE
        0.005). Both tend to chi2(q) / q as G grows,
        so it is used at every G: no jump in p at a threshold.
        """
        if self.df_denom is None:
            return float(chi2_dist.sf(chi2, q)), TEST_CHI2, None
        g = self.df_denom + 1
        if g > q:
            stat = (g - q) / ((g - 1) * q) * chi2
            return float(f_dist.sf(stat, q, g - q)), TEST_HOTELLING, g - q
        return float(f_dist.sf(chi2 / q, q, self.df_denom)), TEST_F, self.df_denom


def reference_for(clusters: int | None) -> Reference:
    """The reference for a fit with ``clusters`` clusters behind a cluster-robust covariance (None when
    the covariance is model-based)."""
    return Reference(None if clusters is None else clusters - 1)

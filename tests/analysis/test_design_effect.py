"""Design effects and effective sample sizes when the population size is unknown (no weights).

Without weights the estimated population size equals the sample size, so R's default
without-replacement reference variance :math:`(1-n/\\hat N)s^2/n` is 0 and its deff is Inf. The
engine's default (``deff="auto"``) then uses the with-replacement reference :math:`s^2/n`, and the
effective sample size behind the reliability rule is always :math:`n^*=\\hat\\sigma^2/\\widehat V`
(the with-replacement SRS variance of the NCHS standard), never :math:`n/\\text{deff}`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from analysis.cli import analyze
from analysis.counts import counts_from_responses
from analysis.design import Design
from analysis.indices import satisfaction_indices
from tests.analysis.factories import make_responses

BASE = Path(__file__).parents[1] / "reference" / "data" / "base" / "responses.csv"
UNWEIGHTED = Design()
WEIGHTED = Design(weight="weight")
CLUSTERED = Design(weight="weight", strata="agency_code", psu="counter_code")


@cache
def _base() -> pd.DataFrame:
    return pd.read_csv(BASE, dtype={"agency_code": str, "counter_code": str, "field_code": str})


def _table(df, form, design, by=(), **kwargs) -> pd.DataFrame:
    counts = counts_from_responses(df, form, design, by=list(by))
    return satisfaction_indices(counts, form, design, by=list(by), **kwargs).table


def _assert_finite_deff(t: pd.DataFrame) -> None:
    """Finite and positive wherever the SRS reference variance is (0 < estimate < 100).

    At an estimate of 0 or 100 the SE and the reference variance are both 0: deff is 0/0 (NaN,
    as in R), never Inf.
    """
    inner = ((t["estimate"] > 0) & (t["estimate"] < 100)).to_numpy()
    assert inner.sum() > 0.9 * len(t)
    deff = t["deff"].to_numpy()
    assert np.isfinite(deff[inner]).all() and (deff[inner] > 0).all()
    assert not np.isinf(deff).any()


def _held_out(form, seed: int = 20261203) -> pd.DataFrame:
    """Data no reference test was tuned on: 2,400 responses and one agency of 12."""
    df = make_responses(form, seed=seed, n=2400, strata=5, psu_per_stratum=(4, 3, 5, 4, 3))
    small = df.index[:12]
    return df.assign(agency_code=df["agency_code"].where(~df.index.isin(small), "TINY"))


@pytest.mark.parametrize("by", [(), ("agency_code",)])
def test_unweighted_indices_have_finite_deff_and_large_domains_are_shown(form17, by):
    t = _table(_base(), form17, UNWEIGHTED, by)
    _assert_finite_deff(t)
    indices = t[t["level"] != "criterion"]
    assert set(indices["level"]) == {"factor", "sipas"}
    large = indices["n"] >= 30
    assert large.mean() > 0.9
    assert (indices.loc[large, "n_eff"] >= 30).all()
    assert not indices.loc[large, "suppressed"].any()
    small = indices[~large]  # n* <= n < 30: the NCHS rule suppresses them
    assert (small["suppression_reason"] == "effective sample size < 30").all()
    if not by:
        sipas = indices[indices["level"] == "sipas"].iloc[0]
        assert sipas["n"] == 3000 and sipas["n_eff"] > 1000
        assert not t["suppressed"].any()


def test_index_n_eff_is_nchs_with_replacement_and_capped_at_n(form17):
    t = _table(_base(), form17, UNWEIGHTED, ("agency_code",))
    p, v, n = t["estimate"] / 100, (t["se"] / 100) ** 2, t["n"]
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = np.where(v > 0, p * (1 - p) / v, n)  # version A: binomial unit variance
    expected = np.minimum(raw, n)
    assert (raw[t["level"] == "criterion"] < n[t["level"] == "criterion"]).any()
    np.testing.assert_allclose(t["n_eff"], expected, rtol=1e-12)


def test_version_b_n_eff_uses_the_score_variance(form17):
    """n* = sigma^2 / V with sigma^2 the weighted variance of the respondents' scores."""
    df = make_responses(form17, seed=31, n=600, p_skip=0.0, p_na=0.0)
    t = _table(df, form17, CLUSTERED, version="B").set_index("indicator")
    factors = [df[list(f.item_keys)].ge(4).mean(axis=1) for f in form17.factors]  # all valid
    score = pd.concat(factors, axis=1).mean(axis=1)
    w = df["weight"]
    mean = np.average(score, weights=w)
    sigma2 = np.average((score - mean) ** 2, weights=w)
    row = t.loc["SIPAS"]
    assert row["estimate"] / 100 == pytest.approx(mean, rel=1e-12)
    assert row["n_eff"] == pytest.approx(min(sigma2 / (row["se"] / 100) ** 2, 600), rel=1e-10)


def test_unweighted_srs_deff_is_one_for_means(form17):
    """Equal weights, one response per PSU, complete answers: V = s^2/n exactly."""
    df = make_responses(form17, seed=9, n=150, p_skip=0.0, p_na=0.0)
    t = _table(df, form17, UNWEIGHTED, version="B")
    np.testing.assert_allclose(t["deff"], 1.0, rtol=1e-10)


def test_unit_weight_column_is_the_same_as_no_weights(form17):
    df = _base().assign(weight=1.0)
    got = _table(df, form17, WEIGHTED, ("agency_code",))
    want = _table(df, form17, UNWEIGHTED, ("agency_code",))
    for col in ("estimate", "se", "n_eff", "deff"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-10, err_msg=col)
    assert (got["suppressed"] == want["suppressed"]).all()


def test_expansion_weights_keep_r_without_replacement_deff(form17):
    """Weights that estimate a population (N-hat > n): the default is R's svymean deff."""
    df = _base()
    auto = _table(df, form17, CLUSTERED, ("agency_code",))
    wor = _table(df, form17, CLUSTERED, ("agency_code",), deff="without_replacement")
    np.testing.assert_allclose(auto["deff"], wor["deff"], rtol=1e-14)
    _assert_finite_deff(auto)


def test_explicit_without_replacement_still_gives_r_inf_without_weights(form17):
    t = _table(_base(), form17, UNWEIGHTED, deff="without_replacement")
    assert (~np.isfinite(t["deff"]) | (t["deff"] > 1e6)).all()
    # ... but reliability no longer depends on the deff reference
    auto = _table(_base(), form17, UNWEIGHTED)
    np.testing.assert_allclose(t["n_eff"], auto["n_eff"], rtol=1e-12)
    assert not t["suppressed"].any()


def test_normalised_weights_fall_back_where_r_has_no_reference(form17):
    """Weights scaled to sum to n: N-hat <= n in some domains, where R's deff is NaN or Inf."""
    df = _base()
    df = df.assign(weight=df["weight"] * len(df) / df["weight"].sum())
    t = _table(df, form17, WEIGHTED, ("agency_code",))
    _assert_finite_deff(t)
    wor = _table(df, form17, WEIGHTED, ("agency_code",), deff="without_replacement")
    replace = _table(df, form17, WEIGHTED, ("agency_code",), deff="replace")
    inner = (t["se"] > 0).to_numpy()
    fallback = ~np.isfinite(wor["deff"].to_numpy()) & inner
    assert 0 < fallback.sum() < inner.sum()
    np.testing.assert_allclose(t["deff"][fallback], replace["deff"][fallback], rtol=1e-14)
    kept = ~fallback & inner
    np.testing.assert_allclose(t["deff"][kept], wor["deff"][kept], rtol=1e-14)


@pytest.mark.parametrize(
    "design", [UNWEIGHTED, WEIGHTED, CLUSTERED], ids=["unweighted", "weighted", "clustered"]
)
def test_held_out_data_with_and_without_weights(form17, design):
    df = _held_out(form17)
    t = _table(df, form17, design, ("agency_code",))
    _assert_finite_deff(t)
    big = t[(t["agency_code"] != "TINY") & (t["level"] == "sipas")]
    assert (big["n"] > 300).all()
    assert not big["suppressed"].any(), big["suppression_reason"].tolist()
    tiny = t[t["agency_code"] == "TINY"]
    assert (tiny["n_eff"] <= tiny["n"]).all() and (tiny["n"] <= 12).all()
    assert tiny["suppressed"].all()
    assert set(tiny["suppression_reason"]) <= {
        "effective sample size < 30",
        "no degrees of freedom (df <= 0)",
    }
    whole = _table(df, form17, design)
    assert not whole.loc[whole["level"] != "criterion", "suppressed"].any()


def test_sipas_analyze_without_weights_shows_the_indices(tmp_path):
    out = tmp_path / "result.csv"
    args = [str(BASE), "--form", "sipas-2017", "--by", "agency_code", "--out", str(out)]
    result = CliRunner().invoke(analyze, args)
    assert result.exit_code == 0, result.output
    t = pd.read_csv(out)
    _assert_finite_deff(t)
    indices = t[t["level"] != "criterion"]
    assert len(indices) == (30 + 1) * 6  # 30 agencies and the total
    assert not indices.loc[indices["n"] >= 30, "suppressed"].any()

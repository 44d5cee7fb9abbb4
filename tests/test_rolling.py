"""Rolling re-estimation (xlatsm.rolling, in xlatsm/reestimation.py): windows, forecasts equal to direct refits, the
random walk's RMSE against a direct computation, Dask and local processes equal to a serial run (also with warm
starts), warm-started fits equal to cold ones window by window, and the Diebold-Li (2006) recursive out-of-sample
exercise against their published random-walk numbers."""
import numpy as np
import pandas as pd
import pytest

import xlatsm
from xlatsm import InputError, ModelError
from xlatsm.atsm.nelson_siegel import fit_dns
from xlatsm.forecast import forecast
from xlatsm.reestimation import rolling, window_bounds, window_chunks


@pytest.fixture(scope="module")
def sample():
    # columns deliberately out of maturity order: the RMSE table keeps the input's order
    return xlatsm.load_sample()[["SVENY05", "SVENY01", "SVENY02", "SVENY03", "SVENY09", "SVENY06"]].iloc[-90:]


@pytest.fixture(scope="module")
def serial(sample):
    return rolling(sample, method="dns", horizons=(1, 3), forecast_start=-12, step=2, client="serial",
                   progress=False, dynamics="ar")


def test_windows():
    dates = pd.date_range("2000-01-31", periods=40, freq="ME")
    bounds, target = window_bounds(dates, window=None, step=1, forecast_start="2002-01", max_horizon=6)
    assert target == 24 and bounds[0] == (0, 18) and bounds[-1] == (0, 39) and len(bounds) == 22
    bounds, target = window_bounds(dates, window=10, step=5)
    assert bounds[0] == (0, 9) and all(e - s + 1 == 10 for s, e in bounds)
    assert [e for _, e in bounds] == [9, 14, 19, 24, 29, 34, 39]
    with pytest.raises(InputError, match="longer than the sample"):
        window_bounds(dates, window=41)
    with pytest.raises(InputError, match="leave 6 date"):
        window_bounds(dates, forecast_start="2000-03", max_horizon=6)


def test_forecasts_are_direct_refits(serial, sample):
    assert serial.columns == ["5Y", "1Y", "2Y", "3Y", "9Y", "6Y"]
    assert list(serial.forecast_rmse.columns) == serial.columns
    assert list(serial.forecast_rmse.index) == [("model", 1), ("model", 3), ("random walk", 1), ("random walk", 3)]
    origin = serial.windows["end"].iloc[2]
    direct = fit_dns(sample.loc[:origin], dynamics="ar")
    fc = forecast(direct, 3).yields[serial.columns]
    np.testing.assert_allclose(serial.forecasts.xs(origin, level="origin").to_numpy(), fc.to_numpy(), rtol=1e-12)
    assert serial.fits[origin].A[0, 1] == 0.0 and np.allclose(serial.fits[origin].F, direct.F)
    # parameters: one row per window, the fit's parameter blocks flattened
    assert serial.parameters.loc[origin, "A[level,level]"] == pytest.approx(direct.A[0, 0], rel=1e-12)
    with pytest.raises(ModelError, match="not arbitrage-free"):
        serial.term_premium


def test_rmse_against_direct_computation(serial, sample):
    Y = sample.to_numpy()                     # the input order, as the RMSE table
    dates = list(sample.index)
    first_target = len(dates) - 12
    for h in (1, 3):
        origins = [dates.index(o) for o in serial.windows["end"] if first_target <= dates.index(o) + h < len(dates)]
        rw = np.array([Y[e + h] - Y[e] for e in origins])
        np.testing.assert_allclose(serial.forecast_rmse.loc[("random walk", h)].to_numpy(),
                                   np.sqrt(np.mean(rw ** 2, axis=0)), rtol=1e-12)
        model = np.array([Y[e + h] - serial.forecasts.xs((dates[e], h), level=("origin", "horizon")).to_numpy()[0]
                          for e in origins])
        np.testing.assert_allclose(serial.forecast_rmse.loc[("model", h)].to_numpy(),
                                   np.sqrt(np.mean(model ** 2, axis=0)), rtol=1e-12)
        assert (serial.forecast_counts.loc[("model", h)] == len(origins)).all()
    assert "Out-of-sample RMSE" in serial.summary()


@pytest.mark.parametrize("processes", [False, True])
def test_dask_local_cluster_equals_serial(serial, sample, processes):
    pytest.importorskip("dask.distributed")
    run = rolling(sample, method="dns", horizons=(1, 3), forecast_start=-12, step=2, n_workers=2,
                  processes=processes, progress=False, dynamics="ar")
    assert run.engine.startswith("dask.distributed local cluster (2 worker")
    for name in ("forecasts", "errors", "random_walk_errors", "forecast_rmse", "parameters"):
        pd.testing.assert_frame_equal(getattr(run, name), getattr(serial, name), check_exact=True)


def test_jsz_dask_client_equals_serial(sample):
    """Warm starts (the default) along two chunks of two windows: the Dask run is the serial one exactly."""
    distributed = pytest.importorskip("dask.distributed")
    kwargs = dict(method="jsz", horizons=(2,), forecast_start=-6, step=2, progress=False, chunk_size=2)
    one = rolling(sample, client="serial", **kwargs)
    assert list(one.windows["fit_start"]) == ["cold", "warm", "cold", "warm"]
    with distributed.Client(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as client:
        two = rolling(sample, client=client, **kwargs)
    pd.testing.assert_frame_equal(one.forecasts, two.forecasts, check_exact=True)
    pd.testing.assert_frame_equal(one.term_premium, two.term_premium, check_exact=True)
    pd.testing.assert_frame_equal(one.parameters, two.parameters, check_exact=True)
    assert list(two.windows["fit_start"]) == list(one.windows["fit_start"])
    tp = one.fits[one.windows["end"].iloc[-1]].term_premium.iloc[-1][one.columns]
    np.testing.assert_allclose(one.term_premium.iloc[-1].to_numpy(), tp.to_numpy(), rtol=1e-12)


def test_local_processes_without_dask(serial, sample, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)          # as if the extra were not installed
    with pytest.warns(UserWarning, match="dask.distributed is not installed"):
        run = rolling(sample, method="dns", horizons=(1, 3), forecast_start=-12, step=2, n_workers=2,
                      progress=False, dynamics="ar")
    assert "local processes" in run.engine and "not installed" in run.engine
    pd.testing.assert_frame_equal(run.forecasts, serial.forecasts, check_exact=True)


def test_chunks_depend_on_the_windows_only():
    assert window_chunks(10, 4) == [(0, 4), (4, 8), (8, 10)]
    assert window_chunks(3) == [(0, 3)]
    cuts = window_chunks(1000)                       # default: n/32 rounded up, within 4..25
    assert cuts[0] == (0, 25) and cuts[-1] == (975, 1000) and len(cuts) == 40
    with pytest.raises(InputError, match="chunk_size"):
        window_chunks(10, 0)


@pytest.fixture(scope="module")
def short_panel():
    return xlatsm.load_sample()[["SVENY01", "SVENY02", "SVENY03", "SVENY05", "SVENY09", "SVENY15"]].iloc[-100:]


@pytest.mark.parametrize("method,options", [("jsz", {}), ("kalman", {}), ("lgssm", {"k_states": 2})])
def test_warm_starts_reach_the_cold_optimum(short_panel, method, options):
    """Every window of a small rolling run, warm-started from its neighbour, reaches the optimum of the cold fit
    from the estimator's own starts: the same log-likelihood to 1e-8 relative, the same forecasts (to a hundredth
    of a basis point: 1e-4 in percent), term premia to a tenth of a basis point (they ride on the most persistent
    Q-eigenvalue, which the likelihood pins only to ~1e-8 at the estimators' tolerance) and every ATSM parameter
    within 1% of its standard error (flat directions move by the search tolerance; a relative comparison would be
    about their size, not the optimum's). LGSSM parameters to 1e-3 relative, its intercepts left out: its
    reporting normalisation pins the factors' rotation, not their location (x + m, c - C m, d + (I - A) m is the
    same model, same likelihood), so warm and cold fits may sit at different points of that ridge; the forecasts
    compared above do not depend on it."""
    kwargs = dict(method=method, horizons=(1,), forecast_start=-6, step=1, client="serial", progress=False,
                  chunk_size=7, **options)
    warm = rolling(short_panel, **kwargs)
    cold = rolling(short_panel, warm_start=False, **kwargs)
    assert list(warm.windows["fit_start"]) == ["cold"] + ["warm"] * 6
    assert (cold.windows["fit_start"] == "cold").all()
    for end in warm.fits:
        w, c = warm.fits[end], cold.fits[end]
        assert w.converged and c.converged
        assert abs(w.loglik - c.loglik) <= 1e-8 * abs(c.loglik), (end, w.loglik, c.loglik)
    np.testing.assert_allclose(warm.forecasts.to_numpy(), cold.forecasts.to_numpy(), atol=1e-4)
    if method != "lgssm":
        np.testing.assert_allclose(warm.term_premium.to_numpy(), cold.term_premium.to_numpy(), atol=1e-3)
    if method == "lgssm":
        names = [n for n in cold.parameters.columns if not n.startswith(("c[", "d["))]
        np.testing.assert_allclose(warm.parameters[names].to_numpy(), cold.parameters[names].to_numpy(), rtol=1e-3,
                                   atol=1e-6)
    else:
        from xlatsm.reestimation import _flatten

        for end in cold.fits:
            se = pd.Series(_flatten(cold.fits[end].standard_errors))
            se = se[se > 0]
            gap = (warm.parameters.loc[end, se.index] - cold.parameters.loc[end, se.index]).abs() / se
            assert gap.max() < 0.01, (end, gap.idxmax(), gap.max())
    assert "Warm / cold / refitted cold" in warm.summary()


def test_warm_start_guard_refits_cold(short_panel, monkeypatch):
    """A warm start that breaks the fit (here: an explosive P-dynamics start, which fit_atsm refuses) is refitted
    cold and recorded; the answers are the cold run's exactly."""
    import dataclasses

    import xlatsm.reestimation as reestimation

    def explosive(fit, panel, start, end, options):
        return dataclasses.replace(fit.params, K1P=1.5 * np.eye(fit.params.K1P.shape[0]))

    kwargs = dict(method="kalman", horizons=(1,), forecast_start=-3, client="serial", progress=False)
    cold = rolling(short_panel, warm_start=False, **kwargs)
    monkeypatch.setattr(reestimation, "_next_start", explosive)
    guarded = rolling(short_panel, **kwargs)
    assert list(guarded.windows["fit_start"]) == ["cold"] + ["cold (warm: ModelError)"] * 3
    pd.testing.assert_frame_equal(guarded.forecasts, cold.forecasts, check_exact=True)


def test_rotated_start_is_the_same_model_of_the_yields(short_panel):
    """The neighbour's estimate carried into this window's portfolios P' = W'y is the same model of the yields:
    its loadings price any factor path's yields as the original does, and the kalman log-likelihood is equal."""
    from xlatsm.atsm.likelihood import YieldModel
    from xlatsm.atsm.model import portfolio_weights
    from xlatsm.reestimation import _rotate_atsm

    fit = xlatsm.fit_atsm(short_panel.iloc[:60], method="jsz")
    p = fit.params
    Y = fit.panel.yields
    W_new = portfolio_weights(xlatsm.read_panel(short_panel.iloc[30:]).yields, p.structure.n_factors)
    assert np.abs(W_new - p.structure.W).max() > 1e-3            # a genuinely different rotation
    q = _rotate_atsm(p, W_new)
    old, new = p.loadings(), q.loadings()
    P_old = Y @ p.structure.W.T
    P_new = W_new @ old.A_P + P_old @ (W_new @ old.B_P).T       # the new portfolios of the model's yields
    np.testing.assert_allclose(new.A_P + P_new @ new.B_P.T, old.A_P + P_old @ old.B_P.T, atol=1e-12)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(q.K1P)), np.sort_complex(np.linalg.eigvals(p.K1P)),
                               rtol=1e-10)
    ll_old = YieldModel(Y, p.structure, "common", p.Sigma_P).loglik(
        YieldModel(Y, p.structure, "common", p.Sigma_P).pack(p))
    model_new = YieldModel(Y, q.structure, "common", q.Sigma_P)
    assert model_new.loglik(model_new.pack(q)) == pytest.approx(ll_old, rel=1e-10)


def test_bad_input(sample):
    with pytest.raises(InputError, match="method must be"):
        rolling(sample, method="magic", client="serial")
    with pytest.raises(InputError, match="horizons"):
        rolling(sample, method="dns", horizons=(0,), client="serial")
    with pytest.raises(InputError, match="client must be"):
        rolling(sample, method="dns", forecast_start=-2, horizons=(1,), client=42, progress=False)
    with pytest.raises(InputError, match="after the last date"):
        rolling(sample, method="dns", forecast_start="2030-01", client="serial")


# Diebold and Li (2006), Table 5 (6-month-ahead, forecasts for 1994:01-2000:12): the random walk's mean error and
# RMSE at 3M, 1Y, 3Y, 5Y, 10Y (model-free); and the Nelson-Siegel AR(1) RMSE (their direct h-step regressions)
DL_RW_6M_MEAN = [0.220, 0.181, 0.099, 0.048, -0.020]
DL_RW_6M_RMSE = [0.605, 0.779, 0.879, 0.861, 0.758]
DL_NS_6M_RMSE = [0.517, 0.669, 0.750, 0.777, 0.721]


def test_diebold_li_recursive_exercise(shared_data):
    frame = pd.read_csv(shared_data / "diebold_li_1972_2000_bonds.csv", sep=";", index_col=0)
    dl = frame.loc["1985:01":]
    out = rolling(dl, method="dns", horizons=(1, 6, 12), forecast_start="1994-01", client="serial",
                  progress=False, dynamics="ar", lam=0.0609)
    cols = ["3M", "1Y", "3Y", "5Y", "10Y"]
    assert (out.forecast_counts[cols] == 84).all().all()          # 1994:01-2000:12 for every horizon
    Y = dl[["M3", "M12", "M36", "M60", "M120"]].to_numpy()
    start = list(dl.index).index("1994:01")
    for h in (1, 6, 12):
        rw = Y[start:] - Y[start - h:len(Y) - h]
        np.testing.assert_allclose(out.forecast_rmse.loc[("random walk", h), cols].to_numpy(),
                                   np.sqrt(np.mean(rw ** 2, axis=0)), rtol=1e-12)
    # Diebold-Li report RMSE = sqrt(mean^2 + sd^2) with the n-1 standard deviation
    e = out.random_walk_errors.xs(6, level="horizon")[cols].to_numpy()
    published = np.sqrt(e.mean(axis=0) ** 2 + e.std(axis=0, ddof=1) ** 2)
    np.testing.assert_allclose(e.mean(axis=0), DL_RW_6M_MEAN, atol=6e-4)
    np.testing.assert_allclose(published, DL_RW_6M_RMSE, atol=1e-3)     # printed to 3 decimals, some truncated
    # the model (iterated AR(1) forecasts; theirs are direct h-step regressions): close to the published RMSE and,
    # as in the paper, better than the random walk at 6 and 12 months
    e = out.errors.xs(6, level="horizon")[cols].to_numpy()
    np.testing.assert_allclose(np.sqrt(e.mean(axis=0) ** 2 + e.std(axis=0, ddof=1) ** 2), DL_NS_6M_RMSE, atol=0.04)
    ratio = out.rmse_ratio[cols]
    assert (ratio.loc[[6, 12]] < 1).all().all()
    assert (ratio.loc[1] < 1.05).all()


def test_command_line(tmp_path, capsys):
    import argparse

    from xlatsm.rolling_cli import add_rolling_parser

    path = tmp_path / "yields.csv"
    xlatsm.load_sample()[["SVENY05", "SVENY01", "SVENY02", "SVENY03", "SVENY09"]].iloc[-80:].to_csv(path)
    parser = argparse.ArgumentParser(prog="xlatsm")
    add_rolling_parser(parser.add_subparsers(dest="command"))
    out = tmp_path / "out"
    args = parser.parse_args(["rolling", str(path), "--method", "dns", "--dns-dynamics", "ar", "--horizons", "1,2",
                              "--step", "3", "--serial", "--out", str(out)])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert "Out-of-sample RMSE" in printed and "no term premium" in printed
    rmse = pd.read_csv(out / "forecast_rmse.csv", index_col=[0, 1])
    assert list(rmse.columns) == ["5Y", "1Y", "2Y", "3Y", "9Y"]
    direct = rolling(pd.read_csv(path, index_col=0), method="dns", horizons=(1, 2), step=3, client="serial",
                     progress=False, dynamics="ar")
    np.testing.assert_allclose(rmse.to_numpy(), direct.forecast_rmse.to_numpy(), rtol=1e-12)
    assert not (out / "term_premium.csv").exists()
    warm = parser.parse_args(["rolling", str(path), "--serial"])
    cold = parser.parse_args(["rolling", str(path), "--no-warm-start", "--chunk-size", "5", "--serial"])
    assert (warm.warm_start, warm.chunk_size) == (True, None) and (cold.warm_start, cold.chunk_size) == (False, 5)
    with pytest.raises(InputError, match="options of --method dns"):
        bad = parser.parse_args(["rolling", str(path), "--method", "jsz", "--dns-dynamics", "ar", "--serial",
                                 "--out", str(out)])
        bad.func(bad)


def test_package_attribute_is_the_function(sample):
    """``xlatsm.rolling(...)`` is the function, also after the module that holds it and the command line's were
    imported (a module named like the function would have shadowed it)."""
    import xlatsm
    import xlatsm.reestimation
    import xlatsm.rolling_cli  # noqa: F401

    out = xlatsm.rolling(sample, method="dns", horizons=(1,), forecast_start=-2, client="serial", progress=False)
    assert isinstance(out, xlatsm.RollingResult) and len(out.windows) == 3

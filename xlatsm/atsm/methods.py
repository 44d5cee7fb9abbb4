"""One entry point for every term-structure model xlatsm fits: ``fit_atsm(..., method=...)``.

* ``"auto"`` (default), ``"jsz"``, ``"kalman"``, ``"em"``: the Gaussian ATSM in JSZ canonical form
  (:mod:`xlatsm.atsm.estimate`);
* ``"acm"``: Adrian-Crump-Moench (2013) three-step regressions (:mod:`xlatsm.atsm.acm`), 5 factors unless
  ``n_factors`` is given; needs every cell;
* ``"afns"``: arbitrage-free Nelson-Siegel (Christensen-Diebold-Rudebusch 2011) by Kalman MLE
  (:mod:`xlatsm.atsm.afns`; ``afns_version="independent"|"correlated"``); 3 factors;
* ``"dns"``: dynamic Nelson-Siegel (:mod:`xlatsm.atsm.nelson_siegel`; ``dns_method="two_step"|"one_step"``);
  3 factors; no term premium (not arbitrage-free).

The auto rule never picks acm, afns or dns: they are asked for by name.

``time="discrete"`` (default) fits the monthly (per data period) discrete-time JSZ model; ``time="continuous"``
fits the seeds' continuous-time model ``dX = K(theta - X)dt + Sigma dW`` (:mod:`xlatsm.atsm.continuous`, for
"auto", "jsz", "kalman" and "em"): exact continuous-time loadings, exactly discretised P dynamics, parameters
K_P, theta_P, K_Q, theta_Q, Sigma, lambda_0, lambda_1, r_inf^Q per year.
"""
from __future__ import annotations

from typing import Sequence

from ..errors import InputError
from ..threads import single_blas_thread
from . import estimate

OTHER_METHODS = ("acm", "afns", "dns")
METHODS = ("auto",) + tuple(estimate.METHODS) + OTHER_METHODS
TIMES = ("discrete", "continuous")


@single_blas_thread
def fit_atsm(yields, maturities: Sequence | None = None, n_factors: int | None = None, method: str = "auto", *,
             yield_units: str = "auto", maturity_units: str = "auto", periods_per_year: int | None = None,
             afns_version: str = "independent", dns_method: str = "two_step", dns_lambda=None,
             acm_options: dict | None = None, time: str = "discrete", **options):
    """Fit a term-structure model to zero-coupon yields; ``method`` chooses which and ``time`` whether the JSZ
    model is written in discrete or continuous time (module docstring). The other keyword arguments go to the
    JSZ estimators (:func:`xlatsm.atsm.estimate.fit_atsm`, or
    :func:`xlatsm.atsm.continuous_fit.fit_continuous` with ``time="continuous"``)."""
    name = str(method).strip().lower() if method is not None else "auto"
    if name not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    clock = str(time).strip().lower() if time is not None else "discrete"
    if clock not in TIMES:
        raise InputError(f"time must be 'discrete' or 'continuous', not {time!r}")
    if options.get("progress") is False:      # progress=False means no progress reports, as for fit_lgssm
        options["progress"] = None
    if clock == "continuous":
        if name in OTHER_METHODS:
            raise InputError(f"time='continuous' fits the JSZ model (method auto, jsz, kalman or em); method "
                             f"{name!r} is discrete only")
        from .continuous_fit import fit_continuous

        return fit_continuous(yields, maturities, 3 if n_factors is None else n_factors, name,
                              yield_units=yield_units, maturity_units=maturity_units,
                              periods_per_year=periods_per_year, **options)
    if name not in OTHER_METHODS:
        return estimate.fit_atsm(yields, maturities, 3 if n_factors is None else n_factors, name,
                                 yield_units=yield_units, maturity_units=maturity_units,
                                 periods_per_year=periods_per_year, **options)
    # the JSZ estimators' iteration options mean nothing to the others; a non-default measurement error does
    unused = sorted(k for k, v in options.items() if k not in ("progress", "max_iter", "tol")
                    and not (k == "measurement_error" and v == "common"))
    if unused:
        raise InputError(f"method {name!r} does not take {', '.join(unused)}")
    if name == "acm":
        from .acm import fit_acm

        return fit_acm(yields, maturities, 5 if n_factors is None else n_factors, yield_units=yield_units,
                       maturity_units=maturity_units, periods_per_year=periods_per_year, **(acm_options or {}))
    if n_factors not in (None, 3):
        raise InputError(f"method {name!r} has exactly 3 factors (level, slope, curvature), not {n_factors}")
    if name == "afns":
        from .afns import fit_afns

        return fit_afns(yields, maturities, version=afns_version, yield_units=yield_units,
                        maturity_units=maturity_units, periods_per_year=periods_per_year)
    from .nelson_siegel import DL_LAMBDA, fit_dns

    return fit_dns(yields, maturities, method=dns_method, lam=DL_LAMBDA if dns_lambda is None else dns_lambda,
                   yield_units=yield_units, maturity_units=maturity_units)

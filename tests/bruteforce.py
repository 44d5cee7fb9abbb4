"""Independent reference computations for the tests: the LGSSM written as one big joint Gaussian.

No Kalman recursion is involved. The factors are an affine function ``x = a + B u`` of
``u = (x_1..x_L, w_{L+1}..w_n)`` built from the VAR(L) definition; the observed cells are ``y_o = m + H u + e``.
The posterior of ``u`` is formed in information form, which also covers a flat (diffuse) prior on the first L
factors exactly: with the prior ``N(0, kappa Q)`` on each of them, the diffuse log-likelihood is
``lim_{kappa->inf} log p_kappa(y) + (kL/2) log kappa``, evaluated in closed form as a Gaussian integral.
"""
from __future__ import annotations

import numpy as np


def _affine_factors(params, n):
    L, k = params.lags, params.k_states
    a = np.zeros(n * k)
    B = np.zeros((n * k, n * k))
    for t in range(L):
        B[t * k:(t + 1) * k, t * k:(t + 1) * k] = np.eye(k)
    for t in range(L, n):
        a[t * k:(t + 1) * k] = params.state_intercept
        B[t * k:(t + 1) * k, t * k:(t + 1) * k] = np.eye(k)
        for j in range(1, L + 1):
            a[t * k:(t + 1) * k] += params.A[j - 1] @ a[(t - j) * k:(t - j + 1) * k]
            B[t * k:(t + 1) * k] += params.A[j - 1] @ B[(t - j) * k:(t - j + 1) * k]
    return a, B


def posterior(params, y):
    """(loglik, E[x_t|y] (n,k), Var(x_t|y) (n,k,k), Cov(x_t, x_{t-1}|y) (n,k,k)) for ``params``' initial state:
    N(initial_mean, initial_cov) for (x_L..x_1) (a zero covariance makes them parameters), or flat when
    ``initial_mean`` is None."""
    n, p = y.shape
    L, k = params.lags, params.k_states
    m = k * L
    a, B = _affine_factors(params, n)
    dim = n * k
    prior_mean = np.zeros(dim)
    prior_cov = np.zeros((dim, dim))
    for t in range(L, n):
        prior_cov[t * k:(t + 1) * k, t * k:(t + 1) * k] = params.Q
    flat = params.initial_mean is None
    if not flat:
        order = np.concatenate([np.arange((L - 1 - i) * k, (L - i) * k) for i in range(L)])  # (x_L..x_1) -> x_1..
        prior_mean[:m] = params.initial_mean[order]
        prior_cov[:m, :m] = params.initial_cov[np.ix_(order, order)]
    obs = ~np.isnan(y.ravel())
    Cb = np.kron(np.eye(n), params.C)
    H = (Cb @ B)[obs]
    m0 = (np.tile(params.obs_intercept, n) + Cb @ a)[obs]
    Ro = np.kron(np.eye(n), params.R)[np.ix_(obs, obs)]
    yo = y.ravel()[obs]
    if flat:
        # information form: zero prior precision on x_1..x_L, prior N(0, kappa Q) with kappa taken out
        prior_prec = np.zeros((dim, dim))
        prior_prec[m:, m:] = np.linalg.inv(prior_cov[m:, m:])
        logdet_prior_prec = -np.linalg.slogdet(prior_cov[m:, m:])[1] - L * np.linalg.slogdet(params.Q)[1]
        Ro_inv = np.linalg.inv(Ro)
        post_prec = prior_prec + H.T @ Ro_inv @ H
        u_hat = np.linalg.solve(post_prec, H.T @ Ro_inv @ (yo - m0))
        resid = yo - m0 - H @ u_hat
        log_f = (-0.5 * (obs.sum() * np.log(2 * np.pi) + np.linalg.slogdet(Ro)[1] + resid @ Ro_inv @ resid)
                 - 0.5 * (dim * np.log(2 * np.pi) - logdet_prior_prec + u_hat @ prior_prec @ u_hat))
        loglik = log_f + 0.5 * dim * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(post_prec)[1]
        post_cov_u = np.linalg.inv(post_prec)
    else:
        # covariance form: works for a singular (even zero) initial covariance
        y_mean = m0 + H @ prior_mean
        y_cov = H @ prior_cov @ H.T + Ro
        resid = yo - y_mean
        loglik = -0.5 * (obs.sum() * np.log(2 * np.pi) + np.linalg.slogdet(y_cov)[1]
                         + resid @ np.linalg.solve(y_cov, resid))
        gain = np.linalg.solve(y_cov, H @ prior_cov).T
        u_hat = prior_mean + gain @ resid
        post_cov_u = prior_cov - gain @ H @ prior_cov
    x_mean = a + B @ u_hat
    x_cov = B @ post_cov_u @ B.T
    var = np.array([x_cov[t * k:(t + 1) * k, t * k:(t + 1) * k] for t in range(n)])
    lag = np.array([np.full((k, k), np.nan)] + [x_cov[t * k:(t + 1) * k, (t - 1) * k:t * k] for t in range(1, n)])
    return loglik, x_mean.reshape(n, k), var, lag

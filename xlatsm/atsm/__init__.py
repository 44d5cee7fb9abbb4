"""Gaussian affine term structure models: exact loadings, JSZ canonical form, three estimators, term premia."""
from .estimate import METHODS, fit_atsm
from .loadings import (continuous_price_loadings, continuous_yield_loadings, discrete_price_loadings,
                       discrete_yield_loadings)
from .model import (ATSMParams, ATSMStructure, jsz_loadings, latent_K1Q, latent_price_b, latent_rho1,
                    matrix_log_rate, newton_basis, portfolio_weights, q_eigenvalues, q_roots, roots_to_q)
from .results import ATSMResult

__all__ = ["newton_basis", "q_roots", "roots_to_q", "latent_K1Q", "latent_price_b", "latent_rho1", "q_eigenvalues", "fit_atsm", "METHODS", "ATSMParams", "ATSMStructure", "ATSMResult", "jsz_loadings",
           "portfolio_weights", "matrix_log_rate", "discrete_price_loadings", "discrete_yield_loadings",
           "continuous_price_loadings", "continuous_yield_loadings"]

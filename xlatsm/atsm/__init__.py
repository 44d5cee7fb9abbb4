"""Gaussian affine term structure models: exact loadings, JSZ canonical form (jsz, kalman, em), ACM, AFNS and
dynamic Nelson-Siegel, one entry point (:func:`fit_atsm`), term premia."""
from .acm import ACMResult, fit_acm
from .continuous import ContinuousParams
from .continuous_result import ContinuousATSMResult
from .afns import AFNSResult, fit_afns
from .methods import METHODS, fit_atsm
from .nelson_siegel import DNSResult, fit_dns
from .loadings import (continuous_price_loadings, continuous_yield_loadings, discrete_price_loadings,
                       discrete_yield_loadings)
from .model import (ATSMParams, ATSMStructure, jsz_loadings, latent_K1Q, latent_price_b, latent_rho1,
                    matrix_log_rate, newton_basis, portfolio_weights, q_eigenvalues, q_roots, roots_to_q)
from .results import ATSMResult

__all__ = ["ContinuousParams", "ContinuousATSMResult", "fit_acm", "fit_afns", "fit_dns", "ACMResult", "AFNSResult", "DNSResult", "newton_basis", "q_roots", "roots_to_q", "latent_K1Q", "latent_price_b", "latent_rho1", "q_eigenvalues", "fit_atsm", "METHODS", "ATSMParams", "ATSMStructure", "ATSMResult", "jsz_loadings",
           "portfolio_weights", "matrix_log_rate", "discrete_price_loadings", "discrete_yield_loadings",
           "continuous_price_loadings", "continuous_yield_loadings"]

"""xlatsm: affine term structure models and linear Gaussian state-space models, for Python and Excel.

Layers (each imports only the ones before it): ``data`` (ranges/files -> clean panels) -> ``ssm`` (Kalman
smoother, exact EM) and ``atsm`` (Gaussian affine term structure models) -> ``excel`` (UDFs, layout, cache) and
``cli``.
"""
from .data import load_sample, read_observations, read_panel
from .errors import ConvergenceWarning, EstimationError, InputError, ModelError, StaleHandleError, XlatsmError
from .ssm import LGSSMParams, LGSSMResult, SmoothResult, fit_lgssm, smooth_states
from .atsm import ATSMParams, ATSMResult, fit_atsm

__version__ = "0.1.0"

__all__ = ["fit_atsm", "ATSMParams", "ATSMResult", "fit_lgssm", "smooth_states", "LGSSMParams", "LGSSMResult", "SmoothResult", "load_sample",
           "read_observations", "read_panel", "XlatsmError", "InputError", "ModelError", "EstimationError",
           "StaleHandleError", "ConvergenceWarning", "__version__"]

"""State-space core: Kalman filter/smoother (statsmodels underneath) and the exact EM for LGSSMs."""
from .em import fit_lgssm, initial_params, smooth_states
from .kalman import KalmanSmootherRunner, SmoothedStates, StateSpace, smooth
from .params import LGSSMParams
from .results import LGSSMResult, SmoothResult

__all__ = ["fit_lgssm", "smooth_states", "initial_params", "LGSSMParams", "LGSSMResult", "SmoothResult",
           "StateSpace", "SmoothedStates", "KalmanSmootherRunner", "smooth"]

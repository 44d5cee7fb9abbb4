import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def simulate_lgssm(params, n, rng, burn=200):
    """Simulate y (n, p) from LGSSMParams, starting the VAR far enough back to forget its start."""
    L, k = params.lags, params.k_states
    x = np.zeros((n + burn, k))
    for t in range(L, n + burn):
        x[t] = params.state_intercept + sum(params.A[j] @ x[t - 1 - j] for j in range(L))
        x[t] += rng.multivariate_normal(np.zeros(k), params.Q)
    x = x[burn:]
    e = rng.multivariate_normal(np.zeros(params.k_endog), params.R, size=n)
    return params.obs_intercept + x @ params.C.T + e, x


@pytest.fixture
def shared_data():
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside this checkout")
    return SHARED_DATA

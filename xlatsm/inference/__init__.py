"""Uncertainty of fitted models: parameter standard errors and bands on term premia and expected short rates.

* :mod:`xlatsm.inference.numdiff`: observed information and delta-method Jacobians in whitened coordinates;
* :mod:`xlatsm.inference.atsm`: the jsz/kalman/em likelihoods as functions of their parameter vectors, what is
  held fixed, the delta method (``ATSMResult.standard_errors``, ``term_premium_bands``, ...);
* :mod:`xlatsm.inference.bootstrap`: the parametric bootstrap (simulate from the fit, refit);
* :mod:`xlatsm.inference.bands`: the frames the result methods return;
* :mod:`xlatsm.inference.montecarlo`: the simulation check of coverage and standard errors (tests, benchmarks).

* :mod:`xlatsm.inference.continuous`: the same for continuous-time JSZ fits (``time="continuous"``);
* :mod:`xlatsm.inference.lgssm`: the LGSSM's observed information at the EM answer, in the reported normalisation
  (``LGSSMResult.standard_errors``).

The result objects call into this package; nothing here imports Excel or the command line.
"""

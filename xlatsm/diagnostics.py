"""Flags: what a fit did wrong or may have done wrong, said in plain words with what to do about it.

Estimation never fails quietly: every result object carries ``flags`` (a list of :class:`Flag`), its
``summary()`` prints them, and the spreadsheet summary block shows one ``flag`` row each. A flag does not stop
the fit (the numbers are still returned, e.g. for inspection), but the reader is told not to trust them blindly.

Codes used across the package (one home, so the Excel layer and the tests agree on names):

* ``not_converged``    the optimiser or EM stopped at its iteration cap or could not meet its tolerance;
* ``worse_than_start`` the answer's log-likelihood is below the starting point's;
* ``heywood``          a measurement variance sits on its floor (a series fitted "exactly");
* ``explosive_q``      a risk-neutral root at or above one: long yields and r_inf^Q are not defined;
* ``explosive_p``      a physical root at or above one: forecasts and term premia do not mean-revert;
* ``at_bound``         a parameter sits on a bound of its search region;
* ``nonfinite``        a number that should be finite is not;
* ``extrapolated``     an output at a maturity outside the fitted range.
"""
from __future__ import annotations

from dataclasses import dataclass

FLAG_CODES = ("not_converged", "worse_than_start", "heywood", "explosive_q", "explosive_p", "at_bound",
              "nonfinite", "extrapolated")


@dataclass(frozen=True)
class Flag:
    """One problem of a fit: ``code`` (one of :data:`FLAG_CODES`) and ``message`` (what happened, what to do)."""

    code: str
    message: str

    def __post_init__(self):
        if self.code not in FLAG_CODES:
            raise ValueError(f"unknown flag code {self.code!r}")

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def flag_lines(flags) -> list[str]:
    """Summary lines, one per flag (``"FLAG heywood: ..."``)."""
    return [f"FLAG {f}" for f in flags]

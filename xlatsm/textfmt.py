"""Plain-text tables shared by every result's ``summary()``."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

WIDTH = 78


def header_block(title: str, rows: Iterable[tuple[str, object]]) -> list[str]:
    """A title between rules, then 'name: value' rows in two columns."""
    rows = list(rows)
    lines = ["=" * WIDTH, title.center(WIDTH), "=" * WIDTH]
    half = (len(rows) + 1) // 2
    left, right = rows[:half], rows[half:]
    for i in range(half):
        a = f"{left[i][0] + ':':<20}{str(left[i][1]):>17}"
        b = f"{right[i][0] + ':':<20}{str(right[i][1]):>18}" if i < len(right) else ""
        lines.append(f"{a}   {b}".rstrip())
    lines.append("-" * WIDTH)
    return lines


def format_matrix(title: str, matrix: np.ndarray, row_names: Sequence[str], col_names: Sequence[str],
                  fmt: str = "{:>11.4g}") -> list[str]:
    """A labelled matrix as text lines (wide matrices wrap in blocks of six columns)."""
    matrix = np.atleast_2d(np.asarray(matrix, dtype=float))
    lines = [title]
    width = max([len(str(r)) for r in row_names] + [4])
    for start in range(0, matrix.shape[1], 6):
        cols = list(range(start, min(start + 6, matrix.shape[1])))
        lines.append(" " * width + "".join(f"{str(col_names[j]):>11}" for j in cols))
        for i, name in enumerate(row_names):
            lines.append(f"{str(name):<{width}}" + "".join(fmt.format(matrix[i, j]) for j in cols))
    lines.append("")
    return lines


def term_premium_table(term_premium, units: str) -> list[str]:
    """The summaries' term-premium table: sample mean and last date per maturity, in ``units``."""
    return format_matrix(f"Term premium ({units}), sample mean and last date",
                         np.vstack([term_premium.mean().to_numpy(), term_premium.iloc[-1].to_numpy()]),
                         ["mean", "last"], list(term_premium.columns), fmt="{:>11.3f}")


def frame_table(title: str, frame) -> list[str]:
    """A labelled DataFrame (a parameter block) as text lines."""
    return format_matrix(title, frame.to_numpy(), [str(i) for i in frame.index], [str(c) for c in frame.columns])


def pricing_error_table(errors) -> list[str]:
    """The summaries' pricing errors: RMSE per maturity, basis points."""
    return format_matrix("Pricing errors, RMSE in basis points", errors.to_numpy()[None, :], ["RMSE_bp"],
                         list(errors.index), fmt="{:>11.2f}")


def estimate_table(title: str, estimate, std_error) -> list[str]:
    """A parameter block in long form: one row per entry with its estimate, standard error and t = estimate / s.e.
    (blank where the s.e. is zero or not available). Entries of a matrix are labelled ``row,column``; a column
    vector's by its row; a 1 x 1 block by its title."""
    est = estimate.to_numpy(dtype=float)
    se = std_error.to_numpy(dtype=float)
    rows = []
    for i, r in enumerate(estimate.index):
        for j, c in enumerate(estimate.columns):
            if est.shape == (1, 1):
                label = str(r)
            elif est.shape[1] == 1:
                label = str(r)
            else:
                label = f"{r},{c}"
            rows.append((label, est[i, j], se[i, j]))
    width = max([len(label) for label, _, _ in rows] + [10])
    lines = [title, f"{'':<{width}}{'estimate':>13}{'s.e.':>13}{'t':>9}"]
    for label, e, s in rows:
        t = e / s if np.isfinite(s) and s > 0 and np.isfinite(e) else np.nan
        se_text = f"{s:>13.4g}" if np.isfinite(s) else f"{'n/a':>13}"
        t_text = f"{t:>9.2f}" if np.isfinite(t) else f"{'':>9}"
        lines.append(f"{label:<{width}}{e:>13.5g}{se_text}{t_text}".rstrip())
    lines.append("")
    return lines

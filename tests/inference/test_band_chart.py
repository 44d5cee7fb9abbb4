"""The band chart draws what the band frame says: the estimate, the shaded lower..upper region, level, method, units."""
import numpy as np
import pandas as pd

from xlatsm.report.charts import band_figure


def frame(index, width):
    est = np.linspace(1.0, 2.0, len(index))
    out = pd.DataFrame({"estimate": est, "lower": est - width, "upper": est + width, "std_error": width / 1.645},
                       index=index)
    out.attrs.update({"units": "percent", "level": 0.9, "method": "delta", "what": "term premium 10Y"})
    return out


def test_band_chart_shades_lower_to_upper_and_labels_units():
    bands = frame(pd.date_range("2000-01-31", periods=60, freq="ME"), 0.5)
    fig = band_figure(bands)
    ax = fig.axes[0]
    poly = ax.collections[0]
    ys = np.concatenate([p.vertices[:, 1] for p in poly.get_paths()])
    assert np.isclose(ys.min(), bands["lower"].min()) and np.isclose(ys.max(), bands["upper"].max())
    assert "percent" in ax.get_ylabel()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "90% band (delta)" in labels and "term premium 10Y" in labels
    assert ax.get_xlabel().startswith("date")


def test_band_too_thin_to_see_is_said_so():
    bands = frame(pd.Index(np.arange(40), name="h (months ahead)"), 1e-5)
    bands.attrs["date"] = "2012-04-30"
    ax = band_figure(bands).axes[0]
    assert "thinner than the line" in ax.get_title() and "2012-04-30" in ax.get_title()
    assert ax.get_xlabel() == "h (months ahead)"

"""Per-droplet measurements and their outlines on box-sized masks."""
import numpy as np
import pytest

from droplet_mmdet.apis.measure import measure, summarize
from droplet_mmdet.apis.slicing import Detection
from droplet_mmdet.visualization import draw_detections


def _disc():
    y, x = np.mgrid[0:41, 0:41] + 0.5
    return (x - 20.5)**2 + (y - 20.5)**2 < 15**2


def test_measure_disc():
    disc = _disc()
    rows = measure([Detection(0.8, (100, 50, 141, 91), disc)], px_size=0.5)
    r = rows[0]
    assert r['cx'] == pytest.approx(120.5) and r['cy'] == pytest.approx(70.5)
    assert r['area_px'] == disc.sum()
    assert r['diameter_px'] == pytest.approx(2 * np.sqrt(disc.sum() / np.pi),
                                             abs=1e-3)
    assert r['diameter_px'] == pytest.approx(30, abs=0.3)
    assert r['diameter_um'] == pytest.approx(r['diameter_px'] / 2, abs=1e-3)
    assert 0.85 < r['circularity'] <= 1.05
    s = summarize(rows)
    assert s['count'] == 1 and s['cv_diameter_pct'] == 0


def test_measure_refuses_an_empty_mask():
    with pytest.raises(ValueError, match='empty mask'):
        measure([Detection(0.8, (3, 4, 3, 4), np.zeros((0, 0), bool))])


def test_outline_drawn_at_the_box():
    disc = _disc()
    img = np.zeros((120, 160), np.uint8)
    out = draw_detections(img, [Detection(0.8, (100, 50, 141, 91), disc)])
    assert out.shape == (120, 160, 3)
    ys, xs = np.nonzero(out[..., 1])
    ref_ys, ref_xs = np.nonzero(disc)
    assert (xs.min(), xs.max()) == (ref_xs.min() + 100, ref_xs.max() + 100)
    assert (ys.min(), ys.max()) == (ref_ys.min() + 50, ref_ys.max() + 50)
    assert len(xs) < disc.sum() / 3  # an outline, not the filled disc

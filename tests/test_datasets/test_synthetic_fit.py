"""Generator sizes fitted to labelled frames (synthetic/fit.py): the knobs
come out of hand-made labels as computed by hand, and frames rendered with
them have the labels' sizes."""
import json
import math

import numpy as np
import pytest

from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame
from droplet_mmdet.datasets.synthetic.fit import size_overrides


def _write(tmp_path, diameters_per_frame, size=200):
    images, anns = [], []
    for i, ds in enumerate(diameters_per_frame, 1):
        images.append(dict(id=i, file_name=f'{i}.png', width=size,
                           height=size))
        for d in ds:
            anns.append(dict(id=len(anns) + 1, image_id=i, category_id=1,
                             area=math.pi / 4 * d * d, iscrowd=0,
                             bbox=[0, 0, d, d]))
    path = tmp_path / 'ann.json'
    path.write_text(json.dumps(dict(images=images, annotations=anns,
                                    categories=[dict(id=1, name='d')])))
    return str(path)


def test_knobs_from_hand_made_labels(tmp_path):
    frames = [[20.0] * 10, [40.0] * 10, [20.0, 40.0] * 5, []]
    o = size_overrides(_write(tmp_path, frames))
    areas = [math.pi / 4 * 400, math.pi / 4 * 1600,
             math.pi / 4 * 1000]  # per-frame means (the empty one is out)
    lo, hi = np.percentile(areas, [10, 90])
    assert o['mean_area'] == pytest.approx((lo, hi), abs=0.1)
    assert o['diameter_range'] == pytest.approx(
        tuple(np.percentile([20.0] * 15 + [40.0] * 15, [1, 99])), abs=0.1)
    # CVs 0, 0 and 1/3: median 0, so monodisperse
    assert o['polydisperse'] is False
    cover = [a * 10 / 200**2 for a in areas]
    assert o['sparse_coverage'] == pytest.approx(
        tuple(np.percentile(cover, [10, 90])), abs=1e-3)
    # the first frame alone
    one = size_overrides(_write(tmp_path, frames), max_frames=1)
    assert one['mean_area'] == pytest.approx((areas[0], areas[0]), abs=0.1)


def test_rendered_sizes_follow_the_fit(tmp_path):
    """Labels of 40-60 px droplets (far above the v2 defaults' 14-36 px):
    frames drawn with the fitted knobs have their median size."""
    rng = np.random.default_rng(0)
    frames = [list(rng.uniform(40, 60, 12)) for _ in range(6)]
    o = size_overrides(_write(tmp_path, frames, size=400))
    d = [x.diameter for s in range(3) for x in render_frame(
        FrameSpec(height=400, width=400, **o), s)[1]]
    assert 40 <= np.median(d) <= 60
    d0 = [x.diameter for s in range(3) for x in render_frame(
        FrameSpec(height=400, width=400), s)[1]]
    assert np.median(d0) < 40  # the defaults would not have


def test_no_labelled_droplet_is_an_error_naming_the_file(tmp_path):
    path = _write(tmp_path, [[], []])
    with pytest.raises(ValueError, match=f'{path}: no labelled droplet'):
        size_overrides(path)


def _ellipse(cx, cy, a, b, theta, n=64):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x = cx + a * np.cos(t) * np.cos(theta) - b * np.sin(t) * np.sin(theta)
    y = cy + a * np.cos(t) * np.sin(theta) + b * np.sin(t) * np.cos(theta)
    return np.stack([x, y], 1).reshape(-1).tolist()


def test_ellipticity_from_masks(tmp_path):
    """Polygon labels of ellipses with b / a = 0.5 at any angle read
    ellipticity 0.5 (second moments), the same from their RLE; the fit
    sets max_ellipticity so that 90 % of uniform draws fall below it, and
    leaves it out for labels too small to show their shape."""
    from pycocotools import mask as mask_utils

    from droplet_mmdet.datasets.synthetic.fit import mask_ellipticity
    rng = np.random.default_rng(0)
    anns = []
    for i in range(30):
        poly = _ellipse(rng.uniform(40, 160), rng.uniform(40, 160), 20, 10,
                        rng.uniform(0, np.pi))
        anns.append(dict(id=i + 1, image_id=1, category_id=1, iscrowd=0,
                         segmentation=[poly], area=math.pi * 200,
                         bbox=[0, 0, 40, 40]))
    for a in anns[:3]:
        assert mask_ellipticity(a, 200, 200) == pytest.approx(0.5, abs=0.01)
        rle = mask_utils.frPyObjects(a['segmentation'], 200, 200)[0]
        assert mask_ellipticity(dict(segmentation=rle), 200, 200) == \
            pytest.approx(0.5, abs=0.03)
    coco = dict(images=[dict(id=1, file_name='1.png', width=200,
                             height=200)],
                annotations=anns, categories=[dict(id=1, name='d')])
    path = tmp_path / 'ell.json'
    path.write_text(json.dumps(coco))
    assert size_overrides(str(path))['max_ellipticity'] == pytest.approx(
        0.5 / 0.9, abs=0.01)
    for a in anns:  # 8 px across: too small to measure a shape
        a['area'] = math.pi * 16
    path.write_text(json.dumps(coco))
    assert 'max_ellipticity' not in size_overrides(str(path))

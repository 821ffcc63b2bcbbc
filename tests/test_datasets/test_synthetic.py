"""The synthetic droplet generator: exact masks, determinism, COCO output.

The v1 look (``FrameSpec.v1()``) is tested here; realism v2 in
``test_synthetic_v2.py``.
"""
import hashlib
import json
import os
import os.path as osp

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from droplet_mmdet.datasets.synthetic import (FrameSpec, generate_dataset,
                                              mask_to_rle, render_frame)


def _full(drop, h, w):
    m = np.zeros((h, w), bool)
    ph, pw = drop.mask.shape
    m[drop.y0:drop.y0 + ph, drop.x0:drop.x0 + pw] = drop.mask
    return m


def _inside(drop, h, w):
    """Pixel centres inside the droplet's outer boundary (the mask rule)."""
    y, x = np.mgrid[0:h, 0:w] + 0.5
    c, s = np.cos(drop.theta), np.sin(drop.theta)
    u = (x - drop.cx) * c + (y - drop.cy) * s
    v = -(x - drop.cx) * s + (y - drop.cy) * c
    return (u / drop.a)**2 + (v / drop.b)**2 < 1


@pytest.mark.parametrize('layout', ['sparse', 'packed', 'channel'])
def test_masks_follow_the_mask_rule(layout):
    h = w = 160
    img, drops, info = render_frame(FrameSpec.v1(height=h, width=w,
                                                 layout=layout), seed=3)
    assert info['layout'] == layout
    assert len(drops) > 5
    claimed = np.zeros((h, w), bool)
    for k, d in enumerate(drops):
        full = _full(d, h, w)
        # visible = inside this droplet and not inside any later droplet
        later = np.zeros((h, w), bool)
        for e in drops[k + 1:]:
            later |= _inside(e, h, w)
        np.testing.assert_array_equal(full, _inside(d, h, w) & ~later)
        assert not (claimed & full).any(), 'instance masks overlap'
        claimed |= full


def test_v1_size_is_400_to_500_px2():
    img, drops, _ = render_frame(FrameSpec.v1(layout='sparse', size_cv=0.0,
                                              max_ellipticity=0.0), seed=5)
    whole = [d for d in drops if not d.cut]
    areas = np.array([d.area for d in whole])
    diam = np.array([d.diameter for d in whole])
    assert len(whole) > 50
    assert areas.min() > 380 and areas.max() < 520
    assert 22 <= diam.min() and diam.max() <= 25.3
    # discretised area matches the true disc area to within a few %
    np.testing.assert_allclose(areas, np.pi * diam**2 / 4, rtol=0.04)


def test_border_cut_flag_and_option():
    _, drops, _ = render_frame(FrameSpec.v1(layout='packed',
                                            cluster_coverage=(1, 1)), seed=2)
    assert any(d.cut for d in drops)
    for d in drops:
        x0, y0 = d.cx - d.a, d.cy - d.a
        x1, y1 = d.cx + d.a, d.cy + d.a
        assert d.cut == (x0 < 0 or y0 < 0 or x1 > 512 or y1 > 512)
    _, drops, _ = render_frame(FrameSpec.v1(layout='sparse',
                                            border_cut=False), seed=2)
    assert not any(d.cut for d in drops)


def test_same_seed_same_bytes_other_seed_differs():
    spec = FrameSpec(height=128, width=128)
    a, da, _ = render_frame(spec, 11)
    b, db, _ = render_frame(spec, 11)
    c, _, _ = render_frame(spec, 12)
    assert a.tobytes() == b.tobytes()
    assert [d.cx for d in da] == [d.cx for d in db]
    assert a.tobytes() != c.tobytes()


def test_rle_from_patch_equals_pycocotools_encode():
    h, w = 96, 80
    rng = np.random.default_rng(0)
    for _ in range(20):
        ph, pw = rng.integers(1, 30, 2)
        y0, x0 = rng.integers(0, h - ph), rng.integers(0, w - pw)
        patch = rng.random((ph, pw)) < 0.5
        full = np.zeros((h, w), np.uint8, order='F')
        full[y0:y0 + ph, x0:x0 + pw] = patch
        ref = mask_utils.encode(full)
        ours = mask_to_rle(patch, int(x0), int(y0), h, w)
        assert ours['counts'] == ref['counts'].decode()
        np.testing.assert_array_equal(mask_utils.decode(ours), full)
    empty = mask_to_rle(np.zeros((3, 3), bool), 0, 0, h, w)
    assert mask_utils.area(empty) == 0


def _tree_digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def test_dataset_is_byte_identical_for_same_seed(tmp_path):
    spec = FrameSpec(height=96, width=96)
    for name in ('a', 'b'):
        generate_dataset(str(tmp_path / name), spec, dict(train=3, val=1),
                         seed=4, gallery=0, progress=False)
    assert _tree_digest(tmp_path / 'a') == _tree_digest(tmp_path / 'b')
    generate_dataset(str(tmp_path / 'c'), spec, dict(train=3, val=1),
                     seed=5, gallery=0, progress=False)
    assert _tree_digest(tmp_path / 'a') != _tree_digest(tmp_path / 'c')


def test_written_coco_matches_truth(tiny_droplets):
    from pycocotools.coco import COCO
    coco = COCO(osp.join(tiny_droplets, 'train.json'))
    with open(osp.join(tiny_droplets, 'train_droplets.json')) as f:
        truth = json.load(f)
    assert len(truth['droplets']) == len(coco.anns)
    assert truth['spec']['height'] == 128
    for t in truth['droplets']:
        ann = coco.anns[t['ann_id']]
        m = coco.annToMask(ann)
        assert m.sum() == ann['area'] == t['visible_area']
        ys, xs = np.nonzero(m)
        assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                               ys.max() - ys.min() + 1]
        # (a droplet partly hidden by one in front has its mask's mean
        # off its true centroid: only nearly whole ones)
        if not t['cut_by_border'] and t['visible_area'] > 0.98 * np.pi * (
                t['diameter'] / 2)**2:
            assert abs(xs.mean() + 0.5 - t['cx']) < 1.0
    assert min(coco.anns) == 1 and min(coco.imgs) == 1
    assert osp.isfile(osp.join(tiny_droplets, 'gallery.png'))
    assert osp.isfile(osp.join(tiny_droplets, 'train', '000000.png'))


def test_options_change_the_frames():
    bf, _, i1 = render_frame(
        FrameSpec.v1(look='brightfield', layout='sparse'), 1)
    fl, _, i2 = render_frame(
        FrameSpec.v1(look='fluorescence', layout='sparse'), 1)
    assert bf.mean() > 100 > fl.mean()  # bright background vs dark
    _, poly, _ = render_frame(
        FrameSpec.v1(polydisperse=True, layout='sparse'), 1)
    _, mono, _ = render_frame(FrameSpec.v1(layout='sparse'), 1)
    cv = lambda ds: np.std([d.diameter for d in ds]) / np.mean(  # noqa
        [d.diameter for d in ds])
    assert cv(mono) < 0.03 < cv(poly)

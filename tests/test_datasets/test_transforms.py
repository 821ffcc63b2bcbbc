"""Object-aware crop, controlled blur and noise."""
import cv2
import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

import droplet_mmdet  # noqa: F401
from droplet_mmdet.datasets.transforms import (DropletGaussianBlur,
                                               DropletNoise,
                                               ObjectAwareRandomCrop,
                                               sample_crop_offset,
                                               visible_fraction)


def _results(h=200, w=200, discs=((95, 95, 6), ), value=200, bg=50):
    img = np.full((h, w, 3), bg, np.uint8)
    masks, boxes = [], []
    for cx, cy, r in discs:
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (cx, cy), r, 1, -1)
        img[m.astype(bool)] = value
        masks.append(m)
        ys, xs = np.nonzero(m)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
    n = len(discs)
    return dict(
        img=img, img_shape=(h, w),
        gt_bboxes=HorizontalBoxes(np.asarray(boxes, np.float32).reshape(-1,
                                                                        4)),
        gt_bboxes_labels=np.zeros(n, np.int64),
        gt_ignore_flags=np.zeros(n, bool),
        gt_masks=BitmapMasks(np.asarray(masks).reshape(n, h, w), h, w))


def test_visible_fraction():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [20, 20, 30, 30]],
                     np.float32)
    np.testing.assert_allclose(visible_fraction(boxes, (0, 0, 10, 10)),
                               [1.0, 0.25, 0.0])


def test_sampled_window_keeps_the_object():
    box = np.array([[150., 20., 160., 30.]])
    rng = np.random.RandomState(0)
    for _ in range(50):
        oy, ox, how = sample_crop_offset(box, (200, 200), (40, 40),
                                         min_visible=1.0, max_tries=5,
                                         rand=rng)
        assert how in ('sampled', 'centred')
        assert visible_fraction(box, (ox, oy, ox + 40, oy + 40))[0] == 1.0


def test_impossible_rule_falls_back_to_centring():
    boxes = np.array([[0., 0., 10., 10.], [180., 180., 190., 190.]])
    oy, ox, how = sample_crop_offset(boxes, (200, 200), (50, 50),
                                     min_objects=2, max_tries=3,
                                     rand=np.random.RandomState(1))
    assert how == 'centred'
    assert visible_fraction(boxes, (ox, oy, ox + 50, oy + 50)).max() == 1.0


def test_no_objects_does_not_loop():
    oy, ox, how = sample_crop_offset(np.zeros((0, 4)), (100, 100), (30, 30),
                                     max_tries=10 ** 9)
    assert how == 'empty' and 0 <= oy <= 70 and 0 <= ox <= 70


def test_fg_ratio_bound():
    boxes = np.array([[0., 0., 20., 20.], [100., 100., 102., 102.]])
    rng = np.random.RandomState(0)
    for _ in range(20):
        oy, ox, how = sample_crop_offset(boxes, (200, 200), (40, 40),
                                         fg_ratio_range=(0.0, 0.01),
                                         max_tries=200, rand=rng)
        if how == 'sampled':
            vis = visible_fraction(boxes, (ox, oy, ox + 40, oy + 40))
            fg = (vis * [400, 4]).sum() / 1600
            assert fg <= 0.01 and vis.max() >= 0.7


def test_crop_transform_keeps_object_and_is_consistent():
    t = ObjectAwareRandomCrop(crop_size=(48, 48), min_visible=1.0,
                              min_visible_area=20)
    np.random.seed(0)
    for _ in range(20):
        out = t.transform(_results(discs=((95, 95, 6), (20, 180, 6),
                                          (180, 20, 6))))
        assert out['img'].shape[:2] == (48, 48)
        n = len(out['gt_bboxes'])
        assert n >= 1
        assert len(out['gt_masks']) == len(out['gt_bboxes_labels']) == n
        assert len(out['gt_ignore_flags']) == n
        areas = out['gt_masks'].areas
        assert (areas >= 20).all()
        # boxes recomputed from the cropped masks
        np.testing.assert_allclose(
            out['gt_bboxes'].numpy(),
            out['gt_masks'].get_bboxes(HorizontalBoxes).numpy())


def test_small_remnants_dropped_from_everything():
    t = ObjectAwareRandomCrop(crop_size=(100, 100), min_visible_area=60)
    res = _results(discs=((50, 50, 6), (101, 50, 6)))
    # crop x in [0, 100): the second disc keeps a 5 x 11 px sliver (< 60)
    t._get_crop_size = lambda size: (100, 100)
    t._rand_offset = lambda margin: (0, 0)
    out = t.transform(res)
    assert len(out['gt_bboxes']) == 1 == len(out['gt_masks'])
    assert out['gt_masks'].areas[0] > 100


def test_empty_image_documented_fallback():
    res = _results(discs=())
    assert ObjectAwareRandomCrop(crop_size=(50, 50)).transform(
        dict(res)) is None
    out = ObjectAwareRandomCrop(crop_size=(50, 50),
                                allow_negative_crop=True).transform(res)
    assert out['img'].shape[:2] == (50, 50) and len(out['gt_bboxes']) == 0


def test_crop_repr():
    r = repr(ObjectAwareRandomCrop(crop_size=(64, 64), min_objects=3))
    assert 'min_objects=3' in r and 'crop_size=(64, 64)' in r


def test_blur_sigma_is_tied_to_radius():
    res = _results(discs=((95, 95, 10), ))  # box 21 px -> radius 10.5
    t = DropletGaussianBlur(sigma_ratio=(0.2, 0.2), prob=1.0)
    out = t.transform(dict(res, img=res['img'].copy()))
    r = np.sqrt(21 * 21) / 2
    ref = cv2.GaussianBlur(res['img'].astype(np.float32), (0, 0),
                           0.2 * r).astype(np.uint8)
    np.testing.assert_array_equal(out['img'], ref)
    with pytest.raises(AssertionError):
        DropletGaussianBlur(sigma_ratio=(0.0, 0.5))
    assert 'sigma_ratio=(0.2, 0.2)' in repr(t)


@pytest.mark.parametrize('mode', ['gaussian', 'poisson'])
def test_noise_sigma_is_tied_to_contrast(mode):
    res = _results(h=300, w=300, discs=((150, 150, 40), ), value=150, bg=50)
    np.random.seed(0)
    t = DropletNoise(snr_range=(10.0, 10.0), mode=mode, prob=1.0)
    out = t.transform(dict(res, img=res['img'].copy()))
    diff = out['img'].astype(float) - res['img']
    bg = ~res['gt_masks'].masks[0].astype(bool)
    # contrast 100, SNR 10 -> sigma 10 at the background level
    assert diff[bg].std() == pytest.approx(10.0, rel=0.1)
    with pytest.raises(AssertionError):
        DropletNoise(snr_range=(1.0, 5.0))


def test_noise_without_objects_adds_nothing():
    res = _results(discs=())
    out = DropletNoise(prob=1.0).transform(dict(res, img=res['img'].copy()))
    np.testing.assert_array_equal(out['img'], res['img'])


def test_union_mask_polygons_equal_bitmaps():
    """Merged-polygon rasterisation equals the union of the per-instance
    bitmaps that PolygonMasks.to_ndarray gives (bubbles keep polygons)."""
    from mmdet.structures.mask import PolygonMasks

    from droplet_mmdet.datasets.transforms.blur_noise import union_mask
    rng = np.random.default_rng(0)
    polys = []
    for _ in range(30):
        cx, cy, r = rng.uniform(10, 90), rng.uniform(10, 70), rng.uniform(3, 9)
        a = np.linspace(0, 2 * np.pi, 12, endpoint=False)
        polys.append([np.stack([cx + r * np.cos(a), cy + 0.7 * r * np.sin(a)],
                               1).ravel()])
    pm = PolygonMasks(polys, 80, 100)
    expected = pm.to_ndarray().any(axis=0)
    assert expected.sum() > 500
    assert np.array_equal(union_mask(pm, (80, 100)), expected)
    bm = BitmapMasks(pm.to_ndarray(), 80, 100)
    assert np.array_equal(union_mask(bm, (80, 100)), expected)
    # padded image (e.g. after Pad): the union is placed top-left
    padded = union_mask(pm, (96, 112))
    assert padded.shape == (96, 112) and padded.sum() == expected.sum()
    assert not union_mask(PolygonMasks([], 80, 100), (80, 100)).any()


def _whole(out, full_areas):
    """Droplets that ``out`` keeps with their full mask area."""
    return sum(1 for a in out['gt_masks'].areas if a in full_areas)


def test_crop_keeps_min_objects_when_a_window_can():
    """min_objects=2: three droplets of which any two fit a 60 px crop, so
    every crop is a sampled window with >= 2 droplets whole; no fallback."""
    discs = ((60, 60, 6), (100, 60, 6), (80, 95, 6))
    t = ObjectAwareRandomCrop(crop_size=(60, 60), min_objects=2,
                              min_visible=1.0, max_tries=200)
    np.random.seed(0)
    kept = []
    full = list(_results(discs=discs)['gt_masks'].areas)
    for _ in range(30):
        out = t.transform(_results(discs=discs))
        kept.append(_whole(out, full))
    assert min(kept) >= 2
    assert t.counts == dict(sampled=30, centred=0, empty=0)


def test_crop_fallback_is_counted_warned_and_keeps_one():
    """min_objects=2 with droplets too far apart for any 48 px crop: every
    crop falls back to centring on one droplet, which is kept whole, with
    fewer than min_objects (as documented); counted, and warned at the 1st
    and 10th fallback only."""
    discs = ((20, 20, 6), (180, 180, 6), (20, 180, 6))
    t = ObjectAwareRandomCrop(crop_size=(48, 48), min_objects=2,
                              min_visible=1.0, max_tries=5)
    full = list(_results(discs=discs)['gt_masks'].areas)
    np.random.seed(1)
    with pytest.warns(UserWarning) as record:
        for _ in range(12):
            res = _results(discs=discs)
            res['img_path'] = 'frame_7.png'
            out = t.transform(res)
            assert len(out['gt_bboxes']) == 1 == _whole(out, full)
    assert t.counts == dict(sampled=0, centred=12, empty=0)
    msgs = [str(w.message) for w in record
            if 'ObjectAwareRandomCrop' in str(w.message)]
    assert len(msgs) == 2
    assert 'frame_7.png' in msgs[0] and '>= 2 objects' in msgs[0]
    assert 'Fallbacks so far in this process: 1 of 1 crops' in msgs[0]
    assert 'Fallbacks so far in this process: 10 of 10 crops' in msgs[1]

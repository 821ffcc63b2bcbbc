"""Sliced inference with each of the four predictor test models
(``predictor_models.py``): a 96 x 160 frame cut into 6 overlapping tiles
must give what mmdet's ``inference_detector`` gives on each tile (the
config's test pipeline, full-frame masks), moved to frame coordinates,
seam-filtered and merged: exactly one tile at a time, and up to float
rounding 4 tiles per batch channels-last (as ``tools/infer.py`` runs)."""
import os.path as osp

import cv2
import numpy as np
import pytest
from predictor_models import MODEL_NAMES, build_model, make_frames

from droplet_mmdet.apis.predictor import mmdet_predict_fn
from droplet_mmdet.apis.slicing import (masks_to_detections,
                                        merge_detections, predict_frame,
                                        tile_detections, tile_windows)

TILE, OVERLAP, SCORE_THR = 80, 32, 0.3


@pytest.fixture(scope='module')
def model_frames(tmp_path_factory):
    return make_frames(str(tmp_path_factory.mktemp('frames')))


def _full(d, hw):
    m = np.zeros(hw, bool)
    m[d.box[1]:d.box[3], d.box[0]:d.box[2]] = d.mask
    return m


def _key(d):
    return d.box, d.mask.tobytes(), round(d.score, 6)


def assert_close(dets, want, hw):
    """One-to-one up to float rounding: batched, channels-last tiles may
    flip a pixel at the mask threshold, and with it at most a few merge
    decisions of these random models' hundreds of fragments."""
    left = list(want)
    matched = identical = 0
    for d in dets:
        m = _full(d, hw)
        near = [w for w in left if abs(w.score - d.score) < 1e-3 and (
            m ^ _full(w, hw)).sum() <= max(2, 0.05 * d.area)]
        if near:
            left.remove(near[0])
            matched += 1
            identical += _key(near[0]) == _key(d)
    assert matched >= 0.98 * max(len(dets), len(want))
    assert identical >= 0.9 * len(dets)


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_sliced_inference(name, model_frames):
    from mmdet.apis import inference_detector
    model = build_model(name, model_frames)  # this module's own copy
    if name != 'rtmdet_ins':
        model.roi_head.test_cfg.max_per_img = 40  # per tile
    img = cv2.imread(osp.join(model_frames, 'val', '000000.png'))
    H, W = img.shape[:2]
    windows = tile_windows(H, W, TILE, OVERLAP)
    assert len(windows) == 6 and windows[-1] == (85, 32, 160, 96)

    want, from_window = [], []
    for x0, y0, x1, y1 in windows:
        pred = inference_detector(model, img[y0:y1, x0:x1]).pred_instances
        tile_dets = masks_to_detections(pred.masks.numpy(),
                                        pred.scores.numpy())
        kept = tile_detections(tile_dets, (x0, y0, x1, y1), (H, W),
                               SCORE_THR)
        want += kept
        from_window += [(x0, y0)] * len(kept)
    want = merge_detections(want)
    # the tiles' offsets are exercised: droplets from shifted tiles survive
    assert len({w for w in from_window if w != (0, 0)}) >= 2
    assert len(want) >= 5

    # one tile at a time in NCHW: exactly what mmdet gives
    exact = predict_frame(mmdet_predict_fn(model, nhwc=False), img,
                          tile=TILE, overlap=OVERLAP, score_thr=SCORE_THR,
                          batch_size=1)
    assert sorted(map(_key, exact)) == sorted(map(_key, want))
    for d in exact:  # frame coordinates, masks inside their boxes
        x0, y0, x1, y1 = d.box
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
        assert d.mask.shape == (y1 - y0, x1 - x0)
        bx0, by0, bx1, by1 = d.bbox  # the model's box, moved alike
        assert -0.01 <= bx0 <= bx1 <= W + 0.01
        assert -0.01 <= by0 <= by1 <= H + 0.01
    # as tools/infer.py runs: 4 tiles per batch, channels-last
    fast = predict_frame(mmdet_predict_fn(model), img, tile=TILE,
                         overlap=OVERLAP, score_thr=SCORE_THR, batch_size=4)
    assert_close(fast, exact, (H, W))

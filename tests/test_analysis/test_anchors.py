"""Anchor coverage: the fast best-IoU equals a brute force over mmdet's own
anchors, and fitting finds anchors that cover droplets."""
import numpy as np
import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.structures.bbox import bbox_overlaps

from droplet_mmdet.analysis import (STOCK_ANCHORS, best_anchor_iou, coverage,
                                    fit_anchors)


def test_best_iou_equals_brute_force_over_mmdet_anchors():
    rng = np.random.RandomState(0)
    xy = rng.uniform(10, 100, (40, 2))
    wh = rng.uniform(8, 40, (40, 2))
    boxes = np.concatenate([xy, xy + wh], 1)
    for cfg in (dict(scales=[6], ratios=[0.8, 1.0, 1.25]), STOCK_ANCHORS):
        strides = [4, 8, 16, 32, 64]
        gen = AnchorGenerator(strides=strides, ratios=cfg['ratios'],
                              scales=cfg['scales'])
        anchors = torch.cat(gen.grid_priors(
            [(160 // s + 2, 160 // s + 2) for s in strides], device='cpu'))
        brute = bbox_overlaps(torch.tensor(boxes, dtype=torch.float32),
                              anchors).max(1).values.numpy()
        fast = best_anchor_iou(boxes, cfg['scales'], cfg['ratios'], strides)
        np.testing.assert_allclose(fast, brute, atol=1e-5)


def test_small_droplets_need_small_anchors():
    # 22-25 px droplets at random sub-pixel positions
    rng = np.random.RandomState(1)
    d = rng.uniform(22, 25, 500)
    c = rng.uniform(50, 400, (500, 2))
    boxes = np.concatenate([c - d[:, None] / 2, c + d[:, None] / 2], 1)
    stock = coverage(boxes, **STOCK_ANCHORS)
    small = coverage(boxes, [6], [0.8, 1.0, 1.25], [4, 8, 16, 32, 64])
    assert small['match@0.7'] > stock['match@0.7']
    fitted, cov = fit_anchors(boxes)
    assert cov['match@0.5'] >= small['match@0.5']
    assert 4.5 <= fitted['scales'][0] <= 7.5

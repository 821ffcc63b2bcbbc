"""Anchor coverage: the fast best-IoU equals a brute force over mmdet's own
anchors, and fitting finds anchors that cover droplets."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.structures.bbox import bbox_overlaps

from droplet_mmdet.analysis import (STOCK_ANCHORS, best_anchor_iou, coverage,
                                    fit_anchors)
from conftest import ROOT


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


def _squares(centres_sides):
    return np.array([[cx - a / 2, cy - a / 2, cx + a / 2, cy + a / 2]
                     for cx, cy, a in centres_sides])


# three 20 px and two 36 px squares centred on stride-4 grid points, so the
# best anchor of side a = 4 * scale sits on the box centre and a square's
# IoU is min(a, b)^2 / max(a, b)^2
BIMODAL = _squares([(40, 40, 20), (80, 40, 20), (120, 40, 20),
                    (40, 120, 36), (120, 120, 36)])
ONE_RATIO = dict(strides=[4], ratio_sets=[[1.0]])


def test_fit_at_iou_07_differs_from_fit_at_05():
    # IoU >= 0.5 needs 36 / sqrt(2) <= a <= 20 * sqrt(2): a = 26 or 28
    # match all five; a = 26 (scale 6.5) has the higher mean,
    # (3 * 400 / 676 + 2 * 676 / 1296) / 5, and matches none at 0.7
    cfg, cov = fit_anchors(BIMODAL, iou=0.5, **ONE_RATIO)
    assert cfg == dict(scales=[6.5], ratios=[1.0], strides=[4])
    assert cov['match@0.5'] == 1.0 and cov['match@0.7'] == 0.0
    np.testing.assert_allclose(
        cov['mean_best_iou'], (3 * 400 / 676 + 2 * 676 / 1296) / 5)
    # IoU >= 0.7 cannot hold for both sizes (36 / 20 > 1 / 0.7 ** 2);
    # a = 20 (scale 5) matches the three 20 px squares exactly
    cfg, cov = fit_anchors(BIMODAL, iou=0.7, **ONE_RATIO)
    assert cfg['scales'] == [5.0]
    assert cov['match@0.7'] == 0.6 and cov['match@0.3'] == 1.0
    np.testing.assert_allclose(cov['mean_best_iou'],
                               (3 + 2 * 400 / 1296) / 5)
    assert fit_anchors(BIMODAL, **ONE_RATIO)[0]['scales'] == [5.0]  # 0.7


def test_two_scales_cover_a_bimodal_set():
    cfg, cov = fit_anchors(BIMODAL, iou=0.7, num_scales=2, **ONE_RATIO)
    assert cfg['scales'] == [5.0, 9.0]  # 20 and 36 px
    assert cov['match@0.7'] == 1.0 and cov['mean_best_iou'] == 1.0
    # the pair's coverage is that of mmdet anchors with both scales
    assert cov == coverage(BIMODAL, [5.0, 9.0], [1.0], [4],
                           thresholds=(0.3, 0.5, 0.7))


def test_two_scale_fit_is_exact_on_random_boxes():
    rng = np.random.RandomState(2)
    xy = rng.uniform(10, 200, (60, 2))
    wh = np.concatenate([rng.uniform(8, 14, (30, 2)),
                         rng.uniform(40, 60, (30, 2))])
    boxes = np.concatenate([xy, xy + wh], 1)
    grid = [2.0, 3.0, 4.0, 6.0, 8.0]
    cfg, cov = fit_anchors(boxes, scale_grid=grid, iou=0.7, num_scales=2,
                           ratio_sets=[[1.0], [0.8, 1.0, 1.25]])
    # brute force over every pair with the multi-scale coverage
    best = max(
        ((coverage(boxes, [a, b], r, [4, 8, 16, 32, 64])['match@0.7'],
          coverage(boxes, [a, b], r, [4, 8, 16, 32, 64])['mean_best_iou'])
         for r in ([1.0], [0.8, 1.0, 1.25]) for i, a in enumerate(grid)
         for b in grid[i + 1:]))
    assert (cov['match@0.7'], cov['mean_best_iou']) == pytest.approx(best)
    assert cov['match@0.7'] >= fit_anchors(
        boxes, scale_grid=grid, iou=0.7,
        ratio_sets=[[1.0], [0.8, 1.0, 1.25]])[1]['match@0.7']


def test_fit_anchors_tool_options(tmp_path, capsys, monkeypatch):
    import json
    import runpy
    xywh = BIMODAL.copy()
    xywh[:, 2:] -= xywh[:, :2]
    ann = tmp_path / 'a.json'
    ann.write_text(json.dumps(dict(annotations=[
        dict(bbox=b.tolist()) for b in xywh])))
    tool = osp.join(ROOT, 'tools', 'analysis_tools', 'fit_anchors.py')
    monkeypatch.setattr(sys, 'argv', [
        tool, str(ann), '--strides', '4', '--iou', '0.7', '--num-scales',
        '2'
    ])
    runpy.run_path(tool, run_name='__main__')
    out = capsys.readouterr().out
    assert 'mean 26.4 px (NWD constant C)' in out  # (3 * 20 + 2 * 36) / 5
    assert 'IoU>=0.3  IoU>=0.5  IoU>=0.7' in out
    assert "scales=[5.0, 9.0], ratios=[1.0], strides=[4]" in out

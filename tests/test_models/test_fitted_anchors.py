"""FittedAnchorGenerator: anchors fitted to the training boxes when the
model is built, filled in from train_dataloader by droplet_mmdet's tools."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config

import droplet_mmdet  # noqa: F401
from droplet_mmdet.analysis import STOCK_ANCHORS, coverage
from droplet_mmdet.apis import fill_fitted_anchors, load_config
from conftest import ROOT

STRIDES = [4, 8, 16, 32, 64]
FLAGSHIP = osp.join(ROOT, 'configs', 'droplet', 'mask_rcnn_r50_fpn_small.py')


def _coco(path, side, n=300, seed=0):
    """A COCO json of ``n`` square boxes of ``side`` px at random places
    (sub-pixel) on 512 x 512 frames."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 512 - side, (n, 2))
    coco = dict(images=[dict(id=1, file_name='a.png', width=512,
                             height=512)],
                annotations=[dict(id=i + 1, image_id=1, category_id=1,
                                  bbox=[float(x), float(y), side, side],
                                  area=side * side, iscrowd=0)
                             for i, (x, y) in enumerate(xy)],
                categories=[dict(id=1, name='droplet')])
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def _cfg(ann_file, pipeline=(), **gen):
    return Config(dict(
        model=dict(rpn_head=dict(anchor_generator=dict(
            type='FittedAnchorGenerator', strides=STRIDES, **gen))),
        train_dataloader=dict(dataset=dict(
            type='RepeatDataset', times=2,
            dataset=dict(type='CocoDataset', data_root=osp.dirname(ann_file),
                         ann_file=osp.basename(ann_file),
                         pipeline=list(pipeline))))))


def test_fit_matches_the_boxes_size(tmp_path):
    """12 px droplets: mmdet's anchors (32 px and up) match few of them at
    IoU 0.5; the fitted ones are 12 px on the stride-4 level (scale 3) and
    match every box."""
    ann = _coco(str(tmp_path / 'train.json'), 12.0)
    cfg = fill_fitted_anchors(_cfg(ann))
    g = cfg.model.rpn_head.anchor_generator
    assert g.scales == [3.0] and 1.0 in g.ratios
    assert g.ann_file == ann and g.box_scale == 1.0
    boxes = np.array([[b['bbox'][0], b['bbox'][1], b['bbox'][0] + 12,
                       b['bbox'][1] + 12]
                      for b in json.load(open(ann))['annotations']])
    fitted = coverage(boxes, g.scales, g.ratios, STRIDES)['match@0.5']
    stock = coverage(boxes, **STOCK_ANCHORS)['match@0.5']
    assert fitted == 1.0 and stock < 0.5


def test_resize_in_the_train_pipeline_scales_the_boxes(tmp_path):
    ann = _coco(str(tmp_path / 'train.json'), 12.0)
    cfg = fill_fitted_anchors(_cfg(ann, [
        dict(type='Resize', scale_factor=2.0, keep_ratio=True)]))
    g = cfg.model.rpn_head.anchor_generator
    assert g.box_scale == 2.0 and g.scales == [6.0]  # 24 px at stride 4
    with pytest.raises(ValueError, match='box_scale'):
        fill_fitted_anchors(_cfg(ann, [
            dict(type='Resize', scale=(1333, 800), keep_ratio=True)]))


def test_built_model_uses_the_fitted_anchors(tmp_path):
    """The flagship config on a set of 20 px droplets: its RPN has ~20 px
    anchors on some level (mmdet's stock ones: 32 px and up)."""
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    _coco(str(tmp_path / 'train.json'), 20.0)
    cfg = load_config(FLAGSHIP, cfg_options={
        'train_dataloader.dataset.data_root': str(tmp_path) + '/',
        'train_dataloader.dataset.ann_file': 'train.json'})
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    base = torch.cat(model.rpn_head.prior_generator.base_anchors)
    sides = torch.sqrt((base[:, 2] - base[:, 0]) * (base[:, 3] - base[:, 1]))
    assert ((sides - 20).abs() <= 2).sum() >= 3, sides  # 3 ratios
    assert np.allclose(model.rpn_head.prior_generator.ratios,
                       cfg.model.rpn_head.anchor_generator.ratios)


def test_trained_model_keeps_the_anchors_it_was_trained_with(tmp_path):
    """At test time the anchors come from the config mmengine saved in the
    checkpoint, even when the training json has changed since or is gone;
    a checkpoint without them is fitted to the json, and with neither the
    error names the missing file."""
    ann = _coco(str(tmp_path / 'train.json'), 12.0)
    trained = fill_fitted_anchors(_cfg(ann))
    want = trained.model.rpn_head.anchor_generator
    ckpt = str(tmp_path / 'iter_1.pth')
    torch.save(dict(state_dict={}, meta=dict(cfg=trained.pretty_text)), ckpt)
    _coco(ann, 40.0)  # relabelled since: a fit now gives other anchors
    refit = fill_fitted_anchors(_cfg(ann)).model.rpn_head.anchor_generator
    assert refit.scales != want.scales
    for path in (ann, str(tmp_path / 'elsewhere' / 'train.json')):
        g = fill_fitted_anchors(_cfg(path), checkpoint=ckpt
                                ).model.rpn_head.anchor_generator
        assert (g.scales, g.ratios) == (want.scales, want.ratios)
    bare = str(tmp_path / 'bare.pth')
    torch.save(dict(state_dict={}, meta=dict()), bare)
    g = fill_fitted_anchors(_cfg(ann), checkpoint=bare
                            ).model.rpn_head.anchor_generator
    assert g.scales == refit.scales
    with pytest.raises(FileNotFoundError, match='elsewhere/train.json'):
        fill_fitted_anchors(_cfg(str(tmp_path / 'elsewhere' / 'train.json')),
                            checkpoint=bare)
    with pytest.raises(FileNotFoundError, match='elsewhere/train.json'):
        fill_fitted_anchors(_cfg(str(tmp_path / 'elsewhere' / 'train.json')))


def test_generator_without_ann_file_refuses_to_guess():
    """A tool that does not fill the anchors in (mmdet's own test.py, a
    bare init_detector) stops instead of building other anchors."""
    from mmdet.registry import TASK_UTILS
    with pytest.raises(ValueError, match='ann_file'):
        TASK_UTILS.build(dict(type='FittedAnchorGenerator', strides=STRIDES))
    g = TASK_UTILS.build(dict(type='FittedAnchorGenerator', strides=STRIDES,
                              scales=[3.0], ratios=[1.0]))
    assert g.base_anchors[0].shape == (1, 4)

"""NWD (normalized Gaussian Wasserstein distance) as mmdet's assigner
metric: exact values, mmdet's calculator contract, and the point of it - a
tiny box that IoU leaves without a positive anchor gets some."""
import math

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import droplet_mmdet  # noqa: F401
from droplet_mmdet.models.task_modules import BboxOverlaps2DNWD, nwd

C = 12.8  # the paper's constant (AI-TOD mean size)


def box(cx, cy, w, h):
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def t(rows):
    return torch.tensor(rows, dtype=torch.float64)


def test_identical_boxes():
    b = t([box(10, 10, 6, 6), box(50, 20, 30, 12)])
    assert nwd(b, b, C, is_aligned=True, eps=0).tolist() == [1.0, 1.0]
    # the reference's eps (1e-6) under the root: exp(-1e-3 / C)
    torch.testing.assert_close(
        nwd(b, b, C, is_aligned=True), t([math.exp(-1e-3 / C)] * 2))


def test_hand_computed_values():
    a = t([box(10, 10, 6, 6)])
    b = t([
        box(13, 14, 6, 6),  # centre offset (3, 4): W2 = 5
        box(10, 10, 8, 10),  # same centre: W2^2 = 1^2 + 2^2
        box(4, 18, 12, 2),  # (6, 8) and (3, 2): W2^2 = 100 + 13
    ])
    expected = t([[math.exp(-5 / C), math.exp(-math.sqrt(5) / C),
                   math.exp(-math.sqrt(113) / C)]])
    torch.testing.assert_close(nwd(a, b, C, eps=0), expected)
    # C scales the distance: exp(-d / C)
    torch.testing.assert_close(
        nwd(a, b[:1], 24.0, eps=0), t([[math.exp(-5 / 24)]]))


def test_shapes_aligned_batched_and_empty():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(5, 2, generator=g) * 50
    b1 = torch.cat([xy, xy + 2 + torch.rand(5, 2, generator=g) * 20], 1)
    xy = torch.rand(7, 2, generator=g) * 50
    b2 = torch.cat([xy, xy + 2 + torch.rand(7, 2, generator=g) * 20], 1)
    full = nwd(b1, b2, C)
    assert full.shape == (5, 7)
    assert ((full > 0) & (full <= 1)).all()
    torch.testing.assert_close(nwd(b1, b2[:5], C, is_aligned=True),
                               full[:, :5].diagonal())
    torch.testing.assert_close(nwd(b2, b1, C), full.T)
    # batch dims as in mmdet's bbox_overlaps
    batched = nwd(torch.stack([b1, b1 + 3]), torch.stack([b2, b2 + 3]), C)
    assert batched.shape == (2, 5, 7)
    torch.testing.assert_close(batched[1], full)  # shift-invariant
    # empty inputs
    e = torch.zeros(0, 4)
    assert nwd(e, b2, C).shape == (0, 7)
    assert nwd(b1, e, C).shape == (5, 0)
    assert nwd(e, e, C, is_aligned=True).shape == (0, )
    calc = BboxOverlaps2DNWD(constant=C)
    assert calc(e, b2).shape == (0, 7)
    assert calc(torch.zeros(0, 5), b2).shape == (0, 7)


def test_calculator_contract():
    from mmdet.models.task_modules import BboxOverlaps2D
    from mmdet.registry import TASK_UTILS
    from mmdet.structures.bbox import HorizontalBoxes
    calc = TASK_UTILS.build(
        dict(type='BboxOverlaps2DNWD', mode='nwd', constant=C))
    assert isinstance(calc, BboxOverlaps2DNWD)
    a = t([box(10, 10, 6, 6), box(30, 30, 10, 8)]).float()
    b = t([box(13, 14, 6, 6), box(31, 30, 10, 8), box(5, 5, 4, 4)]).float()
    want = nwd(a, b, C)
    # no mode -> NWD (MaxIoUAssigner calls it so)
    torch.testing.assert_close(calc(a, b), want)
    # a 5th (score) column is dropped; BaseBoxes are unwrapped
    scored = torch.cat([b, torch.rand(3, 1)], 1)
    torch.testing.assert_close(calc(a, scored), want)
    torch.testing.assert_close(calc(HorizontalBoxes(a), HorizontalBoxes(b)),
                               want)
    torch.testing.assert_close(calc(a, b[:2], is_aligned=True),
                               want.diagonal())
    # iou/iof/giou (MaxIoUAssigner's ignore step asks for 'iof') = mmdet's
    for mode in ('iou', 'iof', 'giou'):
        torch.testing.assert_close(calc(a, b, mode=mode),
                                   BboxOverlaps2D()(a, b, mode=mode))
    iou_default = BboxOverlaps2DNWD(mode='iou')
    torch.testing.assert_close(iou_default(a, b), BboxOverlaps2D()(a, b))
    torch.testing.assert_close(iou_default(a, b, mode='nwd'), want)
    with pytest.raises(AssertionError):
        BboxOverlaps2DNWD(mode='wasserstein')
    with pytest.raises(AssertionError):
        BboxOverlaps2DNWD(constant=0)
    assert 'constant=12.8' in repr(calc)


def _assign(iou_calculator, anchors, gt):
    from mmdet.models.task_modules import MaxIoUAssigner
    # mmdet's RPN assigner
    assigner = MaxIoUAssigner(
        pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3,
        match_low_quality=True, ignore_iof_thr=-1,
        iou_calculator=iou_calculator)
    res = assigner.assign(
        InstanceData(priors=anchors),
        InstanceData(bboxes=gt, labels=torch.zeros(len(gt), dtype=torch.long)))
    inds = res.gt_inds
    return [int((inds > 0).sum()), int((inds < 0).sum()),
            int((inds == 0).sum())]


def test_nwd_assigner_gives_a_tiny_box_positives():
    """6 x 6 px anchors on a stride-4 grid (16 x 16 centres 0..60) and a
    6 x 6 px box centred between four of them: offsets (+-2, +-2) px, IoU
    16 / 56 = 0.286 < min_pos_iou 0.3, so mmdet's RPN assigner leaves the box
    without a positive. With NWD (C = 12.8) those four anchors score
    exp(-sqrt(8) / C) = 0.80 >= 0.7: positives. Anchors whose centre is
    within -C ln 0.3 = 15.4 px (offsets (a, b) in {2, 6, 10, 14} with
    a^2 + b^2 <= 237: 52 of them) are not negatives, the other 204 are."""
    from mmdet.models.task_modules import AnchorGenerator
    gen = AnchorGenerator(strides=[4], ratios=[1.0], scales=[1.5])
    anchors = gen.grid_priors([(16, 16)], device='cpu')[0]
    assert anchors.shape == (256, 4)
    gt = torch.tensor([box(30, 30, 6, 6)])
    assert _assign(dict(type='BboxOverlaps2D'), anchors, gt) == [0, 0, 256]
    nwd_calc = dict(type='BboxOverlaps2DNWD', mode='nwd', constant=C)
    assert _assign(nwd_calc, anchors, gt) == [4, 48, 204]


def test_iou_equivalent_thresholds():
    """A C x C box shifted by d along one axis has IoU (C - d) / (C + d)
    and NWD exp(-d / C): the shifts where IoU is 0.7 and 0.3 give NWD
    exp(-0.3 / 1.7) = 0.838 and exp(-0.7 / 1.3) = 0.584, the thresholds of
    the RPN_NWD assigner below (rounded to 0.84 / 0.58)."""
    from mmdet.structures.bbox import bbox_overlaps
    c = 22.5
    for iou_thr, nwd_thr in ((0.7, 0.84), (0.3, 0.58)):
        d = c * (1 - iou_thr) / (1 + iou_thr)
        a, b = t([box(0, 0, c, c)]), t([box(d, 0, c, c)])
        torch.testing.assert_close(bbox_overlaps(a, b), t([[iou_thr]]))
        assert nwd(a, b, c, eps=0).item() == pytest.approx(nwd_thr,
                                                           abs=0.005)


# ``rpn_nwd_assigner`` of configs/_base_/droplet_techniques.py:
# C = the mean droplet sqrt(w * h) (22.5 px for the synthetic droplets) and
# the thresholds that match mmdet's IoU 0.7 / 0.3 for boxes of that size;
# min_pos_iou stays 0.3 so that every droplet within 1.2 C of an anchor
# gets its best anchors.
RPN_NWD = dict(
    type='MaxIoUAssigner', pos_iou_thr=0.84, neg_iou_thr=0.58,
    min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1,
    iou_calculator=dict(type='BboxOverlaps2DNWD', mode='nwd', constant=22.5))


def rpn_stats(model, data, min_side=0):
    """(positive anchors, GT boxes with a positive, GT boxes) of the model's
    own RPN assigner and anchors over a batch; boxes count only if both
    sides are >= ``min_side``."""
    head = model.rpn_head
    h, w = data['inputs'].shape[-2:]
    sizes = [(math.ceil(h / s[0]), math.ceil(w / s[1]))
             for s in head.prior_generator.strides]
    anchors = torch.cat(head.prior_generator.grid_priors(sizes, device='cpu'))
    pos = covered = gts = 0
    for sample in data['data_samples']:
        inds = head.assigner.assign(InstanceData(priors=anchors),
                                    sample.gt_instances).gt_inds
        wh = sample.gt_instances.bboxes[:, 2:] - sample.gt_instances.bboxes[
            :, :2]
        whole = (wh >= min_side).all(1)
        pos += int((inds > 0).sum())
        covered += int(whole[inds[inds > 0].unique() - 1].sum())
        gts += int(whole.sum())
    return pos, covered, gts


def loss_backward(model, data):
    losses = model(**data, mode='loss')
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.rpn_head.parameters()
             if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_slim_stock_with_nwd_rpn_assigner(tiny_droplets):
    """The config snippet on configs/droplet/ablation/slim_stock.py (stock
    32 px anchors, 22-25 px droplets): builds, gives every droplet a
    positive anchor, and trains one step."""
    from mmdet.registry import MODELS
    from test_configs import load_cfg, train_batch
    from conftest import ROOT
    path = f'{ROOT}/configs/droplet/ablation/slim_stock.py'
    stock = load_cfg(path, tiny_droplets)
    cfg = load_cfg(path, tiny_droplets)
    cfg.model.train_cfg.rpn.assigner = RPN_NWD
    init_default_scope('mmdet')
    torch.manual_seed(0)
    batch = train_batch(cfg)
    stats = []
    for c in (stock, cfg):
        model = MODELS.build(c.model)
        model.train()
        data = model.data_preprocessor(batch, training=True)
        stats.append(rpn_stats(model, data))
    assert isinstance(model.rpn_head.assigner.iou_calculator,
                      BboxOverlaps2DNWD)
    (_, iou_cov, gts), (_, nwd_cov, _) = stats
    assert nwd_cov == gts > iou_cov, stats
    loss_backward(model, data)


MIXED = """
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['droplet_mmdet'], allow_failed_imports=False)
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=1)),
    train_cfg=dict(rpn=dict(assigner=dict(
        pos_iou_thr=0.84, neg_iou_thr=0.58,
        iou_calculator=dict(type='BboxOverlaps2DNWD', constant=14.0)))))
train_dataloader = dict(dataset=dict(
    data_root='{root}/', ann_file='train.json', data_prefix=dict(img='train/'),
    metainfo=dict(classes=('droplet', )),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True),
        dict(type='PackDetInputs'),
    ]))
"""


def test_stock_faster_rcnn_with_nwd(tmp_path, monkeypatch):
    """Mixed into a stock mmdet config through custom_imports only, on
    14 px droplets: the best IoU of a 14 px box with mmdet's 32 px anchors
    is 196 / 1024 < min_pos_iou 0.3, so Faster R-CNN's RPN gets no positive
    at all; with NWD (same anchors, same images) every droplet gets one.
    Then one training step."""
    from droplet_mmdet.datasets.synthetic import (FrameSpec,
                                                  generate_dataset)
    root = str(tmp_path / 'tiny14')
    generate_dataset(root, FrameSpec.v1(height=128, width=128,
                                        mean_area=(150.0, 160.0)),
                     dict(train=2), seed=3, gallery=0, progress=False)
    path = tmp_path / 'mixed.py'
    path.write_text(MIXED.format(root=root))
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(str(path))
    assert cfg.model.train_cfg.rpn.assigner.min_pos_iou == 0.3  # mmdet's
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS, MODELS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    batch = pseudo_collate([dataset[0], dataset[1]])
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    data = model.data_preprocessor(batch, training=True)
    calc = model.rpn_head.assigner.iou_calculator
    assert isinstance(calc, BboxOverlaps2DNWD) and calc.constant == 14.0
    # droplets cut by the frame's border to a sliver (e.g. 2 x 9 px) aside
    pos, covered, gts = rpn_stats(model, data, min_side=10)
    assert covered == gts > 40
    # the same assigner on IoU: mmdet's stock RPN
    model.rpn_head.assigner.iou_calculator = BboxOverlaps2DNWD(mode='iou')
    model.rpn_head.assigner.pos_iou_thr = 0.7
    model.rpn_head.assigner.neg_iou_thr = 0.3
    assert rpn_stats(model, data)[:2] == (0, 0)  # no positive at all
    model.rpn_head.assigner.iou_calculator = calc
    loss_backward(model, data)

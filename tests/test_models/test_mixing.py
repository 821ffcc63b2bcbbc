"""Our crop, losses and heads mixed into stock mmdet configs.

Each config is written to a temporary folder outside the repository, inherits
an ``mmdet::`` config and loads droplet_mmdet only through
``custom_imports`` - the way a user mixes our modules into their own config.
Each builds and runs one CPU forward and backward on generated droplets, and
on a hand-made frame with small and large droplets the size weighting must
change exactly the size-weighted losses (and, switched off, give mmdet's
own losses of the same model).
"""
import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

HEADER = """
_base_ = 'mmdet::{base}'
custom_imports = dict(imports=['droplet_mmdet'], allow_failed_imports=False)
train_dataloader = dict(dataset=dict(
    data_root='{root}/', ann_file='train.json', data_prefix=dict(img='train/'),
    metainfo=dict(classes=('droplet', )),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='{load}', with_bbox=True, with_mask=True),
        dict(type='RecordDropletSize'),
        dict(type='ObjectAwareRandomCrop', crop_size=(96, 96)),
        dict(type='PackDropletInputs'),
    ]))
small = dict(_delete_=True, type='AnchorGenerator', scales=[6],
             ratios=[0.8, 1.0, 1.25], strides=[4, 8, 16, 32, 64])
"""

# Our modules, size weighting on. normalize=False: every weight is >= 1
# and > 1 for the small droplets, so a loss they reach must grow.
OURS = """
sw = dict(s_ref=24.0, gamma=1.0, w_max=4.0, normalize=False)
focal = dict(type='SizeWeightedFocalLoss', use_sigmoid=True, gamma=2.0,
             alpha=0.25, loss_weight=1.0, size_weight=sw)
l1 = dict(type='SizeWeightedL1Loss', loss_weight=1.0, size_weight=sw)
mask_loss = dict(type='SizeWeightedMaskLoss', size_weight=sw)
retina_head, rpn_head = 'SizeWeightedRetinaHead', 'SizeWeightedRPNHead'
roi_head = 'SizeWeightedRoIHead'
cascade_roi_head = 'SizeWeightedCascadeRoIHead'
bbox_head = 'SizeWeightedShared2FCBBoxHead'
mask_head = 'SizeWeightedFCNMaskHead'
"""

# mmdet's own heads and losses with the same settings.
STOCK = """
focal = dict(type='FocalLoss', use_sigmoid=True, gamma=2.0, alpha=0.25,
             loss_weight=1.0)
l1 = dict(type='L1Loss', loss_weight=1.0)
mask_loss = dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0)
retina_head, rpn_head = 'RetinaHead', 'RPNHead'
roi_head, cascade_roi_head = 'StandardRoIHead', 'CascadeRoIHead'
bbox_head, mask_head = 'Shared2FCBBoxHead', 'FCNMaskHead'
"""

RPN = """
rpn_head=dict(type=rpn_head, anchor_generator=small,
              loss_cls=dict(_delete_=True, **focal),
              loss_bbox=dict(_delete_=True, **l1)),
train_cfg=dict(rpn=dict(sampler=None)),
"""

MODELS_ = {
    'retinanet/retinanet_r50_fpn_1x_coco.py': """
model = dict(bbox_head=dict(
    type=retina_head, num_classes=1, loss_cls=dict(_delete_=True, **focal),
    loss_bbox=dict(_delete_=True, **l1),
    anchor_generator=dict(_delete_=True, type='AnchorGenerator', scales=[3],
                          ratios=[0.8, 1.0, 1.25],
                          strides=[8, 16, 32, 64, 128])))
""",
    'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py': f"""
model = dict({RPN}
    roi_head=dict(type=roi_head,
                  bbox_head=dict(type=bbox_head, num_classes=1,
                                 loss_bbox=dict(_delete_=True, **l1))))
""",
    'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py': f"""
model = dict({RPN}
    roi_head=dict(
        type=roi_head,
        bbox_head=dict(type=bbox_head, num_classes=1,
                       loss_bbox=dict(_delete_=True, **l1)),
        mask_head=dict(type=mask_head, num_classes=1,
                       loss_mask=dict(_delete_=True, **mask_loss))))
""",
    'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py': f"""
_stage = lambda stds: dict(  # noqa
    type=bbox_head, in_channels=256,
    fc_out_channels=1024, roi_feat_size=7, num_classes=1,
    bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                    target_stds=stds),
    reg_class_agnostic=True,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                  loss_weight=1.0),
    loss_bbox=l1)
model = dict({RPN}
    roi_head=dict(
        type=cascade_roi_head,
        bbox_head=[_stage([0.1, 0.1, 0.2, 0.2]),
                   _stage([0.05, 0.05, 0.1, 0.1]),
                   _stage([0.033, 0.033, 0.067, 0.067])],
        mask_head=dict(type=mask_head, num_classes=1,
                       loss_mask=dict(_delete_=True, **mask_loss))))
""",
}

# loss keys that the size weighting must change (mmdet's key names)
WEIGHTED = {
    'retinanet/retinanet_r50_fpn_1x_coco.py': {'loss_cls', 'loss_bbox'},
    'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py': {
        'loss_rpn_cls', 'loss_rpn_bbox', 'loss_bbox'},
    'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py': {
        'loss_rpn_cls', 'loss_rpn_bbox', 'loss_bbox', 'loss_mask'},
    'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py': {
        'loss_rpn_cls', 'loss_rpn_bbox', 's0.loss_bbox', 's1.loss_bbox',
        's2.loss_bbox', 's0.loss_mask', 's1.loss_mask', 's2.loss_mask'},
}


def _config(tmp_path, base, root, variant, load='LoadAnnotations'):
    path = tmp_path / f'mixed_{len(list(tmp_path.iterdir()))}.py'
    path.write_text(HEADER.format(base=base, root=root, load=load) +
                    variant + MODELS_[base])
    return Config.fromfile(str(path))


def _build(cfg):
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    model.train()
    return model


def _losses(model, data) -> dict:
    torch.manual_seed(0)  # the RoI sampler draws
    losses = model(**data, mode='loss')
    return {k: (sum(v) if isinstance(v, list) else v).sum()
            for k, v in losses.items() if 'loss' in k}


@pytest.mark.parametrize('base', sorted(MODELS_))
def test_stock_config_with_droplet_modules(base, tiny_droplets, tmp_path,
                                           monkeypatch):
    """The droplet pipeline feeds true sizes to every size-weighted loss
    of a stock detector; forward and backward run."""
    monkeypatch.chdir(tmp_path)
    cfg = _config(tmp_path, base, tiny_droplets, OURS,
                  load='LoadDropletAnnotations')
    model = _build(cfg)
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert 'ObjectAwareRandomCrop' in repr(dataset.pipeline)
    torch.manual_seed(0)
    batch = pseudo_collate([dataset[0], dataset[1]])
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs'].shape[-2:] == (96, 96)
    for sample in data['data_samples']:
        gt = sample.gt_instances
        assert len(gt.droplet_sizes) == len(gt.bboxes) > 0
    total = sum(_losses(model, data).values())
    assert torch.isfinite(total)
    total.backward()
    weighted = [m for m in model.modules() if hasattr(m, 'size_source')]
    assert len(weighted) >= 2
    assert all(m.size_source.startswith('SizeWeighted') for m in weighted)


def _frame_batch():
    """Two 128 x 128 frames, each with three 17 px and two 41 px droplets
    (true sizes packed as PackDropletInputs does)."""
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    discs = [[(20, 20, 8), (100, 24, 8), (24, 100, 8), (64, 60, 20),
              (100, 100, 20)],
             [(108, 18, 8), (60, 108, 8), (18, 60, 8), (40, 36, 20),
              (90, 76, 20)]]
    inputs, samples = [], []
    for k, ds in enumerate(discs):
        img = np.full((128, 128, 3), 60, np.uint8)
        masks = np.zeros((len(ds), 128, 128), np.uint8)
        for i, (cx, cy, r) in enumerate(ds):
            cv2.circle(masks[i], (cx, cy), r, 1, -1)
            img[masks[i] > 0] = 200
        boxes = []
        for m in masks:
            ys, xs = np.nonzero(m)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        boxes = torch.tensor(boxes, dtype=torch.float32)
        sample = DetDataSample(metainfo=dict(
            img_id=k, img_shape=(128, 128), ori_shape=(128, 128),
            scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=boxes, labels=torch.zeros(len(ds), dtype=torch.long),
            masks=BitmapMasks(masks, 128, 128),
            droplet_sizes=((boxes[:, 2:] - boxes[:, :2]).prod(1)).sqrt())
        inputs.append(torch.from_numpy(img).permute(2, 0, 1).contiguous())
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('base', sorted(MODELS_))
def test_size_weighting_changes_exactly_the_weighted_losses(
        base, tmp_path, monkeypatch):
    """Size weighting on: every size-weighted loss is larger than mmdet's
    loss of the same model (the 17 px droplets weigh 24 / 17); switched off
    (size_weight=None in our losses), every loss equals mmdet's."""
    monkeypatch.chdir(tmp_path)
    ours = _build(_config(tmp_path, base, tmp_path, OURS))
    stock = _build(_config(tmp_path, base, tmp_path, STOCK))
    stock.load_state_dict(ours.state_dict())
    data = ours.data_preprocessor(_frame_batch(), training=True)
    ref = _losses(stock, data)
    on = _losses(ours, data)
    assert set(on) == set(ref) >= WEIGHTED[base]
    for key in sorted(on):
        if key in WEIGHTED[base]:
            # float noise is ~1e-7; the RPN's objectness sum is mostly
            # background anchors, so its change is ~1e-3 of the total
            assert on[key] > ref[key] * (1 + 1e-4), (key, on[key], ref[key])
        else:
            torch.testing.assert_close(on[key], ref[key], msg=key)
    for m in ours.modules():
        if hasattr(m, 'size_weight'):
            m.size_weight = None
    off = _losses(ours, data)
    for key in sorted(off):
        torch.testing.assert_close(off[key], ref[key], msg=key)


def test_stock_retina_head_refuses_size_weighted_loss(tmp_path,
                                                      monkeypatch):
    """mmdet's RetinaHead passes no sizes: with our losses in it, the
    first loss call names the head and the loss instead of training
    without size weighting."""
    monkeypatch.chdir(tmp_path)
    base = 'retinanet/retinanet_r50_fpn_1x_coco.py'
    cfg = _config(tmp_path, base, tmp_path,
                  OURS + "retina_head = 'RetinaHead'\n")
    model = _build(cfg)
    data = model.data_preprocessor(_frame_batch(), training=True)
    with pytest.raises(RuntimeError, match=r'RetinaHead\.loss_cls is a '
                       r'SizeWeightedFocalLoss .*gives it no droplet sizes'):
        model(**data, mode='loss')

"""Our crop, losses and anchors mixed into stock mmdet configs.

Each config is written to a temporary folder outside the repository, inherits
an ``mmdet::`` config and loads droplet_mmdet only through
``custom_imports`` - the way a user mixes our modules into their own config.
Each builds and runs one CPU forward and backward on generated droplets.
"""
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

HEADER = """
_base_ = 'mmdet::{base}'
custom_imports = dict(imports=['droplet_mmdet'], allow_failed_imports=False)
sw = dict(s_ref=24.0, gamma=1.0, w_max=4.0)
small = dict(_delete_=True, type='AnchorGenerator', scales=[6],
             ratios=[0.8, 1.0, 1.25], strides=[4, 8, 16, 32, 64])
focal = dict(_delete_=True, type='SizeWeightedFocalLoss', use_sigmoid=True,
             gamma=2.0, alpha=0.25, loss_weight=1.0, size_weight=sw)
l1 = dict(_delete_=True, type='SizeWeightedL1Loss', loss_weight=1.0,
          size_weight=sw)
mask_loss = dict(_delete_=True, type='SizeWeightedMaskLoss', size_weight=sw)
train_dataloader = dict(dataset=dict(
    data_root='{root}/', ann_file='train.json', data_prefix=dict(img='train/'),
    metainfo=dict(classes=('droplet', )),
    pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
        dict(type='ObjectAwareRandomCrop', crop_size=(96, 96)),
        dict(type='PackDetInputs'),
    ]))
"""

RPN = """
rpn_head=dict(type='SizeWeightedRPNHead', anchor_generator=small,
              loss_cls=focal, loss_bbox=l1),
train_cfg=dict(rpn=dict(sampler=None)),
"""

MODELS_ = {
    'retinanet/retinanet_r50_fpn_1x_coco.py': """
model = dict(bbox_head=dict(
    num_classes=1, loss_cls=focal, loss_bbox=l1,
    anchor_generator=dict(_delete_=True, type='AnchorGenerator', scales=[3],
                          ratios=[0.8, 1.0, 1.25],
                          strides=[8, 16, 32, 64, 128])))
""",
    'faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py': f"""
model = dict({RPN}
    roi_head=dict(bbox_head=dict(type='SizeWeightedShared2FCBBoxHead',
                                 num_classes=1, loss_bbox=l1)))
""",
    'mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py': f"""
model = dict({RPN}
    roi_head=dict(
        bbox_head=dict(type='SizeWeightedShared2FCBBoxHead', num_classes=1,
                       loss_bbox=l1),
        mask_head=dict(type='SizeWeightedFCNMaskHead', num_classes=1,
                       loss_mask=mask_loss)))
""",
    'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py': f"""
_stage = lambda stds: dict(  # noqa
    type='SizeWeightedShared2FCBBoxHead', in_channels=256,
    fc_out_channels=1024, roi_feat_size=7, num_classes=1,
    bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                    target_stds=stds),
    reg_class_agnostic=True,
    loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False,
                  loss_weight=1.0),
    loss_bbox=dict(type='SizeWeightedL1Loss', loss_weight=1.0,
                   size_weight=sw))
model = dict({RPN}
    roi_head=dict(
        bbox_head=[_stage([0.1, 0.1, 0.2, 0.2]),
                   _stage([0.05, 0.05, 0.1, 0.1]),
                   _stage([0.033, 0.033, 0.067, 0.067])],
        mask_head=dict(type='SizeWeightedFCNMaskHead', num_classes=1,
                       loss_mask=mask_loss)))
""",
}


@pytest.mark.parametrize('base', sorted(MODELS_))
def test_stock_config_with_droplet_modules(base, tiny_droplets, tmp_path,
                                           monkeypatch):
    path = tmp_path / 'mixed.py'
    path.write_text(HEADER.format(base=base, root=tiny_droplets) +
                    MODELS_[base])
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(str(path))
    init_default_scope('mmdet')
    from mmdet.registry import DATASETS, MODELS
    model = MODELS.build(cfg.model)
    model.train()
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    assert 'ObjectAwareRandomCrop' in repr(dataset.pipeline)
    torch.manual_seed(0)
    batch = pseudo_collate([dataset[0], dataset[1]])
    data = model.data_preprocessor(batch, training=True)
    assert data['inputs'].shape[-2:] == (96, 96)
    losses = model(**data, mode='loss')
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    head = model.bbox_head if hasattr(model, 'bbox_head') else \
        model.rpn_head
    assert type(head.loss_cls).__name__ == 'SizeWeightedFocalLoss'

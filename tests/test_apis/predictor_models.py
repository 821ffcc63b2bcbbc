"""Small instance-segmentation models for the predictor tests, randomly
initialised from a fixed seed (no weights are downloaded).

``slim``: the slim Mask R-CNN config (identity test Resize). ``slim_2x``: the
same with a 2x test Resize. ``cascade``: mmdet's Cascade Mask R-CNN config on
the slim R-18, with its own test pipeline (keep-ratio Resize, to 1.5625x
here). ``rtmdet_ins``: mmdet's RTMDet-Ins tiny config (Resize to 192 +
Pad to 192 x 192). Random weights barely score, so the box classifiers of
the R-CNNs are biased towards droplets, RTMDet's score threshold is lowered
and its mask kernels are scaled: every model has detections and non-empty
masks to compare.
"""
import os.path as osp

import torch

from conftest import SLIM_CONFIG

MODEL_NAMES = ['slim', 'slim_2x', 'cascade', 'rtmdet_ins']
FRAME_HW = (96, 160)

_SLIM_BACKBONE = dict(
    type='ResNet', depth=18, num_stages=4, out_indices=(0, 1, 2, 3),
    frozen_stages=-1, norm_cfg=dict(type='GN', num_groups=16,
                                    requires_grad=True),
    norm_eval=False, style='pytorch', init_cfg=None)
_BN = dict(type='BN')


def make_frames(out_dir: str) -> str:
    """Two synthetic 96 x 160 val frames (COCO) in ``out_dir``."""
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    generate_dataset(out_dir, FrameSpec(height=FRAME_HW[0],
                                        width=FRAME_HW[1]),
                     dict(val=2), seed=4, gallery=0, progress=False)
    return out_dir


def _set_step(pipeline, type_, **kwargs):
    steps = [s for s in pipeline if s['type'] == type_]
    assert steps, f'no {type_} in the test pipeline'
    for s in steps:
        s.update(kwargs)


def _mmdet_config(base: str, folder: str):
    """A stock mmdet config, inherited as a user does (``mmdet::``)."""
    from mmengine.config import Config
    path = osp.join(folder, osp.basename(base))
    with open(path, 'w') as f:
        f.write(f"_base_ = 'mmdet::{base}'\n")
    return Config.fromfile(path)


def model_config(name: str, data_root: str):
    """The config of model ``name``, its test dataloader on ``data_root``."""
    from mmengine.config import Config
    if name.startswith('slim'):
        cfg = Config.fromfile(SLIM_CONFIG)
        cfg.model.test_cfg.rpn.max_per_img = 300
        cfg.model.test_cfg.rcnn.max_per_img = 100
    elif name == 'cascade':
        cfg = _mmdet_config(
            'cascade_rcnn/cascade-mask-rcnn_r50_fpn_1x_coco.py', data_root)
        ch = 32
        m = cfg.model
        m.backbone = _SLIM_BACKBONE
        m.neck.update(in_channels=[64, 128, 256, 512], out_channels=ch)
        m.rpn_head.update(in_channels=ch, feat_channels=ch)
        m.roi_head.bbox_roi_extractor.out_channels = ch
        m.roi_head.mask_roi_extractor.out_channels = ch
        for h in m.roi_head.bbox_head:
            h.update(in_channels=ch, fc_out_channels=64, num_classes=1)
        m.roi_head.mask_head.update(in_channels=ch, conv_out_channels=ch,
                                    num_classes=1)
        m.test_cfg.rpn.max_per_img = 300
        m.test_cfg.rcnn.max_per_img = 100
        _set_step(cfg.test_dataloader.dataset.pipeline, 'Resize',
                  scale=(250, 150))
    elif name == 'rtmdet_ins':
        cfg = _mmdet_config('rtmdet/rtmdet-ins_tiny_8xb32-300e_coco.py',
                            data_root)
        m = cfg.model
        m.backbone.update(init_cfg=None, norm_cfg=_BN)
        m.neck.norm_cfg = _BN
        m.bbox_head.update(num_classes=1, norm_cfg=_BN)
        m.test_cfg.update(score_thr=0.001, nms_pre=300, max_per_img=60)
        pipeline = cfg.test_dataloader.dataset.pipeline
        _set_step(pipeline, 'Resize', scale=(192, 192))
        _set_step(pipeline, 'Pad', size=(192, 192))
    else:
        raise KeyError(name)
    if name == 'slim_2x':
        _set_step(cfg.test_dataloader.dataset.pipeline, 'Resize',
                  scale_factor=2.0)
    root = data_root.rstrip('/') + '/'
    cfg.test_dataloader.update(num_workers=0, persistent_workers=False,
                               batch_size=1)
    cfg.test_dataloader.dataset.update(
        data_root=root, ann_file='val.json', data_prefix=dict(img='val/'),
        metainfo=dict(classes=('droplet', )))
    return cfg


_CACHE = {}


def build_model(name: str, data_root: str):
    """Model ``name`` via ``init_detector`` (as ``tools/infer.py`` builds
    it), seeded; built once per data root."""
    key = (name, data_root)
    if key not in _CACHE:
        from mmdet.apis import init_detector
        from mmengine.registry import init_default_scope
        init_default_scope('mmdet')
        torch.manual_seed(0)
        model = init_detector(model_config(name, data_root), None,
                              device='cpu')
        model.dataset_meta = dict(classes=('droplet', ))
        if name == 'rtmdet_ins':
            # random dynamic mask kernels give near-constant logits: scale
            # them up and shift the last bias so that masks are a mix of
            # empty, droplet-sized and large ones
            for conv in model.bbox_head.rtm_kernel:
                conv.weight.data *= 5
                conv.bias.data *= 5
                conv.bias.data[-1] -= 0.25
        else:  # random R-CNN box heads: make the classifier confident
            heads = model.roi_head.bbox_head
            for h in (heads if isinstance(heads, torch.nn.ModuleList) else
                      [heads]):
                h.fc_cls.bias.data = torch.tensor([3.0, -3.0])
        _CACHE[key] = model
    return _CACHE[key]


def mmdet_test_batches(cfg):
    """The batches of mmdet's test path: the config's test dataloader."""
    from mmengine.runner import Runner
    return list(Runner.build_dataloader(cfg.test_dataloader, seed=0))

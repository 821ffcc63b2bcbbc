# CPU-sized Mask R-CNN for droplets: ResNet-18 + GroupNorm from scratch,
# 64-channel FPN, 128 sampled RoIs, stride-4 anchors of 24 px. Used by the
# README demo and the tests (~1 s/iter at 256 x 256, batch 2, on 2 cores).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/synthetic_droplets.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
]
num_classes = 1
channels = 64
norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)

model = dict(
    data_preprocessor=dict(
        mean=[128.0, 128.0, 128.0], std=[64.0, 64.0, 64.0]),
    backbone=dict(
        depth=18,
        frozen_stages=-1,
        norm_cfg=norm_cfg,
        norm_eval=False,
        init_cfg=None),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=channels),
    rpn_head=dict(
        in_channels=channels,
        feat_channels=channels,
        anchor_generator=dict(scales=[6], ratios=[0.8, 1.0, 1.25])),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels,
            fc_out_channels=256,
            num_classes=num_classes),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            in_channels=channels,
            conv_out_channels=channels,
            num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=128)),
        rcnn=dict(sampler=dict(num=128))),
    test_cfg=dict(
        rpn=dict(nms_pre=2000, max_per_img=1000),
        rcnn=dict(max_per_img=1000)))

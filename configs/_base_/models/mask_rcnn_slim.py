# Slim Mask R-CNN for CPU work: ResNet-18 + GroupNorm from scratch (no
# download), 64-channel FPN, 128 sampled anchors / RoIs, up to 2000
# detections per image. Heads, anchors and losses are mmdet's stock ones.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
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
    rpn_head=dict(in_channels=channels, feat_channels=channels),
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
        rpn=dict(sampler=dict(num=128)), rcnn=dict(sampler=dict(num=128))),
    # dense frames: with ~3 good anchors per droplet, nms_pre=2000 drops
    # droplets of a 1024 x 1024 frame holding 560 of them (measured)
    test_cfg=dict(
        rpn=dict(nms_pre=6000, max_per_img=2000),
        rcnn=dict(max_per_img=2000)))

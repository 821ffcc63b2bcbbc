# Mask R-CNN R-50 FPN with every small-droplet technique: small anchors,
# focal + size-weighted RPN losses, size-weighted RoI box and mask losses,
# object-aware crop and controlled blur/noise, GroupNorm from scratch, up to
# 2000 detections per image, AMP on a GPU (fp32 fallback on a CPU).
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/synthetic_droplets.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
    '../_base_/droplet_techniques.py',
]
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[128.0, 128.0, 128.0], std=[64.0, 64.0, 64.0]),
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    rpn_head=dict(
        **_base_.small_anchors, **_base_.rpn_focal,
        **_base_.rpn_size_weighted),
    roi_head=dict(
        type=_base_.roi_size_weighted.type,
        bbox_head=dict(num_classes=1, **_base_.roi_size_weighted.bbox_head),
        mask_head=dict(num_classes=1, **_base_.roi_size_weighted.mask_head)),
    train_cfg=dict(rpn=_base_.rpn_focal_train_cfg),
    test_cfg=_base_.dense_test_cfg)
train_dataloader = dict(
    dataset=dict(
        pipeline=[
            *_base_.train_pipeline[:3], _base_.object_aware_crop,
            _base_.blur, _base_.noise, *_base_.train_pipeline[3:]
        ]))
optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16',
                     loss_scale='dynamic')

# The slim CPU model with every technique, trained on the real bubbles set.
# Bubbles are larger (p50 44 px) and wider than tall: anchors from
# tools/analysis_tools/fit_anchors.py on its train split, 512 px crops.
_base_ = [
    '../_base_/models/mask_rcnn_slim.py',
    '../_base_/datasets/bubbles.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
    '../_base_/droplet_techniques.py',
]
bubble_anchors = dict(
    anchor_generator=dict(
        type='AnchorGenerator',
        scales=[3.0],
        ratios=[0.42, 0.67, 0.92],
        strides=[4, 8, 16, 32, 64]))
model = dict(
    rpn_head=dict(
        **bubble_anchors, **_base_.rpn_focal, **_base_.rpn_size_weighted),
    roi_head=_base_.roi_size_weighted,
    train_cfg=dict(rpn=_base_.rpn_focal_train_cfg))
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_base_.train_pipeline[:2],
        dict(_base_.object_aware_crop, crop_size=(512, 512)), _base_.blur,
        _base_.noise, *_base_.train_pipeline[2:]
    ]))

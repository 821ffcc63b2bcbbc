# The slim CPU model with every technique, trained on the real bubbles set.
# Bubbles are larger (p50 44 px) and wider than tall: anchors from
# tools/analysis_tools/fit_anchors.py on its train split (bubble_anchors
# in configs/_base_/datasets/bubbles.py), 512 px crops.
_base_ = [
    '../_base_/models/mask_rcnn_slim.py',
    '../_base_/datasets/bubbles.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
    '../_base_/droplet_techniques.py',
]
model = dict(
    _base_.all_techniques,
    rpn_head=dict(**_base_.all_techniques.rpn_head, **_base_.bubble_anchors))
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:3],
    dict(_base_.object_aware_crop, crop_size=(512, 512)), _base_.blur,
    _base_.noise, *_base_.train_pipeline[3:]
]))

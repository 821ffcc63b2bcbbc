# The slim CPU model on the real bubbles set: stock mmdet heads and losses
# with the anchors that tools/analysis_tools/fit_anchors.py fits to its
# train split (bubble_anchors in configs/_base_/datasets/bubbles.py:
# bubbles are larger, p50 44 px, and wider than tall), 512 px random crops.
# Anchors only, as in the flagship (mask_rcnn_r50_fpn_small.py says why).
_base_ = [
    '../_base_/models/mask_rcnn_slim.py',
    '../_base_/datasets/bubbles.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
    '../_base_/droplet_techniques.py',
]
model = dict(rpn_head=dict(**_base_.bubble_anchors))
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:3],
    dict(type='RandomCrop', crop_size=(512, 512)),
    *_base_.train_pipeline[3:]
]))

# The stock baseline: mmdet's Mask R-CNN R-50 FPN with only the classes and
# the data changed (and no ImageNet download: init_cfg=None, see README for
# the opt-in). Same schedule and runtime as every droplet config.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/datasets/synthetic_droplets.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(
        bbox_head=dict(num_classes=1), mask_head=dict(num_classes=1)))

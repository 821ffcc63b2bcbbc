# CPU ablation baseline: mmdet's stock Mask R-CNN heads, anchors (32 px and
# up), losses and pipeline on the slim R-18 backbone; only classes and data
# changed. Every other config in this folder switches on one technique.
_base_ = [
    '../../_base_/models/mask_rcnn_slim.py',
    '../../_base_/datasets/synthetic_droplets.py',
    '../../_base_/schedules/adamw_600it.py',
    '../../_base_/default_runtime.py',
    '../../_base_/droplet_techniques.py',
]

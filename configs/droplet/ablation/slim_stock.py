# CPU ablation baseline: mmdet's stock Mask R-CNN heads, anchors (32 px and
# up), losses and pipeline on the slim R-18 backbone; only classes and data
# changed. Every other config in this folder switches on one technique;
# slim_all.py switches on all of them. The data profile (dataset, pipeline,
# dataset-fitted anchors) is configs/_base_/ablation/$ABLATION_DATA.py:
# synthetic (default) or bubbles.
_base_ = [
    '../../_base_/models/mask_rcnn_slim.py',
    '../../_base_/ablation/{{$ABLATION_DATA:synthetic}}.py',
    '../../_base_/schedules/adamw_600it.py',
    '../../_base_/default_runtime.py',
]

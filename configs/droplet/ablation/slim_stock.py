# CPU ablation baseline: mmdet's stock Mask R-CNN heads, anchors (32 px and
# up), losses and pipeline on the slim R-18 backbone; only classes and data
# changed. tools/benchmark.py switches techniques on over it (rows such as
# "+focal", "recipe", "recipe-focal"; droplet_mmdet/apis/ablation_rows.py)
# and writes each composed config to its run dir. The data profile
# (dataset, pipeline, dataset-fitted anchors) is
# configs/_base_/ablation/$ABLATION_DATA.py: synthetic (default), bubbles
# or zerog_bubbles.
_base_ = [
    '../../_base_/models/mask_rcnn_slim.py',
    '../../_base_/ablation/{{$ABLATION_DATA:synthetic}}.py',
    '../../_base_/schedules/adamw_600it.py',
    '../../_base_/default_runtime.py',
]

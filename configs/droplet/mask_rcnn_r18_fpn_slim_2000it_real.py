# The slim CPU model on a real set, exactly as the README's real-set figures
# were measured (tools/benchmark.py's `+anchors` row at --iters 2000):
#   BUBBLES_ROOT=../shared/datasets/bubbles/ ABLATION_DATA=bubbles \
#     python tools/train.py configs/droplet/mask_rcnn_r18_fpn_slim_2000it_real.py
# ABLATION_DATA (bubbles, default, or zerog_bubbles) picks the data profile
# (configs/_base_/ablation/): its dataset and 384 px random crops. Stock
# mmdet heads and losses with anchors fitted to the training boxes when the
# model is built (the log prints them: [3.0] on bubbles, [2.5] on
# zerog_bubbles, the ablation's `anchors` row), 2000 iterations with the LR
# step at 1600 (~40-70 min on 2 CPU cores).
_base_ = [
    '../_base_/models/mask_rcnn_slim.py',
    '../_base_/ablation/{{$ABLATION_DATA:bubbles}}.py',
    '../_base_/schedules/adamw_2000it.py',
    '../_base_/default_runtime.py',
]
model = dict(rpn_head=dict(**_base_.fitted_anchors))

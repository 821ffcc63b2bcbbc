# The flagship (mask_rcnn_r101_fpn_small.py) on a real set:
#   BUBBLES_ROOT=../shared/datasets/bubbles/ ABLATION_DATA=bubbles \
#     python tools/train.py configs/droplet/mask_rcnn_r101_fpn_small_real.py
# ABLATION_DATA (bubbles, default, or zerog_bubbles) picks the data profile
# of the CPU ablation (configs/_base_/ablation/): its dataset and 384 px
# random crops; the anchors are fitted to its training boxes when the model
# is built, as in the flagship (for both sets the same anchors as the
# ablation's `anchors` row). mask_rcnn_r101_fpn_stock_real.py
# is stock mmdet on the same data and schedule.
_base_ = [
    '../_base_/models/mask_rcnn_r50_fpn_gn.py',
    '../_base_/ablation/{{$ABLATION_DATA:bubbles}}.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=101),
    rpn_head=dict(**_base_.fitted_anchors),
    test_cfg=_base_.dense_test_cfg)
optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16',
                     loss_scale='dynamic')

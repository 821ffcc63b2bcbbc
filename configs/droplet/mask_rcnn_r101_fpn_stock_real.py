# Stock mmdet Mask R-CNN R-101 FPN (BatchNorm, stock anchors and test
# settings, no ImageNet download) on a real set, with the data, crops and
# schedule of mask_rcnn_r101_fpn_small_real.py, which says how to run it.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    '../_base_/ablation/{{$ABLATION_DATA:bubbles}}.py',
    '../_base_/schedules/adamw_600it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(depth=101, init_cfg=None),
    roi_head=dict(
        bbox_head=dict(num_classes=1), mask_head=dict(num_classes=1)))
optim_wrapper = dict(type='AmpOptimWrapper', dtype='float16',
                     loss_scale='dynamic')

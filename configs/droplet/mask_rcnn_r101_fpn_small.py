# The flagship: mask_rcnn_r50_fpn_small with a ResNet-101 backbone.
_base_ = './mask_rcnn_r50_fpn_small.py'
model = dict(backbone=dict(depth=101))

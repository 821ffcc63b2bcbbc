# The stock baseline of the flagship's size: mask_rcnn_r50_fpn_stock.py
# with a ResNet-101 backbone (tools/benchmark_speed.py compares the two).
_base_ = './mask_rcnn_r50_fpn_stock.py'
model = dict(backbone=dict(depth=101))

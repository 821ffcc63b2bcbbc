# The flagship's network without its anchors: mmdet's Mask R-CNN R-50 FPN
# with GroupNorm trained from scratch (no ImageNet download), one class.
# The configs that use it add the anchors fitted to their data and the
# dense test settings (configs/_base_/droplet_techniques.py).
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    data_preprocessor=dict(
        mean=[128.0, 128.0, 128.0], std=[64.0, 64.0, 64.0]),
    backbone=dict(
        frozen_stages=-1, norm_cfg=norm_cfg, norm_eval=False, init_cfg=None),
    roi_head=dict(
        bbox_head=dict(num_classes=1), mask_head=dict(num_classes=1)))

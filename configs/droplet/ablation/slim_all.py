# Every technique together on the ablation baseline. On the synthetic
# profile this is the same model and pipeline as
# configs/droplet/mask_rcnn_r18_fpn_slim_600it_synthetic.py (tested).
_base_ = './slim_stock.py'
model = dict(
    rpn_head=dict(
        **_base_.small_anchors, **_base_.rpn_focal,
        **_base_.rpn_size_weighted),
    roi_head=_base_.roi_size_weighted,
    train_cfg=dict(rpn=_base_.rpn_focal_train_cfg))
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_base_.train_pipeline[:2], _base_.object_aware_crop, _base_.blur,
        _base_.noise, *_base_.train_pipeline[2:]
    ]))

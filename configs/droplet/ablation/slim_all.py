# Every technique together on the ablation baseline. On the synthetic
# profile this is the same model and pipeline as
# configs/droplet/mask_rcnn_r18_fpn_slim_600it_synthetic.py (tested).
_base_ = './slim_stock.py'
model = dict(
    _base_.all_techniques,
    rpn_head=dict(**_base_.all_techniques.rpn_head, **_base_.small_anchors))
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:2], *_base_.all_augment,
    *_base_.train_pipeline[2:]
]))

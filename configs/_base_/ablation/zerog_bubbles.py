# Ablation data profile "zerog_bubbles": the real zerog_bubbles set
# (ZEROG_ROOT images, ZEROG_ANN annotations: see
# configs/_base_/datasets/zerog_bubbles.py, prepare_zerog_bubbles makes them):
#   ABLATION_DATA=zerog_bubbles python tools/train.py \
#       configs/droplet/ablation/...
# As for bubbles, every row of the ablation (the stock baseline included)
# trains on 384 px random crops of the 1024 x 1024 frames (the
# object-aware crop replaces this crop, same size). Validation uses the 5
# full val frames. "Small anchors" here are the anchors fitted to this set
# (zerog_anchors, zerog_anchors_2s).
_base_ = ['../datasets/zerog_bubbles.py', '../droplet_techniques.py']
train_pipeline = [
    *_base_.train_pipeline[:3],
    dict(type='RandomCrop', crop_size=(384, 384)),
    *_base_.train_pipeline[3:]
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
small_anchors = _base_.zerog_anchors
small_anchors_2s = _base_.zerog_anchors_2s
rpn_nwd_assigner = dict(
    iou_calculator=dict(constant=_base_.zerog_nwd_constant))

# Ablation data profile "bubbles": the real bubbles set (BUBBLES_ROOT), for
#   ABLATION_DATA=bubbles python tools/train.py configs/droplet/ablation/...
# 1024 x 1024 frames are too slow to train on 2 CPU cores, so every config
# of the ablation (the stock baseline included) trains on 384 px random
# crops; the crop techniques insert their 256 px crop before it (the 384 px
# crop of a 256 px image is the identity). Validation uses full frames.
# "Small anchors" here are the anchors fitted to this set.
_base_ = ['../datasets/bubbles.py', '../droplet_techniques.py']
train_pipeline = [
    *_base_.train_pipeline[:3],
    dict(type='RandomCrop', crop_size=(384, 384)),
    *_base_.train_pipeline[3:]
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
small_anchors = _base_.bubble_anchors
small_anchors_2s = _base_.bubble_anchors_2s
rpn_nwd_assigner = dict(
    iou_calculator=dict(constant=_base_.bubble_nwd_constant))

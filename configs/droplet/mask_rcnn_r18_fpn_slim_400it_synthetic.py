# CPU-sized Mask R-CNN for droplets with every small-droplet technique:
# ResNet-18 + GroupNorm from scratch, 64-channel FPN (configs/_base_/models/
# mask_rcnn_slim.py), small anchors, focal + size-weighted RPN losses,
# size-weighted RoI box and mask losses, object-aware crop, controlled blur
# and noise. Used by the README demo and the tests; ~0.7 s/iter at 256 x 256,
# batch 2, on 2 CPU cores (400 iterations: ~5 min). The ablation composes
# the same techniques over configs/droplet/ablation/slim_stock.py.
_base_ = [
    '../_base_/models/mask_rcnn_slim.py',
    '../_base_/datasets/synthetic_droplets.py',
    '../_base_/schedules/adamw_400it.py',
    '../_base_/default_runtime.py',
    '../_base_/droplet_techniques.py',
]
model = dict(
    _base_.all_techniques,
    rpn_head=dict(**_base_.all_techniques.rpn_head, **_base_.small_anchors))
train_dataloader = dict(dataset=dict(pipeline=[
    *_base_.train_pipeline[:3], *_base_.all_augment,
    *_base_.train_pipeline[3:]
]))

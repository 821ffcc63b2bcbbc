# The real bubbles set (see ../shared/datasets/bubbles/README.md): COCO
# polygons with real-world quirks (Windows file_name, ids and category id 0),
# read by DropletCocoDataset and scored by DropletMetric. Pipelines and
# loaders are those of synthetic_droplets.py. The data is not part of this
# repository: point BUBBLES_ROOT at it (default: the shared copy next to the
# repository).
_base_ = './synthetic_droplets.py'
dataset_type = 'DropletCocoDataset'
data_root = '{{$BUBBLES_ROOT:../shared/datasets/bubbles/}}'
metainfo = dict(classes=('bubble', ), palette=[(0, 200, 0)])
bubble_data = dict(type=dataset_type, data_root=data_root, metainfo=metainfo)
# Anchors fitted to the train split by tools/analysis_tools/fit_anchors.py
# (bubbles are larger than droplets, p50 43 px, and wider than tall):
# 0.953 of the boxes matched at IoU 0.5 (mmdet's stock anchors: 0.796).
bubble_anchors = dict(anchor_generator=dict(
    type='AnchorGenerator', scales=[3.0], ratios=[0.42, 0.67, 0.92],
    strides=[4, 8, 16, 32, 64]))
# Fitted for the RPN's positive IoU, two scales per level (fit_anchors.py
# --iou 0.7 --num-scales 2): matched at IoU 0.3/0.5/0.7 0.900/0.856/0.794
# (one scale above: 0.999/0.953/0.235; stock 0.856/0.796/0.382).
bubble_anchors_2s = dict(anchor_generator=dict(
    type='AnchorGenerator', scales=[6.0, 8.5], ratios=[0.42, 0.67, 0.92],
    strides=[4, 8, 16, 32, 64]))
# NWD constant C: mean sqrt(w*h) of the train boxes (fit_anchors.py)
bubble_nwd_constant = 47.2

# Polygons stay polygons through crop and flip (PolygonMasks): ~155
# full-frame bitmaps per 1024 x 1024 image would cost 160 MB and most of
# the loading time, only to be cropped away.
train_pipeline = [
    _base_.train_pipeline[0],
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
         poly2mask=False),
    *_base_.train_pipeline[2:]
]
train_dataloader = dict(
    dataset=dict(
        **bubble_data,
        pipeline=train_pipeline,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/')))
val_dataloader = dict(
    dataset=dict(
        **bubble_data,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/')))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='DropletMetric',
    ann_file=data_root + 'annotations/instances_val.json',
    diameter_bins=[(0, 12), (12, 18), (18, 32), (32, 64),
                   (64, float('inf'))])
test_evaluator = val_evaluator

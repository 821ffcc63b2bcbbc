# The real zerog_bubbles set (see ../shared/datasets/zerog_bubbles/README.md):
# 31 backlit 1024 x 1024 grayscale frames from six recordings, labelme
# polygons and circles of in-focus bubbles (p50 12 px), read by
# DropletCocoDataset and scored by DropletMetric. Pipelines and loaders are
# those of synthetic_droplets.py.
#
# Images stay where they are: ZEROG_ROOT (default: the shared copy next to
# the repository). The COCO files are made from its labelme files, into the
# git-ignored ZEROG_ANN (default data/zerog_bubbles/annotations/), by
#   python -c "from droplet_mmdet.datasets.converters import \
#       prepare_zerog_bubbles as p; p('../shared/datasets/zerog_bubbles')"
# or, the same files, by
#   python tools/dataset_converters/labelme2coco.py \
#       ../shared/datasets/zerog_bubbles/labels \
#       data/zerog_bubbles/annotations --labels bubble --val-pattern C1S0024 \
#       --image-dir ../shared/datasets/zerog_bubbles/images \
#       --file-root ../shared/datasets/zerog_bubbles/images
# Split by recording: val = the 5 frames of C1S0024, train = the other 26
# less one frame whose labels belong to another frame (ZEROG_EXCLUDE in
# droplet_mmdet/datasets/converters/labelme.py; the labelme2coco.py command
# above keeps it).
# file_name is the PNG name, relative to ZEROG_ROOT/images/. The 3
# linestrip shapes of the set are reported and not converted. Both folders
# end in '/' and are relative to the working directory (run from the
# repository root) or absolute.
_base_ = './synthetic_droplets.py'
dataset_type = 'DropletCocoDataset'
zerog_root = '{{$ZEROG_ROOT:../shared/datasets/zerog_bubbles/}}'
zerog_ann = '{{$ZEROG_ANN:data/zerog_bubbles/annotations/}}'
metainfo = dict(classes=('bubble', ), palette=[(0, 200, 0)])
# data_root '' so that ann_file (in the project) and the image folder (in
# ZEROG_ROOT) are each taken as they are
zerog_data = dict(type=dataset_type, data_root='', metainfo=metainfo,
                  data_prefix=dict(img=zerog_root + 'images/'))
# Anchors fitted to the train split by tools/analysis_tools/fit_anchors.py
# data/zerog_bubbles/annotations/train.json (11,495 boxes, sqrt(w*h)
# p10/p50/p90 8.1/13.3/23.1 px, mean 15.2 px, h/w p10/p90 0.71/1.38).
# Share of boxes matched at IoU 0.3/0.5/0.7: stock (8, ratios 0.5-2)
# 0.249/0.109/0.047; --iou 0.5 (one scale, like bubble_anchors) [2.5]:
# 0.971/0.893/0.191; --iou 0.7 --num-scales 2 (the RPN's positive IoU)
# [3.5, 5.0]: 0.927/0.780/0.474.
zerog_anchors = dict(anchor_generator=dict(
    type='AnchorGenerator', scales=[2.5], ratios=[0.71, 1.0, 1.38],
    strides=[4, 8, 16, 32, 64]))
zerog_anchors_2s = dict(anchor_generator=dict(
    type='AnchorGenerator', scales=[3.5, 5.0], ratios=[0.71, 1.0, 1.38],
    strides=[4, 8, 16, 32, 64]))
# NWD constant C: mean sqrt(w*h) of the train boxes (fit_anchors.py)
zerog_nwd_constant = 15.2

# Polygons stay polygons through crop and flip (PolygonMasks): ~500
# full-frame bitmaps per 1024 x 1024 frame would cost 500 MB per sample.
train_pipeline = [
    _base_.train_pipeline[0],
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
         poly2mask=False),
    *_base_.train_pipeline[2:]
]
train_dataloader = dict(
    dataset=dict(
        **zerog_data,
        pipeline=train_pipeline,
        ann_file=zerog_ann + 'train.json'))
val_dataloader = dict(
    dataset=dict(**zerog_data, ann_file=zerog_ann + 'val.json'))
test_dataloader = val_dataloader
# Diameter bins around the p50 of 12 px; the last one, d0-12, is the union
# of the first two: AP_d0-12 / R50_d0-12 = bubbles under 12 px, the figure
# that matters here. (target_area keeps its default, the 400-500 px2 droplets
# of the project: about 2x these bubbles.)
val_evaluator = dict(
    type='DropletMetric',
    ann_file=zerog_ann + 'val.json',
    diameter_bins=[(0, 8), (8, 12), (12, 18), (18, 32), (32, float('inf')),
                   (0, 12)])
test_evaluator = val_evaluator

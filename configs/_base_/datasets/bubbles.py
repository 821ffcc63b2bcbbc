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

train_dataloader = dict(
    dataset=dict(
        **bubble_data,
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
    diameter_bins=[(0, 18), (18, 32), (32, 64), (64, float('inf'))])
test_evaluator = val_evaluator

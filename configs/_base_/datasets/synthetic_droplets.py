# Synthetic microfluidic droplets written by
# tools/dataset_converters/generate_droplets.py (COCO, RLE masks).
dataset_type = 'CocoDataset'
data_root = 'data/synthetic_droplets/'
metainfo = dict(classes=('droplet', ), palette=[(0, 200, 0)])
backend_args = None

# Crops and other augmentations go after the first three steps: each
# droplet's true size is recorded before a crop can cut it, and packed as
# gt_instances.droplet_sizes for size-weighted losses (stock heads ignore
# it). LoadDropletAnnotations decodes each RLE into its box only: the same
# masks as LoadAnnotations (tests/test_datasets/test_box_masks.py) without
# a full-frame bitmap per droplet.
train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadDropletAnnotations', with_bbox=True, with_mask=True),
    dict(type='RecordDropletSize'),
    dict(type='RandomFlip', prob=0.5, direction=['horizontal', 'vertical']),
    dict(type='PackDropletInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    # identity resize: mmdet's mask post-processing needs scale_factor
    dict(type='Resize', scale_factor=1.0, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        ann_file='val.json',
        data_prefix=dict(img='val/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# COCO bbox/segm AP with maxDets=1000, plus per-diameter AP/recall, count
# and diameter errors (droplet_mmdet.evaluation.DropletMetric).
val_evaluator = dict(type='DropletMetric', ann_file=data_root + 'val.json')
test_evaluator = val_evaluator

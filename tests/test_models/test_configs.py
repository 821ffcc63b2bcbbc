"""Every config under configs/droplet builds and runs one training step's
forward(mode='loss') and backward on CPU, on real generated droplets fed
through the config's own train pipeline."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import droplet_mmdet  # noqa: F401
from droplet_mmdet.apis import fill_fitted_anchors
from droplet_mmdet.apis.demo import data_options
from conftest import ROOT

CONFIGS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'droplet', '**', '*.py'),
              recursive=True))


def load_cfg(path, data_root):
    cfg = Config.fromfile(path)
    cfg.merge_from_dict(data_options(data_root))
    # configs for other data sets (bubbles) read the tiny set here
    cfg.merge_from_dict({
        'train_dataloader.dataset.ann_file': 'train.json',
        'train_dataloader.dataset.data_prefix': dict(img='train/'),
        'train_dataloader.dataset.metainfo': dict(classes=('droplet', )),
    })
    # the tiny set has RLE masks: load them as bitmaps (bubbles configs keep
    # their polygons as polygons)
    for step in cfg.train_dataloader.dataset.pipeline:
        if step['type'] == 'LoadAnnotations':
            step['poly2mask'] = True
    # as droplet_mmdet's tools do: anchors fitted to the train boxes
    return fill_fitted_anchors(cfg, source=path)


def train_batch(cfg, n=2):
    from mmdet.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    return pseudo_collate([dataset[i] for i in range(n)])


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.relpath(p, ROOT) for p in CONFIGS])
def test_config_builds_and_trains_one_step(path, tiny_droplets):
    from mmdet.registry import MODELS
    cfg = load_cfg(path, tiny_droplets)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.train()
    data = model.data_preprocessor(train_batch(cfg), training=True)
    losses = model(**data, mode='loss')
    total = sum(v.sum() if isinstance(v, torch.Tensor) else sum(v)
                for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_slim_config_has_no_download(tiny_droplets):
    cfg = load_cfg(osp.join(ROOT, 'configs', 'droplet',
                            'mask_rcnn_r18_fpn_slim_400it_synthetic.py'),
                   tiny_droplets)
    assert cfg.model.backbone.init_cfg is None
    assert cfg.custom_imports.imports == ['droplet_mmdet']


def _ablation(name):
    return osp.join(ROOT, 'configs', 'droplet', 'ablation', name + '.py')


def test_ablation_bubbles_profile(monkeypatch):
    """ABLATION_DATA=bubbles switches the ablation baseline to the bubbles
    set and 384 px crops, with the anchors fitted to it at hand for the
    anchors row (tools/benchmark.py composes the technique rows)."""
    monkeypatch.setenv('ABLATION_DATA', 'bubbles')
    monkeypatch.setenv('BUBBLES_ROOT', '/data/bubbles/')
    stock = Config.fromfile(_ablation('slim_stock'))
    ds = stock.train_dataloader.dataset
    assert ds.type == 'DropletCocoDataset'
    assert ds.data_root == '/data/bubbles/'
    assert stock.val_evaluator.ann_file == (
        '/data/bubbles/annotations/instances_val.json')
    steps = [t['type'] for t in ds.pipeline]
    assert steps == ['LoadImageFromFile', 'LoadAnnotations',
                     'RecordDropletSize', 'RandomCrop', 'RandomFlip',
                     'PackDropletInputs']
    assert ds.pipeline[3]['crop_size'] == (384, 384)
    assert stock.model.rpn_head.anchor_generator.scales == [8]  # mmdet's
    assert stock.small_anchors.anchor_generator.to_dict() == (
        stock.bubble_anchors.anchor_generator.to_dict())


@pytest.mark.parametrize('data', ['bubbles', 'zerog_bubbles'])
def test_slim_real_config_trains_the_benchmarks_anchors_row(data,
                                                            monkeypatch):
    """mask_rcnn_r18_fpn_slim_2000it_real.py is what the README's real-set
    figures measured: tools/benchmark.py's `+anchors` row at --iters 2000
    (same data, pipeline, model, optimiser and schedule), with the anchors
    fitted when the model is built instead of the profile's fixed copy."""
    from droplet_mmdet.apis.ablation_rows import compose
    monkeypatch.setenv('ABLATION_DATA', data)
    row = compose(Config.fromfile(_ablation('slim_stock')), ['anchors'])
    # what run_ablation merges into every run for --iters 2000
    # --val-interval 200
    row.merge_from_dict({'train_cfg.max_iters': 2000,
                         'train_cfg.val_interval': 200,
                         'param_scheduler.1.end': 2000,
                         'param_scheduler.1.milestones': [1600]})
    cfg = Config.fromfile(osp.join(
        ROOT, 'configs', 'droplet', 'mask_rcnn_r18_fpn_slim_2000it_real.py'))
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader',
                'val_evaluator', 'optim_wrapper', 'param_scheduler',
                'train_cfg', 'custom_hooks'):
        assert cfg[key] == row[key], key
    model, want = cfg.model.to_dict(), row.model.to_dict()
    fitted = model['rpn_head'].pop('anchor_generator')
    fixed = want['rpn_head'].pop('anchor_generator')
    assert model == want
    assert fitted['type'] == 'FittedAnchorGenerator'
    assert (fitted['iou'], fitted['num_scales']) == (0.5, 1)
    assert fitted['strides'] == fixed['strides']

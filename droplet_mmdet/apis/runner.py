"""Config set-up shared by ``tools/train.py`` and ``tools/test.py``.

Same behaviour as mmdet 3.3's tools (work_dir priority CLI > config >
``./work_dirs/<config name>``, ``--amp``, ``--auto-scale-lr``, ``--resume``),
plus droplet_mmdet's compat fixes: AMP falls back to fp32 on a CPU, and a
distributed run without CUDA uses gloo.
"""
import os.path as osp
from typing import Iterator, List, Optional, Tuple

from mmengine.config import Config, ConfigDict
from mmengine.logging import print_log

from droplet_mmdet import compat


def _load(config: str, cfg_options: Optional[dict], launcher: str,
          work_dir: Optional[str], checkpoint: Optional[str] = None
          ) -> Config:
    if not osp.isfile(config):
        raise FileNotFoundError(f'{config}: config file not found')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    fill_fitted_anchors(cfg, checkpoint, source=config)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    compat.resolve_device(cfg)
    return cfg


def _fitted_generators(node) -> Iterator[ConfigDict]:
    """Every ``FittedAnchorGenerator`` dict in a (model) config."""
    if isinstance(node, dict):
        if node.get('type') == 'FittedAnchorGenerator':
            yield node
        for v in node.values():
            yield from _fitted_generators(v)
    elif isinstance(node, (list, tuple)):
        for v in node:
            yield from _fitted_generators(v)


def train_annotations(cfg: Config) -> Tuple[str, float]:
    """``(path, box_scale)`` of the training COCO json of a config and the
    factor between its boxes and the images the network sees (a
    ``Resize`` with ``scale_factor`` in the train pipeline)."""
    ds = cfg.train_dataloader.dataset
    while 'ann_file' not in ds and 'dataset' in ds:  # Repeat, ClassBalanced
        ds = ds.dataset
    if 'ann_file' not in ds:
        raise ValueError(
            'FittedAnchorGenerator: the training set has no single ann_file '
            f'({ds.get("type")}); set model...anchor_generator.ann_file')
    ann = ds.ann_file
    root = ds.get('data_root') or ''
    path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
    scale = 1.0
    for step in ds.get('pipeline', []):
        if step['type'] in ('Resize', 'RandomResize', 'RandomChoiceResize'):
            f = step.get('scale_factor')
            if step['type'] != 'Resize' or f is None:
                raise ValueError(
                    f'FittedAnchorGenerator: the train pipeline resizes '
                    f'({step["type"]} without a fixed scale_factor); set '
                    'model...anchor_generator.box_scale to the factor '
                    'between the annotations and the network input')
            if isinstance(f, (tuple, list)):
                if len(set(f)) != 1:
                    raise ValueError(
                        'FittedAnchorGenerator: Resize scale_factor '
                        f'{tuple(f)} differs between x and y; set box_scale')
                f = f[0]
            scale *= float(f)
    return path, scale


def _anchors_in_checkpoint(checkpoint: str) -> List[dict]:
    """``scales`` / ``ratios`` of each fitted anchor generator (in config
    order) of the config that mmengine saved with a checkpoint."""
    import torch
    meta = torch.load(checkpoint, map_location='cpu',
                      weights_only=False).get('meta') or {}
    text = meta.get('cfg') if isinstance(meta, dict) else None
    if not text:
        return []
    saved = Config.fromstring(text, file_format='.py')
    return [dict(scales=list(g.scales), ratios=list(g.ratios))
            for g in _fitted_generators(saved.get('model', {}))
            if g.get('scales') and g.get('ratios')]


def fill_fitted_anchors(cfg: Config, checkpoint: Optional[str] = None,
                        source: str = 'config') -> Config:
    """Give every ``FittedAnchorGenerator`` of ``cfg.model`` that has no
    ``scales`` / ``ratios`` yet its anchors, written into the config (in
    place; the work dir's config copy and the checkpoints then hold them).

    For a trained model (``checkpoint``) they are the anchors it was
    trained with, from the config mmengine saved in the checkpoint; else
    (training, or a checkpoint without them) they are fitted to the
    training annotations of ``cfg``.
    """
    from droplet_mmdet.models.task_modules.fitted_anchors import fit_for
    todo = [g for g in _fitted_generators(cfg.get('model', {}))
            if not (g.get('scales') and g.get('ratios'))]
    saved = _anchors_in_checkpoint(checkpoint) if todo and checkpoint \
        else []
    if saved and len(saved) != len(todo):
        raise ValueError(
            f'{source}: {len(todo)} fitted anchor generator(s) to fill, '
            f'but {checkpoint} was trained with {len(saved)}')
    for k, g in enumerate(todo):
        ann, scale = (g.get('ann_file'), g.get('box_scale'))
        if saved:
            fitted = saved[k]
            how = f'as trained, from the config saved in {checkpoint}'
        else:
            if not ann or scale is None:
                train_ann, train_scale = train_annotations(cfg)
                ann = ann or train_ann
                scale = train_scale if scale is None else scale
            if checkpoint and not osp.isfile(ann):
                raise FileNotFoundError(
                    f'{source}: FittedAnchorGenerator: {checkpoint} holds '
                    f'no fitted anchors and the training annotations {ann} '
                    'are not here to fit them; give '
                    'model...anchor_generator.scales and ratios')
            fitted, how = fit_for(ann, g.strides, g.get('iou', 0.5),
                                  g.get('num_scales', 1), scale)
            g.ann_file, g.box_scale = ann, scale
        g.scales, g.ratios = list(fitted['scales']), list(fitted['ratios'])
        print_log(f'{source}: anchors scales={g.scales} ratios={g.ratios}, '
                  + how, logger='current')
    return cfg


def load_config(config: str, checkpoint: Optional[str] = None,
                cfg_options: Optional[dict] = None) -> Config:
    """``Config.fromfile`` plus what droplet_mmdet's tools resolve before
    a model is built (fitted anchors); for ``init_detector``."""
    if not osp.isfile(config):
        raise FileNotFoundError(f'{config}: config file not found')
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return fill_fitted_anchors(cfg, checkpoint, source=config)


def setup_train_cfg(config: str, work_dir: Optional[str] = None,
                    amp: bool = False, auto_scale_lr: bool = False,
                    resume: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """Load a training config and apply the command-line options.

    Args:
        resume: ``'auto'`` (latest checkpoint in ``work_dir``), a checkpoint
            path, or None.
    """
    cfg = _load(config, cfg_options, launcher, work_dir)
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    compat.resolve_amp(cfg)
    if auto_scale_lr:
        scale = cfg.get('auto_scale_lr', None)
        if not scale or 'base_batch_size' not in scale:
            raise RuntimeError(
                f'{config}: --auto-scale-lr needs auto_scale_lr = dict('
                'enable=False, base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'{resume}: checkpoint to resume from '
                                    'not found')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def setup_test_cfg(config: str, checkpoint: str,
                   work_dir: Optional[str] = None,
                   show_dir: Optional[str] = None, show: bool = False,
                   wait_time: float = 2, cfg_options: Optional[dict] = None,
                   launcher: str = 'none') -> Config:
    """Load a config for testing ``checkpoint`` (mmdet ``tools/test.py``)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint not found')
    cfg = _load(config, cfg_options, launcher, work_dir, checkpoint)
    cfg.load_from = checkpoint
    if show or show_dir:
        from argparse import Namespace

        from mmdet.engine.hooks.utils import trigger_visualization_hook
        cfg = trigger_visualization_hook(
            cfg, Namespace(show=show, show_dir=show_dir,
                           wait_time=wait_time))
    return cfg


def build_runner(cfg: Config):
    """``Runner.from_cfg``, or the registry runner named by ``runner_type``."""
    from mmengine.runner import Runner

    from mmdet.registry import RUNNERS
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)

"""Ablation rows: the slim stock baseline plus a set of named techniques.

A row is named after what it adds to or removes from a base:

- ``stock``: configs/droplet/ablation/slim_stock.py as it is (mmdet's
  heads, anchors, losses and pipeline; the data profile of
  ``ABLATION_DATA``);
- ``+focal``: stock plus one technique;
- ``recipe``: stock plus every technique of the recipe;
- ``recipe-focal``: the recipe without one technique (leave-one-out).

Each technique is applied here, once, from the named pieces that
``configs/_base_/droplet_techniques.py`` puts into every ablation config,
and every run's composed config is written to its work dir
(``config.json``) so it can be retrained with ``tools/train.py`` alone.
"""
import copy
from typing import Callable, Dict, List, Sequence

from mmengine.config import Config, ConfigDict

TECHNIQUES: Dict[str, Callable] = {}
# order in which techniques are applied (crops before blur/noise)
ORDER = ('anchors', 'anchors2', 'focal', 'size_weighted', 'nwd',
         'upsample2', 'object_aware_crop', 'plain_crop', 'blur_noise')


def technique(name: str):
    def register(fn):
        TECHNIQUES[name] = fn
        return fn
    return register


def _plain(piece) -> dict:
    """A config piece without mmengine's ``_delete_`` markers."""
    if isinstance(piece, (dict, ConfigDict)):
        return {k: _plain(v) for k, v in piece.items() if k != '_delete_'}
    if isinstance(piece, (list, tuple)):
        return type(piece)(_plain(v) for v in piece)
    return piece


def _pipeline(cfg: Config) -> list:
    return cfg.train_dataloader.dataset.pipeline


def _after_record(pipeline: list) -> int:
    """Index just after RecordDropletSize (where augmentations go)."""
    types = [t['type'] for t in pipeline]
    if 'RecordDropletSize' not in types:
        raise ValueError('the train pipeline has no RecordDropletSize; '
                         'augmentations are inserted after it')
    return types.index('RecordDropletSize') + 1


def _crop_index(pipeline: list) -> int:
    """Index of the data profile's crop (RandomCrop) or -1."""
    for k, t in enumerate(pipeline):
        if t['type'] == 'RandomCrop':
            return k
    return -1


@technique('anchors')
def _anchors(cfg: Config) -> None:
    """Small anchors: the data profile's ``small_anchors`` (fitted to the
    data set with tools/analysis_tools/fit_anchors.py)."""
    cfg.model.rpn_head.anchor_generator = _plain(
        cfg.small_anchors.anchor_generator)


@technique('anchors2')
def _anchors2(cfg: Config) -> None:
    """Two anchor scales per level, fitted for the RPN's positive IoU 0.7
    (the data profile's ``small_anchors_2s``)."""
    if 'small_anchors_2s' not in cfg:
        raise ValueError('anchors2: this data profile defines no '
                         'small_anchors_2s')
    cfg.model.rpn_head.anchor_generator = _plain(
        cfg.small_anchors_2s.anchor_generator)


@technique('upsample2')
def _upsample2(cfg: Config) -> None:
    """Train and test at twice the resolution (droplets twice as large);
    training crops keep their size, so they cover a quarter of the area."""
    pipeline = _pipeline(cfg)
    pipeline.insert(_after_record(pipeline),
                    dict(type='Resize', scale_factor=2.0, keep_ratio=True))
    seen = set()  # val and test may share one pipeline list
    for loader in ('val_dataloader', 'test_dataloader'):
        pipe = cfg[loader].dataset.pipeline
        if id(pipe) in seen:
            continue
        seen.add(id(pipe))
        resizes = [t for t in pipe if t['type'] == 'Resize']
        if len(resizes) != 1 or 'scale_factor' not in resizes[0]:
            raise ValueError(f'upsample2: {loader} needs one Resize with '
                             'scale_factor')
        resizes[0]['scale_factor'] = 2.0 * resizes[0]['scale_factor']


@technique('focal')
def _focal(cfg: Config) -> None:
    """Focal objectness loss over all anchors, prior-bias init."""
    rpn = cfg.model.rpn_head
    rpn.init_cfg = _plain(cfg.rpn_focal.init_cfg)
    rpn.loss_cls = _plain(cfg.rpn_focal.loss_cls)
    cfg.model.train_cfg.rpn.sampler = cfg.rpn_focal_train_cfg.sampler


@technique('size_weighted')
def _size_weighted(cfg: Config) -> None:
    """Size-weighted RPN box, RoI box and mask losses (true sizes)."""
    rpn, piece = cfg.model.rpn_head, cfg.rpn_size_weighted
    rpn.type = piece.type
    rpn.loss_bbox = _plain(piece.loss_bbox)
    roi, piece = cfg.model.roi_head, cfg.roi_size_weighted
    roi.type = piece.type
    roi.bbox_head.type = piece.bbox_head.type
    roi.bbox_head.loss_bbox = _plain(piece.bbox_head.loss_bbox)
    roi.mask_head.type = piece.mask_head.type
    roi.mask_head.loss_mask = _plain(piece.mask_head.loss_mask)


@technique('nwd')
def _nwd(cfg: Config) -> None:
    """RPN anchors assigned by Normalized Wasserstein Distance."""
    cfg.model.train_cfg.rpn.assigner = _plain(cfg.rpn_nwd_assigner)


def _replace_or_insert_crop(cfg: Config, crop: dict) -> None:
    pipeline = _pipeline(cfg)
    k = _crop_index(pipeline)
    if k >= 0:
        # equal compute: same crop size as the profile's crop, only the
        # choice of window differs
        size = pipeline[k]['crop_size']
        pipeline[k] = dict(_plain(crop), crop_size=size)
    else:
        pipeline.insert(_after_record(pipeline), _plain(crop))


@technique('object_aware_crop')
def _object_aware_crop(cfg: Config) -> None:
    """Object-aware crop; replaces the profile's random crop (same size)
    or, without one, crops to ``train_crop``."""
    _replace_or_insert_crop(cfg, cfg.object_aware_crop)


@technique('plain_crop')
def _plain_crop(cfg: Config) -> None:
    """mmdet's RandomCrop at ``train_crop`` (the reference for the
    object-aware crop on profiles that train on full frames)."""
    if _crop_index(_pipeline(cfg)) >= 0:
        raise ValueError('plain_crop: this data profile already crops '
                         'every config (its stock row is the plain crop)')
    _replace_or_insert_crop(cfg, cfg.plain_crop)


@technique('blur_noise')
def _blur_noise(cfg: Config) -> None:
    """Controlled blur and noise, after any crop."""
    pipeline = _pipeline(cfg)
    k = max(_crop_index(pipeline) + 1, _after_record(pipeline))
    for t in pipeline:
        if t['type'] == 'ObjectAwareRandomCrop':
            k = max(k, pipeline.index(t) + 1)
    pipeline[k:k] = [_plain(cfg.blur), _plain(cfg.noise)]


def row_techniques(row: str, recipe: Sequence[str]) -> List[str]:
    """Techniques of a row name (see the module docstring)."""
    if row == 'stock':
        techs = []
    elif row == 'recipe':
        techs = list(recipe)
    elif row.startswith('recipe-'):
        drop = row[len('recipe-'):]
        if drop not in recipe:
            raise ValueError(f'{row}: {drop!r} is not in the recipe '
                             f'{list(recipe)}')
        techs = [t for t in recipe if t != drop]
    elif row.startswith('+'):
        techs = row[1:].split('+')
    else:
        raise ValueError(f'{row}: a row is stock, +tech[+tech], recipe or '
                         'recipe-tech')
    unknown = [t for t in techs if t not in TECHNIQUES]
    if unknown:
        raise ValueError(f'{row}: unknown technique(s) {unknown}; known: '
                         f'{sorted(TECHNIQUES)}')
    return sorted(techs, key=ORDER.index)


def compose(base: Config, techniques: Sequence[str]) -> Config:
    """A copy of ``base`` with ``techniques`` switched on."""
    cfg = copy.deepcopy(base)
    for name in sorted(techniques, key=ORDER.index):
        TECHNIQUES[name](cfg)
    return cfg


def run_dir_name(row: str) -> str:
    return row.replace('recipe-', 'recipe_minus_').replace('+', 'plus_')

"""Anchors fitted to the training boxes when the model is built.

On both real sets of the ablation the whole gain over stock mmdet came from
anchors that match the droplets (README, "Accuracy ablation on the real
sets"), and the right anchors depend on the data: one scale of
:func:`droplet_mmdet.analysis.fit_anchors` at IoU 0.5 gave scales [3.0] on
bubbles (median 43 px) and [2.5] on zerog_bubbles (12 px). This generator
runs that fit on the training annotations itself, so a config is right for
whatever droplets it is trained on::

    model = dict(rpn_head=dict(anchor_generator=dict(
        type='FittedAnchorGenerator', strides=[4, 8, 16, 32, 64])))

``ann_file`` (the training COCO json) is filled in from
``train_dataloader`` by droplet_mmdet's tools (:func:`fill_fitted_anchors`
in ``droplet_mmdet.apis.runner``), and ``box_scale`` from a ``Resize`` with
``scale_factor`` in the train pipeline. Tools that do not know this
(mmdet's own ``tools/test.py``, a bare ``init_detector``) stop with an
error rather than build other anchors. The tools write the anchors into
the config, so the work dir's config copy and every checkpoint hold them;
testing a checkpoint takes the anchors it was trained with from the config
mmengine saved in it. Given ``scales`` and ``ratios``, nothing is
fitted.
"""
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

from mmdet.models.task_modules.prior_generators import AnchorGenerator
from mmdet.registry import TASK_UTILS
from mmengine.logging import print_log

_CACHE: Dict[tuple, Tuple[dict, dict, int]] = {}


def fit_file(ann_file: str, strides: Sequence[int], iou: float = 0.5,
             num_scales: int = 1, box_scale: float = 1.0
             ) -> Tuple[dict, dict, int]:
    """``(anchors, coverage, number of boxes)`` of
    :func:`~droplet_mmdet.analysis.fit_anchors` on a COCO json's boxes
    (scaled by ``box_scale``); cached per file state and arguments."""
    from droplet_mmdet.analysis import fit_anchors, load_coco_boxes
    if not osp.isfile(ann_file):
        raise FileNotFoundError(
            f'FittedAnchorGenerator: {ann_file}: training annotations not '
            'found (the anchors are fitted to them; without them give '
            'scales and ratios, which the training log printed)')
    st = os.stat(ann_file)
    key = (osp.abspath(ann_file), st.st_mtime_ns, st.st_size,
           tuple(strides), float(iou), int(num_scales), float(box_scale))
    if key not in _CACHE:
        boxes = load_coco_boxes(ann_file) * float(box_scale)
        anchors, cov = fit_anchors(boxes, strides=strides, iou=iou,
                                   num_scales=num_scales)
        _CACHE[key] = (anchors, cov, len(boxes))
    return _CACHE[key]


def fit_for(ann_file: str, strides: Sequence, iou: float = 0.5,
            num_scales: int = 1, box_scale: float = 1.0
            ) -> Tuple[dict, str]:
    """:func:`fit_file` for an anchor generator's ``strides`` (ints or
    ``(w, h)`` pairs), and a line saying what was fitted, for the log."""
    fitted, cov, n = fit_file(
        ann_file, [s if isinstance(s, int) else s[0] for s in strides], iou,
        num_scales, box_scale)
    how = (f'fitted to {n} boxes of {ann_file}'
           + (f' x{box_scale:g}' if box_scale != 1 else '')
           + f' (IoU>=0.3/0.5/0.7 matched {cov["match@0.3"]:.3f}/'
           f'{cov["match@0.5"]:.3f}/{cov["match@0.7"]:.3f})')
    return fitted, how


@TASK_UTILS.register_module()
class FittedAnchorGenerator(AnchorGenerator):
    """mmdet's ``AnchorGenerator`` whose ``scales`` and ``ratios`` are
    fitted to the training boxes (see the module docstring).

    Args:
        strides: as in ``AnchorGenerator``.
        ann_file: the training COCO json (filled in by droplet_mmdet's
            tools from ``train_dataloader``).
        iou: the IoU at which the share of matched boxes is maximised
            (0.5, one scale: what the ablation measured).
        num_scales: scales per level (1 or 2).
        box_scale: factor between the annotations and the images the
            network sees (a ``Resize`` with ``scale_factor``).
        scales, ratios: give both to skip the fit.
        **kwargs: the other arguments of ``AnchorGenerator``.
    """

    def __init__(self,
                 strides: Sequence[int],
                 ann_file: Optional[str] = None,
                 iou: float = 0.5,
                 num_scales: int = 1,
                 box_scale: float = 1.0,
                 scales: Optional[List[float]] = None,
                 ratios: Optional[List[float]] = None,
                 **kwargs) -> None:
        if scales is None or ratios is None:
            if not ann_file:
                raise ValueError(
                    'FittedAnchorGenerator has no ann_file to fit the '
                    'anchors to: build the model through droplet_mmdet '
                    '(tools/train.py, tools/test.py, tools/infer.py, '
                    'droplet_mmdet.apis.load_config), which fill it in from '
                    'train_dataloader, or set '
                    'model.rpn_head.anchor_generator.ann_file (or scales '
                    'and ratios) yourself')
            fitted, how = fit_for(ann_file, strides, iou, num_scales,
                                  box_scale)
            scales, ratios = fitted['scales'], fitted['ratios']
            print_log(f'FittedAnchorGenerator: scales={scales} '
                      f'ratios={ratios}, {how}', logger='current')
        super().__init__(strides=strides, ratios=ratios, scales=scales,
                         **kwargs)

"""How well anchors cover a dataset's boxes, and fitting anchor scales.

Pure numpy, no mmdet import. Anchors follow mmdet's ``AnchorGenerator``
(``center_offset=0``): on level stride ``s`` an anchor of scale ``c`` and
ratio ``r = h / w`` is ``w = s * c / sqrt(r)``, ``h = s * c * sqrt(r)``,
centred on the grid points ``(i * s, j * s)``.

For one box the best anchor of a given shape sits on one of the four grid
points around the box centre (IoU of two boxes of fixed shapes only falls as
their centres move apart along either axis), so the best IoU over all
anchors is found exactly from those candidates. Shorthand: K boxes, A anchor
shapes per level.
"""
import itertools
from typing import Dict, Iterable, List, Sequence, Tuple

import numpy as np

STOCK_ANCHORS = dict(scales=[8], ratios=[0.5, 1.0, 2.0],
                     strides=[4, 8, 16, 32, 64])


def load_coco_boxes(ann_file: str) -> np.ndarray:
    """(K, 4) xyxy boxes of a COCO json's non-crowd, non-empty
    annotations; ``ValueError`` naming the file for anything else."""
    import json
    try:
        with open(ann_file) as f:
            coco = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{ann_file}: cannot read COCO json ({err})')
    if not isinstance(coco, dict) or 'annotations' not in coco:
        raise ValueError(f'{ann_file}: no "annotations" list')
    boxes = [a['bbox'] for a in coco['annotations']
             if not a.get('iscrowd', 0) and a['bbox'][2] > 0
             and a['bbox'][3] > 0]
    if not boxes:
        raise ValueError(f'{ann_file}: no non-empty boxes')
    b = np.asarray(boxes, dtype=np.float64)
    b[:, 2:] += b[:, :2]
    return b


def best_anchor_iou(boxes: np.ndarray, scales: Sequence[float],
                    ratios: Sequence[float],
                    strides: Sequence[int]) -> np.ndarray:
    """Best IoU of each (K, 4) xyxy box with any anchor -> (K,)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if len(boxes) == 0:
        return np.zeros(0)
    cx = (boxes[:, 0] + boxes[:, 2]) / 2
    cy = (boxes[:, 1] + boxes[:, 3]) / 2
    bw = boxes[:, 2] - boxes[:, 0]
    bh = boxes[:, 3] - boxes[:, 1]
    best = np.zeros(len(boxes))
    for s in strides:
        shapes = np.array([(s * c / np.sqrt(r), s * c * np.sqrt(r))
                           for c in scales for r in ratios])  # (A, 2)
        for gx in (np.floor(cx / s) * s, np.floor(cx / s) * s + s):
            for gy in (np.floor(cy / s) * s, np.floor(cy / s) * s + s):
                ax0 = gx[:, None] - shapes[None, :, 0] / 2
                ax1 = gx[:, None] + shapes[None, :, 0] / 2
                ay0 = gy[:, None] - shapes[None, :, 1] / 2
                ay1 = gy[:, None] + shapes[None, :, 1] / 2
                iw = np.clip(np.minimum(ax1, boxes[:, 2:3]) -
                             np.maximum(ax0, boxes[:, 0:1]), 0, None)
                ih = np.clip(np.minimum(ay1, boxes[:, 3:4]) -
                             np.maximum(ay0, boxes[:, 1:2]), 0, None)
                inter = iw * ih
                union = (shapes[:, 0] * shapes[:, 1])[None, :] + (
                    bw * bh)[:, None] - inter
                best = np.maximum(best, (inter / union).max(axis=1))
    return best


def coverage(boxes: np.ndarray, scales, ratios, strides,
             thresholds: Iterable[float] = (0.3, 0.5, 0.7)
             ) -> Dict[str, float]:
    """Share of boxes matched by some anchor at each IoU threshold.

    With mmdet's RPN assigner (pos 0.7, neg 0.3, ``min_pos_iou=0.3`` and
    ``match_low_quality``) ``match@0.7`` is the share of boxes whose anchors
    are positives by the main rule, ``match@0.3`` the share that get any
    positive anchor at all (its best one).
    """
    return _summary(best_anchor_iou(boxes, scales, ratios, strides),
                    thresholds)


def _summary(iou: np.ndarray, thresholds=(0.3, 0.5, 0.7)) -> Dict[str, float]:
    out = {f'match@{t:g}': float((iou >= t).mean()) if len(iou) else 0.0
           for t in thresholds}
    out['mean_best_iou'] = float(iou.mean()) if len(iou) else 0.0
    return out


def fit_anchors(boxes: np.ndarray, strides: Sequence[int] = (4, 8, 16, 32,
                                                             64),
                scale_grid: Sequence[float] = tuple(np.arange(2, 12.01,
                                                              0.5)),
                ratio_sets: List[List[float]] = None,
                iou: float = 0.7,
                num_scales: int = 1
                ) -> Tuple[Dict[str, list], Dict[str, float]]:
    """Pick the scales and ratios that match the most boxes at IoU ``iou``.

    ``iou`` defaults to 0.7, the ``pos_iou_thr`` of mmdet's RPN assigner
    (0.5 maximises the looser coverage and can lower the one at 0.7).
    ``num_scales`` (1 or 2) scales per level are searched exhaustively on
    ``scale_grid`` (2: every pair ``s1 < s2``; a box's best IoU over two
    scales is the larger of its best IoUs over each, so pairs stay exact).
    Candidate ratio sets: ``[1]``, ``[0.8, 1, 1.25]``, ``[0.5, 1, 2]`` and
    the boxes' own 10/50/90 % quantiles of ``h / w``. Ties on the match rate
    go to the higher mean best IoU (like YOLO's autoanchor, but over mmdet's
    grid-placed anchors), then to the first candidate (smaller scales, the
    ratio sets in the order above).

    Returns:
        tuple: ``(anchor_cfg, coverage)`` with ``anchor_cfg`` holding
        ``scales``, ``ratios``, ``strides`` and ``coverage`` the
        :func:`coverage` of those anchors (plus ``match@{iou}``).
    """
    assert num_scales in (1, 2), f'num_scales must be 1 or 2: {num_scales}'
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if ratio_sets is None:
        hw = (boxes[:, 3] - boxes[:, 1]) / np.clip(boxes[:, 2] - boxes[:, 0],
                                                   1e-6, None)
        q = np.round(np.quantile(hw, [0.1, 0.5, 0.9]), 2).tolist()
        ratio_sets = [[1.0], [0.8, 1.0, 1.25], [0.5, 1.0, 2.0],
                      sorted(set(q))]
    grid = [float(s) for s in scale_grid]
    if num_scales == 1:
        combos = [(i, ) for i in range(len(grid))]
    else:
        combos = list(itertools.combinations(range(len(grid)), 2))
    thresholds = sorted({0.3, 0.5, 0.7, float(iou)})
    best_key, best = None, None
    for ratios in ratio_sets:
        per_scale = [best_anchor_iou(boxes, [s], ratios, strides)
                     for s in grid]
        for combo in combos:
            best_iou = np.max([per_scale[i] for i in combo], axis=0)
            key = (float((best_iou >= iou).mean()) if len(best_iou) else 0.0,
                   float(best_iou.mean()) if len(best_iou) else 0.0)
            if best_key is None or key > best_key:
                best_key = key
                best = (dict(scales=[grid[i] for i in combo],
                             ratios=list(ratios), strides=list(strides)),
                        _summary(best_iou, thresholds))
    return best

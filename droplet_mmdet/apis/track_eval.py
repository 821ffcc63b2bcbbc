"""Tracks against ground truth: box IoU, each track's truth id, and
CLEAR-MOT / identity scores (py-motmetrics). Rows are those of
:func:`~droplet_mmdet.apis.track.track_video` (``frame, track_id, x0, y0,
x1, y1``); truth rows have ``id`` instead of ``track_id`` (e.g.
:func:`~droplet_mmdet.apis.track_report.read_mot` of a MOTChallenge
``gt.txt``)."""
import math
from collections import Counter, defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np

Row = Dict[str, float]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``x0, y0, x1, y1``: (N, 4) x (M, 4) -> (N, M)."""
    a = np.asarray(a, float).reshape(-1, 4)
    b = np.asarray(b, float).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


def _frames_of(rows: Sequence[Row]) -> Dict[int, List[Row]]:
    out = defaultdict(list)
    for r in rows:
        out[int(r['frame'])].append(r)
    return out


def _boxes(rows: Sequence[Row]) -> np.ndarray:
    return np.array([[r['x0'], r['y0'], r['x1'], r['y1']] for r in rows],
                    float).reshape(-1, 4)


def truth_ids(rows: Sequence[Row], truth: Sequence[Row],
              iou_thr: float = 0.5) -> Dict[int, Optional[int]]:
    """Each track's ground-truth id: the truth id its boxes overlap most
    often (IoU >= ``iou_thr``, one-to-one per frame by Hungarian
    matching), None if never.

    Args:
        rows: tracked rows (``frame, track_id, x0, y0, x1, y1``).
        truth: truth rows with the same keys, ``id`` for the track id
            (e.g. :func:`~.track_report.read_mot`).
    """
    from scipy.optimize import linear_sum_assignment
    votes = defaultdict(Counter)
    tframes = _frames_of(truth)
    for f, rs in _frames_of(rows).items():
        ts = tframes.get(f, [])
        if not ts:
            continue
        iou = box_iou(_boxes(rs), _boxes(ts))
        for i, j in zip(*linear_sum_assignment(-iou)):
            if iou[i, j] >= iou_thr:
                votes[int(rs[i]['track_id'])][int(ts[j]['id'])] += 1
    return {tid: (votes[tid].most_common(1)[0][0] if votes[tid] else None)
            for tid in sorted({int(r['track_id']) for r in rows})}


def mot_metrics(rows: Sequence[Row], truth: Sequence[Row],
                iou_thr: float = 0.5) -> Dict[str, float]:
    """CLEAR-MOT and identity scores of tracked rows against ground truth
    (py-motmetrics, box IoU >= ``iou_thr`` to match).

    Args:
        rows: tracked rows (``frame, track_id, x0, y0, x1, y1``).
        truth: truth rows (``frame, id, x0, y0, x1, y1``).

    Returns:
        dict: ``mota``, ``motp`` (mean 1 - IoU of matches; None without
        any), ``idf1``,
        ``num_switches``, ``num_false_positives``, ``num_misses``,
        ``mostly_tracked``, ``num_unique_objects``, ``num_frames``.
    """
    import motmetrics as mm
    acc = mm.MOTAccumulator(auto_id=False)
    hyp, gt = _frames_of(rows), _frames_of(truth)
    for f in sorted(set(hyp) | set(gt)):
        hs, ts = hyp.get(f, []), gt.get(f, [])
        dist = 1 - box_iou(_boxes(ts), _boxes(hs))
        dist[dist > 1 - iou_thr] = np.nan
        acc.update([int(t['id']) for t in ts],
                   [int(h['track_id']) for h in hs], dist, frameid=f)
    names = ['mota', 'motp', 'idf1', 'num_switches', 'num_false_positives',
             'num_misses', 'mostly_tracked', 'num_unique_objects',
             'num_frames']
    res = mm.metrics.create().compute(acc, metrics=names, name='tracks')
    out = {}
    for k in names:
        v = float(res[k].iloc[0])
        if k in ('mota', 'motp', 'idf1'):  # NaN (nothing matched): None
            out[k] = round(v, 6) if math.isfinite(v) else None
        else:
            out[k] = int(v)
    return out

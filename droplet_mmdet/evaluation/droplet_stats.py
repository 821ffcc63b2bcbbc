"""Counting and sizing statistics for droplet predictions (pure functions).

Shorthand: G ground-truth droplets and P predictions of one image, as COCO
RLE masks.
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

from .coco_utils import equivalent_diameter


def match_masks(gt_rles: List[dict], pred_rles: List[dict],
                pred_scores: np.ndarray, iou_thr: float = 0.5) -> np.ndarray:
    """Greedy one-to-one matching by mask IoU, highest score first.

    Returns:
        np.ndarray: (M, 2) pairs ``(gt_index, pred_index)``.
    """
    if not gt_rles or not pred_rles:
        return np.zeros((0, 2), np.int64)
    order = np.argsort(-np.asarray(pred_scores), kind='stable')
    ious = mask_utils.iou([pred_rles[i] for i in order], gt_rles,
                          [0] * len(gt_rles))  # (P, G)
    taken = np.zeros(len(gt_rles), bool)
    pairs = []
    for row, p in enumerate(order):
        cand = np.where(taken, -1.0, ious[row])
        g = int(np.argmax(cand))
        if cand[g] >= iou_thr:
            taken[g] = True
            pairs.append((g, int(p)))
    return np.asarray(pairs, np.int64).reshape(-1, 2)


def count_errors(gt_counts: Sequence[int],
                 pred_counts: Sequence[int]) -> Dict[str, float]:
    """Per-image count errors, averaged over images.

    Returns:
        dict: ``count_mae`` (droplets), ``count_mre`` (% of the true count,
        images with a true count of 0 left out), ``count_bias`` (mean of
        predicted - true).
    """
    gt = np.asarray(gt_counts, np.float64)
    pr = np.asarray(pred_counts, np.float64)
    if len(gt) == 0:
        return dict(count_mae=float('nan'), count_mre=float('nan'),
                    count_bias=float('nan'))
    nz = gt > 0
    mre = float(np.mean(np.abs(pr[nz] - gt[nz]) / gt[nz]) * 100) \
        if nz.any() else float('nan')
    return dict(count_mae=float(np.mean(np.abs(pr - gt))), count_mre=mre,
                count_bias=float(np.mean(pr - gt)))


def calibrate_count_threshold(gt_counts: Sequence[int],
                              image_scores: Sequence[np.ndarray]
                              ) -> Tuple[float, Dict[str, float]]:
    """The score threshold whose counts best match the true counts.

    Counting "droplets with score >= t" for every candidate ``t`` (each
    distinct predicted score), picks the one with the lowest count error:
    ``count_mre`` (mean relative error over images with droplets), or
    ``count_mae`` when no image has any. Ties go to the higher threshold.
    The returned threshold lies halfway between the chosen score and the
    next lower one, so ``scores >= thr`` keeps exactly the same
    predictions and small score shifts do not change the count.

    Args:
        gt_counts: true count per image.
        image_scores: predicted scores per image (any order).

    Returns:
        tuple: ``(thr, errors)`` with :func:`count_errors` at ``thr``.
    """
    gt = np.asarray(gt_counts, np.float64)
    per_image = [np.sort(np.asarray(s, np.float64)) for s in image_scores]
    cands = np.unique(np.concatenate(per_image + [np.zeros(0)]))[::-1]
    # counting nothing (threshold above every score) is a candidate too
    cands = np.concatenate([[np.inf], cands])
    counts = np.stack([len(s) - np.searchsorted(s, cands, side='left')
                       for s in per_image], 1) if per_image else \
        np.zeros((len(cands), 0))
    nz = gt > 0
    if nz.any():
        err = np.mean(np.abs(counts[:, nz] - gt[nz]) / gt[nz], axis=1)
    else:
        err = np.mean(np.abs(counts - gt), axis=1)
    k = int(np.argmin(err))  # first minimum: highest threshold
    if k == 0:
        thr = float(cands[1]) + 1e-6 if len(cands) > 1 else 1.0
    else:
        lower = cands[k + 1] if k + 1 < len(cands) else 0.0
        thr = float((cands[k] + lower) / 2)
    return thr, count_errors(gt, counts[k])


def held_out_count_errors(gt_counts: Sequence[int],
                          image_scores: Sequence[np.ndarray],
                          folds: int = 5) -> Dict[str, float]:
    """Count errors of the calibrated threshold on images it was not
    chosen on, an honest estimate of what calibration gives on new frames
    of the same kind (the in-sample error of
    :func:`calibrate_count_threshold` is optimistic). The images are dealt
    into ``folds`` groups (image ``j`` into group ``j % folds``; with
    ``folds`` or fewer images, one image per group: leave one out); each
    group is counted at the threshold chosen on all the others.

    Returns:
        dict: :func:`count_errors` of the held-out counts; NaN for fewer
        than 2 images.
    """
    gt = np.asarray(gt_counts, np.float64)
    n = len(gt)
    if n < 2:
        return count_errors([], [])
    k = min(folds, n)
    counts = np.zeros(n, np.int64)
    for f in range(k):
        rest = [i for i in range(n) if i % k != f]
        thr, _ = calibrate_count_threshold(gt[rest],
                                           [image_scores[i] for i in rest])
        for j in range(f, n, k):
            counts[j] = int((np.asarray(image_scores[j]) >= thr).sum())
    return count_errors(gt, counts)


def count_report(names: Sequence[str], gt_counts: Sequence[int],
                 image_scores: Sequence[np.ndarray], thr: float,
                 worst: int = 10) -> List[str]:
    """One line per image, ``name: true -> counted (error %)`` with
    ``counted`` = scores >= ``thr``, largest relative error first (images
    without droplets by their absolute error, after those with), at most
    ``worst`` lines plus one saying how many are left out."""
    rows = []
    for name, g, s in zip(names, gt_counts, image_scores):
        n = int((np.asarray(s) >= thr).sum())
        rel = (n - g) / g * 100 if g else float('nan')
        rows.append((abs(rel) if g else -1.0, abs(n - g), name, g, n, rel))
    rows.sort(key=lambda r: (r[0], r[1]), reverse=True)
    lines = [f'{name}: {g} -> {n}' + (f' ({rel:+.1f} %)' if g else '')
             for _, _, name, g, n, rel in rows[:worst]]
    if len(rows) > worst:
        lines.append(f'... and {len(rows) - worst} more image(s)')
    return lines


def diameter_stats(gt_areas: Sequence[float], pred_areas: Sequence[float],
                   pair_gt_areas: Sequence[float],
                   pair_pred_areas: Sequence[float]) -> Dict[str, float]:
    """Size statistics from mask areas (px^2).

    Args:
        gt_areas, pred_areas: every true droplet / every kept prediction
            (population mean and coefficient of variation).
        pair_gt_areas, pair_pred_areas: matched pairs (per-droplet error).

    Returns:
        dict: ``diam_err_px`` / ``diam_err_pct`` (median absolute error of
        the equivalent diameter over matched pairs), ``diam_mean_true`` /
        ``diam_mean_pred`` (px) and ``diam_cv_true`` / ``diam_cv_pred`` (%).
    """
    def mean_cv(areas):
        d = equivalent_diameter(areas)
        if len(d) == 0:
            return float('nan'), float('nan')
        return float(d.mean()), float(d.std() / d.mean() * 100)

    out = {}
    out['diam_mean_true'], out['diam_cv_true'] = mean_cv(gt_areas)
    out['diam_mean_pred'], out['diam_cv_pred'] = mean_cv(pred_areas)
    dg = equivalent_diameter(pair_gt_areas)
    dp = equivalent_diameter(pair_pred_areas)
    if len(dg):
        err = np.abs(dp - dg)
        out['diam_err_px'] = float(np.median(err))
        out['diam_err_pct'] = float(np.median(err / dg) * 100)
    else:
        out['diam_err_px'] = out['diam_err_pct'] = float('nan')
    return out

"""Sliced inference on frames larger than the training size: tiling, seams
and merging (pure functions; the model comes in as a ``PredictFn``, e.g.
:func:`droplet_mmdet.apis.predictor.mmdet_predict_fn`).

A frame is cut into ``tile`` x ``tile`` windows overlapping by ``overlap``
px. Detections that touch an inner tile border are dropped (the overlap shows
that droplet whole in the neighbouring tile, as long as droplets are smaller
than the overlap), the rest are moved to frame coordinates, and duplicates
from overlapping tiles are removed by mask overlap (intersection over the
smaller mask >= ``merge_thr``, higher score kept). Masks are kept as patches
the size of their box, so a 2200 x 1700 frame with 2,000 droplets needs a
few MB, not 2,000 full-frame masks.

Shorthand: N detections, (h, w) tile, (H, W) frame.
"""
from dataclasses import dataclass, replace
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

Box = Tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive), integers


@dataclass
class Detection:
    """One droplet. ``mask`` is a bool patch placed at ``box`` (its tight
    extent; an empty mask has a 0 x 0 patch); ``bbox`` is the detector's
    own float box ``(x0, y0, x1, y1)``, when there is one, in the same
    coordinates."""
    score: float
    box: Box
    mask: np.ndarray
    bbox: Optional[Tuple[float, float, float, float]] = None
    label: int = 0

    @property
    def area(self) -> int:
        return int(self.mask.sum())


# predict_fn(tiles) -> per tile (h, w, 3) BGR: its detections, tile coords
PredictFn = Callable[[List[np.ndarray]], List[List[Detection]]]


def tile_windows(height: int, width: int, tile: int,
                 overlap: int) -> List[Box]:
    """Windows ``(x0, y0, x1, y1)`` covering the frame.

    Per axis, the fewest windows of at most ``tile`` px that overlap by at
    least ``overlap`` px, all of one size just large enough for that, spread
    evenly (the first and last flush with the border). A 2048 px axis with
    ``tile=1024, overlap=64`` gets 3 windows of 726 px instead of 3 of 1024.
    """
    assert tile > overlap >= 0

    def axis(size):
        if size <= tile:
            return [(0, size)]
        n = -(-(size - overlap) // (tile - overlap))  # ceil
        length = -(-(size + (n - 1) * overlap) // n)
        step = (size - length) / (n - 1)
        return [(int(round(k * step)), int(round(k * step)) + length)
                for k in range(n)]

    return [(x0, y0, x1, y1) for y0, y1 in axis(height)
            for x0, x1 in axis(width)]


def tight_patch(mask: np.ndarray, x0: int = 0,
                y0: int = 0) -> Tuple[Box, np.ndarray]:
    """A bool (h, w) mask placed at ``(x0, y0)`` cut to its tight extent.

    Returns:
        tuple: ``(box, patch)``; an empty mask gives ``(x0, y0, x0, y0)``
        and a 0 x 0 patch.
    """
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return (x0, y0, x0, y0), np.zeros((0, 0), bool)
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return ((int(x0 + c0), int(y0 + r0), int(x0 + c1), int(y0 + r1)),
            mask[r0:r1, c0:c1].astype(bool))  # a copy, never a view


def masks_to_detections(masks: np.ndarray,
                        scores: np.ndarray) -> List[Detection]:
    """Full-size (N, h, w) masks of one tile -> box-sized detections
    (empty masks dropped)."""
    out = []
    for m, s in zip(masks, scores):
        box, patch = tight_patch(m)
        if patch.size:
            out.append(Detection(float(s), box, patch))
    return out


def _shift(d: Detection, dx: int, dy: int) -> Detection:
    x0, y0, x1, y1 = d.box
    bbox = None if d.bbox is None else (d.bbox[0] + dx, d.bbox[1] + dy,
                                        d.bbox[2] + dx, d.bbox[3] + dy)
    return replace(d, box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy), bbox=bbox)


def tile_detections(dets: Sequence[Detection], window: Box,
                    frame_hw: Tuple[int, int], score_thr: float,
                    border: int = 1) -> List[Detection]:
    """Detections of one tile (tile coordinates) -> frame coordinates,
    without those under ``score_thr``, with an empty mask, or touching an
    inner (not frame) border of the tile."""
    x0, y0, x1, y1 = window
    H, W = frame_hw
    out = []
    for d in dets:
        bx0, by0, bx1, by1 = d.box
        if d.score < score_thr or d.area == 0:
            continue
        if (bx0 < border and x0 > 0) or (by0 < border and y0 > 0) or (
                bx1 > (x1 - x0) - border and x1 < W) or (
                    by1 > (y1 - y0) - border and y1 < H):
            continue
        out.append(_shift(d, x0, y0))
    return out


def mask_overlap(a: Detection, b: Detection) -> float:
    """Mask intersection over the smaller mask."""
    ix0, iy0 = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    ix1, iy1 = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    if ix1 <= ix0 or iy1 <= iy0:
        return 0.0
    ma = a.mask[iy0 - a.box[1]:iy1 - a.box[1], ix0 - a.box[0]:ix1 - a.box[0]]
    mb = b.mask[iy0 - b.box[1]:iy1 - b.box[1], ix0 - b.box[0]:ix1 - b.box[0]]
    inter = np.logical_and(ma, mb).sum()
    return float(inter) / max(min(a.area, b.area), 1)


def merge_detections(dets: Sequence[Detection], merge_thr: float = 0.5,
                     cell: int = 64) -> List[Detection]:
    """Mask-aware de-duplication across tiles (greedy, by score, then by
    area: of two equal scores the larger mask, the more complete view, is
    kept): a detection whose mask overlaps a kept one by ``merge_thr`` or
    more of the smaller mask (:func:`mask_overlap`) is dropped."""
    kept: List[Detection] = []
    grid: Dict[Tuple[int, int], List[int]] = {}
    for d in sorted(dets, key=lambda d: (-d.score, -d.area)):
        cells = [(cx, cy) for cx in range(d.box[0] // cell,
                                          (d.box[2] - 1) // cell + 1)
                 for cy in range(d.box[1] // cell, (d.box[3] - 1) // cell + 1)]
        near = {k for c in cells for k in grid.get(c, [])}
        if any(mask_overlap(d, kept[k]) >= merge_thr for k in near):
            continue
        for c in cells:
            grid.setdefault(c, []).append(len(kept))
        kept.append(d)
    return kept


def predict_frame(predict_fn: PredictFn, image: np.ndarray, tile: int = 1536,
                  overlap: int = 64, score_thr: float = 0.5,
                  merge_thr: float = 0.5,
                  batch_size: int = 4) -> List[Detection]:
    """Sliced prediction of one frame (a single window if it fits), best
    score first; ``batch_size`` tiles go to ``predict_fn`` at a time."""
    H, W = image.shape[:2]
    windows = tile_windows(H, W, tile, overlap)
    dets: List[Detection] = []
    for k in range(0, len(windows), batch_size):
        batch = windows[k:k + batch_size]
        tiles = [image[y0:y1, x0:x1] for x0, y0, x1, y1 in batch]
        for win, tile_dets in zip(batch, predict_fn(tiles)):
            dets += tile_detections(tile_dets, win, (H, W), score_thr)
    if len(windows) == 1:
        return sorted(dets, key=lambda d: -d.score)
    return merge_detections(dets, merge_thr)

"""Sliced inference on frames larger than the training size, and per-droplet
measurements.

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
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence, Tuple

import cv2
import numpy as np

# predict_fn(tiles) -> per tile: its detections in tile coordinates
PredictFn = Callable[[List[np.ndarray]], List[List['Detection']]]


@dataclass
class Detection:
    """One droplet in frame coordinates; ``mask`` covers ``box``."""
    score: float
    box: Tuple[int, int, int, int]  # x0, y0, x1, y1 (exclusive)
    mask: np.ndarray

    @property
    def area(self) -> int:
        return int(self.mask.sum())


def tile_windows(height: int, width: int, tile: int,
                 overlap: int) -> List[Tuple[int, int, int, int]]:
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


def masks_to_detections(masks: np.ndarray,
                        scores: np.ndarray) -> List[Detection]:
    """Full-size (N, h, w) masks of one tile -> box-sized detections."""
    out = []
    for m, s in zip(masks, scores):
        ys, xs = np.nonzero(m)
        if len(xs):
            x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
            out.append(Detection(float(s), (int(x0), int(y0), int(x1),
                                            int(y1)), m[y0:y1, x0:x1].copy()))
    return out


def tile_detections(dets: Sequence[Detection],
                    window: Tuple[int, int, int, int],
                    frame_hw: Tuple[int, int], score_thr: float,
                    border: int = 1) -> List[Detection]:
    """Detections of one tile (tile coordinates) -> frame coordinates,
    without those touching an inner (not frame) border of the tile."""
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
        out.append(Detection(d.score, (x0 + bx0, y0 + by0, x0 + bx1,
                                       y0 + by1), d.mask))
    return out


def _overlap(a: Detection, b: Detection) -> float:
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
    """Mask-aware de-duplication across tiles (greedy, by score)."""
    kept: List[Detection] = []
    grid: Dict[Tuple[int, int], List[int]] = {}
    for d in sorted(dets, key=lambda d: -d.score):
        cells = [(cx, cy) for cx in range(d.box[0] // cell,
                                          (d.box[2] - 1) // cell + 1)
                 for cy in range(d.box[1] // cell, (d.box[3] - 1) // cell + 1)]
        near = {k for c in cells for k in grid.get(c, [])}
        if any(_overlap(d, kept[k]) >= merge_thr for k in near):
            continue
        for c in cells:
            grid.setdefault(c, []).append(len(kept))
        kept.append(d)
    return kept


def predict_frame(predict_fn: PredictFn, image: np.ndarray, tile: int = 1536,
                  overlap: int = 64, score_thr: float = 0.5,
                  merge_thr: float = 0.5,
                  batch_size: int = 4) -> List[Detection]:
    """Sliced prediction of one frame (a single window if it fits)."""
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


def paste_mask(prob: np.ndarray, box: Sequence[float], thr: float
               ) -> Tuple[Tuple[int, int, int, int], np.ndarray]:
    """An (M, M) mask probability map pasted into its box only.

    mmdet pastes every mask into a full-size image (N x h x w) before any
    thresholding; on a dense frame that is most of the inference time. Here
    each mask fills a patch covering its box, sampled like mmdet's
    ``_do_paste_mask`` (bilinear at pixel centres of the float box, zero
    outside it).

    Returns:
        tuple: ``(int_box, bool_patch)``.
    """
    m = prob.shape[0]
    bx0, by0, bx1, by1 = (float(v) for v in box)
    bw, bh = max(bx1 - bx0, 1e-3), max(by1 - by0, 1e-3)
    x0, y0 = int(np.floor(bx0)), int(np.floor(by0))
    x1, y1 = int(np.ceil(bx1)), int(np.ceil(by1))
    w, h = max(x1 - x0, 1), max(y1 - y0, 1)
    # patch pixel (u, v) -> mask coordinate, pixel centres on both sides
    sx, sy = m / bw, m / bh
    affine = np.array([[sx, 0, (x0 + 0.5 - bx0) * sx - 0.5],
                       [0, sy, (y0 + 0.5 - by0) * sy - 0.5]], np.float32)
    patch = cv2.warpAffine(prob.astype(np.float32), affine, (w, h),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return (x0, y0, x0 + w, y0 + h), patch >= thr


def mmdet_predict_fn(model, channels_last: bool = True) -> PredictFn:
    """Adapter: an mmdet two-stage instance-segmentation detector (from
    ``init_detector``) as a PredictFn. Runs mmdet's test pipeline, RPN and
    box head, then the mask head on the kept boxes, and pastes each mask
    into its own box (:func:`paste_mask`). Boxes are clipped to the tile.

    ``channels_last`` runs the feature extractor in NHWC memory order (1.4x
    faster for the slim R-18 on this 2-core CPU; detections unchanged, see
    tests/test_apis/test_predict_fn.py); features are made contiguous again
    before the RoI heads."""
    import torch
    from mmcv.transforms import Compose
    from mmdet.structures.bbox import bbox2roi
    from mmdet.utils import get_test_pipeline_cfg
    from mmengine.dataset import pseudo_collate

    if not getattr(model, 'with_mask', False):
        raise ValueError('droplet measurements need an instance-segmentation '
                         'model with a mask head')
    cfg = get_test_pipeline_cfg(model.cfg.copy())
    cfg[0].type = 'mmdet.LoadImageFromNDArray'
    cfg = [t for t in cfg if 'LoadAnnotations' not in t['type']]
    pipeline = Compose(cfg)
    roi_head = model.roi_head
    thr = roi_head.test_cfg.get('mask_thr_binary', 0.5)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.backbone.to(memory_format=fmt)
    model.neck.to(memory_format=fmt)

    @torch.no_grad()
    def predict(tiles: List[np.ndarray]) -> List[List[Detection]]:
        data = pseudo_collate([pipeline(dict(img=np.ascontiguousarray(t),
                                             img_id=k))
                               for k, t in enumerate(tiles)])
        data = model.data_preprocessor(data, False)
        samples = data['data_samples']
        metas = [s.metainfo for s in samples]
        x = model.extract_feat(data['inputs'].contiguous(memory_format=fmt))
        x = tuple(f.contiguous() for f in x)
        rpn = model.rpn_head.predict(x, samples, rescale=False)
        results = roi_head.predict_bbox(x, metas, rpn, roi_head.test_cfg,
                                        rescale=False)
        boxes = [r.bboxes for r in results]
        n_all = sum(len(b) for b in boxes)
        probs = None
        if n_all:
            preds = roi_head._mask_forward(x, bbox2roi(boxes))['mask_preds']
            labels = torch.cat([r.labels for r in results])
            probs = preds[torch.arange(n_all), labels].sigmoid().numpy()
        out, k = [], 0
        for t, r in zip(tiles, results):
            h, w = t.shape[:2]
            b = r.bboxes.numpy().copy()
            b[:, 0::2] = b[:, 0::2].clip(0, w)
            b[:, 1::2] = b[:, 1::2].clip(0, h)
            dets = []
            for j in range(len(b)):
                box, patch = paste_mask(probs[k + j], b[j], thr)
                if box[2] > w or box[3] > h:  # ceil past the border
                    patch = patch[:h - box[1], :w - box[0]]
                    box = (box[0], box[1], min(box[2], w), min(box[3], h))
                dets.append(Detection(float(r.scores[j]), box, patch))
            k += len(b)
            out.append(dets)
        return out

    return predict


def measure(dets: Sequence[Detection], px_size: float = None
            ) -> List[Dict[str, float]]:
    """Per-droplet rows: centroid, area, equivalent diameter (px and um when
    ``px_size`` um/px is given), circularity ``4 pi A / P^2``, score."""
    rows = []
    for k, d in enumerate(dets):
        ys, xs = np.nonzero(d.mask)
        area = len(xs)
        contours, _ = cv2.findContours(d.mask.astype(np.uint8),
                                       cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        perim = sum(cv2.arcLength(c, True) for c in contours)
        diam = 2 * np.sqrt(area / np.pi)
        row = dict(id=k, cx=round(float(xs.mean() + 0.5 + d.box[0]), 2),
                   cy=round(float(ys.mean() + 0.5 + d.box[1]), 2),
                   area_px=area, diameter_px=round(float(diam), 3),
                   circularity=round(float(4 * np.pi * area /
                                           max(perim, 1e-6)**2), 3),
                   score=round(d.score, 4))
        if px_size:
            row['diameter_um'] = round(float(diam * px_size), 3)
        rows.append(row)
    return rows


def summarize(rows: Sequence[Dict[str, float]]) -> Dict[str, float]:
    """Count, mean diameter and its coefficient of variation (%)."""
    d = np.array([r['diameter_px'] for r in rows], dtype=np.float64)
    out = dict(count=len(d),
               mean_diameter_px=round(float(d.mean()), 3) if len(d) else 0.0,
               cv_diameter_pct=round(float(d.std() / d.mean() * 100), 3)
               if len(d) else 0.0)
    if rows and 'diameter_um' in rows[0]:
        out['mean_diameter_um'] = round(
            float(np.mean([r['diameter_um'] for r in rows])), 3)
    return out


def draw_detections(image: np.ndarray, dets: Sequence[Detection],
                    color=(0, 255, 0)) -> np.ndarray:
    """Outlines of the detections on a BGR copy of ``image``."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(
        image, cv2.COLOR_GRAY2BGR)
    for d in dets:
        contours, _ = cv2.findContours(d.mask.astype(np.uint8),
                                       cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE,
                                       offset=(d.box[0], d.box[1]))
        cv2.drawContours(out, contours, -1, color, 1)
    return out

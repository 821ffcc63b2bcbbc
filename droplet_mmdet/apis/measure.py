"""Per-droplet measurements of :class:`~droplet_mmdet.apis.slicing.Detection`
masks, and per-frame summaries."""
from typing import Dict, List, Optional, Sequence

import cv2
import numpy as np

from .slicing import Detection


def measure(dets: Sequence[Detection], px_size: Optional[float] = None
            ) -> List[Dict[str, float]]:
    """Per-droplet rows: centroid, area, equivalent diameter (px and um when
    ``px_size`` um/px is given), circularity ``4 pi A / P^2``, score.
    Every detection needs a non-empty mask."""
    rows = []
    for k, d in enumerate(dets):
        ys, xs = np.nonzero(d.mask)
        area = len(xs)
        if not area:
            raise ValueError(f'detection {k} (box {d.box}) has an empty '
                             'mask: nothing to measure')
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

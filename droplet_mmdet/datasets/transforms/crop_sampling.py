"""Pure crop-window sampling for object-aware cropping (no mmdet types).

Shorthand: K ground-truth boxes, xyxy in pixels.
"""
from typing import Optional, Tuple

import numpy as np


def visible_fraction(boxes: np.ndarray, window: Tuple[int, int, int, int]
                     ) -> np.ndarray:
    """Share of each (K, 4) box's area inside ``window`` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = window
    iw = np.clip(np.minimum(boxes[:, 2], x1) - np.maximum(boxes[:, 0], x0),
                 0, None)
    ih = np.clip(np.minimum(boxes[:, 3], y1) - np.maximum(boxes[:, 1], y0),
                 0, None)
    area = np.clip((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
                   1e-6, None)
    return iw * ih / area


def window_ok(boxes: np.ndarray, window: Tuple[int, int, int, int],
              min_objects: int, min_visible: float,
              fg_ratio_range: Optional[Tuple[float, float]]) -> bool:
    """Whether a crop window satisfies the object and foreground rules.

    The foreground ratio is the summed visible box area over the window area
    (box-based, so it overestimates round droplets by about 4/pi).
    """
    vis = visible_fraction(boxes, window)
    if (vis >= min_visible).sum() < min(min_objects, len(boxes)):
        return False
    if fg_ratio_range is not None:
        x0, y0, x1, y1 = window
        areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        fg = float((vis * areas).sum()) / max((x1 - x0) * (y1 - y0), 1)
        if not fg_ratio_range[0] <= fg <= fg_ratio_range[1]:
            return False
    return True


def sample_crop_offset(boxes: np.ndarray, image_hw: Tuple[int, int],
                       crop_hw: Tuple[int, int], min_objects: int = 1,
                       min_visible: float = 0.7,
                       fg_ratio_range: Optional[Tuple[float, float]] = None,
                       max_tries: int = 20, rand=np.random
                       ) -> Tuple[int, int, str]:
    """Sample a crop offset that keeps objects.

    Tries up to ``max_tries`` uniform offsets and returns the first whose
    window keeps at least ``min_objects`` boxes with a visible fraction of at
    least ``min_visible`` (and a foreground ratio inside ``fg_ratio_range``
    if given). Fallbacks, so the loop always ends:

    * no boxes at all: one uniform offset (``'empty'``), like ``RandomCrop``;
    * no try succeeded: the window centred on a random box, clipped to the
      image (``'centred'``), which keeps that box whole when it fits; it
      may keep fewer than ``min_objects`` boxes and ignores
      ``fg_ratio_range``.

    An image with fewer boxes than ``min_objects`` needs all of them.

    Args:
        boxes: (K, 4) xyxy boxes.
        image_hw: image (h, w); crop_hw: crop (h, w) <= image.
        rand: source of randomness with ``randint`` (``np.random`` by
            default, which mmengine seeds per worker).

    Returns:
        tuple: ``(offset_h, offset_w, how)`` with how in ``'sampled'``,
        ``'centred'``, ``'empty'``.
    """
    H, W = image_hw
    ch, cw = crop_hw
    margin_h, margin_w = max(H - ch, 0), max(W - cw, 0)
    if len(boxes) == 0:
        return (int(rand.randint(0, margin_h + 1)),
                int(rand.randint(0, margin_w + 1)), 'empty')
    for _ in range(max_tries):
        oy = int(rand.randint(0, margin_h + 1))
        ox = int(rand.randint(0, margin_w + 1))
        if window_ok(boxes, (ox, oy, ox + cw, oy + ch), min_objects,
                     min_visible, fg_ratio_range):
            return oy, ox, 'sampled'
    k = int(rand.randint(0, len(boxes)))
    cx = (boxes[k, 0] + boxes[k, 2]) / 2
    cy = (boxes[k, 1] + boxes[k, 3]) / 2
    oy = int(np.clip(round(cy - ch / 2), 0, margin_h))
    ox = int(np.clip(round(cx - cw / 2), 0, margin_w))
    return oy, ox, 'centred'

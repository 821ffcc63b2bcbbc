"""Per-frame look of the labelled droplets: size, contrast, edge sharpness.

A detector trained on sharp frames under-scores droplets on a blurrier
frame, so at one count threshold it under-counts there; this module says
which frames of a set look unlike the frames a model trained on.

For each labelled droplet, in its box padded by a few pixels:

- ``background``: median intensity of a ring 3-5 px outside the outline,
  leaving out the pixels of other labelled droplets (touching droplets are
  not background);
- ``contrast``: the interior's largest departure from the background (its
  5th or 95th intensity percentile, whichever is farther), as a fraction of
  the background (dark and bright droplets alike);
- ``sharpness``: the 90th percentile of the Sobel gradient magnitude (scaled
  to intensity per pixel) on the outline band (1 px either side of the
  labelled edge), as a fraction of the background (per px): a sharp dark
  disc on a background of 1.0 at 0.2 gives about 0.45, the same disc blurred
  by a Gaussian of sigma 2 px about 0.15 (the step over sigma * sqrt(2 pi)).

A frame's figures are the medians over its droplets. Pure numpy + OpenCV +
pycocotools, no mmdet import.
"""
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

_PAD = 7


def droplet_look(img: np.ndarray, mask: np.ndarray, box: Sequence[float],
                 occupied: Optional[np.ndarray] = None
                 ) -> Optional[Dict[str, float]]:
    """Contrast and edge sharpness of one droplet (see module docstring).

    Args:
        img: (H, W) image, any numeric dtype.
        mask: (H, W) bool mask of the droplet.
        box: its COCO ``[x, y, w, h]``.
        occupied: (H, W) bool, pixels of any labelled droplet (kept out of
            the background ring); None: only this droplet's.

    Returns:
        ``dict(contrast, sharpness)``, or None for a droplet of under 4
        pixels or one whose ring has no pixel (nothing to compare with).
    """
    import cv2
    h_img, w_img = img.shape
    x, y, w, h = box
    x0, y0 = max(int(np.floor(x)) - _PAD, 0), max(int(np.floor(y)) - _PAD, 0)
    x1 = min(int(np.ceil(x + w)) + _PAD, w_img)
    y1 = min(int(np.ceil(y + h)) + _PAD, h_img)
    m = mask[y0:y1, x0:x1].astype(np.uint8)
    if m.sum() < 4:
        return None
    sub = img[y0:y1, x0:x1].astype(np.float32)
    k3 = np.ones((3, 3), np.uint8)
    inner = cv2.dilate(m, k3).astype(bool)
    outer = cv2.dilate(m, np.ones((11, 11), np.uint8)).astype(bool)
    ring = outer & ~cv2.dilate(m, np.ones((5, 5), np.uint8)).astype(bool)
    if occupied is not None:
        ring &= ~occupied[y0:y1, x0:x1]
    if not ring.any():
        return None
    bg = float(np.median(sub[ring]))
    scale = max(abs(bg), 1e-6)
    inside = sub[m.astype(bool)]
    lo, hi = np.percentile(inside, [5, 95])
    contrast = max(bg - lo, hi - bg) / scale
    band = inner & ~cv2.erode(m, k3).astype(bool)
    gx = cv2.Sobel(sub, cv2.CV_32F, 1, 0) / 8
    gy = cv2.Sobel(sub, cv2.CV_32F, 0, 1) / 8
    grad = np.hypot(gx, gy)[band]
    sharpness = float(np.percentile(grad, 90)) / scale
    return dict(contrast=float(contrast), sharpness=sharpness)


def _read_gray(path: str) -> np.ndarray:
    import cv2
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError(f'{path}: cannot read the image')
    img = img.astype(np.float32)
    if img.ndim == 3:
        img = img[..., :3].mean(axis=2)
    return img


def frame_stats(ann_file: str, img_root: str,
                progress: bool = False) -> List[Dict[str, Any]]:
    """One dict per image of a COCO json: ``file_name``, ``droplets``
    (non-crowd annotations), ``measured`` (droplets with a look, see
    :func:`droplet_look`), and the medians ``diameter`` (equivalent, px),
    ``contrast`` and ``sharpness`` (None for a frame without droplets).

    ``file_name`` may be a Windows path (``.\\\\JPEGImages\\\\x.jpg``).

    Raises:
        ValueError: naming the file, for an unreadable json or image, or
            an image whose size differs from the json's.
    """
    from ..evaluation.coco_utils import (ann_to_rle, equivalent_diameter,
                                         load_json, normalize_file_name)
    from pycocotools import mask as mask_utils
    try:
        coco = load_json(ann_file)
    except FileNotFoundError as err:
        raise ValueError(str(err)) from err
    images, anns = coco['images'], coco['annotations']
    by_image: Dict[Any, list] = {}
    for a in anns:
        if not a.get('iscrowd', 0):
            by_image.setdefault(a['image_id'], []).append(a)
    if progress:
        from mmengine.utils import track_iter_progress
        images = track_iter_progress(images)
    out = []
    for im in images:
        path = osp.join(img_root, normalize_file_name(im['file_name']))
        img = _read_gray(path)
        if img.shape != (im['height'], im['width']):
            raise ValueError(
                f'{path}: image is {img.shape[1]}x{img.shape[0]}, '
                f'{ann_file} says {im["width"]}x{im["height"]}')
        looks, diams = [], []
        anns_i = by_image.get(im['id'], [])
        rles = [ann_to_rle(a, im['height'], im['width']) for a in anns_i]
        occupied = mask_utils.decode(mask_utils.merge(
            rles, intersect=False)).astype(bool) if rles else None
        for a, rle in zip(anns_i, rles):
            m = mask_utils.decode(rle)
            diams.append(float(equivalent_diameter(m.sum())))
            look = droplet_look(img, m.astype(bool), a['bbox'], occupied)
            if look is not None:
                looks.append(look)
        row: Dict[str, Any] = dict(
            file_name=im['file_name'], droplets=len(diams),
            measured=len(looks), diameter=None, contrast=None,
            sharpness=None)
        if diams:
            row['diameter'] = float(np.median(diams))
        if looks:
            row['contrast'] = float(np.median([v['contrast'] for v in looks]))
            row['sharpness'] = float(
                np.median([v['sharpness'] for v in looks]))
        out.append(row)
    return out


def rank_against(rows: List[Dict[str, Any]],
                 reference: List[Dict[str, Any]],
                 key: str = 'sharpness') -> List[Optional[float]]:
    """For each row, the percentage of reference frames whose ``key`` is
    lower (0: below every reference frame, 100: above all); None where a
    row or every reference frame lacks it."""
    ref = np.array([r[key] for r in reference if r.get(key) is not None])
    out: List[Optional[float]] = []
    for r in rows:
        v = r.get(key)
        out.append(None if v is None or not len(ref) else
                   float(100.0 * (ref < v).mean()))
    return out

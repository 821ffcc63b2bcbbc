"""Blur and noise whose strength is tied to the droplets, so they stay
identifiable.

* :class:`DropletGaussianBlur`: sigma = ``u * r`` with ``u`` drawn from
  ``sigma_ratio`` (at most 0.3) and ``r`` the median droplet radius of the
  image (half the median ``sqrt(w * h)`` of its boxes; ``default_radius``
  without boxes). At sigma <= 0.3 r the refraction rim softens but a droplet
  keeps a visible edge.
* :class:`DropletNoise`: noise sigma = ``C / snr`` with ``snr`` drawn from
  ``snr_range`` (at least 2) and ``C`` the droplet/background contrast:
  ``|mean inside droplet masks (boxes without masks) - median outside|``.
  Gaussian (additive) or Poisson (signal-dependent, scaled so that its sigma
  at the background level is the same).
"""
from typing import Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmcv.transforms.utils import cache_randomness
from mmdet.registry import TRANSFORMS


def median_radius(results: dict, default: float) -> float:
    """Half the median equivalent side of the image's GT boxes (px)."""
    boxes = results.get('gt_bboxes', None)
    if boxes is None or len(boxes) == 0:
        return float(default)
    wh = boxes.numpy()[:, 2:4] - boxes.numpy()[:, 0:2]
    return float(np.median(np.sqrt(np.clip(wh[:, 0] * wh[:, 1], 0, None)))
                 / 2)


def union_mask(masks, shape: Tuple[int, int]) -> np.ndarray:
    """Union of all instance masks as one bool image of ``shape``.

    Polygons are rasterised once, merged, by the same pycocotools calls
    that ``PolygonMasks.to_ndarray`` uses per instance (a 1024 x 1024 frame
    with 155 bubbles would otherwise make 160 MB of bitmaps per sample);
    ``BoxBitmapMasks`` are pasted box by box.
    """
    from mmdet.structures.mask import PolygonMasks

    from ...structures import BoxBitmapMasks
    if isinstance(masks, BoxBitmapMasks):
        fg = masks.union()
    elif isinstance(masks, PolygonMasks):
        import pycocotools.mask as mask_utils
        polys = [p for inst in masks.masks for p in inst]
        if not polys:
            return np.zeros(shape, bool)
        rle = mask_utils.merge(
            mask_utils.frPyObjects(polys, masks.height, masks.width))
        fg = mask_utils.decode(rle).astype(bool)
    else:
        fg = masks.to_ndarray().any(axis=0)
    out = np.zeros(shape, bool)
    h, w = min(shape[0], fg.shape[0]), min(shape[1], fg.shape[1])
    out[:h, :w] = fg[:h, :w]
    return out


def droplet_contrast(img: np.ndarray, results: dict) -> Optional[float]:
    """``|mean(droplets) - median(background)|`` in image units, or None
    when the image has no objects."""
    gray = img.mean(axis=2) if img.ndim == 3 else img
    fg = np.zeros(gray.shape, bool)
    masks = results.get('gt_masks', None)
    boxes = results.get('gt_bboxes', None)
    if masks is not None and len(masks):
        fg = union_mask(masks, gray.shape)
    elif boxes is not None and len(boxes):
        for x0, y0, x1, y1 in boxes.numpy().astype(int):
            fg[max(y0, 0):y1, max(x0, 0):x1] = True
    if not fg.any() or fg.all():
        return None
    return float(abs(gray[fg].mean() - np.median(gray[~fg])))


@TRANSFORMS.register_module()
class DropletGaussianBlur(BaseTransform):
    """Gaussian blur with sigma tied to the droplet radius.

    Required Keys:

    - img
    - gt_bboxes (optional, sets the radius)

    Modified Keys:

    - img

    Args:
        sigma_ratio (tuple): range of sigma / radius, upper bound <= 0.3.
        prob (float): probability of blurring.
        default_radius (float): radius (px) for images without boxes.
    """

    def __init__(self, sigma_ratio: Tuple[float, float] = (0.0, 0.15),
                 prob: float = 0.5, default_radius: float = 12.0) -> None:
        assert 0 <= sigma_ratio[0] <= sigma_ratio[1] <= 0.3, \
            'sigma_ratio above 0.3 x radius blurs droplets into each other'
        self.sigma_ratio = tuple(sigma_ratio)
        self.prob = prob
        self.default_radius = default_radius

    @cache_randomness
    def _draw(self) -> Optional[float]:
        if np.random.rand() >= self.prob:
            return None
        return float(np.random.uniform(*self.sigma_ratio))

    def transform(self, results: dict) -> dict:
        ratio = self._draw()
        if ratio is None:
            return results
        sigma = ratio * median_radius(results, self.default_radius)
        if sigma >= 0.1:
            img = results['img']
            results['img'] = cv2.GaussianBlur(
                img.astype(np.float32), (0, 0), sigma).astype(img.dtype)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_ratio={self.sigma_ratio}, '
                f'prob={self.prob}, default_radius={self.default_radius})')


@TRANSFORMS.register_module()
class DropletNoise(BaseTransform):
    """Gaussian or Poisson noise with sigma tied to droplet contrast.

    Required Keys:

    - img
    - gt_masks or gt_bboxes (optional; without objects nothing is added)

    Modified Keys:

    - img

    Args:
        snr_range (tuple): range of contrast / noise sigma, lower bound >= 2.
        mode (str): ``'gaussian'`` or ``'poisson'``.
        prob (float): probability of adding noise.
    """

    def __init__(self, snr_range: Tuple[float, float] = (4.0, 20.0),
                 mode: str = 'gaussian', prob: float = 0.5) -> None:
        assert 2 <= snr_range[0] <= snr_range[1], \
            'an SNR under 2 hides droplets in noise'
        assert mode in ('gaussian', 'poisson')
        self.snr_range = tuple(snr_range)
        self.mode = mode
        self.prob = prob

    @cache_randomness
    def _draw(self) -> Optional[float]:
        if np.random.rand() >= self.prob:
            return None
        return float(np.random.uniform(*self.snr_range))

    def transform(self, results: dict) -> dict:
        snr = self._draw()
        if snr is None:
            return results
        img = results['img']
        contrast = droplet_contrast(img, results)
        if not contrast:
            return results
        sigma = contrast / snr
        x = img.astype(np.float32)
        if self.mode == 'gaussian':
            x = x + np.random.normal(0, sigma, x.shape).astype(np.float32)
        else:
            level = max(float(np.median(x)), 1.0)
            k = level / sigma**2  # counts per grey level
            x = np.random.poisson(np.clip(x, 0, None) * k).astype(
                np.float32) / k
        info = np.iinfo(img.dtype) if img.dtype.kind in 'ui' else None
        if info is not None:
            x = np.clip(np.round(x), info.min, info.max)
        results['img'] = x.astype(img.dtype)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(snr_range={self.snr_range}, '
                f'mode={self.mode}, prob={self.prob})')

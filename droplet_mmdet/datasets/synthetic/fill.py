"""Fill the pixels of removed droplets to make an empty background.

:func:`smooth_fill` interpolates a frame's own surroundings;
:func:`other_frames_fill` takes, for frames of one fixed view, the other
frames' median where they show background, and :func:`offset_field`
matches it to the frame's local brightness; :func:`restore_texture` gives
interpolated pixels the frame's fine texture back. Shorthand: H x W frame,
C channels (none for a grey image).
"""
import warnings
from typing import List, Sequence

import cv2
import numpy as np


def smooth_fill(image: np.ndarray, hole: np.ndarray,
                sigmas: Sequence[float] = (2, 4, 8, 16, 32, 64)
                ) -> np.ndarray:
    """Fill ``hole`` pixels of an (H, W[, C]) uint8 image with a smooth
    interpolation of the rest: normalised Gaussian averages of the known
    pixels at each of ``sigmas``, blended from coarse to fine by how much
    known data each scale sees (no streaks, no rings)."""
    known = (~hole).astype(np.float32)
    img = image.astype(np.float32)
    ch = (1, ) * (image.ndim - 2)
    masked = img * known.reshape(known.shape + ch)
    est = np.full(img.shape, img[~hole].mean(0) if (~hole).any() else 0,
                  np.float32)
    for sigma in sorted(sigmas, reverse=True):
        den, num = _smooth(known, sigma), _smooth(masked, sigma)
        den = den.reshape(den.shape + ch)
        a = np.clip(den / 0.25, 0, 1)
        est = a * num / np.maximum(den, 1e-6) + (1 - a) * est
    out = image.copy()
    out[hole] = np.clip(np.round(est[hole]), 0, 255).astype(np.uint8)
    return out


def offset_field(image: np.ndarray, fill: np.ndarray, ref: np.ndarray,
                 sigmas: Sequence[float] = (4, 16, 64)) -> np.ndarray:
    """A smooth (H, W[, C]) field of ``image - fill``, measured on the
    ``ref`` pixels and spread into the rest by normalised Gaussian
    averaging (the smallest of ``sigmas`` that reaches a pixel); ``ref``
    pixels whose difference is an outlier (beyond 3 robust sigmas: the
    frame shows an unlabelled object there) are left out. Added to
    ``fill`` it matches the frame's local brightness and keeps the fill's
    texture, without seams."""
    diff = image.astype(np.float32) - np.nan_to_num(fill)
    # a pixel where the frame shows something the fill does not (an
    # unlabelled droplet) is no reference: robust outlier cut on |diff|
    grey = diff.reshape(ref.shape + (-1, )).mean(-1)
    if ref.any():
        mid = np.median(grey[ref])
        mad = np.median(np.abs(grey[ref] - mid))
        ref = ref & (np.abs(grey - mid) <= 3 * 1.4826 * mad + 2)
    diff = np.where(ref.reshape(ref.shape + (1, ) * (image.ndim - 2)), diff,
                    0)
    weight = ref.astype(np.float32)
    field = np.zeros(diff.shape, np.float32)
    done = np.zeros(ref.shape, bool)
    for sigma in sigmas:
        den, num = _smooth(weight, sigma), _smooth(diff, sigma)
        new = (den > 1e-3) & ~done
        d = den.reshape(den.shape + (1, ) * (image.ndim - 2))
        field[new] = (num / np.maximum(d, 1e-6))[new]
        done |= new
    return field


def _smooth(a: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of a float32 image; wide ones on a 1/(sigma/4) scale
    copy (the result is smooth at that scale anyway)."""
    f = max(int(sigma // 4), 1)
    if f == 1:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    h, w = a.shape[:2]
    small = cv2.resize(a, (max(w // f, 1), max(h // f, 1)),
                       interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def other_frames_fill(images: Sequence[np.ndarray],
                      holes: Sequence[np.ndarray]) -> List[np.ndarray]:
    """For each frame, the per-pixel median of the *other* frames outside
    their holes; NaN where all of them have a hole there.

    Returns:
        list: (H, W[, C]) float32 per frame.
    """
    stack = np.stack([
        np.where(h.reshape(h.shape + (1, ) * (im.ndim - 2)), np.nan,
                 im.astype(np.float32)) for im, h in zip(images, holes)])
    return [_nanmedian0(np.delete(stack, i, axis=0))
            for i in range(len(images))]


def _nanmedian0(stack: np.ndarray) -> np.ndarray:
    """``np.nanmedian(stack, axis=0)`` (NaN where all are NaN), by one
    sort: numpy's nanmedian is ~10x slower on a few 1024^2 frames."""
    s = np.sort(stack, axis=0)  # NaN sort last
    n = (~np.isnan(stack)).sum(0)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[None], 0)[0]
    hi = np.take_along_axis(s, (n // 2)[None], 0)[0]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        return np.where(n > 0, (lo + hi) / 2, np.nan).astype(np.float32)


def restore_texture(background: np.ndarray, image: np.ndarray,
                    hole: np.ndarray, rng: np.random.Generator,
                    sigma: float = 1.5) -> np.ndarray:
    """Give inpainted pixels back the fine texture (sensor noise) that
    inpainting smooths away: each gets the high-pass residual (image minus
    its Gaussian blur, clipped to its 1-99th percentiles) of a random
    pixel outside the holes."""
    img = image.astype(np.float32)
    residual = img - cv2.GaussianBlur(img, (0, 0), sigma)
    pool = residual[hole == 0]
    if not len(pool):
        return background
    lo, hi = np.percentile(pool, [1, 99])
    ys, xs = np.nonzero(hole)
    out = background.astype(np.float32)
    out[ys, xs] += np.clip(pool[rng.integers(len(pool), size=len(ys))], lo,
                           hi)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)

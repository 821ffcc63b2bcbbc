"""Blend a droplet patch into a frame: feathered alpha or Poisson.

Blending only changes pixel values; the droplet's mask never depends on
it. Shorthand: h x w patch, C channels (none for a grey image).
"""
import cv2
import numpy as np


def feather_alpha(mask: np.ndarray, valid: np.ndarray,
                  feather: float) -> np.ndarray:
    """(h, w) float32 alpha: 1 on the mask, falling off over ~``feather``
    px outside it, 0 on pixels that are not ``valid``."""
    alpha = mask.astype(np.float32)
    if feather > 0:
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((3, 3), np.uint8))
        soft = cv2.GaussianBlur(grown.astype(np.float32), (0, 0), feather)
        alpha = np.maximum(alpha, soft) * valid
    return alpha


def blend_patch(region: np.ndarray, pixels: np.ndarray, mask: np.ndarray,
                valid: np.ndarray, blend: str = 'alpha',
                feather: float = 1.0) -> np.ndarray:
    """Blend a droplet patch into an equally sized region of a frame.

    Args:
        region, pixels: (h, w[, C]) uint8.
        mask: (h, w) bool, the droplet.
        valid: (h, w) bool, pixels of the patch that may be used.
        blend: ``'alpha'``: ``feather_alpha`` weights; ``'poisson'``:
            :func:`poisson_blend` over the droplet and the valid pixels
            within 2 px of it.

    Returns:
        np.ndarray: the blended (h, w[, C]) uint8 region.
    """
    if blend == 'alpha':
        a = feather_alpha(mask, valid, feather)
        if region.ndim == 3:
            a = a[..., None]
        out = region.astype(np.float32) * (1 - a) + pixels * a
        return np.round(out).astype(np.uint8)
    clone = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8))
    return poisson_blend(region, pixels, clone.astype(bool) & valid)


def poisson_blend(dst: np.ndarray, src: np.ndarray,
                  region: np.ndarray) -> np.ndarray:
    """Poisson image editing (Perez et al. 2003, "normal clone"): inside
    ``region`` the result has the gradients of ``src`` and meets ``dst`` on
    the region's edge, i.e. ``src + g`` with ``g`` harmonic in the region
    and ``g = dst - src`` outside it; ``dst`` elsewhere.

    Solved directly (5-point Laplacian, scipy sparse LU). OpenCV's
    ``cv2.seamlessClone`` would do this, but in opencv-python 5.0.0 it
    returns a flat, saturated fill for droplet-sized masks (a dark ring on
    a grey disc came back as a uniform 210 where 20-130 was right).

    Args:
        dst, src: (h, w[, C]) uint8 of the same shape.
        region: (h, w) bool.

    Returns:
        np.ndarray: (h, w[, C]) uint8.
    """
    from scipy.sparse import csc_matrix
    from scipy.sparse.linalg import spsolve
    if not region.any():
        return dst.copy()
    shape = dst.shape
    d3 = dst.reshape(shape[:2] + (-1, )).astype(np.float64)
    s3 = src.reshape(shape[:2] + (-1, )).astype(np.float64)
    # a 1 px frame of dst around everything keeps the region off the edge
    region = np.pad(region, 1)
    diff = np.pad(d3 - s3, ((1, 1), (1, 1), (0, 0)), mode='edge')
    ys, xs = np.nonzero(region)
    n = len(ys)
    idx = np.full(region.shape, -1, np.int64)
    idx[ys, xs] = np.arange(n)
    rows, cols = [np.arange(n)], [np.arange(n)]
    vals = [np.full(n, 4.0)]
    b = np.zeros((n, d3.shape[2]))
    for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
        j = idx[ys + dy, xs + dx]
        inner = j >= 0
        rows.append(np.flatnonzero(inner))
        cols.append(j[inner])
        vals.append(np.full(int(inner.sum()), -1.0))
        b[~inner] += diff[ys[~inner] + dy, xs[~inner] + dx]
    A = csc_matrix((np.concatenate(vals),
                    (np.concatenate(rows), np.concatenate(cols))),
                   shape=(n, n))
    g = spsolve(A, b).reshape(n, -1)
    out = d3.copy()
    out[ys - 1, xs - 1] = s3[ys - 1, xs - 1] + g
    return np.clip(np.round(out), 0, 255).astype(np.uint8).reshape(shape)

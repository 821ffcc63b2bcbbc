"""Cut-and-paste synthesis: new frames with exact masks from a few real ones.

Pure and seeded (no file I/O; ``cutpaste_io.py`` is the shell):
``harvest.py`` turns a few labelled frames into a :class:`DropletBank`
(droplet patches and empty backgrounds); :func:`compose_frame` draws a
background from the bank and pastes droplets on it with
:func:`paste_droplets`, which the online transform ``DropletBankCopyPaste``
also uses on any training image.

**Mask rule** (as in ``render.py``): a pasted droplet's mask is its source
mask after the same scaling, flip and rotation as its pixels (the scaled
mask thresholded at 0.5), whatever the blending does to pixel values; a
later paste is in front, and an earlier one loses exactly the pixels it
covers. Boxes are the extent of the visible mask.

Shorthand: H x W frame, C channels (none for a grey image), h x w patch.
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .blending import blend_patch
from .harvest import (DropletBank, DropletPatch, build_bank,
                      decode_segmentation, harvest_frame)

__all__ = [
    'DropletPatch', 'DropletBank', 'PastedDroplet', 'decode_segmentation',
    'harvest_frame', 'build_bank', 'transform_patch', 'paste_droplets',
    'draw_background', 'compose_frame'
]

Range = Tuple[float, float]


@dataclass
class PastedDroplet:
    """One paste. ``full_mask`` (h, w) bool is the pasted mask before
    occlusion, placed at ``(x0, y0)`` in the frame (may stick out of it);
    ``mask`` (h, w) bool is what stays visible (inside the frame, in
    front). ``diameter`` is the equivalent diameter of ``full_mask``: the
    droplet's true size, whatever covers or cuts it. ``kept`` is False for
    a dropped paste, with ``reason`` ``'small'`` or ``'occluded'``.
    """
    bank_index: int
    scale: float
    flip: bool
    k_rot: int
    x0: int
    y0: int
    full_mask: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    diameter: float = 0.0
    cut: bool = False
    kept: bool = True
    reason: str = ''

    @property
    def area(self) -> int:
        return int(self.mask.sum())

    def bbox(self) -> List[float]:
        """Tight ``[x, y, w, h]`` box of the visible mask, COCO style."""
        return _bbox(self.mask, self.x0, self.y0)


def _bbox(mask: np.ndarray, x0: int, y0: int) -> List[float]:
    ys, xs = np.nonzero(mask)
    if not len(xs):
        return [0.0, 0.0, 0.0, 0.0]
    return [float(x0 + xs.min()), float(y0 + ys.min()),
            float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def transform_patch(patch: DropletPatch, scale: float = 1.0,
                    flip: bool = False, k_rot: int = 0
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pixels, mask, valid)`` of a patch scaled, flipped left-right, then
    rotated by ``k_rot`` quarter turns; masks are resampled like the
    pixels and thresholded at 0.5."""
    pixels, mask, valid = patch.pixels, patch.mask, patch.valid
    if scale != 1.0:
        h, w = mask.shape
        size = (max(int(round(w * scale)), 1), max(int(round(h * scale)), 1))
        interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        pixels = cv2.resize(pixels, size, interpolation=interp)
        mask = cv2.resize(mask.astype(np.float32), size,
                          interpolation=interp) >= 0.5
        valid = cv2.resize(valid.astype(np.float32), size,
                           interpolation=interp) >= 0.5
    valid = valid | mask
    if flip:
        pixels, mask, valid = pixels[:, ::-1], mask[:, ::-1], valid[:, ::-1]
    if k_rot % 4:
        pixels, mask, valid = (np.rot90(a, k_rot) for a in
                               (pixels, mask, valid))
    return (np.ascontiguousarray(pixels), np.ascontiguousarray(mask),
            np.ascontiguousarray(valid))


def paste_droplets(image: np.ndarray, bank: DropletBank,
                   indices: Sequence[int], rng: np.random.Generator,
                   scale: Range = (0.8, 1.25), flip_rot: bool = True,
                   blend: str = 'alpha', feather: float = 1.0,
                   max_occlusion: float = 0.5, tries: int = 10,
                   min_visible_area: int = 10,
                   min_visible_fraction: float = 0.25,
                   bbox_occluded_thr: Optional[float] = None,
                   mask_occluded_thr: Optional[float] = None
                   ) -> Tuple[np.ndarray, List[PastedDroplet], Counter]:
    """Paste bank droplets, in the order of ``indices``, onto a copy of
    ``image`` (H, W[, C]) uint8.

    Each paste draws a scale in ``scale``, a flip and a quarter turn (if
    ``flip_rot``) and a centre anywhere in the frame (droplets may be cut
    by the border); up to ``tries`` centres are drawn until the paste
    leaves every earlier one at least ``1 - max_occlusion`` of its area
    visible (after that it goes at the last one and counts as
    ``'crowded'``; ``max_occlusion >= 1``: one draw, any overlap).

    A paste is dropped (its pixels stay, it gets no label) when its visible
    area is under ``min_visible_area`` px (``'small'``), or it is
    ``'occluded'``: under ``min_visible_fraction`` of its in-frame area
    stays visible, or, with mmdet ``CopyPaste``'s thresholds, its box moved
    by more than ``bbox_occluded_thr`` px *and* at most
    ``mask_occluded_thr`` px stay visible (None: that test is off).

    Args:
        blend: ``'alpha'`` (feathered over ``feather`` px) or
            ``'poisson'`` (:func:`poisson_blend` of the droplet and 2 px
            around it).

    Returns:
        tuple: ``(image, pasted, counts)``: every paste in paste order, and
        counts ``pasted``, ``kept``, ``dropped_small``,
        ``dropped_occluded`` and ``crowded``.
    """
    if blend not in ('alpha', 'poisson'):
        raise ValueError(f'blend must be alpha or poisson, not {blend!r}')
    H, W = image.shape[:2]
    n = len(indices)
    counts = Counter(pasted=n, kept=0, dropped_small=0, dropped_occluded=0,
                     crowded=0)
    if not n:
        return image.copy(), [], counts
    longest = max(max(bank.patches[int(i)].mask.shape) for i in indices)
    pad = int(np.ceil(longest * max(scale))) + 4
    canvas = cv2.copyMakeBorder(image, pad, pad, pad, pad,
                                cv2.BORDER_REFLECT)
    owner = np.full(canvas.shape[:2], -1, np.int32)
    full_area = np.zeros(n, np.int64)
    visible = np.zeros(n, np.int64)
    placed = []
    for k, idx in enumerate(indices):
        s = float(rng.uniform(*scale))
        flip = bool(rng.random() < 0.5) if flip_rot else False
        k_rot = int(rng.integers(4)) if flip_rot else 0
        pixels, mask, valid = transform_patch(bank.patches[int(idx)], s,
                                              flip, k_rot)
        h, w = mask.shape
        for _ in range(max(tries, 1)):
            x0 = int(rng.integers(W)) - w // 2
            y0 = int(rng.integers(H)) - h // 2
            sl = (slice(y0 + pad, y0 + pad + h), slice(x0 + pad,
                                                       x0 + pad + w))
            under = owner[sl][mask]
            lost = np.bincount(under[under >= 0], minlength=k)
            hit = np.flatnonzero(lost)
            ok = max_occlusion >= 1 or bool(np.all(
                visible[hit] - lost[hit] >= (1 - max_occlusion) *
                full_area[hit]))
            if ok:
                break
        if not ok:
            counts['crowded'] += 1
        visible[:k] -= lost
        # the blend around the mask leaves earlier droplets' pixels alone
        valid &= mask | (owner[sl] < 0)
        owner[sl][mask] = k
        full_area[k] = visible[k] = int(mask.sum())
        canvas[sl] = blend_patch(canvas[sl], pixels, mask, valid, blend,
                                 feather)
        placed.append((int(idx), s, flip, k_rot, x0, y0, mask))

    out = np.ascontiguousarray(canvas[pad:pad + H, pad:pad + W])
    frame = np.zeros(owner.shape, bool)
    frame[pad:pad + H, pad:pad + W] = True
    pasted = []
    for k, (idx, s, flip, k_rot, x0, y0, mask) in enumerate(placed):
        h, w = mask.shape
        sl = (slice(y0 + pad, y0 + pad + h), slice(x0 + pad, x0 + pad + w))
        inside = frame[sl]
        vis = (owner[sl] == k) & inside
        area, in_frame = int(vis.sum()), int((mask & inside).sum())
        reason = ''
        if area < min_visible_area:
            reason = 'small'
        elif area < min_visible_fraction * in_frame or not _copy_paste_keep(
                _bbox(mask & inside, 0, 0), _bbox(vis, 0, 0), area,
                bbox_occluded_thr, mask_occluded_thr):
            reason = 'occluded'
        counts['dropped_' + reason if reason else 'kept'] += 1
        pasted.append(
            PastedDroplet(idx, s, flip, k_rot, x0, y0, mask, vis,
                          diameter=float(2 * np.sqrt(mask.sum() / np.pi)),
                          cut=bool(in_frame < mask.sum()), kept=not reason,
                          reason=reason))
    return out, pasted, counts


def _copy_paste_keep(box: List[float], new_box: List[float], area: int,
                     bbox_thr: Optional[float],
                     mask_thr: Optional[float]) -> bool:
    """mmdet ``CopyPaste``'s rule: keep an occluded instance whose box
    corners moved by at most ``bbox_thr`` or that keeps more than
    ``mask_thr`` px. Both None: keep."""
    if bbox_thr is None and mask_thr is None:
        return True
    corners = np.array(box[:2] + [box[0] + box[2], box[1] + box[3]])
    new = np.array(new_box[:2] +
                   [new_box[0] + new_box[2], new_box[1] + new_box[3]])
    return bool((bbox_thr is not None
                 and np.abs(corners - new).max() <= bbox_thr)
                or (mask_thr is not None and area > mask_thr))


def draw_background(bank: DropletBank, height: int, width: int,
                    rng: np.random.Generator, flip_rot: bool = True
                    ) -> Tuple[np.ndarray, int]:
    """A random (H, W[, C]) crop of a random bank background, flipped and
    turned if ``flip_rot``; one smaller than the frame is tiled with
    mirrored copies first. Returns ``(background, index)``."""
    i = int(rng.integers(len(bank.backgrounds)))
    bg = bank.backgrounds[i]
    if flip_rot:
        if rng.random() < 0.5:
            bg = bg[:, ::-1]
        bg = np.rot90(bg, int(rng.integers(4)))
    h, w = bg.shape[:2]
    if h < height or w < width:
        pads = [(0, max(height - h, 0)), (0, max(width - w, 0))]
        bg = np.pad(bg, pads + [(0, 0)] * (bg.ndim - 2), mode='symmetric')
        h, w = bg.shape[:2]
    y = int(rng.integers(h - height + 1))
    x = int(rng.integers(w - width + 1))
    return np.ascontiguousarray(bg[y:y + height, x:x + width]), i


def compose_frame(bank: DropletBank, height: int, width: int, seed: int,
                  count: Optional[Tuple[int, int]] = None,
                  density_factor: Range = (0.8, 1.2),
                  flip_rot: bool = True, **paste_kwargs
                  ) -> Tuple[np.ndarray, List[PastedDroplet], Dict]:
    """Compose one frame from a bank.

    Args:
        count: droplets to paste, drawn uniformly in ``[lo, hi]``; None:
            the bank's labelled density times the frame area times a
            factor drawn in ``density_factor``.
        seed: any non-negative integer; the same bank, arguments and seed
            give the same bytes.
        **paste_kwargs: see :func:`paste_droplets`.

    Returns:
        tuple: ``(image, pasted, info)``: (H, W[, C]) uint8, every paste in
        paste order (later = in front), and ``info`` (background index and
        the counts of :func:`paste_droplets`).
    """
    if not bank.patches or not bank.backgrounds:
        raise ValueError('the droplet bank is empty: nothing to paste')
    rng = np.random.default_rng(seed)
    background, bg_index = draw_background(bank, height, width, rng,
                                           flip_rot)
    if count is not None:
        n = int(rng.integers(count[0], count[1] + 1))
    else:
        n = int(round(bank.density * height * width *
                      rng.uniform(*density_factor)))
    indices = rng.integers(len(bank.patches), size=n)
    image, pasted, counts = paste_droplets(background, bank, indices, rng,
                                           flip_rot=flip_rot, **paste_kwargs)
    return image, pasted, dict(background=bg_index, **counts)

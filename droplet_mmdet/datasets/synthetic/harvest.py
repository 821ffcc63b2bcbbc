"""Harvest droplets and empty backgrounds from a few labelled real frames.

Pure and seeded (no file I/O): :func:`harvest_frame` cuts each usable
labelled droplet out of a frame (its pixels with a small margin, its mask)
and fills the frame's labelled droplets in to make an empty background
(inpainting, or, for frames of one fixed view, the other frames' pixels);
:func:`build_bank` collects frames into a :class:`DropletBank` for
``cutpaste.py`` to compose from.

Unlabelled droplets (real sets often label only in-focus ones) stay in the
background; pixels of *other* labelled droplets inside a patch are never
pasted.

Shorthand: H x W frame, C channels (none for a grey image), h x w patch.
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .fill import (offset_field, other_frames_fill, restore_texture,
                   smooth_fill)


@dataclass
class DropletPatch:
    """One harvested droplet.

    ``pixels`` (h, w[, C]) uint8 is its box plus a margin, ``mask`` (h, w)
    bool its labelled mask there, ``valid`` (h, w) bool the pixels that may
    be pasted (its own and plain background, not another labelled
    droplet's); ``frame`` indexes the source frame.
    """
    pixels: np.ndarray = field(repr=False)
    mask: np.ndarray = field(repr=False)
    valid: np.ndarray = field(repr=False)
    frame: int = 0
    ann_id: Any = None

    @property
    def area(self) -> int:
        return int(self.mask.sum())


@dataclass
class DropletBank:
    """Droplets and empty backgrounds harvested from a few frames.

    ``densities[f]`` is frame f's labelled droplets (crowds excluded) per
    px^2, skipped ones included; ``frame_reports[f]`` counts what
    harvesting took and skipped there (see :func:`harvest_frame`) and
    ``report`` sums them.
    """
    patches: List[DropletPatch] = field(default_factory=list)
    backgrounds: List[np.ndarray] = field(default_factory=list, repr=False)
    densities: List[float] = field(default_factory=list)
    frame_reports: List[Counter] = field(default_factory=list)
    report: Counter = field(default_factory=Counter)

    @property
    def density(self) -> float:
        return float(np.mean(self.densities)) if self.densities else 0.0


def decode_segmentation(seg: Any, height: int, width: int) -> np.ndarray:
    """(H, W) bool mask of a COCO polygon list or RLE (either form).

    Raises:
        ValueError: a polygon list without a 3-point polygon, an RLE of
            another size, or anything else pycocotools cannot read.
    """
    return mask_utils.decode(_to_rle(seg, height, width)).astype(bool)


def _to_rle(seg: Any, height: int, width: int) -> Dict[str, Any]:
    """The compressed RLE of a segmentation (see
    :func:`decode_segmentation`)."""
    try:
        if isinstance(seg, list):
            polys = [p for p in seg if len(p) >= 6 and len(p) % 2 == 0]
            if not polys:
                raise ValueError('no polygon with 3 or more points')
            rle = mask_utils.merge(mask_utils.frPyObjects(polys, height,
                                                          width))
        elif isinstance(seg, dict):
            if list(seg.get('size', [])) != [height, width]:
                raise ValueError(f'RLE size {seg.get("size")} is not the '
                                 f'image size {[height, width]}')
            if isinstance(seg['counts'], list):
                rle = mask_utils.frPyObjects(seg, height, width)
            else:
                rle = dict(seg)
        else:
            raise ValueError(f'segmentation of type {type(seg).__name__}')
        mask_utils.area(rle)  # let pycocotools reject a broken one here
        return rle
    except (TypeError, KeyError, IndexError, OverflowError) as err:
        raise ValueError(f'unreadable segmentation ({err})') from err


def harvest_frame(image: np.ndarray, annotations: Sequence[Dict[str, Any]],
                  frame: int = 0, margin: int = 4, max_overlap: float = 0.25,
                  max_contact: float = 0.5,
                  min_area: int = 10, keep_border_cut: bool = False,
                  keep_occluded: bool = False, bg_dilate: int = 3,
                  inpaint: str = 'smooth', texture: bool = True,
                  seed: int = 0, fill: Optional[np.ndarray] = None
                  ) -> Tuple[List[DropletPatch], np.ndarray, Counter]:
    """Cut a labelled frame into droplet patches and an empty background.

    A droplet is skipped (and counted) when it is a crowd or ``ignore``
    annotation (``'crowd'``; still removed from the background), cannot be
    decoded or is empty (``'invalid'``), is under ``min_area`` px
    (``'small'``), touches the frame border (``'border'``: its shape is
    cut), shares more than ``max_overlap`` of its pixels with other
    labelled masks (``'occluded'``: which one is in front is unknown), or
    more than ``max_contact`` of its edge pixels touch another labelled
    mask (``'contact'``: labelled by its visible part, it is cut by a
    droplet in front; droplets of a packed emulsion touch along 30-45 %
    of their edge, so the default 0.5 keeps them). ``keep_occluded`` turns
    the last two tests off.

    Args:
        image: (H, W[, C]) uint8.
        annotations: COCO annotations of this frame (``segmentation`` as
            polygons or RLE, optional ``iscrowd``/``ignore``, ``id``).
        frame: index stored in each patch.
        margin: px of surroundings kept around each droplet's box.
        bg_dilate: px by which the union of labelled masks grows before
            inpainting, so dark rims drawn just outside a polygon go too.
        inpaint: ``'smooth'`` (:func:`smooth_fill`) or ``'telea'``
            (``cv2.inpaint``, radius 5; it draws streaks from dark pixels
            at a hole's edge, e.g. unlabelled droplets next to labelled
            ones).
        texture: give the inpainted pixels the frame's fine texture back
            (:func:`restore_texture`, seeded by ``seed``).
        fill: (H, W[, C]) float, NaN where unknown: values for the
            removed pixels (the other frames' median, see
            :func:`build_bank`), matched to this frame's local brightness
            (:func:`offset_field`); removed pixels without a value are
            inpainted.

    Returns:
        tuple: ``(patches, background, report)``; ``report`` counts
        ``annotations``, ``harvested``, the skip reasons above and
        ``labelled`` (non-crowd droplets, skipped ones included),
        ``pixels`` (H * W) and ``filled_px``: background pixels filled in
        (every labelled mask grown by ``bg_dilate``).
    """
    if inpaint not in ('smooth', 'telea'):
        raise ValueError(f'inpaint must be smooth or telea, not {inpaint!r}')
    H, W = image.shape[:2]
    report = Counter(annotations=len(annotations), harvested=0)
    cover = np.zeros((H, W), np.uint16)
    cands = []
    for ann in annotations:
        try:
            m = decode_segmentation(ann.get('segmentation'), H, W)
        except ValueError:
            report['invalid'] += 1
            continue
        cols, rows = np.flatnonzero(m.any(0)), np.flatnonzero(m.any(1))
        if not len(cols):
            report['invalid'] += 1
            continue
        cover += m
        if ann.get('iscrowd', 0) or ann.get('ignore', False):
            report['crowd'] += 1
            continue
        report['labelled'] += 1
        x0, x1 = cols[0], cols[-1] + 1
        y0, y1 = rows[0], rows[-1] + 1
        px0, py0 = max(x0 - margin, 0), max(y0 - margin, 0)
        px1, py1 = min(x1 + margin, W), min(y1 + margin, H)
        border = x0 == 0 or y0 == 0 or x1 == W or y1 == H
        cands.append((ann.get('id'), (py0, py1, px0, px1), border,
                      m[py0:py1, px0:px1].copy()))
    patches = []
    for ann_id, (py0, py1, px0, px1), border, m in cands:
        area = int(m.sum())
        others = cover[py0:py1, px0:px1] - m
        if area < min_area:
            report['small'] += 1
        elif border and not keep_border_cut:
            report['border'] += 1
        elif not keep_occluded and (others[m] > 0).sum() > \
                max_overlap * area:
            report['occluded'] += 1
        elif not keep_occluded and _contact(m, others > 0) > max_contact:
            report['contact'] += 1
        else:
            report['harvested'] += 1
            patches.append(
                DropletPatch(image[py0:py1, px0:px1].copy(), m,
                             m | (others == 0), frame, ann_id))
    hole = _grow(cover > 0, bg_dilate)
    report['pixels'] = H * W
    report['filled_px'] = int(hole.sum())
    background = image.copy()
    rest = hole
    if fill is not None and hole.any():
        known = np.isfinite(fill).reshape(H, W, -1).all(-1)
        use = hole & known
        filled = fill + offset_field(image, fill, ~hole & known)
        background[use] = np.clip(np.round(filled[use]), 0,
                                  255).astype(np.uint8)
        rest = hole & ~known
    if rest.any():
        if inpaint == 'telea':
            background = cv2.inpaint(background, rest.astype(np.uint8), 5,
                                     cv2.INPAINT_TELEA)
        else:
            background = smooth_fill(background, rest)
        if texture:
            background = restore_texture(background, image, rest,
                                         np.random.default_rng(seed))
    return patches, background, report


def _grow(mask: np.ndarray, px: int) -> np.ndarray:
    """(H, W) bool mask grown by a disc of radius ``px``."""
    if px <= 0:
        return mask.copy()
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, ) * 2)
    return cv2.dilate(mask.astype(np.uint8), k).astype(bool)


def label_holes(shape: Tuple[int, ...], annotations: Sequence[Dict],
                bg_dilate: int = 3) -> np.ndarray:
    """(H, W) bool: every decodable labelled mask (crowds too), grown by
    ``bg_dilate`` px: what :func:`harvest_frame` removes."""
    rles = []
    for ann in annotations:
        try:
            rles.append(_to_rle(ann.get('segmentation'), *shape[:2]))
        except ValueError:
            continue
    if not rles:
        return np.zeros(shape[:2], bool)
    union = mask_utils.decode(mask_utils.merge(rles, intersect=False))
    return _grow(union.astype(bool), bg_dilate)


def _contact(mask: np.ndarray, others: np.ndarray) -> float:
    """Fraction of a mask's edge pixels next to (8-neighbours of) another
    labelled mask: high when a droplet labelled by its visible part is cut
    by one in front of it."""
    k = np.ones((3, 3), np.uint8)
    edge = mask & ~cv2.erode(mask.astype(np.uint8), k,
                             borderType=cv2.BORDER_CONSTANT,
                             borderValue=0).astype(bool)
    near = cv2.dilate(others.astype(np.uint8), k).astype(bool)
    return float((edge & near).sum()) / max(int(edge.sum()), 1)


def build_bank(frames: Iterable[Tuple[np.ndarray, Sequence[Dict]]],
               seed: int = 0, background: str = 'inpaint',
               **harvest_kwargs) -> DropletBank:
    """Harvest ``(image, annotations)`` frames into one bank.

    Args:
        background: how removed droplets are filled. ``'inpaint'``: from
            the frame itself (:func:`smooth_fill` plus texture).
            ``'frames'``:
            for frames of one fixed view (one camera, one channel), with
            the median of the other frames where they show background
            there, inpainting only what no frame shows; inpainting big or
            clustered droplets smears their dark edges, this does not.
        harvest_kwargs: go to :func:`harvest_frame` (frame f gets seed
            ``[seed, f]``).

    The bank's ``report`` adds ``frames`` to the summed frame reports.
    """
    if background not in ('inpaint', 'frames'):
        raise ValueError(f'background must be inpaint or frames, not '
                         f'{background!r}')
    frames = list(frames)
    fills: List[Optional[np.ndarray]] = [None] * len(frames)
    if background == 'frames' and len(frames) > 1:
        shapes = {image.shape for image, _ in frames}
        if len(shapes) > 1:
            raise ValueError('background="frames" needs source frames of '
                             f'one size, got {sorted(shapes)}')
        holes = [label_holes(image.shape, anns,
                             harvest_kwargs.get('bg_dilate', 3))
                 for image, anns in frames]
        fills = other_frames_fill([image for image, _ in frames], holes)
    bank = DropletBank()
    for f, (image, anns) in enumerate(frames):
        patches, background_f, report = harvest_frame(
            image, anns, frame=f, seed=_seed(seed, f), fill=fills[f],
            **harvest_kwargs)
        bank.patches += patches
        bank.backgrounds.append(background_f)
        H, W = image.shape[:2]
        bank.densities.append(report['labelled'] / float(H * W))
        bank.frame_reports.append(report)
        bank.report.update(report)
        bank.report['frames'] += 1
    return bank


def _seed(*keys: int) -> int:
    return int(np.random.SeedSequence(list(keys)).generate_state(1)[0])

"""Fit the generator's size and density knobs to labelled frames.

Generator v2's defaults draw droplets of 14-36 px mean diameter; a set of
bubbles with a median of 44 px (the bubbles set) is mostly outside them.
:func:`size_overrides` reads only the *labels* of some real frames (a COCO
file: no pixels, no val frames) and returns :class:`~.spec.FrameSpec`
overrides that draw sizes and coverage like theirs; every look, optics and
layout knob keeps its randomised default::

    spec = FrameSpec(height=512, width=512,
                     **size_overrides('annotations/instances_train.json'))

Per labelled frame: the mean droplet area, the CV of the equivalent
diameters and the covered area fraction (droplet area over frame area).
``mean_area`` spans the 10th-90th percentile of the per-frame means,
``poly_cv`` that of the per-frame CVs (every frame polydisperse when the
median CV is above 0.1), ``diameter_range`` the 1st-99th percentile of all
diameters and ``sparse_coverage`` the 10th-90th percentile of the
coverages (the layout is then ``'sparse'``). Where the labels have masks
(polygons or RLE), ``max_ellipticity`` (``1 - b / a``, drawn uniformly
from 0 to it) is set so that its 90th percentile is the labels' (``b / a``
from each mask's second moments), at most 0.7, over droplets of 20 px and
more (smaller hand-drawn outlines have too few pixels for their shape to
be measured: on zerog_bubbles, whose bubbles look round, 8-20 px labels
read ~0.25 at the median against 0.09-0.13 for larger ones).
"""
import json
import math
from typing import Any, Dict, Optional

import cv2
import numpy as np

__all__ = ['size_overrides']


def mask_ellipticity(ann: Dict[str, Any], height: int, width: int
                     ) -> Optional[float]:
    """``1 - b / a`` of the ellipse with an annotation's mask's second
    moments (its largest polygon part, or its RLE); None without a
    mask."""
    seg = ann.get('segmentation')
    if isinstance(seg, list) and seg:
        part = max(seg, key=len)
        if len(part) < 6:
            return None
        m = cv2.moments(np.asarray(part, np.float32).reshape(-1, 1, 2))
    elif isinstance(seg, dict):
        from pycocotools import mask as mask_utils

        from droplet_mmdet.evaluation.coco_utils import ann_to_rle
        m = cv2.moments(mask_utils.decode(ann_to_rle(ann, height, width)),
                        binaryImage=True)
    else:
        return None
    if not m['m00']:
        return None
    mu20, mu02, mu11 = (m['mu20'] / m['m00'],
                        m['mu02'] / m['m00'], m['mu11'] / m['m00'])
    half = math.hypot(0.5 * (mu20 - mu02), mu11)
    big, small = 0.5 * (mu20 + mu02) + half, 0.5 * (mu20 + mu02) - half
    if big <= 0:
        return None
    return 1.0 - math.sqrt(max(small, 0.0) / big)


def size_overrides(ann_file: str, max_frames: Optional[int] = None
                   ) -> Dict[str, Any]:
    """:class:`~.spec.FrameSpec` overrides fitted to the labels of a COCO
    file (see the module docstring).

    Args:
        ann_file: COCO instances; ``area`` of each annotation (else its box
            area) is the droplet's area; ``iscrowd`` ones are left out.
        max_frames: use only the first frames by image id (the labelled
            frames a user has), default all.

    Raises:
        ValueError: naming the file, when it has no frame with droplets.
    """
    with open(ann_file) as f:
        data = json.load(f)
    images = sorted(data['images'], key=lambda im: im['id'])
    if max_frames is not None:
        images = images[:max_frames]
    size = {im['id']: float(im['width']) * float(im['height'])
            for im in images}
    hw = {im['id']: (int(im['height']), int(im['width'])) for im in images}
    areas: Dict[int, list] = {i: [] for i in size}
    ecc = []
    for a in data['annotations']:
        if a.get('iscrowd', 0) or a['image_id'] not in areas:
            continue
        area = float(a.get('area') or a['bbox'][2] * a['bbox'][3])
        if area > 0:
            areas[a['image_id']].append(area)
            e = mask_ellipticity(a, *hw[a['image_id']]) \
                if area >= math.pi * 100 else None  # >= 20 px across
            if e is not None:
                ecc.append(e)
    frames = [np.asarray(v) for v in areas.values() if len(v)]
    if not frames:
        raise ValueError(f'{ann_file}: no labelled droplet in the '
                         f'{len(images)} frame(s) used, nothing to fit')
    means = [v.mean() for v in frames]
    diam = [np.sqrt(4 * v / math.pi) for v in frames]
    cvs = [d.std() / d.mean() for d in diam if len(d) > 1] or [0.0]
    cover = [sum(v) / size[i] for i, v in areas.items() if v]
    all_d = np.concatenate(diam)

    def span(values, lo=10, hi=90, nd=3):
        a, b = np.percentile(values, [lo, hi])
        return (round(float(a), nd), round(float(max(b, a)), nd))

    poly_cv = span(cvs)
    shape = {}
    if len(ecc) >= 20:
        shape['max_ellipticity'] = round(
            min(float(np.percentile(ecc, 90)) / 0.9, 0.7), 3)
    return dict(
        mean_area=span(means, nd=1),
        polydisperse=bool(np.median(cvs) > 0.1),
        poly_cv=(max(poly_cv[0], 0.01), max(poly_cv[1], 0.01)),
        diameter_range=span(all_d, 1, 99, nd=1),
        sparse_coverage=span(cover),
        layout='sparse',
        **shape)

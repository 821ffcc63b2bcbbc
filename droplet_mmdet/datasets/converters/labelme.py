"""labelme JSON -> COCO instance segmentation.

Supported shapes: ``circle`` (centre + a point on the rim; how droplets are
usually annotated), ``polygon`` and ``rectangle``. Anything else (lines,
points, masks) is not converted and is listed in the report with its file
and label, never dropped silently. Circles become polygons of
``circle_points`` vertices on the true circle.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils


def shape_to_polygon(shape: Dict[str, Any],
                     circle_points: int = 48) -> Optional[List[float]]:
    """Flat ``[x0, y0, x1, y1, ...]`` polygon of a labelme shape, or None
    for an unsupported shape type."""
    kind = shape.get('shape_type') or 'polygon'
    pts = np.asarray(shape.get('points', []), dtype=np.float64)
    if kind == 'circle':
        if pts.shape != (2, 2):
            raise ValueError('a circle needs exactly 2 points')
        r = float(np.linalg.norm(pts[1] - pts[0]))
        t = np.linspace(0, 2 * np.pi, circle_points, endpoint=False)
        poly = np.stack([pts[0, 0] + r * np.cos(t),
                         pts[0, 1] + r * np.sin(t)], 1)
    elif kind == 'rectangle':
        if pts.shape != (2, 2):
            raise ValueError('a rectangle needs exactly 2 points')
        (x0, y0), (x1, y1) = pts.min(0), pts.max(0)
        poly = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    elif kind == 'polygon':
        if len(pts) < 3:
            raise ValueError(f'a polygon needs 3 points, has {len(pts)}')
        poly = pts
    else:
        return None
    return [round(float(v), 2) for v in poly.reshape(-1)]


def labelme_to_coco(json_files: Sequence[str],
                    labels: Optional[Sequence[str]] = None,
                    circle_points: int = 48
                    ) -> Tuple[Dict[str, Any], List[str]]:
    """Convert labelme files into one COCO dict.

    Args:
        json_files: labelme annotation files; ``imagePath`` is taken
            relative to each file's folder.
        labels: category names in order; None = every label found, sorted.

    Returns:
        tuple: ``(coco, report)``; ``report`` lists every shape or file that
        was not converted, with the reason.
    """
    docs, report = [], []
    for path in json_files:
        try:
            with open(path) as f:
                docs.append((path, json.load(f)))
        except (OSError, json.JSONDecodeError) as err:
            report.append(f'{path}: not read ({err})')
    found = sorted({s.get('label') for _, d in docs
                    for s in d.get('shapes', [])})
    names = list(labels) if labels else found
    cat_ids = {n: k + 1 for k, n in enumerate(names)}
    images, anns = [], []
    for path, doc in docs:
        h, w = doc.get('imageHeight'), doc.get('imageWidth')
        if not h or not w or not doc.get('imagePath'):
            report.append(f'{path}: no imagePath/imageHeight/imageWidth')
            continue
        img_id = len(images) + 1
        file_name = osp.normpath(osp.join(
            osp.dirname(path), doc['imagePath'].replace('\\', '/')))
        images.append(dict(id=img_id, file_name=file_name, height=h,
                           width=w))
        for k, shape in enumerate(doc.get('shapes', [])):
            label = shape.get('label')
            where = f'{path}: shape {k} ({label!r}, ' \
                f'{shape.get("shape_type")})'
            if label not in cat_ids:
                report.append(f'{where}: label not in {names}')
                continue
            try:
                poly = shape_to_polygon(shape, circle_points)
            except ValueError as err:
                report.append(f'{where}: {err}')
                continue
            if poly is None:
                report.append(f'{where}: shape type not supported')
                continue
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
            area = float(mask_utils.area(rle))
            if area <= 0:
                report.append(f'{where}: zero area')
                continue
            anns.append(dict(id=len(anns) + 1, image_id=img_id,
                             category_id=cat_ids[label],
                             segmentation=[poly], area=area,
                             bbox=[round(v, 2) for v in
                                   mask_utils.toBbox(rle).tolist()],
                             iscrowd=0))
    coco = dict(images=images, annotations=anns,
                categories=[dict(id=i, name=n) for n, i in cat_ids.items()])
    return coco, report

"""Reading real-world COCO files safely.

pycocotools treats an annotation id of 0 as "unmatched" inside ``COCOeval``
(its match arrays use 0 for "no match"), so a dataset whose ids start at 0
silently loses matches. :func:`clean_coco` renumbers images, annotations and
categories from 1 and keeps the maps back; :func:`normalize_file_name` turns
Windows-style relative paths (``.\\\\JPEGImages\\\\x.jpg``) into POSIX ones.
"""
import copy
import json
from typing import Any, Dict, Tuple

import numpy as np
from pycocotools import mask as mask_utils


def normalize_file_name(name: str) -> str:
    """``'.\\\\JPEGImages\\\\a.jpg'`` -> ``'JPEGImages/a.jpg'``."""
    name = name.replace('\\', '/')
    while name.startswith('./'):
        name = name[2:]
    return name


def load_json(path: str) -> Dict[str, Any]:
    try:
        with open(path) as f:
            data = json.load(f)
    except OSError as err:
        raise FileNotFoundError(f'{path}: cannot read ({err})') from err
    except json.JSONDecodeError as err:
        raise ValueError(f'{path}: not valid JSON ({err})') from err
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            raise ValueError(f'{path}: COCO file has no "{key}" list')
    return data


def clean_coco(data: Dict[str, Any]
               ) -> Tuple[Dict[str, Any], Dict[int, int], Dict[int, int]]:
    """Copy of a COCO dict with ids from 1 and POSIX file names.

    Returns:
        tuple: ``(clean, image_id_map, category_id_map)``, maps from the
        original ids to the new ones.
    """
    clean = copy.deepcopy(data)
    img_map = {im['id']: k + 1 for k, im in enumerate(clean['images'])}
    cat_map = {c['id']: k + 1 for k, c in enumerate(clean['categories'])}
    for im in clean['images']:
        im['id'] = img_map[im['id']]
        im['file_name'] = normalize_file_name(im['file_name'])
    for c in clean['categories']:
        c['id'] = cat_map[c['id']]
    for k, ann in enumerate(clean['annotations']):
        ann['id'] = k + 1
        ann['image_id'] = img_map[ann['image_id']]
        ann['category_id'] = cat_map[ann['category_id']]
    return clean, img_map, cat_map


def ann_to_rle(ann: Dict[str, Any], h: int, w: int) -> Dict[str, Any]:
    """Any COCO segmentation (polygons, RLE, uncompressed RLE) -> RLE."""
    seg = ann['segmentation']
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, h, w))
    if isinstance(seg.get('counts'), list):
        return mask_utils.frPyObjects(seg, h, w)
    return seg


def equivalent_diameter(area) -> np.ndarray:
    """Diameter of the disc of the same area: ``2 * sqrt(area / pi)``."""
    return 2 * np.sqrt(np.asarray(area, dtype=np.float64) / np.pi)

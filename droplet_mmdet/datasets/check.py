"""Check a COCO instance file for what breaks training or evaluation, and
repair what is safe to repair.

:func:`check_coco` lists every problem (per file, image and annotation);
:func:`repair_coco` returns a fixed copy and how many of each kind it
changed. Safe repairs: Windows paths, ids of 0 and duplicate ids (renumbered
from 1), boxes clipped to the image, polygons of fewer than 3 points removed
from their annotation, and annotations left with zero area removed. Not
repaired (reported, the annotation or image kept as it is): missing or
unreadable images, image size mismatches, unknown categories or images.
Nothing is dropped without being counted in the returned report.
"""
import copy
import os.path as osp
from collections import Counter
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import cv2

from droplet_mmdet.evaluation.coco_utils import normalize_file_name

SAFE = ('windows_path', 'id_zero', 'duplicate_id', 'box_outside_image',
        'short_polygon', 'zero_area')


@dataclass
class Problem:
    """One finding. ``where`` names the image/annotation, ``kind`` is one of
    the kinds listed in the module docstring."""
    kind: str
    where: str
    detail: str

    @property
    def safe(self) -> bool:
        return self.kind in SAFE

    def __str__(self) -> str:
        fix = 'repairable' if self.safe else 'needs a person'
        return f'{self.where}: {self.kind}: {self.detail} ({fix})'


def _polygons(seg) -> Optional[List[List[float]]]:
    return seg if isinstance(seg, list) else None


def _image_size(path: str) -> Optional[Tuple[int, int]]:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if img is None else img.shape[:2]


def check_coco(data: Dict[str, Any], img_dir: Optional[str] = None,
               ann_file: str = '<coco>') -> List[Problem]:
    """Every problem of a COCO dict (images are read when ``img_dir`` is
    given)."""
    out: List[Problem] = []
    cats = {c['id'] for c in data.get('categories', [])}
    images = {}
    for key in ('images', 'annotations', 'categories'):
        if key not in data:
            out.append(Problem('missing_list', ann_file,
                               f'no "{key}" list'))
    for kind, items in (('image', data.get('images', [])),
                        ('annotation', data.get('annotations', []))):
        ids = Counter(it.get('id') for it in items)
        for i, n in ids.items():
            if n > 1:
                out.append(Problem('duplicate_id', f'{ann_file} {kind} {i}',
                                   f'{n} {kind}s share id {i}'))
        if 0 in ids:
            out.append(Problem('id_zero', f'{ann_file} {kind} 0',
                               'pycocotools treats annotation id 0 as '
                               'unmatched'))
    for im in data.get('images', []):
        where = f'{ann_file} image {im.get("id")} ({im.get("file_name")})'
        images[im.get('id')] = im
        name = im.get('file_name', '')
        if '\\' in name or name.startswith('./'):
            out.append(Problem('windows_path', where,
                               f'file_name {name!r}'))
        if img_dir is not None:
            path = osp.join(img_dir, normalize_file_name(name))
            if not osp.isfile(path):
                out.append(Problem('missing_image', where, f'{path} missing'))
                continue
            size = _image_size(path)
            if size is None:
                out.append(Problem('unreadable_image', where,
                                   f'{path} cannot be decoded'))
            elif size != (im.get('height'), im.get('width')):
                out.append(Problem(
                    'size_mismatch', where,
                    f'file is {size[1]}x{size[0]}, json says '
                    f'{im.get("width")}x{im.get("height")}'))
    for ann in data.get('annotations', []):
        where = f'{ann_file} annotation {ann.get("id")} (image ' \
            f'{ann.get("image_id")})'
        if ann.get('category_id') not in cats:
            out.append(Problem('unknown_category', where,
                               f'category_id {ann.get("category_id")}'))
        im = images.get(ann.get('image_id'))
        if im is None:
            out.append(Problem('unknown_image', where,
                               f'image_id {ann.get("image_id")}'))
            continue
        polys = _polygons(ann.get('segmentation'))
        if polys is not None:
            short = [p for p in polys if len(p) < 6]
            if short:
                out.append(Problem('short_polygon', where,
                                   f'{len(short)} polygon(s) under 3 points'))
        if not ann.get('area', 0) > 0:
            out.append(Problem('zero_area', where,
                               f'area {ann.get("area")}'))
        x, y, w, h = ann.get('bbox', [0, 0, 0, 0])
        W, H = im.get('width', 0), im.get('height', 0)
        if x < 0 or y < 0 or x + w > W or y + h > H:
            out.append(Problem('box_outside_image', where,
                               f'bbox {[x, y, w, h]} vs image {W}x{H}'))
    return out


def repair_coco(data: Dict[str, Any]
                ) -> Tuple[Dict[str, Any], Dict[str, int]]:
    """Apply the safe repairs; returns ``(fixed_copy, changes_by_kind)``."""
    fixed = copy.deepcopy(data)
    changes: Counter = Counter()
    for im in fixed['images']:
        name = normalize_file_name(im['file_name'])
        if name != im['file_name']:
            changes['windows_path'] += 1
            im['file_name'] = name
    img_ids = [im['id'] for im in fixed['images']]
    if 0 in img_ids or len(set(img_ids)) != len(img_ids) or \
            img_ids != list(range(1, len(img_ids) + 1)):
        if len(set(img_ids)) != len(img_ids):
            raise ValueError('duplicate image ids: which annotations belong '
                             'to which image is ambiguous; fix by hand')
        remap = {i: k + 1 for k, i in enumerate(img_ids)}
        changes['id_zero' if 0 in img_ids else 'renumbered_images'] += 1
        for im in fixed['images']:
            im['id'] = remap[im['id']]
        for ann in fixed['annotations']:
            if ann['image_id'] in remap:
                ann['image_id'] = remap[ann['image_id']]
    sizes = {im['id']: (im['width'], im['height']) for im in fixed['images']}
    kept = []
    for ann in fixed['annotations']:
        polys = _polygons(ann.get('segmentation'))
        if polys is not None:
            good = [p for p in polys if len(p) >= 6]
            if len(good) != len(polys):
                changes['short_polygon'] += len(polys) - len(good)
                ann['segmentation'] = good
            if not good:
                changes['zero_area'] += 1  # nothing left of it
                continue
        if ann['image_id'] in sizes:
            W, H = sizes[ann['image_id']]
            x, y, w, h = ann['bbox']
            x0, y0 = min(max(x, 0), W), min(max(y, 0), H)
            x1, y1 = min(max(x + w, 0), W), min(max(y + h, 0), H)
            if [x0, y0, x1 - x0, y1 - y0] != [x, y, w, h]:
                changes['box_outside_image'] += 1
                ann['bbox'] = [x0, y0, x1 - x0, y1 - y0]
            if (x1 - x0) * (y1 - y0) <= 0:
                changes['zero_area'] += 1
                continue
        if not ann.get('area', 0) > 0:
            changes['zero_area'] += 1
            continue
        kept.append(ann)
    ann_ids = [a['id'] for a in kept]
    if 0 in ann_ids or len(set(ann_ids)) != len(ann_ids):
        changes['id_zero' if 0 in ann_ids else 'duplicate_id'] += 1
        for k, ann in enumerate(kept):
            ann['id'] = k + 1
    fixed['annotations'] = kept
    return fixed, dict(changes)

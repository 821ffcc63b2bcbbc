"""Check a COCO instance file for what breaks training or evaluation, and
repair what is safe to repair.

:func:`check_coco` lists every problem (per file, image and annotation);
:func:`repair_coco` returns a fixed copy, how many of each kind it changed
and one note per image or annotation it merged, renumbered, dropped or had
to leave alone.

Safe repairs (nothing guessed, nothing lost without a count):

* ``windows_path``: ``.\\a\\b.png`` -> ``a/b.png``.
* Image ids. An image with id 0 gets a new id (the largest id in use + 1,
  + 2, ...), and its annotations with it. Duplicate image ids: entries that
  are the same image (same file name, width and height) are merged into
  one; distinct images sharing an id that no annotation uses get new ids.
  When distinct images share an id that annotations use, nothing in an
  annotation tells which of them it belongs to (that its geometry fits one
  image size is no proof: boxes outside their image are one of the
  problems found here), so that id is left as it is and reported as
  ``ambiguous_image_id``, which needs a person.
* Annotation ids of 0 or duplicated: all renumbered from 1 (nothing in a
  COCO file refers to them).
* Polygons: parts of fewer than 3 points removed; parts reaching outside
  the image clipped to it (x in [0, width], y in [0, height]), a part with
  nothing inside removed; a clipped annotation's box becomes the clipped
  polygons' extent and its area is recomputed.
* Boxes clipped to the image (the mask's box when the clipped box is empty
  but the mask is not); a box-only annotation's area becomes the clipped
  box's.
* A missing or zero ``area`` recomputed from the segmentation (pycocotools
  area of the polygons or RLE; the box area when there is none).
* Exact copies of an annotation (everything but the id equal: a droplet
  labelled twice, e.g. by a double click) are dropped, the first kept
  (``dropped_duplicate``): each copy would be a second ground-truth
  droplet, a false negative for AP and +1 in the count.

An annotation is dropped only when nothing of it is left: every part
outside the image (``dropped_outside_image``), every part under 3 points
(``dropped_short_polygon``), or 0 px of mask (``dropped_zero_area``). So
``len(before) == len(after) + sum of the dropped_* counts``, and each drop
has a note. Not repaired (reported, left as they are): missing or unreadable
images, image size mismatches, unknown categories or images, ambiguous
image ids, RLE masks whose ``size`` is not their image's
(``rle_size_mismatch``: decoding them gives a mask of another frame size);
annotations of an unknown image, an ambiguous id or a mismatched RLE are
not touched.
"""
import copy
import json
import os.path as osp
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from droplet_mmdet.evaluation.coco_utils import ann_to_rle, normalize_file_name

SAFE = ('windows_path', 'id_zero', 'duplicate_id', 'box_outside_image',
        'polygon_outside_image', 'short_polygon', 'zero_area',
        'duplicate_annotation')


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
    """The polygon parts of a segmentation; None for RLE or none at all
    (an empty list is a box-only annotation)."""
    return seg if isinstance(seg, list) and seg else None


def _image_size(path: str) -> Optional[Tuple[int, int]]:
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    return None if img is None else img.shape[:2]


def _image_key(im: Dict[str, Any]) -> Tuple[str, Any, Any]:
    return (normalize_file_name(str(im.get('file_name', ''))),
            im.get('width'), im.get('height'))


def _shared_ids(data: Dict[str, Any]) -> Dict[Any, Tuple[int, int, int]]:
    """Image ids listed more than once: ``id -> (entries, distinct images,
    annotations using the id)``."""
    entries = defaultdict(list)
    for im in data.get('images', []):
        entries[im.get('id')].append(_image_key(im))
    used = Counter(a.get('image_id') for a in data.get('annotations', []))
    return {i: (len(keys), len(set(keys)), used[i])
            for i, keys in entries.items() if len(keys) > 1}


def _outside(poly: Sequence[float], width: float, height: float) -> bool:
    xs, ys = np.asarray(poly[0::2]), np.asarray(poly[1::2])
    return bool((xs < 0).any() or (xs > width).any() or (ys < 0).any()
                or (ys > height).any())


def _shoelace(poly: Sequence[float]) -> float:
    x, y = np.asarray(poly[0::2]), np.asarray(poly[1::2])
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) -
                           np.dot(y, np.roll(x, -1))))


def clip_polygon(poly: Sequence[float], width: float,
                 height: float) -> List[float]:
    """A flat ``[x0, y0, x1, y1, ...]`` polygon clipped to the image
    ``[0, width] x [0, height]`` (Sutherland-Hodgman; a concave polygon
    may keep zero-width edges along the border, which add no area). Empty
    when nothing is inside."""
    pts = np.asarray(poly, np.float64).reshape(-1, 2)
    for axis, bound, upper in ((0, 0.0, False), (0, width, True),
                               (1, 0.0, False), (1, height, True)):
        out = []
        for k in range(len(pts)):
            cur, prev = pts[k], pts[k - 1]
            cin = cur[axis] <= bound if upper else cur[axis] >= bound
            pin = prev[axis] <= bound if upper else prev[axis] >= bound
            if cin != pin:
                cut = prev + (bound - prev[axis]) / (cur[axis] - prev[axis]) \
                    * (cur - prev)
                cut[axis] = bound
                out.append(cut)
            if cin:
                out.append(cur)
        pts = np.asarray(out, np.float64).reshape(-1, 2)
    return [float(v) for v in pts.reshape(-1)]


def _copy_key(ann: Dict[str, Any]) -> str:
    """Everything of an annotation but its id (exact copies share it)."""
    return json.dumps({k: v for k, v in ann.items() if k != 'id'},
                      sort_keys=True, default=str)


def _rle_size_mismatch(ann: Dict[str, Any], W: Any, H: Any
                       ) -> Optional[str]:
    seg = ann.get('segmentation')
    if isinstance(seg, dict) and 'size' in seg and \
            list(seg['size']) != [H, W]:
        h, w = seg['size']
        return f'RLE size {w}x{h} vs image {W}x{H}'
    return None


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
    shared = _shared_ids(data)
    # ids of several distinct images: which size an annotation's is, is
    # not known
    unsure = {i for i, (_, distinct, _) in shared.items() if distinct > 1}
    for i, (n, distinct, used) in shared.items():
        if distinct > 1 and used:
            out.append(Problem(
                'ambiguous_image_id', f'{ann_file} image {i}',
                f'{distinct} different images share id {i} and {used} '
                'annotations use it: nothing tells which image each '
                'belongs to'))
        else:
            out.append(Problem('duplicate_id', f'{ann_file} image {i}',
                               f'{n} images share id {i}'))
    ann_ids = Counter(a.get('id') for a in data.get('annotations', []))
    for i, n in ann_ids.items():
        if n > 1:
            out.append(Problem('duplicate_id', f'{ann_file} annotation {i}',
                               f'{n} annotations share id {i}'))
    for kind, items in (('image', data.get('images', [])),
                        ('annotation', data.get('annotations', []))):
        if any(it.get('id') == 0 for it in items):
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
    first: Dict[str, Any] = {}
    for ann in data.get('annotations', []):
        where = f'{ann_file} annotation {ann.get("id")} (image ' \
            f'{ann.get("image_id")})'
        key = _copy_key(ann)
        if key in first:
            out.append(Problem(
                'duplicate_annotation', where,
                f'an exact copy of annotation {first[key]} (same image, '
                'category, mask and box)'))
        else:
            first[key] = ann.get('id')
        if ann.get('category_id') not in cats:
            out.append(Problem('unknown_category', where,
                               f'category_id {ann.get("category_id")}'))
        im = images.get(ann.get('image_id'))
        if im is None:
            out.append(Problem('unknown_image', where,
                               f'image_id {ann.get("image_id")}'))
            continue
        W, H = im.get('width', 0), im.get('height', 0)
        mismatch = ann.get('image_id') not in unsure and \
            _rle_size_mismatch(ann, W, H)
        if mismatch:
            out.append(Problem('rle_size_mismatch', where, mismatch))
        polys = _polygons(ann.get('segmentation'))
        if polys is not None:
            short = [p for p in polys if len(p) < 6]
            if short:
                out.append(Problem('short_polygon', where,
                                   f'{len(short)} polygon(s) under 3 points'))
            outside = [p for p in polys if len(p) >= 6
                       and _outside(p, W, H)]
            if outside:
                out.append(Problem(
                    'polygon_outside_image', where,
                    f'{len(outside)} polygon(s) reach outside {W}x{H}'))
        if not ann.get('area', 0) > 0:
            out.append(Problem('zero_area', where,
                               f'area {ann.get("area", "missing")}'))
        x, y, w, h = ann.get('bbox', [0, 0, 0, 0])
        if x < 0 or y < 0 or x + w > W or y + h > H:
            out.append(Problem('box_outside_image', where,
                               f'bbox {[x, y, w, h]} vs image {W}x{H}'))
    return out


def _fix_image_ids(fixed: Dict[str, Any], changes: Counter,
                   notes: List[str]) -> set:
    """Merge, renumber (see the module docstring); returns the ambiguous
    ids, left as they are."""
    anns = fixed['annotations']
    ints = [i for i in [im.get('id') for im in fixed['images']] +
            [a.get('image_id') for a in anns] if isinstance(i, int)]
    next_id = max(ints + [0]) + 1
    shared = _shared_ids(fixed)
    groups = defaultdict(list)
    for im in fixed['images']:
        groups[im.get('id')].append(im)
    removed, ambiguous, moved = set(), set(), {}
    for old, group in groups.items():
        distinct: Dict[Tuple, Dict[str, Any]] = {}
        for im in group:
            key = _image_key(im)
            if key in distinct:
                removed.add(id(im))
                changes['duplicate_image_merged'] += 1
                notes.append(f'image {old} ({key[0]}): listed again, '
                             'merged into one entry')
            else:
                distinct[key] = im
        ims = list(distinct.values())
        if len(ims) > 1 and shared[old][2]:
            ambiguous.add(old)
            notes.append(
                f'image {old}: {len(ims)} different images ('
                + ', '.join(k[0] for k in distinct) + f') share this id '
                f'and {shared[old][2]} annotations use it; which image '
                'each belongs to cannot be told: left as is')
            continue
        for im in ims[1:]:
            im['id'] = next_id
            changes['duplicate_image_id'] += 1
            notes.append(f'image {old} ({im.get("file_name")}): id shared '
                         f'by images without annotations, now {next_id}')
            next_id += 1
        if old == 0:
            ims[0]['id'] = moved[0] = next_id
            changes['image_id_zero'] += 1
            notes.append(f'image 0 ({ims[0].get("file_name")}): now '
                         f'{next_id}, with its annotations')
            next_id += 1
    fixed['images'] = [im for im in fixed['images'] if id(im) not in removed]
    for ann in anns:
        if ann.get('image_id') in moved:
            ann['image_id'] = moved[ann['image_id']]
    return ambiguous


def _repair_annotation(ann: Dict[str, Any], W: float, H: float,
                       changes: Counter) -> Optional[str]:
    """Repair one annotation in place; the ``dropped_*`` reason when
    nothing of it is left, else None."""
    polys = _polygons(ann.get('segmentation'))
    clipped = False
    if polys is not None:
        good = [p for p in polys if len(p) >= 6]
        changes['short_polygon'] += len(polys) - len(good)
        if not good:
            return 'dropped_short_polygon'
        kept = []
        for p in good:
            if _outside(p, W, H):
                clipped = True
                p = clip_polygon(p, W, H)
                if len(p) < 6 or _shoelace(p) == 0:
                    continue  # nothing of this part inside
            kept.append(p)
        if not kept:
            return 'dropped_outside_image'
        if kept != polys:
            ann['segmentation'] = kept
        if clipped:
            changes['polygon_outside_image'] += 1
    has_mask = polys is not None or isinstance(ann.get('segmentation'),
                                               dict)
    rle = ann_to_rle(ann, int(H), int(W)) if has_mask else None
    box = ann.get('bbox')
    new = box
    if clipped:
        xs = np.concatenate([p[0::2] for p in ann['segmentation']])
        ys = np.concatenate([p[1::2] for p in ann['segmentation']])
        new = [float(xs.min()), float(ys.min()),
               float(xs.max() - xs.min()), float(ys.max() - ys.min())]
    elif box is not None and len(box) == 4:
        x, y, w, h = box
        x0, y0 = min(max(x, 0), W), min(max(y, 0), H)
        x1, y1 = min(max(x + w, 0), W), min(max(y + h, 0), H)
        new = [x0, y0, x1 - x0, y1 - y0]
        if new[2] <= 0 or new[3] <= 0:
            if rle is None:  # a box-only annotation with nothing inside
                return 'dropped_outside_image' if w > 0 and h > 0 else \
                    'dropped_zero_area'
            if mask_utils.area(rle) > 0:
                new = mask_utils.toBbox(rle).tolist()
    if new != box:
        changes['box_outside_image'] += 1
        ann['bbox'] = new
    area = ann.get('area')
    box_only_clipped = rle is None and new != box
    if clipped or box_only_clipped or \
            not (isinstance(area, (int, float)) and area > 0):
        if not (clipped or box_only_clipped):
            changes['area_recomputed'] += 1
        ann['area'] = float(mask_utils.area(rle)) if rle is not None \
            else float(new[2] * new[3]) if new else 0.0
        if not ann['area'] > 0:
            return 'dropped_zero_area'
    return None


def repair_coco(data: Dict[str, Any]
                ) -> Tuple[Dict[str, Any], Dict[str, int], List[str]]:
    """Apply the safe repairs of the module docstring.

    Returns:
        tuple: ``(fixed_copy, changes_by_kind, notes)``. ``notes`` has one
        line per merged or renumbered image, per annotation dropped (with
        its ``dropped_*`` reason) and per ambiguous image id left alone;
        the input is not modified.
    """
    fixed = copy.deepcopy(data)
    changes: Counter = Counter()
    notes: List[str] = []
    for im in fixed['images']:
        name = normalize_file_name(im['file_name'])
        if name != im['file_name']:
            changes['windows_path'] += 1
            im['file_name'] = name
    ambiguous = _fix_image_ids(fixed, changes, notes)
    sizes = {im['id']: (im.get('width'), im.get('height'))
             for im in fixed['images'] if im['id'] not in ambiguous}
    kept = []
    first: Dict[str, Any] = {}
    for ann in fixed['annotations']:
        where = f'annotation {ann.get("id")} (image ' \
            f'{ann.get("image_id")}, bbox {ann.get("bbox")})'
        # (under an ambiguous image id two copies may be on two images)
        key = None if ann.get('image_id') in ambiguous else _copy_key(ann)
        if key is not None and key in first:
            changes['dropped_duplicate'] += 1
            notes.append(f'{where}: dropped_duplicate (an exact copy of '
                         f'annotation {first[key]})')
            continue
        first[key] = ann.get('id')
        W, H = sizes.get(ann.get('image_id'), (None, None))
        mismatch = W and H and _rle_size_mismatch(ann, W, H)
        if mismatch:
            notes.append(f'{where}: rle_size_mismatch ({mismatch}), left '
                         'as it is')
        elif W and H:
            dropped = _repair_annotation(ann, W, H, changes)
            if dropped:
                changes[dropped] += 1
                notes.append(f'{where}: {dropped}')
                continue
        kept.append(ann)
    ann_ids = [a.get('id') for a in kept]
    if 0 in ann_ids or len(set(ann_ids)) != len(ann_ids):
        for k, ann in enumerate(kept):
            if ann.get('id') != k + 1:
                changes['annotation_id_renumbered'] += 1
                ann['id'] = k + 1
    fixed['annotations'] = kept
    return fixed, {k: v for k, v in changes.items() if v}, notes


def dropped_count(changes: Dict[str, int]) -> int:
    """Annotations :func:`repair_coco` dropped (its ``dropped_*`` counts)."""
    return sum(v for k, v in changes.items() if k.startswith('dropped_'))

"""labelme JSON -> COCO instance segmentation.

Supported shapes: ``circle`` (centre + a point on the rim; how droplets are
usually annotated), ``polygon`` and ``rectangle``. Anything else (lines,
linestrips, points, masks) is not converted and is listed in the report with
its file and label, never dropped silently. Circles become polygons of
``circle_points`` vertices on the true circle.

Images (:func:`find_image`): ``imagePath`` is taken relative to the
labelme file's folder; when no file is there, the file of the same name in
``image_dir`` (if given), then in the ``images/`` folder beside the labelme
file's folder (the labelme / X-AnyLabeling layout ``labels/`` +
``images/`` with ``imagePath`` = the bare file name). An image found in
none of these places is a report line naming the labelme file and the
paths tried, and that image (with its shapes) is left out.

:func:`convert_labelme_folder` converts a folder into one COCO dict or, with
a file-name pattern, into a train/val pair (split by recording, say);
:func:`write_coco` writes one with ``file_name`` relative to a chosen root;
:func:`prepare_labelme_split` / :func:`prepare_zerog_bubbles` do both and
skip the work when the outputs are up to date.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from pycocotools import mask as mask_utils

MISSING_IMAGE = 'image not found'


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


def find_image(json_path: str, image_path: str,
               image_dir: Optional[str] = None) -> Tuple[Optional[str],
                                                         List[str]]:
    """``(path, tried)``: the image of a labelme file (None if not found)
    and every path looked at, in order: ``imagePath`` relative to the json's
    folder, its file name in ``image_dir`` (if given), then its file name in
    the sibling ``images/`` folder (``root/labels/a.json`` ->
    ``root/images/a.png``)."""
    image_path = image_path.replace('\\', '/')
    name = osp.basename(image_path)
    json_dir = osp.dirname(json_path)
    tried = [osp.normpath(osp.join(json_dir, image_path))]
    if image_dir is not None:
        tried.append(osp.normpath(osp.join(image_dir, name)))
    sibling = osp.normpath(osp.join(json_dir, '..', 'images', name))
    if sibling not in tried:
        tried.append(sibling)
    for path in tried:
        if osp.isfile(path):
            return path, tried
    return None, tried


def _read_docs(json_files: Sequence[str],
               report: List[str]) -> List[Tuple[str, Dict[str, Any]]]:
    docs = []
    for path in json_files:
        try:
            with open(path) as f:
                docs.append((path, json.load(f)))
        except (OSError, json.JSONDecodeError) as err:
            report.append(f'{path}: not read ({err})')
    return docs


def _found_labels(docs) -> List[str]:
    return sorted({s.get('label') for _, d in docs
                   for s in d.get('shapes', [])}, key=str)


def _convert_docs(docs, names: Sequence[str], circle_points: int,
                  image_dir: Optional[str], report: List[str]
                  ) -> Dict[str, Any]:
    cat_ids = {n: k + 1 for k, n in enumerate(names)}
    images, anns = [], []
    for path, doc in docs:
        h, w = doc.get('imageHeight'), doc.get('imageWidth')
        if not h or not w or not doc.get('imagePath'):
            report.append(f'{path}: no imagePath/imageHeight/imageWidth')
            continue
        file_name, tried = find_image(path, doc['imagePath'], image_dir)
        if file_name is None:
            report.append(
                f'{path}: {MISSING_IMAGE}: ' + ' nor '.join(tried) +
                f' (image and its {len(doc.get("shapes", []))} shapes '
                'not converted)')
            continue
        img_id = len(images) + 1
        images.append(dict(id=img_id, file_name=file_name, height=h,
                           width=w))
        for k, shape in enumerate(doc.get('shapes', [])):
            label = shape.get('label')
            where = f'{path}: shape {k} ({label!r}, ' \
                f'{shape.get("shape_type")})'
            if label not in cat_ids:
                report.append(f'{where}: label not in {list(names)}')
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
    return dict(images=images, annotations=anns,
                categories=[dict(id=i, name=n) for n, i in cat_ids.items()])


def labelme_to_coco(json_files: Sequence[str],
                    labels: Optional[Sequence[str]] = None,
                    circle_points: int = 48,
                    image_dir: Optional[str] = None
                    ) -> Tuple[Dict[str, Any], List[str]]:
    """Convert labelme files into one COCO dict.

    Args:
        json_files: labelme annotation files.
        labels: category names in order; None = every label found, sorted.
        circle_points: vertices of the polygon that replaces a circle.
        image_dir: where to look for an image that is not at ``imagePath``
            relative to its json (see :func:`find_image`).

    Returns:
        tuple: ``(coco, report)``. Image and annotation ids start at 1;
        ``file_name`` is the path of the image found (see
        :func:`write_coco` for relative names). ``report`` lists every
        file, image or shape that was not converted, with the reason.
    """
    report: List[str] = []
    docs = _read_docs(json_files, report)
    names = list(labels) if labels else _found_labels(docs)
    coco = _convert_docs(docs, names, circle_points, image_dir, report)
    return coco, report


def labelme_files(labelme_dir: str) -> List[str]:
    """Every ``*.json`` under ``labelme_dir`` (recursive), sorted."""
    return sorted(glob.glob(osp.join(labelme_dir, '**', '*.json'),
                            recursive=True))


def split_by_pattern(json_files: Sequence[str], val_pattern: str
                     ) -> Tuple[List[str], List[str]]:
    """``(train, val)``: files whose file name matches the regular
    expression ``val_pattern`` (``re.search``, e.g. a recording id such as
    ``C1S0024``) go to val, the others to train; order kept."""
    rx = re.compile(val_pattern)
    train, val = [], []
    for path in json_files:
        (val if rx.search(osp.basename(path)) else train).append(path)
    return train, val


@dataclass
class LabelmeConversion:
    """Result of :func:`convert_labelme_folder`. ``cocos`` maps a split
    name (``'all'`` without a pattern, else ``'train'``/``'val'``) to its
    COCO dict; ``missing_images`` are the report lines of images not
    found."""
    cocos: Dict[str, Dict[str, Any]]
    report: List[str] = field(default_factory=list)
    files: Dict[str, List[str]] = field(default_factory=dict)

    @property
    def missing_images(self) -> List[str]:
        return [r for r in self.report if f': {MISSING_IMAGE}: ' in r]


def convert_labelme_folder(labelme_dir: str,
                           val_pattern: Optional[str] = None,
                           labels: Optional[Sequence[str]] = None,
                           circle_points: int = 48,
                           image_dir: Optional[str] = None,
                           exclude: Optional[Dict[str, str]] = None
                           ) -> LabelmeConversion:
    """Convert every labelme file under ``labelme_dir``.

    ``exclude`` maps json file names (without folder) to the reason they
    are left out; each appears in the report with its reason.

    Without ``val_pattern`` one COCO dict (split ``'all'``); with it, a
    ``'train'`` and a ``'val'`` dict (:func:`split_by_pattern`), with the
    same categories, each with ids from 1. Raises ``ValueError`` when there
    are no files or a split would be empty.
    """
    json_files = labelme_files(labelme_dir)
    if not json_files:
        raise ValueError(f'{labelme_dir}: no labelme .json files')
    report: List[str] = []
    for name, why in (exclude or {}).items():
        hits = [f for f in json_files if osp.basename(f) == name]
        if not hits:
            raise ValueError(f'{labelme_dir}: {name} to exclude not found')
        json_files = [f for f in json_files if f not in hits]
        report += [f'{f}: excluded ({why})' for f in hits]
    if val_pattern is None:
        splits = dict(all=json_files)
    else:
        train, val = split_by_pattern(json_files, val_pattern)
        if not train or not val:
            raise ValueError(
                f'{labelme_dir}: --val-pattern {val_pattern!r} matches '
                f'{len(val)} of {len(json_files)} files; both splits need '
                'at least one')
        splits = dict(train=train, val=val)
    docs = dict(_read_docs(json_files, report))
    names = list(labels) if labels else _found_labels(docs.items())
    cocos = {
        split: _convert_docs([(f, docs[f]) for f in files if f in docs],
                             names, circle_points, image_dir, report)
        for split, files in splits.items()
    }
    return LabelmeConversion(cocos, report, splits)


def write_coco(coco: Dict[str, Any], out_json: str,
               file_root: Optional[str] = None) -> None:
    """Write ``coco`` with every ``file_name`` relative to ``file_root``
    (default: the folder of ``out_json``), '/'-separated."""
    root = osp.abspath(file_root or osp.dirname(osp.abspath(out_json)))
    coco = dict(coco, images=[
        dict(im, file_name=osp.relpath(osp.abspath(im['file_name']),
                                       root).replace(os.sep, '/'))
        for im in coco['images']
    ])
    os.makedirs(osp.dirname(osp.abspath(out_json)), exist_ok=True)
    tmp = out_json + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(coco, f)
    os.replace(tmp, out_json)


def coco_summary(coco: Dict[str, Any]) -> Dict[str, Any]:
    """Images, annotations and equivalent-diameter p10/p50/p90 (px)."""
    areas = np.array([a['area'] for a in coco['annotations']], np.float64)
    d = 2 * np.sqrt(areas / np.pi)
    pct = [round(float(v), 1) for v in np.percentile(d, [10, 50, 90])] \
        if len(d) else []
    return dict(images=len(coco['images']),
                annotations=len(coco['annotations']), diameter_p10_50_90=pct)


def _source_key(labelme_dir: str, image_dir: Optional[str],
                options: Dict[str, Any]) -> str:
    """Hash of the options and of every source file's name, size and
    modification time (labelme files and, if given, image_dir)."""
    h = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    paths = labelme_files(labelme_dir)
    if image_dir is not None:
        paths += sorted(glob.glob(osp.join(image_dir, '*')))
    for path in paths:
        st = os.stat(path)
        h.update(f'{osp.abspath(path)}\0{st.st_size}\0{st.st_mtime_ns}\n'
                 .encode())
    return h.hexdigest()


def prepare_labelme_split(labelme_dir: str, out_dir: str, val_pattern: str,
                          image_dir: Optional[str] = None,
                          file_root: Optional[str] = None,
                          labels: Optional[Sequence[str]] = None,
                          circle_points: int = 48, force: bool = False,
                          verbose: bool = True,
                          exclude: Optional[Dict[str, str]] = None
                          ) -> Dict[str, Any]:
    """Convert ``labelme_dir`` into ``out_dir/train.json`` and
    ``out_dir/val.json`` (split by :func:`split_by_pattern`), unless they
    are up to date.

    Up to date = both files exist and ``out_dir/prepare_stamp.json`` was
    written for the same options and the same source files (names, sizes,
    modification times). ``file_name`` values are relative to
    ``file_root`` (default: ``image_dir``, else ``out_dir``). A missing
    image raises ``FileNotFoundError`` (nothing written). The report (shapes
    not converted) and the per-split summary are kept in the stamp and
    printed when ``verbose``, also when nothing had to be done.

    Returns:
        dict: ``train``/``val`` (paths written), ``report`` (list of str),
        ``summary`` (per split, :func:`coco_summary`), ``skipped`` (True if
        up to date).
    """
    file_root = file_root or image_dir or out_dir
    options = dict(labelme_dir=osp.abspath(labelme_dir),
                   image_dir=image_dir and osp.abspath(image_dir),
                   file_root=osp.abspath(file_root), val_pattern=val_pattern,
                   labels=list(labels) if labels else None,
                   circle_points=circle_points, exclude=exclude or {},
                   version=1)
    key = _source_key(labelme_dir, image_dir, options)
    paths = {s: osp.join(out_dir, f'{s}.json') for s in ('train', 'val')}
    stamp_path = osp.join(out_dir, 'prepare_stamp.json')
    stamp = None
    if not force and all(map(osp.isfile, paths.values())) \
            and osp.isfile(stamp_path):
        with open(stamp_path) as f:
            stamp = json.load(f)
        if stamp.get('key') != key:
            stamp = None
    skipped = stamp is not None
    if not skipped:
        conv = convert_labelme_folder(labelme_dir, val_pattern, labels,
                                      circle_points, image_dir, exclude)
        if conv.missing_images:
            raise FileNotFoundError(
                f'{labelme_dir}: {len(conv.missing_images)} images not '
                'found:\n  ' + '\n  '.join(conv.missing_images))
        for split, path in paths.items():
            write_coco(conv.cocos[split], path, file_root)
        stamp = dict(key=key, options=options, report=conv.report,
                     summary={s: coco_summary(c)
                              for s, c in conv.cocos.items()},
                     files={s: [osp.basename(f) for f in fs]
                            for s, fs in conv.files.items()})
        with open(stamp_path, 'w') as f:
            json.dump(stamp, f, indent=1)
    if verbose:
        print(f'{labelme_dir} -> {out_dir}'
              + (' (up to date)' if skipped else ''))
        for split, s in stamp['summary'].items():
            print(f'  {split}.json: {s["images"]} images, '
                  f'{s["annotations"]} annotations, equivalent diameter '
                  'p10/p50/p90 = '
                  + '/'.join(map(str, s['diameter_p10_50_90'])) + ' px')
        if stamp['report']:
            print(f'  {len(stamp["report"])} not converted:')
            for line in stamp['report']:
                print('    ' + line)
    return dict(paths, report=stamp['report'], summary=stamp['summary'],
                skipped=skipped)


ZEROG_VAL_PATTERN = 'C1S0024'
# Found while importing (overlays checked by eye): this file holds the same
# 454 shapes as ..._S0001015957.json, and they fit that frame, not this one.
ZEROG_EXCLUDE = {
    'ZeroG_FlightDay_Test__C1S0007_IMG_S0001005160.json':
    'its shapes are those of C1S0007_IMG_S0001015957 (same 454 shapes, '
    'a different image); they do not fit this frame',
}


def prepare_zerog_bubbles(src_root: str,
                          out_dir: str = 'data/zerog_bubbles/annotations',
                          **kwargs) -> Dict[str, str]:
    """The zerog_bubbles set (``src_root`` = its folder, with ``labels/``
    and ``images/``) as ``out_dir/train.json`` and ``out_dir/val.json``:
    val = the 5 frames of recording ``C1S0024``, train = the other 26;
    category ``bubble``; ``file_name`` = the PNG name, relative to
    ``src_root/images/``. Skips the conversion when up to date and prints
    the summary and the report either way; ``kwargs`` go to
    :func:`prepare_labelme_split`.

    Returns:
        dict: the environment variables that point
        configs/_base_/datasets/zerog_bubbles.py at these files:
        ``ZEROG_ROOT`` and ``ZEROG_ANN`` (absolute, ending in '/').
    """
    images = osp.join(src_root, 'images')
    kwargs.setdefault('labels', ['bubble'])
    kwargs.setdefault('exclude', ZEROG_EXCLUDE)
    prepare_labelme_split(osp.join(src_root, 'labels'), out_dir,
                          ZEROG_VAL_PATTERN, image_dir=images,
                          file_root=images, **kwargs)
    return dict(ZEROG_ROOT=osp.join(osp.abspath(src_root), ''),
                ZEROG_ANN=osp.join(osp.abspath(out_dir), ''))

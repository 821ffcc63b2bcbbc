"""Turn rendered frames into COCO records, and write datasets to disk.

:func:`mask_to_rle` and :func:`frame_records` are pure; :func:`write_split`
and :func:`generate_dataset` are the file-writing shell used by
``tools/dataset_converters/generate_droplets.py``. Frames are streamed to
disk one at a time, so memory stays flat as the dataset grows.
"""
import json
import os
import os.path as osp
from typing import Any, Dict, Iterable, List, Optional, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from .render import Droplet, FrameSpec, render_frame

CATEGORY = dict(id=1, name='droplet', supercategory='droplet')


def mask_to_rle(patch: np.ndarray, x0: int, y0: int, height: int,
                width: int) -> Dict[str, Any]:
    """Compressed COCO RLE of a boolean patch placed at ``(x0, y0)``.

    Builds the column-major run lengths from the patch alone (no full-frame
    array), then lets pycocotools compress them.

    Args:
        patch: (h, w) bool mask.
        x0, y0: top-left corner of the patch in the frame.
        height, width: frame size.

    Returns:
        dict: ``{'size': [height, width], 'counts': str}``.
    """
    ph, pw = patch.shape
    cols, rows = np.nonzero(patch.T)  # column-major order
    idx = (cols + x0).astype(np.int64) * height + (rows + y0)
    counts: List[int] = []
    if len(idx):
        breaks = np.flatnonzero(np.diff(idx) != 1)
        starts = np.concatenate([[idx[0]], idx[breaks + 1]])
        ends = np.concatenate([idx[breaks], [idx[-1]]]) + 1
        prev = 0
        for s, e in zip(starts.tolist(), ends.tolist()):
            counts += [s - prev, e - s]
            prev = e
        counts.append(height * width - prev)
    else:
        counts = [height * width]
    rle = mask_utils.frPyObjects({'counts': counts, 'size': [height, width]},
                                 height, width)
    rle['counts'] = rle['counts'].decode('ascii')
    return rle


def frame_records(droplets: List[Droplet], image_id: int, first_ann_id: int,
                  height: int, width: int
                  ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """COCO annotations and per-droplet ground truth for one frame.

    Returns:
        tuple: ``(annotations, truths)``; ``truths[k]`` describes
        ``annotations[k]`` (centre, true diameter, border cut).
    """
    anns, truths = [], []
    for k, drop in enumerate(droplets):
        ann_id = first_ann_id + k
        anns.append(
            dict(id=ann_id, image_id=image_id, category_id=CATEGORY['id'],
                 segmentation=mask_to_rle(drop.mask, drop.x0, drop.y0,
                                          height, width),
                 area=float(drop.area), bbox=drop.bbox(), iscrowd=0))
        truths.append(
            dict(ann_id=ann_id, image_id=image_id, cx=round(drop.cx, 4),
                 cy=round(drop.cy, 4), a=round(drop.a, 4),
                 b=round(drop.b, 4), theta=round(drop.theta, 4),
                 diameter=round(drop.diameter, 4), cut_by_border=drop.cut,
                 visible_area=drop.area))
    return anns, truths


def _join_json(path: str, head: Dict[str, Any], key: str, lines_file: str,
               tail: Dict[str, Any]) -> None:
    """Write ``{**head, key: [records of lines_file], **tail}`` as compact
    JSON, streaming the records; removes ``lines_file``."""
    def body(d):
        return json.dumps(d, separators=(',', ':'))[1:-1]

    with open(path, 'w') as out, open(lines_file) as f:
        out.write('{')
        if head:
            out.write(body(head) + ',')
        out.write(json.dumps(key) + ':[')
        for k, line in enumerate(f):
            out.write((',' if k else '') + line.rstrip('\n'))
        out.write(']')
        if tail:
            out.write(',' + body(tail))
        out.write('}')
    os.remove(lines_file)


def write_split(out_dir: str, split: str, spec: FrameSpec, num_frames: int,
                seed: int, progress: bool = True) -> Dict[str, Any]:
    """Render and write one split: images, COCO json, ground-truth json.

    Layout::

        out_dir/{split}/000000.png ...
        out_dir/{split}.json            COCO instances (RLE masks)
        out_dir/{split}_droplets.json   per-droplet truth + spec + seed

    Frame ``i`` uses seed ``[seed, i]`` (numpy SeedSequence), so frames do not
    depend on each other and the same seed and spec give byte-identical
    files.

    Returns:
        dict: counts (frames, droplets) for logging.
    """
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    images: List[Dict[str, Any]] = []
    n_anns = 0
    frames: Iterable[int] = range(num_frames)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, desc=f'{split}', unit='frame')
    # annotations and truths go to JSON-lines files as frames are made and
    # are joined into the final JSON at the end: memory stays flat
    ann_tmp = osp.join(out_dir, f'.{split}_annotations.jsonl')
    tru_tmp = osp.join(out_dir, f'.{split}_droplets.jsonl')
    with open(ann_tmp, 'w') as fa, open(tru_tmp, 'w') as ft:
        for i in frames:
            frame_seed = int(
                np.random.SeedSequence([seed, i]).generate_state(1)[0])
            image, droplets, info = render_frame(spec, frame_seed)
            name = f'{i:06d}.png'
            ok = cv2.imwrite(osp.join(img_dir, name),
                             cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
            if not ok:
                raise OSError(
                    f'{osp.join(img_dir, name)}: could not write image')
            image_id = i + 1
            images.append(dict(id=image_id, file_name=name,
                               height=spec.height, width=spec.width, **info))
            anns, tru = frame_records(droplets, image_id, n_anns + 1,
                                      spec.height, spec.width)
            n_anns += len(anns)
            for rec in anns:
                fa.write(json.dumps(rec, separators=(',', ':')) + '\n')
            for rec in tru:
                ft.write(json.dumps(rec, separators=(',', ':')) + '\n')
    head = dict(images=images)
    tail = dict(categories=[CATEGORY],
                info=dict(description='droplet_mmdet synthetic droplets',
                          seed=seed, split=split))
    _join_json(osp.join(out_dir, f'{split}.json'), head, 'annotations',
               ann_tmp, tail)
    _join_json(osp.join(out_dir, f'{split}_droplets.json'),
               dict(spec=spec.to_dict(), seed=seed), 'droplets', tru_tmp, {})
    return dict(frames=num_frames, droplets=n_anns)


def generate_dataset(out_dir: str, spec: FrameSpec,
                     splits: Dict[str, int], seed: int = 0,
                     gallery: Optional[int] = 16,
                     progress: bool = True) -> Dict[str, Dict[str, Any]]:
    """Write every split (each with its own seed stream) and a gallery PNG.

    Args:
        splits: ``{'train': n_train, 'val': n_val}``.
        gallery: how many frames of the first split go in ``gallery.png``
            (``None`` or 0: no gallery).
    """
    stats = {}
    for k, (split, n) in enumerate(splits.items()):
        stats[split] = write_split(out_dir, split, spec, n, seed * 1000 + k,
                                   progress)
    if gallery:
        from droplet_mmdet.visualization import draw_gallery
        first = next(iter(splits))
        draw_gallery(osp.join(out_dir, first),
                     osp.join(out_dir, f'{first}.json'),
                     osp.join(out_dir, 'gallery.png'), max_images=gallery)
    return stats

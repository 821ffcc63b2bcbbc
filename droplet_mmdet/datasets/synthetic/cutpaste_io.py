"""The file shell of cut-and-paste synthesis: read labelled COCO frames,
write composed datasets in the layout of ``write_split``.

Used by ``tools/dataset_converters/cut_paste.py`` and by the
``DropletBankCopyPaste`` transform; the work itself is the pure code in
``harvest.py`` and ``cutpaste.py``.
"""
import json
import os
import os.path as osp
import time
from collections import Counter
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from droplet_mmdet.evaluation.coco_utils import load_json, normalize_file_name
from .coco import _join_json, frame_records
from .cutpaste import PastedDroplet, compose_frame
from .harvest import DropletBank, build_bank
from .render import Droplet

SourceFrame = Tuple[str, np.ndarray, List[Dict[str, Any]]]


def load_source_frames(ann_file: str, img_root: str,
                       num_frames: Optional[int] = None,
                       image_ids: Optional[Sequence[Any]] = None
                       ) -> Tuple[List[SourceFrame], Dict[str, Any]]:
    """Read labelled frames of a COCO file: the first ``num_frames`` images
    that have annotations (file order), or exactly ``image_ids``.

    Images are read as 8-bit BGR (a grey image gets three equal channels).
    ``file_name`` may be a Windows path (``.\\\\JPEGImages\\\\x.jpg``).

    Returns:
        tuple: ``(frames, info)``: ``(file_name, image, annotations)`` per
        frame, and ``info`` with ``category`` (the name of the file's only
        category, else ``'droplet'``) and ``skipped`` (file names of
        images without annotations, each with the reason).

    Raises:
        FileNotFoundError: the json or an image is missing (names both).
        ValueError: unreadable json or image, unknown image ids, an image
            whose size differs from the json's, or no labelled frame.
    """
    data = load_json(ann_file)
    by_image: Dict[Any, List[Dict[str, Any]]] = {}
    for ann in data['annotations']:
        by_image.setdefault(ann.get('image_id'), []).append(ann)
    images = data['images']
    skipped = []
    if image_ids is not None:
        known = {img['id']: img for img in images}
        missing = [i for i in image_ids if i not in known]
        if missing:
            raise ValueError(f'{ann_file}: no image with id {missing}')
        images = [known[i] for i in image_ids]
    chosen = []
    for img in images:
        if num_frames is not None and len(chosen) >= num_frames:
            break
        if not by_image.get(img['id']):
            skipped.append(f'{img["file_name"]}: no droplets labelled, '
                           'not used (an unlabelled frame may hold '
                           'droplets, so it is no background either)')
            continue
        chosen.append(img)
    if not chosen:
        raise ValueError(f'{ann_file}: none of the selected images has '
                         'labelled droplets')
    frames = []
    for img in chosen:
        path = osp.join(img_root, normalize_file_name(img['file_name']))
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'{ann_file}: image {img["file_name"]!r} (id {img["id"]}) '
                f'not found at {path}')
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError(f'{path}: unreadable image (listed in '
                             f'{ann_file})')
        if (img.get('height'), img.get('width')) not in (
                (None, None), image.shape[:2]):
            raise ValueError(
                f'{path}: image is {image.shape[1]}x{image.shape[0]} but '
                f'{ann_file} says {img.get("width")}x{img.get("height")}')
        frames.append((img['file_name'], image, by_image[img['id']]))
    cats = data['categories']
    category = cats[0]['name'] if len(cats) == 1 else 'droplet'
    return frames, dict(category=category, skipped=skipped)


def load_bank(ann_file: str, img_root: str,
              num_frames: Optional[int] = None,
              image_ids: Optional[Sequence[Any]] = None, seed: int = 0,
              **harvest_kwargs) -> Tuple[DropletBank, Dict[str, Any]]:
    """:func:`load_source_frames` then ``build_bank``; ``info`` gains
    ``sources`` (file names, in bank frame order).

    Raises:
        ValueError: no droplet could be harvested (with the skip counts).
    """
    frames, info = load_source_frames(ann_file, img_root, num_frames,
                                      image_ids)
    bank = build_bank(((image, anns) for _, image, anns in frames),
                      seed=seed, **harvest_kwargs)
    info['sources'] = [name for name, _, _ in frames]
    if not bank.patches:
        raise ValueError(
            f'{ann_file}: no droplet could be harvested from '
            f'{info["sources"]} ({dict(bank.report)})')
    return bank, info


def pasted_to_droplet(p: PastedDroplet, height: int,
                      width: int) -> Droplet:
    """A kept paste as the generator's :class:`Droplet`, so that
    ``frame_records`` writes it: the visible mask clipped to the frame,
    the centre of the whole pasted mask, ``a = b = diameter / 2`` (the
    equivalent circle; a pasted shape is a real outline, not an
    ellipse)."""
    h, w = p.mask.shape
    ys0, xs0 = max(-p.y0, 0), max(-p.x0, 0)
    ys1, xs1 = min(height - p.y0, h), min(width - p.x0, w)
    fy, fx = np.nonzero(p.full_mask)
    r = p.diameter / 2
    return Droplet(cx=float(p.x0 + fx.mean() + 0.5),
                   cy=float(p.y0 + fy.mean() + 0.5), a=r, b=r, theta=0.0,
                   diameter=p.diameter, cut=p.cut, x0=p.x0 + xs0,
                   y0=p.y0 + ys0, mask=p.mask[ys0:ys1, xs0:xs1].copy())


def write_cut_paste_split(out_dir: str, split: str, bank: DropletBank,
                          num_frames: int, height: int, width: int,
                          seed: int, category: str = 'droplet',
                          sources: Optional[List[str]] = None,
                          progress: bool = True,
                          **compose_kwargs) -> Dict[str, Any]:
    """Compose and write one split, in the layout of ``write_split``::

        out_dir/{split}/000000.png ...
        out_dir/{split}.json            COCO instances (RLE masks; each
                                        with its true ``droplet_diameter``)
        out_dir/{split}_droplets.json   per-droplet truth (centre, true
                                        diameter, border cut, source)

    Frame ``i`` uses seed ``[seed, i]``, so the same bank, arguments and
    seed give byte-identical files. ``compose_kwargs`` go to
    ``compose_frame``.

    Returns:
        dict: ``frames``, ``droplets`` (kept), the summed paste counts and
        ``seconds``.
    """
    img_dir = osp.join(out_dir, split)
    os.makedirs(img_dir, exist_ok=True)
    t0 = time.time()
    images: List[Dict[str, Any]] = []
    totals: Counter = Counter()
    n_anns = 0
    frames: Iterable[int] = range(num_frames)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, desc=split, unit='frame')
    ann_tmp = osp.join(out_dir, f'.{split}_annotations.jsonl')
    tru_tmp = osp.join(out_dir, f'.{split}_droplets.jsonl')
    with open(ann_tmp, 'w') as fa, open(tru_tmp, 'w') as ft:
        for i in frames:
            frame_seed = int(
                np.random.SeedSequence([seed, i]).generate_state(1)[0])
            image, pasted, info = compose_frame(bank, height, width,
                                                frame_seed, **compose_kwargs)
            name = f'{i:06d}.png'
            if not cv2.imwrite(osp.join(img_dir, name), image):
                raise OSError(
                    f'{osp.join(img_dir, name)}: could not write image')
            kept = [p for p in pasted if p.kept]
            totals.update({k: v for k, v in info.items()
                           if k != 'background'})
            if sources:
                info['background'] = sources[info['background']]
            images.append(dict(id=i + 1, file_name=name, height=height,
                               width=width, **info))
            anns, truths = frame_records(
                [pasted_to_droplet(p, height, width) for p in kept], i + 1,
                n_anns + 1, height, width)
            n_anns += len(anns)
            for ann, tru, p in zip(anns, truths, kept):
                ann['droplet_diameter'] = tru['diameter']
                tru.update(scale=round(p.scale, 4), bank_index=p.bank_index,
                           source=bank.patches[p.bank_index].ann_id)
                fa.write(json.dumps(ann, separators=(',', ':')) + '\n')
                ft.write(json.dumps(tru, separators=(',', ':')) + '\n')
    head = dict(images=images)
    tail = dict(categories=[dict(id=1, name=category,
                                 supercategory=category)],
                info=dict(description='droplet_mmdet cut-and-paste frames',
                          seed=seed, split=split, sources=sources or []))
    _join_json(osp.join(out_dir, f'{split}.json'), head, 'annotations',
               ann_tmp, tail)
    _join_json(osp.join(out_dir, f'{split}_droplets.json'),
               dict(seed=seed, sources=sources or []), 'droplets', tru_tmp,
               {})
    return dict(frames=num_frames, droplets=n_anns, **totals,
                seconds=round(time.time() - t0, 3))


def _filled(r: Dict[str, Any]) -> str:
    """A harvest report's filled-in share of the background pixels."""
    share = 100.0 * r.get('filled_px', 0) / max(r.get('pixels', 0), 1)
    return f'{share:.1f} %'


def format_report(report: Dict[str, Any]) -> str:
    """The human-readable report of :func:`cut_paste_dataset`."""
    lines = []
    h = report['harvest']
    lines.append(
        f'harvested {h.get("harvested", 0)} droplets and '
        f'{h.get("frames", 0)} backgrounds from {h.get("annotations", 0)} '
        f'annotations in {report["harvest_seconds"]:.1f}s; skipped: ' +
        ', '.join(
            f'{k} {h.get(k, 0)}' for k in ('border', 'occluded', 'contact',
                                           'small', 'crowd', 'invalid')) +
        f'; backgrounds: {_filled(h)} filled in where labels were')
    for name, r in zip(report['sources'], report['frame_reports']):
        lines.append(f'  {name}: {r.get("harvested", 0)} of '
                     f'{r.get("annotations", 0)} harvested, {_filled(r)} '
                     'of the background filled in')
    for s in report['skipped_sources']:
        lines.append(f'  skipped {s}')
    for split, s in report['splits'].items():
        fps = s['frames'] / max(s['seconds'], 1e-9)
        lines.append(
            f'{split}: {s["frames"]} frames, {s["droplets"]} droplets kept of '
            f'{s.get("pasted", 0)} pasted (dropped: small '
            f'{s.get("dropped_small", 0)}, occluded '
            f'{s.get("dropped_occluded", 0)}; placed over the occlusion '
            f'limit: {s.get("crowded", 0)}); {fps:.2f} frames/s')
    return '\n'.join(lines)


def cut_paste_dataset(ann_file: str, img_root: str, out_dir: str,
                      splits: Dict[str, int],
                      num_source_frames: Optional[int] = 5,
                      image_ids: Optional[Sequence[Any]] = None,
                      size: Optional[Tuple[int, int]] = None, seed: int = 0,
                      harvest_cfg: Optional[Dict[str, Any]] = None,
                      gallery: Optional[int] = 16, progress: bool = True,
                      **compose_kwargs) -> Dict[str, Any]:
    """Harvest a few labelled frames and write composed splits.

    Args:
        splits: ``{'train': n_train, 'val': n_val}``; each split gets its
            own seed stream (``seed * 1000 + k``, as ``generate_dataset``).
        size: ``(H, W)`` of the frames; None: the first source frame's.
        harvest_cfg: keyword arguments of ``build_bank`` (``background``)
            and ``harvest_frame``.
        compose_kwargs: keyword arguments of ``compose_frame``.

    Returns:
        dict: the report (also written to ``out_dir/cut_paste_report.json``
        and printable with :func:`format_report`).
    """
    t0 = time.time()
    bank, info = load_bank(ann_file, img_root, num_source_frames, image_ids,
                           seed=seed, **(harvest_cfg or {}))
    harvest_seconds = round(time.time() - t0, 3)
    height, width = size or bank.backgrounds[0].shape[:2]
    stats = {}
    for k, (split, n) in enumerate(splits.items()):
        stats[split] = write_cut_paste_split(
            out_dir, split, bank, n, height, width, seed * 1000 + k,
            info['category'], info['sources'], progress, **compose_kwargs)
    report = dict(
        ann_file=ann_file, sources=info['sources'],
        skipped_sources=info['skipped'], harvest=dict(bank.report),
        frame_reports=[dict(r) for r in bank.frame_reports],
        harvest_seconds=harvest_seconds, splits=stats, size=[height, width],
        seed=seed)
    with open(osp.join(out_dir, 'cut_paste_report.json'), 'w') as f:
        json.dump(report, f, indent=1)
    if gallery:
        from droplet_mmdet.visualization import draw_gallery
        first = next(iter(splits))
        draw_gallery(osp.join(out_dir, first),
                     osp.join(out_dir, f'{first}.json'),
                     osp.join(out_dir, 'gallery.png'), max_images=gallery)
    return report

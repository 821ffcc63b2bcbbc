"""Droplet counting and sizing on images, folders or videos.

``tools/infer.py`` is the command-line shell around :func:`run_inference`.
Writes ``droplets.csv`` (one row per droplet), ``summary.csv`` (one row per
image or video frame), ``size_histogram.png`` and outline overlays.

A frame without droplets (videos often start empty) has its ``summary.csv``
row with ``count`` 0 and empty cells for the mean diameter(s) and the CV (a
mean of no droplets is undefined, and a 0 would pull down any average over
frames); it has no ``droplets.csv`` rows. Every output is written whatever
frames are empty, also when all of them are.
"""
import csv
import os
import os.path as osp
from typing import Dict, Iterator, List, Optional, Tuple

import cv2
import numpy as np

from droplet_mmdet.visualization import draw_detections
from .measure import measure, summarize
from .slicing import predict_frame

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv')


def iter_frames(source: str) -> Iterator[Tuple[str, int, np.ndarray]]:
    """Yield ``(name, frame_index, BGR image)`` from an image, a folder of
    images or a video; unreadable files raise an error naming them."""
    if osp.isdir(source):
        files = sorted(f for f in os.listdir(source)
                       if f.lower().endswith(IMAGE_EXTS))
        if not files:
            raise FileNotFoundError(f'{source}: no images ({IMAGE_EXTS})')
        for f in files:
            yield from iter_frames(osp.join(source, f))
    elif not osp.isfile(source):
        raise FileNotFoundError(f'{source}: no such file or folder')
    elif source.lower().endswith(VIDEO_EXTS):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise OSError(f'{source}: cannot open video')
        k = 0
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield osp.basename(source), k, frame
            k += 1
        cap.release()
        if k == 0:
            raise OSError(f'{source}: video has no readable frame')
    else:
        img = cv2.imread(source, cv2.IMREAD_COLOR)
        if img is None:
            raise OSError(f'{source}: not a readable image')
        yield osp.basename(source), 0, img


def count_frames(source: str) -> Optional[int]:
    if osp.isdir(source):
        return sum(1 for f in os.listdir(source)
                   if f.lower().endswith(IMAGE_EXTS))
    if source.lower().endswith(VIDEO_EXTS):
        cap = cv2.VideoCapture(source)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.release()
        return n or None
    return 1


def size_histogram(diameters: List[float], out_file: str,
                   unit: str = 'px') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    d = np.asarray(diameters)
    if len(d):
        ax.hist(d, bins=min(60, max(10, len(d) // 20)), color='#3a7')
        ax.axvline(d.mean(), color='k', ls='--',
                   label=f'mean {d.mean():.2f} {unit}, CV '
                   f'{d.std() / d.mean() * 100:.1f} %')
        ax.legend()
    ax.set_xlabel(f'equivalent diameter ({unit})')
    ax.set_ylabel('droplets')
    ax.set_title(f'{len(d)} droplets')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)


def summary_fields(px_size: Optional[float] = None) -> List[str]:
    """Columns of ``summary.csv``; ``mean_diameter_um`` with a pixel
    size."""
    return ['image', 'frame', 'count', 'mean_diameter_px',
            'cv_diameter_pct'] + (['mean_diameter_um'] if px_size else [])


def summary_row(name: str, frame: int, rows: List[Dict[str, float]],
                px_size: Optional[float] = None
                ) -> Dict[str, Optional[float]]:
    """One ``summary.csv`` row from the :func:`measure` rows of a frame:
    every column of :func:`summary_fields`, with None (an empty cell) for
    the means and the CV of a frame without droplets."""
    stats = summarize(rows) if rows else {}
    row = dict(image=name, frame=frame, count=len(rows))
    for key in summary_fields(px_size)[3:]:
        row[key] = stats.get(key)
    return row


def write_summary(summaries: List[Dict[str, Optional[float]]],
                  out_file: str, px_size: Optional[float] = None) -> None:
    """``summary.csv`` with the fixed columns of :func:`summary_fields`
    (a header only when there is no frame)."""
    with open(out_file, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=summary_fields(px_size))
        writer.writeheader()
        writer.writerows(summaries)


def resolve_score_thr(score_thr: Optional[float], checkpoint: str,
                      cfg=None) -> Tuple[float, str]:
    """The counting threshold and where it comes from: ``score_thr`` if
    given, else the calibrated threshold stored beside ``checkpoint``
    (:class:`~droplet_mmdet.engine.CountThresholdHook`), else the config's
    ``count_score_thr``, else 0.5."""
    from ..engine import load_count_threshold
    if score_thr is not None:
        return float(score_thr), '--score-thr'
    found = load_count_threshold(checkpoint)
    if found is not None:
        return found[0], f'calibrated on validation, {found[1]}'
    if cfg is not None and cfg.get('count_score_thr', None) is not None:
        return float(cfg.count_score_thr), 'count_score_thr of the config'
    return 0.5, 'default; no count_threshold.json beside the checkpoint'


def run_inference(predict_fn, source: str, out_dir: str,
                  px_size: Optional[float] = None, tile: int = 1536,
                  overlap: int = 64, score_thr: float = 0.5,
                  overlays: bool = True, progress: bool = True
                  ) -> List[Dict[str, float]]:
    """Predict every frame of ``source`` and write the outputs.

    Args:
        predict_fn: tiles -> detections per tile (see
            :func:`~droplet_mmdet.apis.slicing.predict_frame`).
        px_size: micrometres per pixel; adds ``diameter_um`` and
            ``mean_diameter_um`` and puts the histogram in um.

    Returns:
        list[dict]: the per-frame summary rows (:func:`summary_row`).
    """
    os.makedirs(out_dir, exist_ok=True)
    if overlays:
        os.makedirs(osp.join(out_dir, 'overlays'), exist_ok=True)
    frames = iter_frames(source)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=count_frames(source), unit='frame',
                      desc='infer')
    summaries, all_diams = [], []
    unit = 'um' if px_size else 'px'
    drop_fields = ['image', 'frame', 'id', 'cx', 'cy', 'area_px',
                   'diameter_px'] + (['diameter_um'] if px_size else []) + [
                       'circularity', 'score']
    with open(osp.join(out_dir, 'droplets.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=drop_fields)
        writer.writeheader()
        for name, k, img in frames:
            dets = predict_frame(predict_fn, img, tile=tile, overlap=overlap,
                                 score_thr=score_thr)
            rows = measure(dets, px_size)
            for r in rows:
                writer.writerow(dict(image=name, frame=k, **r))
            all_diams += [r['diameter_um' if px_size else 'diameter_px']
                          for r in rows]
            summaries.append(summary_row(name, k, rows, px_size))
            if overlays:
                stem = osp.splitext(name)[0] + (f'_{k:05d}' if k else '')
                cv2.imwrite(osp.join(out_dir, 'overlays', stem + '.png'),
                            draw_detections(img, dets))
    write_summary(summaries, osp.join(out_dir, 'summary.csv'), px_size)
    size_histogram(all_diams, osp.join(out_dir, 'size_histogram.png'), unit)
    return summaries

"""Write a synthetic droplet video and its ground truth to disk.

The file-writing shell around :func:`.video.render_video` (used by
``tools/dataset_converters/generate_droplet_video.py``). A video folder is
a MOTChallenge sequence plus COCO and truth files::

    out_dir/img1/000001.png ...  frames (frame index t -> {t + 1:06d}.png)
    out_dir/video.mp4            the same frames ('mp4v'), unless disabled
    out_dir/seqinfo.ini          MOTChallenge sequence info
    out_dir/gt/gt.txt            MOTChallenge ground truth
    out_dir/annotations.json     COCO instances (RLE masks), CocoVID keys
    out_dir/truth.csv            per frame and id: centre, diameter, ...
    out_dir/truth.json           spec, seed, scene draws, events, tracks

``gt.txt`` rows are ``frame, id, bb_left, bb_top, bb_width, bb_height,
conf, class, visibility`` with MOTChallenge's 1-based frames and pixel
coordinates: ``bb_left = x + 1`` and ``bb_top = y + 1`` for the COCO box
``[x, y, w, h]`` (the tight box of the visible mask), ``conf = 1``,
``class = 1``, ``visibility`` = visible mask area / outline area.

In ``annotations.json`` image ids are ``t + 1``; images carry
``frame_id = t`` and ``video_id = 1``, annotations ``track_id`` (=
``instance_id``, the MOT id), ``droplet_diameter`` (true equivalent
diameter, px), ``visibility`` and ``mot_conf``, so the file reads both as a
detection set (mmdet ``CocoDataset``, ``data_prefix=dict(img='')``) and as
a CocoVID video (mmdet ``MOTChallengeDataset``).

``truth.csv`` columns: ``frame`` (0-based), ``id``, ``cx, cy`` (true
centre), ``diameter`` (true equivalent diameter), ``a, b, theta`` (the
ellipse), ``vx, vy`` (drift velocity to the next frame, px/frame),
``visibility``, ``cut`` (the frame border cuts it), ``x, y, w, h`` (COCO
box).
"""
import json
import os
import os.path as osp
import warnings
from typing import Any, Dict, Optional

import cv2

from .coco import CATEGORY, frame_records
from .video import VideoSpec, render_video, scene_info, simulate

__all__ = ['write_video']

CSV_COLUMNS = ('frame', 'id', 'cx', 'cy', 'diameter', 'a', 'b', 'theta',
               'vx', 'vy', 'visibility', 'cut', 'x', 'y', 'w', 'h')


def _open_mp4(path: str, spec: VideoSpec) -> Optional[cv2.VideoWriter]:
    """An 'mp4v' writer, or ``None`` (with a warning) if OpenCV cannot
    open one (no codec in this build, or an unwritable path)."""
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'),
                             float(spec.fps), (spec.width, spec.height))
    if writer.isOpened():
        return writer
    writer.release()
    warnings.warn(f'{path}: cv2.VideoWriter could not open an mp4v writer '
                  f'(OpenCV built without a suitable FFmpeg backend?); '
                  f'writing the PNG frames only')
    return None


def _seqinfo(name: str, spec: VideoSpec) -> str:
    """MOTChallenge's ``seqinfo.ini``."""
    return (f'[Sequence]\nname={name}\nimDir=img1\nframeRate={spec.fps:g}\n'
            f'seqLength={spec.n_frames}\nimWidth={spec.width}\n'
            f'imHeight={spec.height}\nimExt=.png\n')


def write_video(out_dir: str, spec: VideoSpec, seed: int = 0,
                mp4: bool = True, progress: bool = False,
                name: Optional[str] = None) -> Dict[str, Any]:
    """Render a video and write its frames and ground truth.

    Args:
        out_dir: the video folder (created; see the module docstring).
        spec: the video.
        seed: any non-negative integer; the same ``(spec, seed)`` writes
            the same bytes.
        mp4: also write ``video.mp4``; if OpenCV cannot open the writer a
            warning says so and the PNGs are still written.
        progress: show a progress bar (tqdm).
        name: the sequence name in ``seqinfo.ini`` (default: the folder's
            name).

    Returns:
        dict: counts (``frames``, ``annotations``, ``tracks``), the
        ``events``, the ``skipped`` events and ``mp4`` (its path, or
        ``None`` when none was written).
    """
    H, W = spec.height, spec.width
    img_dir = osp.join(out_dir, 'img1')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(osp.join(out_dir, 'gt'), exist_ok=True)
    traj = simulate(spec, seed)
    mp4_path = osp.join(out_dir, 'video.mp4')
    writer = _open_mp4(mp4_path, spec) if mp4 else None
    frames = render_video(spec, seed, traj)
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=spec.n_frames, desc='video',
                      unit='frame')
    images, anns, gt, rows = [], [], [], []
    for t, image, droplets in frames:
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        name_t = f'{t + 1:06d}.png'
        if not cv2.imwrite(osp.join(img_dir, name_t), bgr):
            raise OSError(f'{osp.join(img_dir, name_t)}: could not write '
                          f'image')
        if writer is not None:
            writer.write(bgr)
        images.append(dict(id=t + 1, file_name=f'img1/{name_t}', height=H,
                           width=W, frame_id=t, video_id=1))
        recs, _ = frame_records(droplets, t + 1, len(anns) + 1, H, W)
        for rec, d in zip(recs, droplets):
            vis = round(d.visibility, 4)
            rec.update(track_id=d.track_id, instance_id=d.track_id,
                       droplet_diameter=round(d.diameter, 4),
                       visibility=vis, mot_conf=1.0)
            x, y, w, h = (int(v) for v in rec['bbox'])
            gt.append(f'{t + 1},{d.track_id},{x + 1},{y + 1},{w},{h},'
                      f'1,1,{vis:.4f}')
            rows.append(','.join(
                [str(t), str(d.track_id)] +
                [f'{v:.4f}' for v in (d.cx, d.cy, d.diameter, d.a, d.b,
                                      d.theta, d.vx, d.vy, d.visibility)] +
                [str(int(d.cut)), str(x), str(y), str(w), str(h)]))
        anns += recs
    if writer is not None:
        writer.release()

    # MOTChallenge sorts gt by id, then frame
    gt.sort(key=lambda r: tuple(int(v) for v in r.split(',')[1::-1]))
    with open(osp.join(out_dir, 'gt', 'gt.txt'), 'w') as f:
        f.write(''.join(r + '\n' for r in gt))
    with open(osp.join(out_dir, 'seqinfo.ini'), 'w') as f:
        f.write(_seqinfo(name or osp.basename(osp.abspath(out_dir)), spec))
    with open(osp.join(out_dir, 'truth.csv'), 'w') as f:
        f.write(','.join(CSV_COLUMNS) + '\n')
        f.write(''.join(r + '\n' for r in rows))
    coco = dict(images=images, annotations=anns, categories=[CATEGORY],
                videos=[dict(id=1, name='droplets')],
                info=dict(description='droplet_mmdet synthetic droplet '
                          'video', seed=seed))
    with open(osp.join(out_dir, 'annotations.json'), 'w') as f:
        json.dump(coco, f, separators=(',', ':'))
    truth = dict(spec=spec.to_dict(), seed=seed,
                 scene=scene_info(spec, seed), events=traj.events,
                 skipped=traj.skipped, tracks=traj.tracks)
    with open(osp.join(out_dir, 'truth.json'), 'w') as f:
        json.dump(truth, f, indent=1)
    return dict(frames=spec.n_frames, annotations=len(anns),
                tracks=len(traj.tracks), events=traj.events,
                skipped=traj.skipped, mp4=None if writer is None else
                mp4_path)

"""Droplet tracking on a video or a folder of frames, and its outputs.

``tools/track.py`` is the command-line shell around :func:`run_tracking`,
which writes into ``out_dir``:

* ``tracks.csv``: one row per droplet and frame
  (:func:`~.track.tracked_rows`);
* ``track_summary.csv``: one row per track
  (:func:`~.track_analysis.track_summaries`);
* ``events.csv``: coalescences and break-ups
  (:func:`~.track_analysis.detect_events`);
* ``tracks_mot.txt``: the tracks in MOTChallenge's result format
  (``frame, id, bb_left, bb_top, bb_width, bb_height, conf, -1, -1, -1``,
  1-based frames and pixels, the mask's tight box);
* ``summary.json``: counts, generation frequency
  (:func:`~.track_analysis.generation_frequency`), mean velocity and
  diameter, the flow profile, events, settings, timing (and MOT scores
  with ground truth);
* ``overlay.mp4`` and ``overlays/*.png`` (a few frames): outlines
  coloured by track, ids and trails;
* ``velocity_profile.png`` (mean ``vx`` of each track against its mean
  ``y``, and binned) and ``diameter_vs_time.png``.
"""
import csv
import json
import os
import os.path as osp
import time
import warnings
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .infer import count_frames, iter_frames
from .slicing import PredictFn
from .track import TrackedDetection, track_fields, track_video
from .track_analysis import (detect_events, generation_frequency,
                             summary_fields, track_summaries,
                             velocity_profile)
from .track_eval import mot_metrics

Row = Dict[str, object]


def source_fps(source: str) -> Optional[float]:
    """The frame rate of a video file (OpenCV), or of a MOTChallenge
    sequence (``frameRate`` in ``seqinfo.ini`` beside or above the image
    folder); None if unknown."""
    if osp.isfile(source):
        cap = cv2.VideoCapture(source)
        fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0
        cap.release()
        return float(fps) if fps and fps > 0 else None
    for ini in (osp.join(source, 'seqinfo.ini'),
                osp.join(osp.dirname(osp.abspath(source)), 'seqinfo.ini')):
        if osp.isfile(ini):
            with open(ini) as f:
                for line in f:
                    key, _, val = line.partition('=')
                    if key.strip().lower() == 'framerate':
                        return float(val)
    return None


def write_csv(rows: Sequence[Row], out_file: str,
              fields: Optional[List[str]] = None) -> None:
    """Rows as CSV; list values joined with ``;``; a header only when
    there are no rows and ``fields`` is given."""
    fields = fields or (list(rows[0]) if rows else [])
    with open(out_file, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction='ignore')
        writer.writeheader()
        for r in rows:
            writer.writerow({k: ';'.join(str(x) for x in v) if isinstance(
                v, (list, tuple)) else v for k, v in r.items()})


def write_mot(rows: Sequence[Row], out_file: str) -> None:
    """Tracked rows in MOTChallenge's result format (see the module
    docstring)."""
    with open(out_file, 'w') as f:
        for r in sorted(rows, key=lambda r: (r['frame'], r['track_id'])):
            f.write(f"{r['frame'] + 1},{r['track_id']},{r['x0'] + 1},"
                    f"{r['y0'] + 1},{r['x1'] - r['x0']},{r['y1'] - r['y0']},"
                    f"{r['score']},-1,-1,-1\n")


def read_mot(path: str) -> List[Row]:
    """A MOTChallenge ``gt.txt`` (or result file) as rows ``frame``
    (0-based), ``id``, ``x0, y0, x1, y1`` (0-based pixels); rows with
    ``conf`` 0 (ignored in MOTChallenge ground truth) are left out."""
    out = []
    with open(path) as f:
        for k, line in enumerate(f, 1):
            if not line.strip():
                continue
            v = line.strip().split(',')
            if len(v) < 6:
                raise ValueError(f'{path}:{k}: expected frame, id, '
                                 f'bb_left, bb_top, bb_width, bb_height')
            try:
                if len(v) > 6 and float(v[6]) == 0:
                    continue
                x0, y0 = float(v[2]) - 1, float(v[3]) - 1
                out.append(dict(frame=int(v[0]) - 1, id=int(v[1]), x0=x0,
                                y0=y0, x1=x0 + float(v[4]),
                                y1=y0 + float(v[5])))
            except ValueError:
                raise ValueError(f'{path}:{k}: not a MOTChallenge row '
                                 f'(numbers expected): {line.strip()!r}')
    return out


def track_color(track_id: int) -> Tuple[int, int, int]:
    """A bright BGR colour per track id (golden-ratio hues)."""
    hue = int((track_id * 0.618033988749895 % 1.0) * 180)
    hsv = np.uint8([[[hue, 220, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


class TrackOverlay:
    """Draws tracked droplets on frames: mask outline and id in the
    track's colour, and a trail of its last ``trail`` centroids.

    Args:
        trail: frames of trail.
        scale: the image is enlarged by this integer factor first (ids stay
            legible on small frames).
    """

    def __init__(self, trail: int = 10, scale: int = 1):
        self.trail = trail
        self.scale = max(int(scale), 1)
        self.history: Dict[int, List[Tuple[int, float, float]]] = {}

    def draw(self, k: int, image: np.ndarray,
             tracked: Sequence[TrackedDetection]) -> np.ndarray:
        """Frame ``k`` with its tracked detections drawn (a BGR copy)."""
        s = self.scale
        out = image if image.ndim == 3 else cv2.cvtColor(
            image, cv2.COLOR_GRAY2BGR)
        out = cv2.resize(out, None, fx=s, fy=s,
                         interpolation=cv2.INTER_NEAREST) if s > 1 else \
            out.copy()
        for t in tracked:
            ys, xs = np.nonzero(t.det.mask)
            if not len(xs):
                continue
            cx = xs.mean() + 0.5 + t.det.box[0]
            cy = ys.mean() + 0.5 + t.det.box[1]
            self.history.setdefault(t.track_id, []).append((k, cx, cy))
        for tid, hist in list(self.history.items()):
            hist[:] = [h for h in hist if k - h[0] < self.trail]
            if not hist:
                del self.history[tid]
                continue
            pts = np.array([[x * s, y * s] for _, x, y in hist], np.int32)
            if len(pts) > 1:
                cv2.polylines(out, [pts], False, track_color(tid), 1,
                              cv2.LINE_AA)
        for t in tracked:
            color = track_color(t.track_id)
            contours, _ = cv2.findContours(
                np.ascontiguousarray(t.det.mask, np.uint8),
                cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE,
                offset=(int(t.det.box[0]), int(t.det.box[1])))
            cv2.drawContours(out, [c * s for c in contours], -1, color, 1)
            cv2.putText(out, str(t.track_id),
                        (int(t.det.box[0] * s), max(int(t.det.box[1] * s) -
                                                    2, 8)),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.35, color, 1,
                        cv2.LINE_AA)
        return out


def plot_velocity_profile(tracks: Sequence[Row], out_file: str,
                          px_size: Optional[float] = None,
                          fps: Optional[float] = None,
                          bins: int = 10) -> List[Row]:
    """Scatter of each track's mean ``vx`` against its mean ``y``, with
    the binned mean +- sd (:func:`~.track_analysis.velocity_profile`);
    um and um/s with ``px_size`` and ``fps``.

    Returns:
        list[dict]: the binned profile (px, px/frame).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    prof = velocity_profile(tracks, bins)
    ky = px_size or 1.0
    kv = (px_size * fps) if (px_size and fps) else 1.0
    vunit = 'um/s' if (px_size and fps) else 'px/frame'
    yunit = 'um' if px_size else 'px'
    pts = [(t['vx'], t['mean_cy']) for t in tracks
           if t['vx'] is not None and t['n_interior'] >= 3]
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    if pts:
        vx, y = np.array(pts, float).T
        ax.scatter(vx * kv, y * ky, s=8, c='#999', label='tracks')
    if prof:
        ax.errorbar([p['vx_mean'] * kv for p in prof],
                    [p['y'] * ky for p in prof],
                    xerr=[p['vx_sd'] * kv for p in prof], fmt='o-',
                    c='#c30', label='binned mean +- sd')
        ax.legend()
    ax.invert_yaxis()  # image rows grow downwards
    ax.set_xlabel(f'mean vx ({vunit})')
    ax.set_ylabel(f'mean y ({yunit})')
    ax.set_title(f'velocity profile, {len(pts)} tracks')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)
    return prof


def plot_diameter_vs_time(rows: Sequence[Row], out_file: str,
                          px_size: Optional[float] = None,
                          fps: Optional[float] = None) -> None:
    """Interior droplets' diameters against time (dots) and their mean per
    frame (line); um and s with ``px_size`` and ``fps``."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    inner = [r for r in rows if not r.get('edge', 0)]
    kt = 1 / fps if fps else 1.0
    kd = px_size or 1.0
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    if inner:
        t = np.array([r['frame'] for r in inner], float)
        d = np.array([r['diameter_px'] for r in inner], float)
        ax.scatter(t * kt, d * kd, s=4, c='#9ab', label='droplets')
        frames = np.unique(t)
        ax.plot(frames * kt, [d[t == f].mean() * kd for f in frames],
                c='#036', label='mean per frame')
        ax.legend()
    ax.set_xlabel('time (s)' if fps else 'frame')
    ax.set_ylabel(f"equivalent diameter ({'um' if px_size else 'px'})")
    ax.set_title(f'{len(inner)} droplet detections')
    fig.tight_layout()
    fig.savefig(out_file)
    plt.close(fig)


def _open_writer(path: str, fps: float, size: Tuple[int, int]
                 ) -> Optional[cv2.VideoWriter]:
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'),
                             float(fps), size)
    if writer.isOpened():
        return writer
    writer.release()
    warnings.warn(f'{path}: OpenCV could not open an mp4v writer; the '
                  f'overlay PNGs are written, the MP4 is not')
    return None


def _mean(values) -> Optional[float]:
    return round(float(np.mean(values)), 4) if len(values) else None


def tracking_warnings(rows: Sequence[Row],
                      moving: Sequence[Row]) -> List[str]:
    """What makes the summaries of a run untrustworthy, in words: every
    droplet cut by the frame border (sizes, velocities and births leave
    such rows out), or a flow along y (the analysis takes it along x)."""
    out = []
    if rows and all(r['edge'] for r in rows):
        out.append('every detection touches the frame border, so no size, '
                   'velocity or generation rate could be measured (plugs '
                   'spanning a channel cropped at its walls? leave a margin '
                   'around the channel)')
    vx = [abs(t['vx']) for t in moving]
    vy = [abs(t['vy']) for t in moving if t['vy'] is not None]
    if len(vx) >= 3 and len(vy) == len(vx) and \
            float(np.median(vy)) > 2 * float(np.median(vx)):
        out.append(f'droplets move along y (median |vy| {np.median(vy):.2f}'
                   f' vs |vx| {np.median(vx):.2f} px/frame), but the inlet, '
                   f'the generation rate and the velocity profile assume a '
                   f'flow along x: rotate the frames by 90 degrees')
    return out


def run_tracking(predict_fn: PredictFn, source: str, out_dir: str,
                 tracker: Union[str, dict] = 'bytetrack',
                 score_thr: float = 0.5,
                 px_size: Optional[float] = None,
                 fps: Optional[float] = None,
                 tile: int = 1536, overlap: int = 64,
                 inlet_x: Union[float, str, None] = 'auto',
                 gt: Optional[str] = None, overlays: bool = True,
                 n_png: int = 4, progress: bool = True,
                 velocity: Optional[Tuple[float, float]] = None
                 ) -> Dict[str, object]:
    """Track the droplets of a video (or a folder of frames, in name
    order) and write every output (see the module docstring).

    Args:
        predict_fn: tiles -> detections per tile.
        source: a video file or a folder of images; unreadable input
            raises an error naming the file.
        tracker: see :func:`~.track.track_video`.
        score_thr: detections from this score start tracks.
        px_size: um per px.
        fps: frames per second (None: the video's or the sequence's own,
            see :func:`source_fps`; Hz and um/s need it).
        inlet_x: see :func:`~.track_analysis.generation_frequency`.
        gt: a MOTChallenge ``gt.txt`` to score the tracks against.
        overlays: write ``overlay.mp4`` and ``n_png`` PNGs.
        velocity: the flow in px/frame if known, see
            :func:`~.track.track_video`.

    Returns:
        dict: what ``summary.json`` holds.
    """
    fps_source = 'given' if fps is not None else 'the file'
    if fps is None:
        fps = source_fps(source)
    truth = read_mot(gt) if gt else None  # bad ground truth fails first
    os.makedirs(out_dir, exist_ok=True)
    n_total = count_frames(source)
    png_at = set(np.linspace(0, n_total - 1, n_png).round().astype(int)
                 .tolist()) if (overlays and n_total and n_png) else set()
    if overlays:
        os.makedirs(osp.join(out_dir, 'overlays'), exist_ok=True)
    frames = (img for _, _, img in iter_frames(source))
    if progress:
        from tqdm import tqdm
        frames = tqdm(frames, total=n_total, unit='frame', desc='track')
    state = dict(writer=None, shape=None, n=0)
    drawer = TrackOverlay()

    def on_frame(k, image, tracked):
        state['n'] = k + 1
        state['shape'] = image.shape[:2]
        if not overlays:
            return
        s = 2 if max(image.shape[:2]) < 512 else 1
        drawer.scale = s
        vis = drawer.draw(k, image, tracked)
        if k == 0:
            h, w = vis.shape[:2]
            state['writer'] = _open_writer(
                osp.join(out_dir, 'overlay.mp4'), fps or 10.0, (w, h))
        if state['writer'] is not None:
            state['writer'].write(vis)
        if k in png_at:
            cv2.imwrite(osp.join(out_dir, 'overlays', f'{k:05d}.png'), vis)

    t0 = time.perf_counter()
    try:
        rows = track_video(predict_fn, frames, tracker, score_thr=score_thr,
                           px_size=px_size, fps=fps, tile=tile,
                           overlap=overlap, on_frame=on_frame,
                           velocity=velocity)
    finally:
        if state['writer'] is not None:
            state['writer'].release()
    seconds = time.perf_counter() - t0
    n = state['n']
    if n_total and n < n_total:
        warnings.warn(f'{source}: {n_total} frames announced, {n} read (the '
                      f'file may be truncated); the results cover frames '
                      f'0-{n - 1}')
    window = (0, max(n - 1, 0))
    tracks = track_summaries(rows, px_size, fps)
    events = detect_events(tracks, frames=window, fps=fps)
    gen = generation_frequency(tracks, inlet_x=inlet_x, frames=window,
                               fps=fps)
    write_csv(rows, osp.join(out_dir, 'tracks.csv'),
              track_fields(px_size, fps))
    write_csv(tracks, osp.join(out_dir, 'track_summary.csv'),
              summary_fields(px_size, fps))
    write_csv(events, osp.join(out_dir, 'events.csv'), [
        'type', 'frame'] + (['time_s'] if fps else []) + [
            'parents', 'children', 'parent_area_px', 'child_area_px',
            'area_ratio', 'x', 'y'])
    write_mot(rows, osp.join(out_dir, 'tracks_mot.txt'))
    prof = plot_velocity_profile(tracks, osp.join(out_dir,
                                                  'velocity_profile.png'),
                                 px_size, fps)
    plot_diameter_vs_time(rows, osp.join(out_dir, 'diameter_vs_time.png'),
                          px_size, fps)
    moving = [t for t in tracks if t['vx'] is not None
              and t['n_interior'] >= 3]
    inner_d = [r['diameter_px'] for r in rows if not r['edge']]
    for msg in tracking_warnings(rows, moving):
        warnings.warn(f'{source}: {msg}')
    summary = dict(
        source=source, frames=n, frame_size=list(state['shape'] or ()),
        fps=fps, px_size=px_size, score_thr=score_thr,
        tracker=tracker if isinstance(tracker, str) else tracker.get('type'),
        detections=len(rows), tracks=len(tracks),
        tracks_measured=len(moving), generation=gen,
        events=dict(coalescence=sum(e['type'] == 'coalescence'
                                    for e in events),
                    breakup=sum(e['type'] == 'breakup' for e in events)),
        velocity=dict(vx_px_per_frame=_mean([t['vx'] for t in moving]),
                      vy_px_per_frame=_mean([t['vy'] for t in moving])),
        diameter=dict(mean_px=_mean(inner_d),
                      cv_pct=round(float(np.std(inner_d) / np.mean(inner_d)
                                         * 100), 3) if inner_d else None),
        velocity_profile=prof,
        timing=dict(seconds=round(seconds, 3),
                    frames_per_s=round(n / seconds, 3) if seconds else None))
    if px_size and fps:
        summary['velocity'].update(
            vx_um_s=_mean([t['vx_um_s'] for t in moving]),
            vy_um_s=_mean([t['vy_um_s'] for t in moving]))
    if px_size:
        summary['diameter']['mean_um'] = _mean(
            [d * px_size for d in inner_d])
    summary['fps_from'] = fps_source if fps else None
    if truth is not None:
        summary['mot'] = mot_metrics(rows, truth)
    with open(osp.join(out_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    return summary

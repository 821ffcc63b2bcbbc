"""Droplet tracking: per-frame detections linked into tracks by one of
mmdet 3.3's trackers (``ByteTracker``, ``SORTTracker``, ``OCSORTTracker``).

The association is mmdet's; this module feeds it droplets and keeps each
droplet's mask with its track id:

* detections go to the tracker as ``pred_instances`` (``bboxes``: the
  detector's float box, else the mask's tight box; ``scores``; ``labels``)
  with ``metainfo['frame_id']``; the tracker returns a reordered subset
  of those boxes with ``instances_id``, and each returned box is matched
  back to the detection it came from by exact value (the tracker copies
  the rows), so masks are never re-associated by overlap;
* the motion model is :class:`~.track_motion.DropletKalmanFilter`
  (configs: :func:`~.track_motion.tracker_config`), mmdet's
  ``KalmanFilter`` with a wide velocity prior: droplets in a channel move
  a large fraction of their diameter per frame (8 px/frame at 16 px is
  half a diameter), and mmdet's pedestrian tuning (velocity prior sd of
  ``h / 16`` px/frame, velocity noise ``h / 160``) learns such a speed too
  slowly to keep the predicted box on the droplet;
* tentative tracks (a droplet first seen in this or the last frames) are
  moved by the Kalman prediction before each frame, as confirmed ones
  are (mmdet's ``ByteTracker`` and ``OCSORTTracker`` match them at their
  last box), and new tracks start with the median velocity of the
  confirmed tracks (``auto_velocity``), so a droplet born at the nozzle
  is found again in the next frame however fast the flow;
* a track is split (it gets a new id) where a droplet's area jumps by
  more than ``split_area_jump`` (ratio to the median of its last 3
  interior areas) in two frames running; the new id starts at the first
  of them (its row is relabelled once the second confirms the jump;
  ``on_frame`` callbacks have seen the old id there). A coalescence or a
  break-up in which the tracker kept one parent's id then reads as
  parents ending and children starting, as
  :func:`~.track_analysis.detect_events` expects, and a one-frame
  detection glitch changes nothing.

Track ids in the rows are 1, 2, ... in order of first appearance (and
of splits). A detection is ``edge`` when its mask touches the frame border
(cut by it): its centroid, area and diameter are not the droplet's, and
the summaries leave it out. A track lost while at the border has left the
field and is ended at once (the next droplet to reach the border must not
take its id); the last sliver of a droplet leaving (a few px wide, IoU <
0.1 with its predicted box) may get an id of its own.

Which tracker: ByteTrack (default) and OC-SORT match detections to the
Kalman prediction and keep ids through crossings and at 12 px/frame with
20 px droplets; mmdet's SORT (without re-identification) matches to each
track's last box, so it breaks tracks whose droplets move more than about
half their size per frame and at crossings.

CPU time with ground-truth detections (96 x 256 to 256 x 512 frames, 8-10
droplets, ``predict_frame`` and measuring included): ~10 ms a frame
(ByteTrack), ~14 ms (OC-SORT).

Shorthand: N detections in a frame, (H, W) frame.
"""
from dataclasses import dataclass
from typing import (Callable, Dict, Iterable, List, Optional, Sequence,
                    Tuple, Union)

import numpy as np
import torch
from mmdet.models.task_modules.tracking import KalmanFilter
from mmdet.registry import MODELS

from .measure import measure
from .slicing import Detection, PredictFn, predict_frame
from .track_motion import TRACKERS, DropletKalmanFilter, tracker_config

__all__ = [
    'TRACKERS', 'DropletKalmanFilter', 'tracker_config', 'TrackedDetection',
    'touches_border', 'DropletTracker', 'track_fields', 'tracked_rows',
    'track_detections', 'track_video'
]


@dataclass
class TrackedDetection:
    """A detection with its track id and whether its mask touches the
    frame border (``edge``)."""
    track_id: int
    det: Detection
    edge: bool


def touches_border(box: Sequence[int], height: int, width: int) -> bool:
    """Whether a tight mask box ``(x0, y0, x1, y1)`` touches the border of
    an ``height`` x ``width`` frame."""
    x0, y0, x1, y1 = box
    return x0 <= 0 or y0 <= 0 or x1 >= width or y1 >= height


class DropletTracker:
    """An mmdet tracker fed with :class:`~.slicing.Detection` lists, one
    frame at a time (see the module docstring).

    Args:
        tracker_cfg: a name of :data:`TRACKERS` (with
            :func:`tracker_config`'s defaults) or an mmdet tracker config.
        auto_velocity: start new tracks at the median velocity of the
            confirmed tracks (needs a :class:`DropletKalmanFilter`).
        split_area_jump: split a track where its area changes by more
            than this fraction in two frames running (``None``: never).
    """

    def __init__(self, tracker_cfg: Union[str, dict] = 'bytetrack',
                 auto_velocity: bool = True,
                 split_area_jump: Optional[float] = 0.3):
        import mmdet.models  # noqa: F401  (registers the trackers)
        cfg = tracker_config(tracker_cfg) if isinstance(
            tracker_cfg, str) else dict(tracker_cfg)
        self.cfg = cfg
        self.tracker = MODELS.build(cfg)
        from mmdet.models.trackers import OCSORTTracker, SORTTracker
        self._sort_api = isinstance(self.tracker, SORTTracker) and \
            not isinstance(self.tracker, OCSORTTracker)
        self.auto_velocity = auto_velocity
        self.split_area_jump = split_area_jump
        self.frame_id = -1
        self._out_id: Dict[int, int] = {}  # tracker id -> output id
        self._areas: Dict[int, List[int]] = {}  # output id -> areas
        # output id -> (area went up, area) of a jump not yet confirmed
        self._pending: Dict[int, Tuple[bool, int]] = {}
        #: (frame, old id, new id): rows already given out whose id a split
        #: confirmed one frame later changes (:meth:`apply_relabels`)
        self.relabels: List[Tuple[int, int, int]] = []
        self._at_edge: Dict[int, bool] = {}  # tracker id -> last at edge
        self._last_centres = np.zeros((0, 2))
        self._next_id = 1

    @property
    def kf(self) -> Optional[KalmanFilter]:
        return getattr(self.tracker, 'motion', None)

    def _predict_tentative(self) -> None:
        """Kalman-predict the tentative tracks that mmdet's tracker would
        match at their last box (ByteTracker, OCSORTTracker)."""
        if self._sort_api or self.kf is None:
            return
        for tid in getattr(self.tracker, 'unconfirmed_ids', []):
            track = self.tracker.tracks[tid]
            track.mean, track.covariance = self.kf.predict(
                track.mean, track.covariance)

    def _velocity_prior(self, boxes: np.ndarray) -> None:
        """Set the velocity of the tracks seen once so far (and the prior of
        new ones) to the flow estimate: the median velocity of the tracks
        confirmed with 3 or more detections, else the median displacement
        from each of the last frame's box centres to its nearest centre in
        this frame (``boxes``: (N, 4))."""
        kf = self.kf
        if not self.auto_velocity or not isinstance(kf, DropletKalmanFilter):
            return
        tracks = self.tracker.tracks.values()
        vel = [t.mean[4:6] for t in tracks
               if not t.get('tentative', False) and len(t.bboxes) >= 3
               and int(t.frame_ids[-1]) == self.frame_id - 1]
        centres = 0.5 * (boxes[:, :2] + boxes[:, 2:])
        if vel:
            v = np.median(vel, axis=0)
        elif len(self._last_centres) and len(centres):
            d = centres[None] - self._last_centres[:, None]  # (P, N, 2)
            near = (d**2).sum(-1).argmin(1)
            v = np.median(d[np.arange(len(d)), near], axis=0)
        else:
            v = np.array(kf.init_velocity)
        self._last_centres = centres
        kf.init_velocity = (float(v[0]), float(v[1]))
        for t in tracks:
            if len(t.bboxes) == 1 and int(
                    t.frame_ids[-1]) == self.frame_id - 1:
                t.mean[4:6] = v

    def _drop_left(self) -> None:
        """End the tracks lost in this frame whose last mask touched the
        frame border: the droplet has left the field, and the next one to
        reach the border must not take its id."""
        for tid in [tid for tid, t in self.tracker.tracks.items()
                    if int(t.frame_ids[-1]) != self.frame_id
                    and self._at_edge.get(tid, False)]:
            self.tracker.tracks.pop(tid)

    def _output_id(self, tracker_id: int, area: int, edge: bool) -> int:
        """The output id of a tracker id; a new one where the area jumps
        and stays: a jump seen in one frame only (a detection glitch) keeps
        the id and stays out of the area history; the same jump in the next
        frame too starts the new id there."""
        if tracker_id not in self._out_id:
            self._out_id[tracker_id] = self._next_id
            self._next_id += 1
        oid = self._out_id[tracker_id]
        if edge:
            return oid
        hist = self._areas.setdefault(oid, [])
        if hist and self.split_area_jump is not None:
            ref = float(np.median(hist[-3:]))
            ratio = max(area, 1) / max(ref, 1)
            if max(ratio, 1 / ratio) > 1 + self.split_area_jump:
                up = ratio > 1
                pending = self._pending.pop(oid, None)
                if pending is None or pending[0] != up:
                    self._pending[oid] = (up, area)
                    return oid
                old = oid
                oid = self._out_id[tracker_id] = self._next_id
                self._next_id += 1
                hist = self._areas.setdefault(oid, [pending[1]])
                self.relabels.append((self.frame_id - 1, old, oid))
            else:
                self._pending.pop(oid, None)
        hist.append(area)
        return oid

    def apply_relabels(self, rows: List[Dict[str, float]]) -> None:
        """Give the first row of each split (the frame before it was
        confirmed, already handed out under the old id) its new id, in
        place."""
        moves = {(f, old): new for f, old, new in self.relabels}
        for r in rows:
            new = moves.get((r['frame'], r['track_id']))
            if new is not None:
                r['track_id'] = new

    def update(self, dets: Sequence[Detection],
               frame_hw: Tuple[int, int]) -> List[TrackedDetection]:
        """Track the next frame's detections.

        Args:
            dets: the frame's detections (frame coordinates).
            frame_hw: ``(H, W)`` of the frame (for ``edge``).

        Returns:
            list[TrackedDetection]: the detections the tracker kept, in
            its order, with output track ids.
        """
        from mmdet.structures import DetDataSample
        from mmengine.structures import InstanceData
        self.frame_id += 1
        boxes = [d.bbox if d.bbox is not None else d.box for d in dets]
        sample = DetDataSample(metainfo=dict(frame_id=self.frame_id))
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            scores=torch.tensor([d.score for d in dets],
                                dtype=torch.float32),
            labels=torch.zeros(len(dets), dtype=torch.long))
        self._velocity_prior(np.asarray(boxes, np.float64).reshape(-1, 4))
        if self.frame_id > 0:
            self._predict_tentative()
        if self._sort_api:
            out = self.tracker.track(None, None, sample)
        else:
            out = self.tracker.track(sample)
        # each returned row is a copy of an input row: match by value
        index: Dict[tuple, List[int]] = {}
        for k, (b, s) in enumerate(
                zip(sample.pred_instances.bboxes.tolist(),
                    sample.pred_instances.scores.tolist())):
            index.setdefault((*b, s), []).append(k)
        H, W = frame_hw
        result = []
        for b, s, tid in zip(out.bboxes.tolist(), out.scores.tolist(),
                             out.instances_id.tolist()):
            d = dets[index[(*b, s)].pop(0)]
            edge = touches_border(d.box, H, W)
            self._at_edge[int(tid)] = edge
            result.append(TrackedDetection(
                self._output_id(int(tid), d.area, edge), d, edge))
        self._drop_left()
        return result


def track_fields(px_size: Optional[float] = None,
                 fps: Optional[float] = None) -> List[str]:
    """Columns of :func:`tracked_rows` (``tracks.csv``)."""
    return ['frame'] + (['time_s'] if fps else []) + [
        'track_id', 'cx', 'cy', 'area_px', 'diameter_px'] + (
            ['diameter_um'] if px_size else []) + [
                'circularity', 'score', 'x0', 'y0', 'x1', 'y1', 'edge']


def tracked_rows(frame: int, tracked: Sequence[TrackedDetection],
                 px_size: Optional[float] = None,
                 fps: Optional[float] = None) -> List[Dict[str, float]]:
    """Per-droplet rows of one frame, sorted by track id, with the
    columns of :func:`track_fields`: ``frame`` (0-based), ``time_s``
    (``frame / fps``), ``track_id``, the :func:`~.measure.measure` columns
    (centroid ``cx, cy`` px, ``area_px``, equivalent ``diameter_px`` and
    ``diameter_um``, ``circularity``, ``score``), the tight mask box
    ``x0, y0, x1, y1`` (px, end exclusive) and ``edge`` (1: the mask
    touches the frame border)."""
    fields = track_fields(px_size, fps)
    rows = []
    for t, m in zip(tracked, measure([t.det for t in tracked], px_size)):
        m.update(frame=frame, track_id=t.track_id, edge=int(t.edge))
        m.update(zip(('x0', 'y0', 'x1', 'y1'), t.det.box))
        if fps:
            m['time_s'] = round(frame / fps, 6)
        rows.append({k: m[k] for k in fields})
    return sorted(rows, key=lambda r: r['track_id'])


# on_frame(frame index, BGR frame or None, tracked detections)
FrameCallback = Callable[[int, Optional[np.ndarray],
                          List[TrackedDetection]], None]


def track_detections(frames: Iterable[Tuple[Sequence[Detection],
                                            Tuple[int, int]]],
                     tracker_cfg: Union[str, dict] = 'bytetrack',
                     px_size: Optional[float] = None,
                     fps: Optional[float] = None,
                     split_area_jump: Optional[float] = 0.3,
                     auto_velocity: bool = True,
                     on_frame: Optional[FrameCallback] = None
                     ) -> List[Dict[str, float]]:
    """Track given detections (e.g. ground truth, or a detector's run
    elsewhere).

    Args:
        frames: per frame, in order: ``(detections, (H, W))``.
        tracker_cfg: see :class:`DropletTracker`; a name gets
            :func:`tracker_config` at score 0.5.
        px_size: um per px (adds ``diameter_um``).
        fps: frames per second (adds ``time_s``).
        split_area_jump, auto_velocity: see :class:`DropletTracker`.
        on_frame: called as ``on_frame(k, None, tracked)`` per frame.

    Returns:
        list[dict]: :func:`tracked_rows` of every frame.
    """
    tracker = DropletTracker(tracker_cfg, auto_velocity, split_area_jump)
    rows = []
    for k, (dets, hw) in enumerate(frames):
        tracked = tracker.update(dets, hw)
        if on_frame is not None:
            on_frame(k, None, tracked)
        rows += tracked_rows(k, tracked, px_size, fps)
    tracker.apply_relabels(rows)
    return rows


def track_video(predict_fn: PredictFn,
                frames: Iterable[np.ndarray],
                tracker_cfg: Union[str, dict] = 'bytetrack',
                score_thr: float = 0.5,
                px_size: Optional[float] = None,
                fps: Optional[float] = None,
                tile: int = 1536,
                overlap: int = 64,
                low_score_thr: float = 0.1,
                split_area_jump: Optional[float] = 0.3,
                auto_velocity: bool = True,
                on_frame: Optional[FrameCallback] = None,
                velocity: Optional[Tuple[float, float]] = None
                ) -> List[Dict[str, float]]:
    """Detect and track droplets in a sequence of frames.

    Each frame is predicted with
    :func:`~droplet_mmdet.apis.slicing.predict_frame` (tiled when larger
    than ``tile``) and handed to a :class:`DropletTracker`.

    Args:
        predict_fn: tiles -> detections per tile (e.g.
            :func:`~droplet_mmdet.apis.predictor.mmdet_predict_fn`).
        frames: (H, W, 3) BGR images in time order (frame index 0, 1, ...).
        tracker_cfg: a name of :data:`TRACKERS` (configured by
            :func:`tracker_config` with ``score_thr`` and
            ``low_score_thr``) or an mmdet tracker config.
        score_thr: detections from this score start and continue tracks.
        px_size: um per px (adds ``diameter_um``).
        fps: frames per second (adds ``time_s``).
        tile, overlap: slicing of large frames.
        low_score_thr: for ByteTrack, detections from this score may
            continue (never start) a track; the frame is predicted at
            ``min(score_thr, low_score_thr)``.
        split_area_jump, auto_velocity: see :class:`DropletTracker`.
        on_frame: called as ``on_frame(k, image, tracked)`` per frame
            (overlays).
        velocity: the flow's displacement ``(vx, vy)`` in px/frame, where
            it is known: every track starts at it and ``auto_velocity`` is
            off. Without it the first estimate is each droplet's shift to
            its nearest droplet in the next frame, which is wrong (the flow
            looks slower, or backwards) once droplets move half their
            spacing or more per frame (``benchmarks/tracking.json``).

    Returns:
        list[dict]: one row per tracked droplet and frame
        (:func:`tracked_rows`).
    """
    if isinstance(tracker_cfg, str):
        tracker_cfg = tracker_config(tracker_cfg, score_thr, low_score_thr)
    if velocity is not None:
        tracker_cfg = dict(tracker_cfg)
        tracker_cfg['motion'] = dict(
            tracker_cfg.get('motion') or dict(type='DropletKalmanFilter'),
            init_velocity=(float(velocity[0]), float(velocity[1])))
        auto_velocity = False
    det_thr = min(score_thr, low_score_thr) if tracker_cfg.get(
        'type') == 'ByteTracker' else score_thr
    tracker = DropletTracker(tracker_cfg, auto_velocity, split_area_jump)
    rows = []
    for k, image in enumerate(frames):
        dets = predict_frame(predict_fn, image, tile=tile, overlap=overlap,
                             score_thr=det_thr)
        tracked = tracker.update(dets, image.shape[:2])
        if on_frame is not None:
            on_frame(k, image, tracked)
        rows += tracked_rows(k, tracked, px_size, fps)
    tracker.apply_relabels(rows)
    return rows

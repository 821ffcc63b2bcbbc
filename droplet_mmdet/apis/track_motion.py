"""The motion model and tracker settings for droplets: mmdet's Kalman
filter with noise scales for fast droplets (registered in mmdet's
``TASK_UTILS`` as ``DropletKalmanFilter``), and mmdet tracker configs
(``ByteTracker``, ``SORTTracker``, ``OCSORTTracker``) that use it. See
:mod:`.track` for why."""
from typing import Tuple

import numpy as np
from mmdet.models.task_modules.tracking import KalmanFilter
from mmdet.registry import TASK_UTILS

TRACKERS = ('bytetrack', 'sort', 'ocsort')


@TASK_UTILS.register_module()
class DropletKalmanFilter(KalmanFilter):
    """mmdet's constant-velocity ``KalmanFilter`` on ``(cx, cy, a, h)``
    boxes, with noise scales for fast droplets.

    Standard deviations are relative to the box height ``h`` (px), as in
    mmdet: measurement noise ``std_weight_position * h`` px, process noise
    on the velocity ``std_weight_velocity * h`` px/frame per frame, and a
    new track's velocity prior ``init_velocity`` px/frame with sd
    ``init_velocity_std * h`` (one diameter per frame by default, so the
    first displacement sets the velocity).

    Args:
        init_velocity (tuple[float]): prior ``(vx, vy)`` of a new track,
            px/frame. :class:`~.track.DropletTracker` sets it from the
            confirmed tracks when ``auto_velocity`` is on.
        init_velocity_std (float): sd of that prior, in box heights per
            frame.
        std_weight_position (float): position noise, in box heights.
        std_weight_velocity (float): velocity process noise, in box heights
            per frame.
        center_only (bool): as mmdet's ``KalmanFilter`` (gating).
        use_nsa (bool): as mmdet's ``KalmanFilter``.
    """

    def __init__(self,
                 init_velocity: Tuple[float, float] = (0.0, 0.0),
                 init_velocity_std: float = 1.0,
                 std_weight_position: float = 1 / 20,
                 std_weight_velocity: float = 1 / 40,
                 center_only: bool = False,
                 use_nsa: bool = False):
        super().__init__(center_only=center_only, use_nsa=use_nsa)
        self.init_velocity = tuple(float(v) for v in init_velocity)
        self.init_velocity_std = float(init_velocity_std)
        self._std_weight_position = float(std_weight_position)
        self._std_weight_velocity = float(std_weight_velocity)

    def initiate(self, measurement: np.ndarray
                 ) -> Tuple[np.ndarray, np.ndarray]:
        """A new track from a ``(cx, cy, a, h)`` measurement.

        Returns:
            tuple: the (8, ) mean (velocity ``init_velocity``) and the
            (8, 8) covariance.
        """
        mean, cov = super().initiate(measurement)
        mean[4:6] = self.init_velocity
        cov[4, 4] = cov[5, 5] = (self.init_velocity_std * measurement[3])**2
        return mean, cov


def tracker_config(name: str = 'bytetrack', score_thr: float = 0.5,
                   low_score_thr: float = 0.1,
                   num_frames_retain: int = 5) -> dict:
    """An mmdet tracker config for droplets.

    ``'bytetrack'``: ``ByteTracker``; detections scoring ``score_thr`` or
    more are matched first and may start tracks, those from
    ``low_score_thr`` may only continue one (IoU >= 0.5). ``'sort'``:
    ``SORTTracker`` without re-identification (IoU with the track's last
    box >= 0.2; its Kalman filter only predicts). ``'ocsort'``:
    ``OCSORTTracker``. IoU is not weighted by the score; a lost track is
    kept ``num_frames_retain`` frames.

    Args:
        name: one of :data:`TRACKERS`.
        score_thr: the detection score that starts a track.
        low_score_thr: ByteTrack's second-stage score.
        num_frames_retain: frames a lost track is kept.

    Returns:
        dict: the config, for ``mmdet.registry.MODELS.build``.
    """
    # mmdet's trackers compare ``score > thr``: droplets at score_thr count
    thr = float(np.nextafter(score_thr, -np.inf))
    motion = dict(type='DropletKalmanFilter')
    if name == 'bytetrack':
        return dict(type='ByteTracker', motion=motion,
                    obj_score_thrs=dict(high=thr, low=float(
                        np.nextafter(min(low_score_thr, score_thr),
                                     -np.inf))),
                    init_track_thr=thr, weight_iou_with_det_scores=False,
                    match_iou_thrs=dict(high=0.1, low=0.5, tentative=0.3),
                    num_tentatives=3, num_frames_retain=num_frames_retain)
    if name == 'sort':
        return dict(type='SORTTracker', motion=motion, obj_score_thr=thr,
                    reid=None, match_iou_thr=0.2, num_tentatives=3,
                    num_frames_retain=num_frames_retain)
    if name == 'ocsort':
        return dict(type='OCSORTTracker', motion=motion, obj_score_thr=thr,
                    init_track_thr=thr, weight_iou_with_det_scores=False,
                    match_iou_thr=0.3, num_tentatives=3, reid=None,
                    num_frames_retain=num_frames_retain)
    raise ValueError(f'unknown tracker {name!r}; expected one of {TRACKERS}')

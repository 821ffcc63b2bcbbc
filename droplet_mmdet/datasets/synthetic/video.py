"""Synthetic droplet videos with ground-truth trajectories.

A :class:`VideoSpec` describes a horizontal microfluidic channel seen from
above: droplets pinch off at a nozzle (T-junction or flow-focusing) at a
set frequency with a small size CV, are carried along the channel by a
known velocity profile (plug or Poiseuille), optionally jitter, leave at
the outlet, and on a schedule (or at a rate) coalesce or break up. Two
stages, both pure and seeded:

* :func:`.video_sim.simulate`: every droplet's state in every frame and
  the events, from ``(spec, seed)`` (see :mod:`.video_sim` for the motion
  and event model);
* :func:`render_video` / :func:`render_video_frame`: the frames, drawn
  with the existing painters (:func:`.painter.paint_brightfield`; in
  fluorescence :func:`.optics.paint_droplet`) over a static scene
  (background, channel walls, debris and illumination of
  :mod:`.background`), then blur, sensor noise and quantisation
  (:mod:`.optics`).

Frame ``t`` depends only on ``(spec, seed, t)``: the scene comes from
per-video streams, each droplet's look from its own stream (so it keeps
its look along its track), the sensor noise from a per-frame stream.
:func:`.video_io.write_video` writes the PNGs, MP4, MOT ``gt.txt``, COCO
json and truth tables.

**Masks** follow the mask rule of :mod:`.render`: a pixel belongs to a
droplet when its centre lies inside the droplet's outline and no droplet
drawn later (in front; later-born droplets are drawn later) covers it;
droplets with fewer than ``min_visible_px`` visible pixels get no label.

Shorthand: H x W frame, D droplets in a frame.
"""
import math
from dataclasses import dataclass
from typing import (Dict, Iterator, List, NamedTuple, Optional, Sequence,
                    Tuple)

import cv2
import numpy as np

from . import background as B
from . import optics
from .painter import paint_brightfield
from .render import Droplet
from .shapes import Outline
from .spec import draw, is_on, stream
from .video_sim import DropletState, Trajectories, simulate
from .video_spec import (V_DEBRIS, V_DROPLET, V_NOISE, V_SCENE, V_SPECKLE,
                         V_TEXTURE, V_VIGNETTE, VideoSpec, flow_velocity)

__all__ = [
    'VideoSpec', 'DropletState', 'Trajectories', 'TrackedDroplet',
    'flow_velocity', 'simulate', 'channel_boxes', 'draw_channel',
    'render_video', 'render_video_frame', 'scene_info'
]


@dataclass
class TrackedDroplet(Droplet):
    """A rendered, labelled droplet of a video frame: a :class:`Droplet`
    (visible mask, true geometry) plus its ``track_id``, drift velocity
    ``vx, vy`` (px/frame) and ``visibility`` (visible mask area / outline
    area, at most 1)."""
    track_id: int = 0
    vx: float = 0.0
    vy: float = 0.0
    visibility: float = 1.0


class _Scene(NamedTuple):
    """What stays the same in every frame of a video."""
    background: np.ndarray  # (H, W) float32, before the light
    light: np.ndarray  # (H, W) float32
    blur_sigma: float
    photons: float
    read_noise: float
    z_max: float
    rim_scale: float

    def info(self) -> Dict[str, float]:
        return dict(blur_sigma=self.blur_sigma, photons=self.photons,
                    read_noise=self.read_noise, defocus_max=self.z_max,
                    rim_scale=self.rim_scale)


def _box_sdf(xs: np.ndarray, ys: np.ndarray,
             box: Tuple[float, float, float, float]) -> np.ndarray:
    """Signed distance (px, < 0 inside) to an axis-aligned box
    ``x0, y0, x1, y1`` at points ``xs`` (1, W) / ``ys`` (H, 1)."""
    x0, y0, x1, y1 = box
    qx = np.abs(xs - 0.5 * (x0 + x1)) - 0.5 * (x1 - x0)
    qy = np.abs(ys - 0.5 * (y0 + y1)) - 0.5 * (y1 - y0)
    out = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return out + np.minimum(np.maximum(qx, qy), 0)


def channel_boxes(spec: VideoSpec) -> List[Tuple[float, float, float, float]]:
    """The channel network as overlapping boxes ``x0, y0, x1, y1``: the
    main channel and the nozzle's inlets (they reach past the frame)."""
    H, W = spec.height, spec.width
    top, bot = spec.channel
    d, yc, far = spec.diameter, 0.5 * sum(spec.channel), 4 * spec.diameter
    if spec.nozzle == 'none':
        return [(-far, top, W + far, bot)]
    if spec.nozzle == 't_junction':
        w = 0.5 * d
        return [(-far, top, W + far, bot),
                (spec.inlet_x - w, -far, spec.inlet_x + w, top + w)]
    xj = spec.inlet_x - d  # flow-focusing: the orifice
    ws, wi = 0.6 * d, 0.35 * d
    return [(xj - ws, top, W + far, bot),
            (-far, yc - wi, xj, yc + wi),
            (xj - ws, -far, xj, top + ws), (xj - ws, bot - ws, xj, H + far)]


def draw_channel(img: np.ndarray, spec: VideoSpec) -> None:
    """Channel walls in place: a dark edge line along the boundary of the
    channel network and a slightly different outside (the profile of
    :func:`.background.draw_walls`, on the union of
    :func:`channel_boxes`)."""
    H, W = img.shape
    xs = np.arange(W, dtype=np.float32)[None, :] + np.float32(0.5)
    ys = np.arange(H, dtype=np.float32)[:, None] + np.float32(0.5)
    sdf = np.min([_box_sdf(xs, ys, b) for b in channel_boxes(spec)], 0)
    outside = np.clip(sdf + 0.5, 0, 1)
    edge = np.exp(-0.5 * (sdf / 1.2)**2)
    if spec.look == 'brightfield':
        img *= (1 - 0.12 * outside) * (1 - 0.6 * edge)
    else:
        img += 0.05 * edge


def _scene(spec: VideoSpec, seed: int) -> _Scene:
    H, W = spec.height, spec.width
    rng = stream(seed, V_SCENE)
    bright = spec.look == 'brightfield'
    base = rng.uniform(0.55, 0.8) if bright else rng.uniform(0.03, 0.08)
    img = np.full((H, W), base, np.float32)
    if is_on(spec.texture):
        r = stream(seed, V_TEXTURE)
        img *= B.texture(H, W, draw(r, spec.texture), r)
    if is_on(spec.speckle):
        r = stream(seed, V_SPECKLE)
        B.speckle(img, draw(r, spec.speckle), spec.look, r)
    draw_channel(img, spec)
    if spec.debris > 0:
        B.draw_distractors(img, 0.0, spec.debris, spec.look,
                           stream(seed, V_DEBRIS))
    light = B.illumination(H, W, spec.illumination, rng)
    if is_on(spec.vignetting):
        r = stream(seed, V_VIGNETTE)
        light = light * B.vignette(H, W, draw(r, spec.vignetting), r)
    return _Scene(img, light.astype(np.float32),
                  float(rng.uniform(*spec.blur_sigma)),
                  float(rng.uniform(*spec.photons)),
                  float(rng.uniform(*spec.read_noise)),
                  draw(rng, spec.defocus), draw(rng, spec.rim_scale))


def _compose(spec: VideoSpec, seed: int, scene: _Scene,
             states: Sequence[DropletState], t: int
             ) -> Tuple[np.ndarray, List[TrackedDroplet]]:
    """Draw frame ``t``: the droplets (drawing order = ``states``) over the
    scene, then light, blur, sensor noise and quantisation."""
    H, W = spec.height, spec.width
    img = scene.background.copy()
    owner = np.full((H, W), -1, np.int32)
    scratch = np.empty((H, W), np.int32)  # the painter's owner, unused
    geoms = []
    for k, s in enumerate(states):
        o = Outline(s.cx, s.cy, s.a, s.b, s.theta)
        r = 0.5 * s.diameter
        # a fresh stream per droplet and frame: the same draws every frame
        rng = np.random.default_rng([seed, V_DROPLET, *s.key])
        z = rng.uniform(-scene.z_max, scene.z_max) if scene.z_max else 0.0
        rim = scene.rim_scale * rng.uniform(0.7, 1.3) * r
        if spec.look == 'brightfield':
            g = paint_brightfield(img, scratch, [o], np.ones(1, bool),
                                  np.array([z]), np.array([rim]),
                                  spec.contents_prob, rng).get(0)
        else:
            contents = rng.random() < spec.contents_prob
            g = o.patch(4.0 + 3 * optics.defocus_sigma(z, r), H, W)
            if g is not None:
                optics.paint_droplet(img, g, 'fluorescence', rng, contents,
                                     z=z, rim_extra=rim, r=r)
        if g is None:
            continue
        x0, y0, d, _ = g
        owner[y0:y0 + d.shape[0], x0:x0 + d.shape[1]][d < 0] = k
        geoms.append((k, g))
    img *= scene.light
    if scene.blur_sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), scene.blur_sigma)
    img = optics.sensor(img, scene.photons, scene.read_noise,
                        np.random.default_rng([seed, V_NOISE, t]))
    image = optics.quantise(img, spec.bit_depth, 8)

    droplets = []
    for k, (x0, y0, d, _) in geoms:
        h, w = d.shape
        mask = owner[y0:y0 + h, x0:x0 + w] == k
        if mask.sum() < spec.min_visible_px:
            continue
        s = states[k]
        c, si = math.cos(s.theta), math.sin(s.theta)
        hw, hh = math.hypot(s.a * c, s.b * si), math.hypot(s.a * si, s.b * c)
        cut = bool(s.cx - hw < 0 or s.cy - hh < 0 or s.cx + hw > W
                   or s.cy + hh > H)
        droplets.append(TrackedDroplet(
            s.cx, s.cy, s.a, s.b, s.theta, s.diameter, cut, x0, y0, mask,
            outline=Outline(s.cx, s.cy, s.a, s.b, s.theta), track_id=s.id,
            vx=s.vx, vy=s.vy,
            visibility=min(float(mask.sum()) / (math.pi * s.a * s.b), 1.0)))
    return image, droplets


def scene_info(spec: VideoSpec, seed: int) -> Dict[str, float]:
    """The per-video draws of the look (blur, photons, read noise, defocus
    bound, rim scale), for the record."""
    return {k: round(v, 6) for k, v in _scene(spec, seed).info().items()}


def render_video(spec: VideoSpec, seed: int = 0,
                 trajectories: Optional[Trajectories] = None
                 ) -> Iterator[Tuple[int, np.ndarray, List[TrackedDroplet]]]:
    """Render a video frame by frame.

    Args:
        spec: the video.
        seed: any non-negative integer; the same ``(spec, seed)`` always
            gives the same bytes.
        trajectories: ``simulate(spec, seed)`` if already computed.

    Yields:
        tuple: ``(t, image, droplets)``: frame index, (H, W) uint8 image,
        and its labelled droplets in drawing order.
    """
    traj = trajectories or simulate(spec, seed)
    scene = _scene(spec, seed)
    for t in range(spec.n_frames):
        image, droplets = _compose(spec, seed, scene, traj.states[t], t)
        yield t, image, droplets


def render_video_frame(spec: VideoSpec, seed: int, t: int
                       ) -> Tuple[np.ndarray, List[TrackedDroplet]]:
    """Frame ``t`` alone, from ``(spec, seed, t)``: the same bytes as the
    ``t``-th frame of :func:`render_video`."""
    if not 0 <= t < spec.n_frames:
        raise IndexError(f'frame {t} outside 0..{spec.n_frames - 1}')
    traj = simulate(spec, seed)
    return _compose(spec, seed, _scene(spec, seed), traj.states[t], t)

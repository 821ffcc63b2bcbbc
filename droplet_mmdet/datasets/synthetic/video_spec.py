"""What a synthetic droplet video holds: :class:`VideoSpec` and the flow.

Lengths are in px, times in frames (pixel centres at integer + 0.5). The
flow along the channel is ``u(y) = u_max`` (``profile='plug'``) or
``u(y) = u_max (1 - (2 (y - yc) / Hc)^2)`` (``'poiseuille'``; ``yc``,
``Hc``: the channel's centre line and height), see :func:`flow_velocity`.
"""
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple

import numpy as np

from .spec import Knob, Range

__all__ = ['VideoSpec', 'flow_velocity']

# one random stream per feature, ``spec.stream(seed, key)`` (the keys are
# part of the byte format: do not reuse them)
V_BIRTH, V_EVENT, V_SCENE, V_TEXTURE, V_SPECKLE, V_DEBRIS = range(101, 107)
V_VIGNETTE, V_DROPLET, V_JITTER, V_NOISE = range(107, 111)
NOZZLES = ('none', 't_junction', 'flow_focusing')
PROFILES = ('plug', 'poiseuille')


@dataclass
class VideoSpec:
    """Everything that controls a video (lengths in px, times in frames).

    Frame and channel: ``height``, ``width``, ``n_frames``, ``fps`` (only
    for the MP4 and for converting Hz); ``channel`` = ``(top, bottom)``
    y of the two walls; ``nozzle`` (``'none'``, ``'t_junction'``: a side
    inlet from the top at ``inlet_x``, ``'flow_focusing'``: an inlet from
    the left, pinched by two side channels; drawn only, the droplets start
    at the inlet either way).

    Generation: ``inlet_x`` (centre x where droplets appear; negative:
    they enter from the left border), ``inlet_y`` (``None``: the channel's
    centre line) and ``inlet_y_sd`` (its spread), ``frequency`` (droplets
    per frame; Hz = ``frequency * fps``), ``period_cv`` (spread of the
    time between births), ``diameter`` (mean, px), ``diameter_cv``,
    ``prefill`` (start with a full channel).

    Flow: ``profile`` (``'plug'`` or ``'poiseuille'``), ``u_max``
    (px/frame on the centre line), ``jitter`` (sd of a per-frame random
    displacement, px, each axis).

    Events: ``coalescence`` and ``breakup`` (frames at which one happens),
    ``coalescence_rate`` and ``breakup_rate`` (chance per frame of one
    more), ``approach_frames`` (frames a coalescing pair takes to meet, at
    least 2), ``relax_frames`` (frames of elongation before a break-up and
    of relaxation after a coalescence), ``split_speed`` (px/frame each
    daughter moves away from the other).

    Look, with the meaning of the same :class:`FrameSpec` knobs but drawn
    once per video (a camera does not change between frames): ``look``
    (``'brightfield'`` or ``'fluorescence'``), ``texture``, ``speckle``,
    ``debris`` (mean count of fibres/particles stuck on the chip),
    ``illumination``, ``vignetting``, ``blur_sigma``, ``photons``,
    ``read_noise``, ``bit_depth``; per droplet, constant along its track:
    ``rim_scale``, ``defocus`` (bound of ``|z|``), ``contents_prob``.
    ``min_visible_px``: smaller visible remnants are not labelled.
    """
    height: int = 256
    width: int = 512
    n_frames: int = 60
    fps: float = 30.0
    channel: Range = (88.0, 168.0)
    nozzle: str = 't_junction'
    # generation
    inlet_x: float = 40.0
    inlet_y: Optional[float] = None
    inlet_y_sd: float = 1.0
    frequency: float = 0.25
    period_cv: float = 0.02
    diameter: float = 20.0
    diameter_cv: float = 0.03
    prefill: bool = True
    # flow
    profile: str = 'poiseuille'
    u_max: float = 12.0
    jitter: float = 0.2
    # events
    coalescence: Tuple[int, ...] = ()
    breakup: Tuple[int, ...] = ()
    coalescence_rate: float = 0.0
    breakup_rate: float = 0.0
    approach_frames: int = 4
    relax_frames: int = 3
    split_speed: float = 1.5
    # look
    look: str = 'brightfield'
    texture: Knob = (0.0, 0.05)
    speckle: Knob = (0.0, 300.0)
    debris: float = 2.0
    illumination: float = 0.2
    vignetting: Knob = (0.0, 0.3)
    blur_sigma: Range = (0.0, 0.8)
    photons: Range = (150.0, 600.0)
    read_noise: Range = (0.004, 0.012)
    bit_depth: int = 8
    rim_scale: Knob = (0.0, 0.5)
    defocus: Knob = None
    contents_prob: float = 0.0
    min_visible_px: int = 10

    def __post_init__(self):
        self.channel = tuple(float(v) for v in self.channel)
        self.coalescence = tuple(int(f) for f in self.coalescence)
        self.breakup = tuple(int(f) for f in self.breakup)
        self._check()

    def _check(self) -> None:
        def need(ok, msg):
            if not ok:
                raise ValueError(msg)

        need(self.height >= 16 and self.width >= 16,
             f'frame must be at least 16 x 16 px, got '
             f'{self.height} x {self.width}')
        need(self.n_frames >= 1, f'n_frames must be >= 1, got '
             f'{self.n_frames}')
        need(self.fps > 0, f'fps must be > 0, got {self.fps}')
        need(len(self.channel) == 2, 'channel is (top, bottom) in px')
        top, bot = self.channel
        need(0 <= top < bot <= self.height,
             f'channel walls {self.channel} must satisfy 0 <= top < bottom '
             f'<= height ({self.height})')
        need(self.diameter >= 3, f'diameter must be >= 3 px, got '
             f'{self.diameter}')
        need(0 <= self.diameter_cv <= 0.2, f'diameter_cv must be in '
             f'[0, 0.2], got {self.diameter_cv}')
        need(bot - top >= 1.6 * self.diameter + 2,
             f'channel height {bot - top:g} px is too small for droplets '
             f'of {self.diameter:g} px (need >= 1.6 x diameter + 2: a '
             f'merged droplet must fit)')
        need(self.nozzle in NOZZLES, f'nozzle must be one of {NOZZLES}, '
             f'got {self.nozzle!r}')
        need(self.profile in PROFILES, f'profile must be one of '
             f'{PROFILES}, got {self.profile!r}')
        need(self.look in ('brightfield', 'fluorescence'),
             f"look must be 'brightfield' or 'fluorescence', got "
             f'{self.look!r}')
        need(self.u_max > 0, f'u_max must be > 0 px/frame, got '
             f'{self.u_max}')
        need(self.frequency > 0, f'frequency must be > 0 droplets/frame, '
             f'got {self.frequency}')
        need(0 <= self.period_cv <= 0.5, f'period_cv must be in [0, 0.5], '
             f'got {self.period_cv}')
        need(-self.diameter <= self.inlet_x < self.width,
             f'inlet_x must be in [-diameter, width), got {self.inlet_x}')
        y0 = self.birth_y()
        need(top < y0 < bot, f'inlet_y {y0} must lie inside the channel '
             f'{self.channel}')
        spacing = flow_velocity(self, y0) / self.frequency
        need(spacing >= self.diameter,
             f'droplets would overlap at the inlet: spacing u / frequency '
             f'= {spacing:.1f} px < diameter {self.diameter:g} px (raise '
             f'the velocity or lower the frequency)')
        need(self.jitter >= 0 and self.inlet_y_sd >= 0,
             'jitter and inlet_y_sd must be >= 0')
        for name in ('coalescence', 'breakup'):
            bad = [f for f in getattr(self, name)
                   if not 1 <= f < self.n_frames]
            need(not bad, f'{name} frames must be in [1, n_frames = '
                 f'{self.n_frames}), got {bad}')
        need(0 <= self.coalescence_rate <= 1 and 0 <= self.breakup_rate <= 1,
             'coalescence_rate and breakup_rate are chances in [0, 1]')
        need(self.approach_frames >= 2, f'approach_frames must be >= 2, '
             f'got {self.approach_frames}')
        need(self.relax_frames >= 1, f'relax_frames must be >= 1, got '
             f'{self.relax_frames}')
        need(1 <= self.bit_depth <= 8, f'bit_depth must be in 1..8, got '
             f'{self.bit_depth}')

    def birth_y(self) -> float:
        """Mean y at which droplets appear."""
        if self.inlet_y is None:
            return 0.5 * (self.channel[0] + self.channel[1])
        return float(self.inlet_y)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


def flow_velocity(spec: VideoSpec, y):
    """Flow speed ``u(y)`` (px/frame, along +x) at height ``y`` (float or
    array), zero outside the channel."""
    y = np.asarray(y, float)
    if spec.profile == 'plug':
        u = np.full(y.shape, float(spec.u_max))
    else:
        top, bot = spec.channel
        q = 2 * (y - 0.5 * (top + bot)) / (bot - top)
        u = spec.u_max * np.maximum(1 - q * q, 0)
    return u if u.ndim else float(u)

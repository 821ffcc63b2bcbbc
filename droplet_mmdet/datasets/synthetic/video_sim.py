"""Droplet trajectories of a synthetic video, without pixels.

:func:`simulate` computes every droplet's state (centre, ellipse, drift
velocity) in every frame and the event list from ``(spec, seed)`` alone
(a few ms).

**Motion.** Births are at times ``t_k`` spaced ``1 / frequency`` frames
(times ``1 + period_cv N(0, 1)``): the droplet appears in frame
``ceil(t_k)`` at ``x = inlet_x + u(y) (ceil(t_k) - t_k)``, ``y`` drawn
around the inlet's ``y``. Between frames
``p(t + 1) = p(t) + v(t) + jitter N(0, 1)^2``, with the drift velocity
``v(t) = (u(y(t)), 0)`` (:func:`.video_spec.flow_velocity`) plus, during an
event, the event's extra velocity; ``y`` then stays ``r + 1`` px inside the
walls. A droplet leaves when its outline has passed the right border
(the outlet). ``prefill`` starts the simulation early enough that frame 0
shows a channel already full (steady state).

**Events.** Coalescence in frame ``f``: in frame ``f - approach_frames``
the two neighbouring free droplets whose meeting point is nearest the
field's centre are chosen; the trailing one speeds up (and moves onto the
leader's line) so that they touch in frame ``f - 1``; in frame ``f`` both
are replaced by one new droplet at their area-weighted centroid with the
summed area (``d^2 = d1^2 + d2^2``: droplets squeezed flat in a shallow
channel keep their area), an ellipse elongated along the parents' line
that relaxes to a disc over ``relax_frames`` frames (area kept). Break-up
in frame ``f``: the free droplet nearest the centre stretches over
``relax_frames`` frames to ``a = sqrt(2) r`` and is replaced in frame
``f`` by two touching daughters of half its area, which move apart at
``+-split_speed`` px/frame for ``relax_frames`` frames. Children get new
ids; an event is recorded with its parents and children, or, when no
droplets qualify, reported as skipped. Droplets do not otherwise
interact: overtaking ones (Poiseuille flow with a spread of ``y``) may
overlap.

Shorthand: T frames, D droplets in a frame.
"""
import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .spec import stream
from .video_spec import V_BIRTH, V_EVENT, V_JITTER, VideoSpec, flow_velocity

__all__ = ['DropletState', 'Trajectories', 'simulate']


@dataclass
class DropletState:
    """A droplet in one frame of the simulation.

    ``id`` is its track id (1, 2, ... in order of first appearance);
    ``cx, cy`` its centre, ``a >= b, theta`` its ellipse, ``diameter`` the
    true equivalent diameter ``2 sqrt(a b)``; ``vx, vy`` the drift velocity
    (px/frame) that carries it to the next frame (before jitter); ``key``
    names its look stream.
    """
    id: int
    cx: float
    cy: float
    a: float
    b: float
    theta: float
    diameter: float
    vx: float
    vy: float
    key: Tuple[int, int] = (0, 0)


@dataclass
class Trajectories:
    """What :func:`simulate` returns.

    ``states[t]`` holds the droplets that exist in frame ``t`` (drawing
    order); ``events`` the coalescences and break-ups (``type``,
    ``frame``, ``parents``, ``children`` ids); ``tracks`` one record per
    id (``origin``: ``'nozzle'``, ``'coalescence'`` or ``'breakup'``;
    ``parents``; ``first``/``last`` frame; ``fate``: ``'outlet'``,
    ``'coalescence'``, ``'breakup'`` or ``'in_field'`` at the end);
    ``skipped`` the events that found no droplets to act on.
    """
    states: List[List[DropletState]]
    events: List[Dict[str, Any]]
    tracks: List[Dict[str, Any]]
    skipped: List[Dict[str, Any]]


@dataclass
class _Drop:
    key: Tuple[int, int]  # (0, birth index) or (1, event child index)
    x: float
    y: float
    r: float
    origin: str = 'nozzle'
    parents: Tuple[Tuple[int, int], ...] = ()
    shape: Dict[int, Tuple[float, float]] = field(default_factory=dict)
    extra: Dict[int, Tuple[float, float]] = field(default_factory=dict)
    busy_until: float = -math.inf  # in an event until this frame
    rng: Optional[np.random.Generator] = None

    def ellipse(self, t: int) -> Tuple[float, float, float]:
        a, theta = self.shape.get(t, (self.r, 0.0))
        return a, self.r * self.r / a, theta


def _births(spec: VideoSpec, seed: int, t_start: float
            ) -> Iterator[Tuple[float, float, float]]:
    """Endless ``(time, diameter, y)`` of the births from ``t_start``
    (three draws per birth, whatever the knobs)."""
    rng = stream(seed, V_BIRTH)
    period = 1 / spec.frequency
    t = t_start + rng.uniform(0, period)
    top, bot = spec.channel
    while True:
        dt, dd, dy = rng.standard_normal(3)
        d = spec.diameter * float(np.clip(1 + spec.diameter_cv * dd, 0.5,
                                          1.5))
        y = spec.birth_y() + spec.inlet_y_sd * dy
        y = float(np.clip(y, top + d / 2 + 1, bot - d / 2 - 1))
        yield t, d, y
        t += period * max(1 + spec.period_cv * dt, 0.2)


def _event_plan(spec: VideoSpec, seed: int) -> List[Tuple[int, str]]:
    """``(frame, type)`` of the scripted and the random events."""
    plan = {(f, 'coalescence') for f in spec.coalescence}
    plan |= {(f, 'breakup') for f in spec.breakup}
    if spec.coalescence_rate > 0 or spec.breakup_rate > 0:
        rng = stream(seed, V_EVENT)
        u = rng.random((spec.n_frames, 2))
        for f in range(max(spec.approach_frames, spec.relax_frames) + 1,
                       spec.n_frames):
            if u[f, 0] < spec.coalescence_rate:
                plan.add((f, 'coalescence'))
            if u[f, 1] < spec.breakup_rate:
                plan.add((f, 'breakup'))
    return sorted(plan)


class _Sim:
    """The state machine behind :func:`simulate` (one step per frame)."""

    def __init__(self, spec: VideoSpec, seed: int):
        self.spec, self.seed = spec, seed
        self.alive: List[_Drop] = []
        self.n_children = 0
        self.events: List[Dict[str, Any]] = []
        self.skipped: List[Dict[str, Any]] = []
        self.ends: Dict[Tuple[int, int], Tuple[int, str]] = {}
        self.info: Dict[Tuple[int, int], _Drop] = {}

    def new(self, key, x, y, r, **kw) -> _Drop:
        d = _Drop(key, x, y, r, **kw)
        if self.spec.jitter > 0:
            d.rng = np.random.default_rng([self.seed, V_JITTER, *key])
        self.alive.append(d)
        self.info[key] = d
        return d

    def child(self, x, y, r, ev: Dict[str, Any]) -> _Drop:
        self.n_children += 1
        return self.new((1, self.n_children), x, y, r, origin=ev['type'],
                        parents=ev['parents'])

    def free(self, s: int) -> List[_Drop]:
        """Droplets in no event at frame ``s``, fully out of the inlet."""
        x_in = max(self.spec.inlet_x, 0)
        return [d for d in self.alive
                if d.busy_until <= s and d.x - d.r >= x_in]

    def end(self, d: _Drop, t: int, fate: str) -> None:
        self.alive.remove(d)
        self.ends[d.key] = (t, fate)

    def velocity(self, d: _Drop, t: int) -> Tuple[float, float]:
        ex, ey = d.extra.get(t, (0.0, 0.0))
        return flow_velocity(self.spec, d.y) + ex, ey

    def clip_y(self, d: _Drop) -> None:
        top, bot = self.spec.channel
        lo, hi = top + d.r + 1, bot - d.r - 1
        d.y = 0.5 * (top + bot) if lo > hi else min(max(d.y, lo), hi)

    def ahead(self, d: _Drop, k: int) -> float:
        """x after ``k`` more frames of plain flow (no jitter)."""
        return d.x + k * flow_velocity(self.spec, d.y)

    def plan_coalescence(self, s: int, f: int) -> None:
        """At frame ``s``, choose the pair that merges in frame ``f`` and
        set the trailing droplet's extra velocity so that they touch in
        frame ``f - 1``."""
        W, k = self.spec.width, f - 1 - s
        free = self.free(s)
        order = sorted(self.alive, key=lambda d: d.x)
        best = None
        for b, a in zip(order, order[1:]):  # b trails a
            if b not in free or a not in free or \
                    abs(a.y - b.y) >= a.r + b.r:
                continue
            xa = self.ahead(a, f - s)
            if xa + 2 * a.r >= W:
                continue
            score = abs(0.5 * (xa + self.ahead(b, f - s)) - W / 2)
            if best is None or score < best[0]:
                best = (score, b, a)
        if best is None or k < 1:
            self.skipped.append(dict(type='coalescence', frame=f,
                                     reason='no free neighbours in the '
                                     'field'))
            return
        _, b, a = best
        gap = self.ahead(a, k) - self.ahead(b, k) - (a.r + b.r)
        ex, ey = max(gap, 0.0) / k, (a.y - b.y) / k
        for t in range(s, f - 1):
            b.extra[t] = (ex, ey)
        a.busy_until = b.busy_until = math.inf
        self.events.append(dict(type='coalescence', frame=f,
                                parents=(b.key, a.key)))

    def plan_breakup(self, s: int, f: int) -> None:
        """At frame ``s``, choose the droplet that breaks up in frame
        ``f`` and stretch it over frames ``s .. f - 1``."""
        W, n = self.spec.width, f - s
        best = None
        for d in self.free(s):
            x = self.ahead(d, f - s)
            if x + 2 * d.r >= W:
                continue
            if best is None or abs(x - W / 2) < best[0]:
                best = (abs(x - W / 2), d)
        if best is None or n < 1:
            self.skipped.append(dict(type='breakup', frame=f,
                                     reason='no free droplet in the field'))
            return
        d = best[1]
        for j in range(n):
            d.shape[s + j] = (d.r * (1 + (math.sqrt(2) - 1) * (j + 1) / n),
                              0.0)
        d.busy_until = math.inf
        self.events.append(dict(type='breakup', frame=f, parents=(d.key, )))

    def execute(self, ev: Dict[str, Any], t: int) -> None:
        """Replace the parents of ``ev`` by its children in frame ``t``."""
        n = self.spec.relax_frames
        ps = [self.info[k] for k in ev['parents']]
        if any(p not in self.alive for p in ps):  # left the field early
            self.events.remove(ev)
            self.skipped.append(dict(type=ev['type'], frame=t,
                                     reason='a parent left the field'))
            for p in ps:
                p.busy_until = t
            return
        if ev['type'] == 'coalescence':
            b, a = ps
            wa, wb = a.r**2, b.r**2
            x = (wa * a.x + wb * b.x) / (wa + wb)
            y = (wa * a.y + wb * b.y) / (wa + wb)
            r = math.sqrt(wa + wb)
            dist = math.hypot(a.x - b.x, a.y - b.y)
            theta = math.atan2(a.y - b.y, a.x - b.x)
            a0 = max(0.5 * (dist + a.r + b.r), r)
            kids = [self.child(x, y, r, ev)]
            for j in range(n):
                kids[0].shape[t + j] = (r + (a0 - r) * (1 - j / n), theta)
        else:
            (p, ) = ps
            r = p.r / math.sqrt(2)
            kids = []
            for sign in (-1, 1):
                kid = self.child(p.x + sign * r, p.y, r, ev)
                for j in range(n):
                    kid.extra[t + j] = (sign * self.spec.split_speed, 0.0)
                kids.append(kid)
        for p in ps:
            self.end(p, t - 1, ev['type'])
        for kid in kids:
            kid.busy_until = t + n
            self.clip_y(kid)
        ev['children'] = tuple(kid.key for kid in kids)

    def advance(self, t: int) -> None:
        """Move every droplet from frame ``t`` to ``t + 1``; drop those that
        have left through the outlet."""
        for d in list(self.alive):
            vx, vy = self.velocity(d, t)
            d.x += vx
            d.y += vy
            if d.rng is not None:
                jx, jy = d.rng.normal(0, self.spec.jitter, 2)
                d.x += jx
                d.y += jy
            if vy or d.rng is not None:
                self.clip_y(d)
            a, b, theta = d.ellipse(t + 1)
            if d.x - math.hypot(a * math.cos(theta), b * math.sin(theta)) \
                    >= self.spec.width:  # wholly past the outlet
                self.end(d, t, 'outlet')


def _start_time(spec: VideoSpec) -> float:
    """When births start: early enough for a full channel in frame 0
    with ``prefill`` (the slowest droplet crosses the field), else 0."""
    if not spec.prefill:
        return 0.0
    top, bot = spec.channel
    r = 0.75 * spec.diameter
    y = spec.birth_y() + np.array([-3, 0, 3]) * spec.inlet_y_sd
    u = flow_velocity(spec, np.clip(y, top + r + 1, bot - r - 1)).min()
    return -min((spec.width + 2 * spec.diameter - spec.inlet_x) / u + 2,
                1e4)


def simulate(spec: VideoSpec, seed: int = 0) -> Trajectories:
    """Every droplet's state in every frame, and the events.

    Args:
        spec: the video.
        seed: any non-negative integer; the same ``(spec, seed)`` always
            gives the same trajectories.

    Returns:
        Trajectories: per-frame states, events, tracks, skipped events.
    """
    sim = _Sim(spec, seed)
    t0 = _start_time(spec)
    births = _births(spec, seed, t0)
    nxt = next(births)
    n_born = 0
    plan = _event_plan(spec, seed)
    lead = dict(coalescence=spec.approach_frames, breakup=spec.relax_frames)
    ids: Dict[Tuple[int, int], int] = {}
    first: Dict[Tuple[int, int], int] = {}
    states: List[List[DropletState]] = []
    t_first = int(math.floor(t0))
    for t in range(t_first, spec.n_frames):
        for ev in [e for e in sim.events if e['frame'] == t]:
            sim.execute(ev, t)
        while nxt[0] <= t:
            tb, d, y = nxt
            sim.new((0, n_born), spec.inlet_x +
                    flow_velocity(spec, y) * (t - tb), y, d / 2)
            n_born += 1
            nxt = next(births)
        for f, kind in plan:  # planned ``lead`` frames ahead, or at once
            if max(f - lead[kind], t_first) == t:
                getattr(sim, 'plan_' + kind)(t, f)
        if t >= 0:
            row = []
            for d in sim.alive:
                if d.key not in ids:
                    ids[d.key] = len(ids) + 1
                    first[d.key] = t
                a, b, theta = d.ellipse(t)
                vx, vy = sim.velocity(d, t)
                row.append(DropletState(ids[d.key], d.x, d.y, a, b, theta,
                                        2 * d.r, vx, vy, d.key))
            states.append(row)
        sim.advance(t)
    return _finish(sim, states, ids, first, spec.n_frames)


def _finish(sim: _Sim, states, ids, first, n_frames) -> Trajectories:
    """Replace keys by ids in the events; one record per track."""
    events = []
    for ev in sim.events:
        if 'children' in ev:
            events.append(dict(type=ev['type'], frame=ev['frame'],
                               parents=[ids[k] for k in ev['parents']],
                               children=[ids[k] for k in ev['children']]))
    tracks = []
    for key, i in ids.items():
        d = sim.info[key]
        last, fate = sim.ends.get(key, (n_frames - 1, 'in_field'))
        tracks.append(dict(id=i, origin=d.origin,
                           parents=[ids[k] for k in d.parents if k in ids],
                           first=first[key], last=min(last, n_frames - 1),
                           fate=fate, diameter=round(2 * d.r, 4)))
    return Trajectories(states, events, tracks, sim.skipped)

"""What tracks say about a droplet flow (pure functions on the rows of
:func:`~droplet_mmdet.apis.track.track_video`): per-track velocity and
size, generation frequency, coalescence and break-up, and MOT scores
against ground truth.

Conventions. Frames are 0-based, positions in px (pixel centres at
integer + 0.5), velocities in px/frame (um/s given ``px_size`` um/px and
``fps``). Only *interior* rows (``edge == 0``: the mask does not touch the
frame border) measure a droplet: a droplet cut by the border has a
shifted centroid and a smaller area. A track's first and last rows may
still be edge rows (it enters or leaves the field). Scores against ground
truth are in :mod:`.track_eval`.
"""
import math
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

Row = Dict[str, float]


def _by_track(rows: Sequence[Row]) -> Dict[int, List[Row]]:
    tracks = defaultdict(list)
    for r in rows:
        tracks[int(r['track_id'])].append(r)
    return {k: sorted(v, key=lambda r: r['frame'])
            for k, v in sorted(tracks.items())}


def _median(values) -> Optional[float]:
    return float(np.median(values)) if len(values) else None


def _round(v: Optional[float], nd: int = 4) -> Optional[float]:
    return None if v is None else round(float(v), nd)


def summary_fields(px_size: Optional[float] = None,
                   fps: Optional[float] = None) -> List[str]:
    """Columns of :func:`track_summaries` (``track_summary.csv``)."""
    return ['track_id', 'first_frame', 'last_frame', 'n_frames',
            'n_interior', 'first_cx', 'first_cy', 'last_cx', 'last_cy',
            'first_edge', 'last_edge', 'mean_cy', 'vx', 'vy'] + (
                ['vx_um_s', 'vy_um_s'] if px_size and fps else []) + [
                    'mean_area_px', 'mean_diameter_px'] + (
                        ['mean_diameter_um'] if px_size else []) + [
                            'start_area_px', 'end_area_px',
                            'diameter_drift_pct', 'mean_score']


def track_summaries(rows: Sequence[Row], px_size: Optional[float] = None,
                    fps: Optional[float] = None) -> List[Row]:
    """One row per track.

    Columns: ``track_id``; ``first_frame``, ``last_frame``, ``n_frames``
    (rows), ``n_interior`` (interior rows); ``first_cx, first_cy,
    last_cx, last_cy`` (first and last rows, any) and ``first_edge,
    last_edge`` (0/1); ``mean_cy`` (interior rows); ``vx, vy``: the mean
    velocity, px/frame, = (centroid in the last interior row - centroid in
    the first) / (frames between them), i.e. the mean of the per-frame
    velocities, None with fewer than two interior frames; ``vx_um_s,
    vy_um_s`` (with ``px_size`` and ``fps``); ``mean_area_px``,
    ``mean_diameter_px`` (``mean_diameter_um``): means over interior rows;
    ``start_area_px``, ``end_area_px``: medians of the first and the last
    three interior areas; ``diameter_drift_pct``: the least-squares slope
    of the interior diameters against frame times the frames between the
    first and last interior row, in % of the mean diameter (None with
    fewer than three interior rows); ``mean_score``.

    Args:
        rows: tracked rows (``frame, track_id, cx, cy, area_px,
            diameter_px, score, edge``).
        px_size: um per px.
        fps: frames per second.

    Returns:
        list[dict]: by track id.
    """
    out = []
    for tid, rs in _by_track(rows).items():
        inner = [r for r in rs if not r.get('edge', 0)]
        s = dict(track_id=tid, first_frame=int(rs[0]['frame']),
                 last_frame=int(rs[-1]['frame']), n_frames=len(rs),
                 n_interior=len(inner), first_cx=rs[0]['cx'],
                 first_cy=rs[0]['cy'], last_cx=rs[-1]['cx'],
                 last_cy=rs[-1]['cy'], first_edge=int(rs[0].get('edge', 0)),
                 last_edge=int(rs[-1].get('edge', 0)),
                 mean_cy=_round(np.mean([r['cy'] for r in inner])
                                if inner else None, 3))
        vx = vy = None
        if len(inner) >= 2 and inner[-1]['frame'] > inner[0]['frame']:
            dt = inner[-1]['frame'] - inner[0]['frame']
            vx = (inner[-1]['cx'] - inner[0]['cx']) / dt
            vy = (inner[-1]['cy'] - inner[0]['cy']) / dt
        s.update(vx=_round(vx), vy=_round(vy))
        if px_size and fps:
            s.update(vx_um_s=_round(None if vx is None else
                                    vx * px_size * fps, 3),
                     vy_um_s=_round(None if vy is None else
                                    vy * px_size * fps, 3))
        areas = [r['area_px'] for r in inner]
        diam = np.array([r['diameter_px'] for r in inner], float)
        s.update(mean_area_px=_round(np.mean(areas) if areas else None, 2),
                 mean_diameter_px=_round(diam.mean() if len(diam) else None,
                                         3))
        if px_size:
            s['mean_diameter_um'] = _round(
                diam.mean() * px_size if len(diam) else None, 3)
        s.update(start_area_px=_median(areas[:3]),
                 end_area_px=_median(areas[-3:]))
        drift = None
        if len(inner) >= 3 and inner[-1]['frame'] > inner[0]['frame']:
            f = np.array([r['frame'] for r in inner], float)
            slope = np.polyfit(f, diam, 1)[0]
            drift = slope * (f[-1] - f[0]) / diam.mean() * 100
        s['diameter_drift_pct'] = _round(drift, 3)
        s['mean_score'] = _round(np.mean([r['score'] for r in rs]))
        out.append({k: s[k] for k in summary_fields(px_size, fps)})
    return out


def _as_summaries(tracks: Sequence[Row]) -> List[Row]:
    """Track summaries from summaries or tracked rows."""
    if tracks and 'first_frame' not in tracks[0]:
        return track_summaries(tracks)
    return list(tracks)


def generation_frequency(tracks: Sequence[Row],
                         inlet_x: Union[float, str, None] = 'auto',
                         radius: Optional[float] = None,
                         frames: Optional[Tuple[int, int]] = None,
                         fps: Optional[float] = None,
                         min_rows: int = 3) -> Dict[str, object]:
    """Droplets generated per frame (and per second).

    A *birth* is a track that starts after the first frame of the window and
    has at least ``min_rows`` interior rows, or as many as the window leaves it
    (slivers of droplets leaving the field and one- or two-frame false
    detections are not births). With ``inlet_x`` (px) only births whose first
    centroid lies within ``radius`` px of ``x = inlet_x`` count: droplets made
    at the nozzle, not children of a coalescence or break-up nor tracks the
    tracker broke mid-channel. ``'auto'`` takes the median first ``cx`` of all
    births as ``inlet_x``; ``None`` counts every birth (new tracks per frame:
    broken tracks and event children inflate it). ``radius`` defaults to the
    median ``|vx|`` plus the median diameter of the births (a droplet is first
    seen up to one frame's displacement downstream of where it pinches off).

    The rate is ``count / (last - first)``: births can happen in
    ``last - first`` frames of the window ``frames = (first, last)``
    (default: the first and last frame of any track).

    Args:
        tracks: :func:`track_summaries` rows, or tracked rows.
        inlet_x: x of the inlet, ``'auto'`` or ``None`` (see above).
        radius: see above, px.
        frames: the observed window, inclusive.
        fps: frames per second (adds ``hz``).
        min_rows: interior rows a birth needs (see above).

    Flow is taken to run along x (births are placed by their first ``cx``).

    Returns:
        dict: ``count``, ``frames`` (frames births could happen in),
        ``per_frame``, ``hz`` (None without ``fps``), ``period_frames``,
        ``inlet_x``, ``radius``, ``method``.
    """
    tracks = _as_summaries(tracks)
    if frames is None:
        frames = (min((t['first_frame'] for t in tracks), default=0),
                  max((t['last_frame'] for t in tracks), default=0))
    f0, f1 = frames
    births = [t for t in tracks if f0 < t['first_frame'] <= f1
              and t['n_interior'] >= max(
                  1, min(min_rows, f1 - t['first_frame'] + 1))]
    method = 'all new tracks'
    if inlet_x is not None and births:
        if radius is None:
            speed = _median([abs(t['vx']) for t in births
                             if t['vx'] is not None]) or 0.0
            radius = speed + (_median([t['mean_diameter_px'] for t in births
                                       if t['mean_diameter_px']]) or 0.0)
        if inlet_x == 'auto':
            inlet_x = _median([t['first_cx'] for t in births])
            method = 'new tracks near the inlet (auto)'
        else:
            inlet_x = float(inlet_x)
            method = 'new tracks near the inlet'
        births = [t for t in births if abs(t['first_cx'] - inlet_x) <= radius]
    elif inlet_x is not None:
        inlet_x = None if inlet_x == 'auto' else float(inlet_x)
    span = max(f1 - f0, 0)
    per_frame = len(births) / span if span else None
    return dict(count=len(births), frames=span,
                per_frame=_round(per_frame, 6),
                hz=_round(per_frame * fps if per_frame is not None and fps
                          else None, 6),
                period_frames=_round(1 / per_frame if per_frame else None,
                                     4),
                inlet_x=_round(inlet_x, 2), radius=_round(radius, 2),
                method=method)


def velocity_profile(tracks: Sequence[Row], bins: int = 10,
                     min_interior: int = 3) -> List[Row]:
    """Mean ``vx`` of the tracks against their mean ``y``: the flow
    profile across a horizontal channel.

    Tracks with at least ``min_interior`` interior rows and a velocity are
    binned by ``mean_cy`` into ``bins`` equal bins between the smallest
    and the largest; empty bins are left out.

    Returns:
        list[dict]: per bin ``y`` (bin centre, px), ``y0``, ``y1``, ``n``,
        ``vx_mean``, ``vx_sd`` (px/frame, ``ddof=0``).
    """
    pts = [(t['mean_cy'], t['vx']) for t in _as_summaries(tracks)
           if t['vx'] is not None and t['n_interior'] >= min_interior]
    if not pts:
        return []
    y, vx = np.array(pts, float).T
    lo, hi = float(y.min()), float(y.max())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    idx = np.clip(np.searchsorted(edges, y, side='right') - 1, 0, bins - 1)
    out = []
    for k in range(bins):
        v = vx[idx == k]
        if len(v):
            out.append(dict(y=round(float(edges[k:k + 2].mean()), 3),
                            y0=round(float(edges[k]), 3),
                            y1=round(float(edges[k + 1]), 3), n=len(v),
                            vx_mean=round(float(v.mean()), 4),
                            vx_sd=round(float(v.std()), 4)))
    return out


def _predict(t: Row, frame: int) -> Tuple[float, float]:
    """Where track ``t`` would be in ``frame`` (after its end), at its
    mean velocity."""
    dt = frame - t['last_frame']
    return (t['last_cx'] + (t['vx'] or 0.0) * dt,
            t['last_cy'] + (t['vy'] or 0.0) * dt)


def _weighted(points, weights) -> Tuple[float, float]:
    w = np.asarray(weights, float)
    p = np.asarray(points, float)
    return tuple((p * w[:, None]).sum(0) / w.sum())


def detect_events(tracks: Sequence[Row], max_gap: int = 2,
                  area_tol: float = 0.25,
                  frames: Optional[Tuple[int, int]] = None,
                  fps: Optional[float] = None) -> List[Row]:
    """Coalescences and break-ups from where tracks end and start.

    A track *ends* when its last row is interior and before the last
    frame of the window (it did not leave the field); it *starts* when its
    first row is interior and after the first frame. Areas are the medians
    of the last (ending) or first (starting) three interior areas.

    * Coalescence: two tracks end and one starts 1 to ``max_gap`` frames
      after each ends; the new area is the sum of the two within
      ``area_tol`` (relative), and each parent, moved on at its mean
      velocity to the child's first frame, lies within one child diameter
      of the child's first centroid.
    * Break-up: one track ends and two start 1 to ``max_gap`` frames
      later; their areas sum to the parent's within ``area_tol``, and each
      child lies within one parent diameter of the parent moved on to the
      child's first frame.

    Candidates are taken best first (relative area error plus distance
    over diameter), each track in at most one event as a parent and one
    as a child.

    Args:
        tracks: :func:`track_summaries` rows, or tracked rows.
        max_gap: frames allowed between parents' end and children's start.
        area_tol: relative tolerance on the area balance.
        frames: the observed window, inclusive (default: from the tracks).
        fps: frames per second (adds ``time_s``).

    Returns:
        list[dict]: ``type`` (``'coalescence'`` / ``'breakup'``),
        ``frame`` (first frame of the child(ren)), ``parents``,
        ``children`` (track ids), ``parent_area_px``, ``child_area_px``
        (sums), ``area_ratio`` (child / parent), ``x``, ``y`` (where),
        ``time_s`` with ``fps``; by frame.
    """
    tracks = _as_summaries(tracks)
    if not tracks:
        return []
    if frames is None:
        frames = (min(t['first_frame'] for t in tracks),
                  max(t['last_frame'] for t in tracks))
    ends = [t for t in tracks if not t['last_edge'] and t['end_area_px']
            and t['last_frame'] < frames[1]]
    starts = [t for t in tracks if not t['first_edge'] and t['start_area_px']
              and t['first_frame'] > frames[0]]

    def diam(area):
        return 2 * math.sqrt(area / math.pi)

    def gap_ok(p, c):
        return 1 <= c['first_frame'] - p['last_frame'] <= max_gap

    def dist(p, c):
        x, y = _predict(p, c['first_frame'])
        return math.hypot(x - c['first_cx'], y - c['first_cy'])

    cands = []
    for c in starts:  # coalescence: parents (a, b) -> c
        dc = diam(c['start_area_px'])
        near = [p for p in ends if p['track_id'] != c['track_id']
                and gap_ok(p, c) and dist(p, c) <= dc]
        for i, a in enumerate(near):
            for b in near[i + 1:]:
                pa = a['end_area_px'] + b['end_area_px']
                err = abs(c['start_area_px'] - pa) / pa
                if err <= area_tol:
                    score = err + (dist(a, c) + dist(b, c)) / (2 * dc)
                    cands.append((score, 'coalescence', (a, b), (c, )))
    for p in ends:  # break-up: p -> children (a, b)
        dp = diam(p['end_area_px'])
        near = [c for c in starts if c['track_id'] != p['track_id']
                and gap_ok(p, c) and dist(p, c) <= dp]
        for i, a in enumerate(near):
            for b in near[i + 1:]:
                ca = a['start_area_px'] + b['start_area_px']
                err = abs(ca - p['end_area_px']) / p['end_area_px']
                if err <= area_tol:
                    score = err + (dist(p, a) + dist(p, b)) / (2 * dp)
                    cands.append((score, 'breakup', (p, ), (a, b)))
    used_p, used_c, events = set(), set(), []
    for score, kind, parents, children in sorted(
            cands, key=lambda c: (c[0], c[1],
                                  [t['track_id'] for t in c[2] + c[3]])):
        pid = [t['track_id'] for t in parents]
        cid = [t['track_id'] for t in children]
        if used_p & set(pid) or used_c & set(cid):
            continue
        used_p |= set(pid)
        used_c |= set(cid)
        pa = sum(t['end_area_px'] for t in parents)
        ca = sum(t['start_area_px'] for t in children)
        where = children if kind == 'coalescence' else parents
        if kind == 'coalescence':
            x, y = where[0]['first_cx'], where[0]['first_cy']
        else:
            x, y = _weighted([(t['first_cx'], t['first_cy'])
                              for t in children],
                             [t['start_area_px'] for t in children])
        frame = max(t['first_frame'] for t in children)
        ev = dict(type=kind, frame=frame, parents=sorted(pid),
                  children=sorted(cid), parent_area_px=round(pa, 2),
                  child_area_px=round(ca, 2), area_ratio=round(ca / pa, 4),
                  x=round(float(x), 2), y=round(float(y), 2))
        if fps:
            ev['time_s'] = round(frame / fps, 6)
        events.append(ev)
    return sorted(events, key=lambda e: (e['frame'], e['type'],
                                         e['parents']))

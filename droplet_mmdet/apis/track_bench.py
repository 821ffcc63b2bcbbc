"""Tracking benchmark on synthetic videos with ground truth
(``tools/benchmark_tracking.py``).

Videos: a grid of plug-flow videos, displacement ``u`` (px/frame) x
droplet spacing ``k`` (in diameters; spacing ``s = u / frequency`` px, so
``frequency = u / (k d)`` droplets/frame), plus one Poiseuille video
(:class:`~droplet_mmdet.datasets.synthetic.VideoSpec` defaults). A case
whose frequency would exceed one droplet per frame cannot be made by the
simulator's nozzle and is skipped (:func:`bench_grid` says which).

Detection sources per video: ``truth`` (the rendered truth masks as
detections, score 1: the tracker alone) and ``detector`` (a Mask R-CNN
through :func:`~.predictor.mmdet_predict_fn`; :func:`train_detector`
trains the slim one on other synthetic videos). The detector runs once
per video; further trackers replay its detections
(:class:`RecordingPredictor`) and are charged its time.

Trackers: mmdet's (:data:`~.track.TRACKERS`) as
:func:`~.track.track_video` configures them, and ``<name>_prior``: the
same tracker told the true flow speed (:func:`tracker_setup`).

Per video, source and tracker (:func:`case_metrics`):

* MOT scores (:func:`~.track_eval.mot_metrics`, box IoU >= 0.5) against
  every truth droplet, and against the interior ones only (rows with
  ``edge == 0`` against truth boxes off the border: a droplet cut by the
  border may get a new id as it leaves, see :mod:`.track`);
* velocity error (:func:`velocity_errors`): for every track with at least
  5 interior rows and a truth id (:func:`~.track_eval.truth_ids`), its
  mean ``vx`` (:func:`~.track_analysis.track_summaries`: first to last
  interior centroid) against the true mean ``vx`` of that droplet over the
  same frames (the simulator's centres, jitter included); mean and max
  over tracks, the error of the mean, and the error of the mean against
  the flow (the drift velocity, before jitter);
* generation frequency error (:func:`generation_error`):
  :func:`~.track_analysis.generation_frequency` (inlet ``'auto'``) against
  the simulator's nozzle births in frames ``1 .. n - 1`` over ``n - 1``;
* frames/s: frames over the wall time of
  :func:`~.track.track_video` (detection included for ``detector``;
  rendering not).
"""
import json
import os
import os.path as osp
import platform
import time
from collections import defaultdict
from typing import (Any, Callable, Dict, List, Optional, Sequence, Tuple)

import numpy as np

from .slicing import Detection, tight_patch
from .track import touches_border, track_video
from .track_analysis import generation_frequency, track_summaries
from .track_eval import mot_metrics, truth_ids

Row = Dict[str, float]

#: the issue's targets, read at ``TARGET_U`` px/frame
TARGET_IDF1 = 0.95
TARGET_VEL_ERR_PCT = 2.0
TARGET_U = 20.0
#: a track's velocity is measured with at least this many interior rows
MIN_INTERIOR = 5
SOURCES = ('truth', 'detector')
#: training videos of :func:`train_detector`: (profile, u px/frame,
#: spacing in diameters); the Poiseuille one keeps the default frequency
TRAIN_MIX = (('plug', 5.0, 2.0), ('plug', 10.0, 1.5), ('plug', 20.0, 3.0),
             ('plug', 30.0, 2.0), ('plug', 40.0, 2.5),
             ('poiseuille', 12.0, None))
TRAIN_SEED0 = 1000  # training video i has seed TRAIN_SEED0 + i
VAL_SEED = 2000


# ---------------------------------------------------------------- videos
def channel_of(height: int) -> Tuple[float, float]:
    """An 80 px channel centred in the frame (the default (88, 168) of a
    256 px frame)."""
    if height < 96:
        raise ValueError(f'frame height {height} px is too small: the '
                         'benchmark channel is 80 px high (need >= 96)')
    return (height / 2 - 40.0, height / 2 + 40.0)


def plug_spec(u: float, spacing: float, height: int = 256,
              width: int = 512, n_frames: int = 60, diameter: float = 20.0,
              **kw):
    """The plug-flow video of displacement ``u`` px/frame and droplet
    spacing ``spacing`` diameters."""
    from droplet_mmdet.datasets.synthetic import VideoSpec
    return VideoSpec(height=height, width=width, n_frames=n_frames,
                     channel=channel_of(height), diameter=diameter,
                     profile='plug', u_max=float(u),
                     frequency=float(u) / (spacing * diameter), **kw)


def bench_grid(displacements: Sequence[float], spacings: Sequence[float],
               height: int = 256, width: int = 512, n_frames: int = 60,
               diameter: float = 20.0, poiseuille: bool = True
               ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """The benchmark's videos.

    Args:
        displacements: plug-flow speeds ``u``, px/frame.
        spacings: droplet spacings, in diameters (``>= 1``).
        height, width, n_frames: every video's frames.
        diameter: droplet diameter, px.
        poiseuille: add the default Poiseuille video (``VideoSpec()``
            with these frames).

    Returns:
        tuple: ``(cases, skipped)``; a case is ``name, profile, u,
        spacing, frequency, spec`` (a ``VideoSpec``), a skipped one says
        ``reason``.

    Raises:
        ValueError: for a speed <= 0 or a spacing < 1 diameter.
    """
    from droplet_mmdet.datasets.synthetic import VideoSpec
    cases, skipped = [], []
    for u in displacements:
        if not u > 0:
            raise ValueError(f'displacement must be > 0 px/frame, got {u}')
        for k in spacings:
            if not k >= 1:
                raise ValueError(f'spacing must be >= 1 diameter (droplets '
                                 f'would overlap), got {k}')
            freq = u / (k * diameter)
            name = f'plug_u{u:g}_k{k:g}'
            if freq > 1:
                skipped.append(dict(
                    name=name, u=u, spacing=k, frequency=round(freq, 4),
                    reason=f'frequency {freq:.3g} droplets/frame > 1: the '
                    f'nozzle makes at most one droplet a frame (spacing '
                    f'{k * diameter:g} px < displacement {u:g} px/frame)'))
                continue
            cases.append(dict(name=name, profile='plug', u=float(u),
                              spacing=float(k), frequency=round(freq, 6),
                              spec=plug_spec(u, k, height, width, n_frames,
                                             diameter)))
    if poiseuille:
        spec = VideoSpec(height=height, width=width, n_frames=n_frames,
                         channel=channel_of(height))
        cases.append(dict(name=f'poiseuille_u{spec.u_max:g}',
                          profile='poiseuille', u=spec.u_max,
                          spacing=round(spec.u_max / spec.frequency /
                                        spec.diameter, 4),
                          frequency=spec.frequency, spec=spec))
    return cases, skipped


def gt_video(spec, seed: int = 0):
    """Render a synthetic video.

    Returns:
        tuple: ``(traj, images, dets, truth)``: the simulator's
        trajectories, (H, W, 3) BGR frames, per frame the truth masks as
        :class:`~.slicing.Detection` (score 1), and the truth rows
        (``frame, id, x0, y0, x1, y1``: the visible mask's tight box).
    """
    from droplet_mmdet.datasets.synthetic import render_video, simulate
    traj = simulate(spec, seed)
    images, dets, truth = [], [], []
    for t, image, drops in render_video(spec, seed, traj):
        images.append(np.repeat(image[..., None], 3, 2))
        dets.append([])
        for d in drops:
            box, patch = tight_patch(d.mask, d.x0, d.y0)
            dets[-1].append(Detection(1.0, box, patch))
            truth.append(dict(frame=t, id=d.track_id, x0=box[0], y0=box[1],
                              x1=box[2], y1=box[3]))
    return traj, images, dets, truth


def truth_predictor(dets: Sequence[Sequence[Detection]]):
    """A stand-in detector (a ``PredictFn``): the next frame's truth
    detections per call (frames must fit one tile)."""
    it = iter(dets)

    def predict(tiles):
        if len(tiles) != 1:
            raise ValueError(f'truth_predictor takes whole frames, got '
                             f'{len(tiles)} tiles (raise tile)')
        return [next(it)]

    return predict


# --------------------------------------------------------------- metrics
def _true_motion(traj) -> Dict[int, Dict[int, Tuple[float, float]]]:
    """id -> frame -> (true centre x, drift vx)."""
    out: Dict[int, Dict[int, Tuple[float, float]]] = defaultdict(dict)
    for t, states in enumerate(traj.states):
        for s in states:
            out[s.id][t] = (s.cx, s.vx)
    return out


def _pct(v: Optional[float]) -> Optional[float]:
    return None if v is None else round(float(v) * 100, 4)


def velocity_errors(rows: Sequence[Row], truth: Sequence[Row], traj,
                    min_interior: int = MIN_INTERIOR) -> Dict[str, Any]:
    """Each measured track's mean ``vx`` against its droplet's.

    A track is measured with ``min_interior`` or more interior rows and a
    truth id (:func:`~.track_eval.truth_ids`). Its truth is the mean
    per-frame displacement of that id's true centre over the frames from
    its first to its last interior row (where the id exists in both
    frames of a step), so a track that swapped droplets shows the jump.

    Returns:
        dict: ``tracks_measured``, ``tracks_without_truth`` (enough rows,
        no truth id), ``vel_err_mean_pct`` / ``vel_err_max_pct`` (over
        tracks, ``|vx - true| / |true|``), ``vel_err_of_mean_pct``
        (``|mean vx - mean true| / |mean true|``),
        ``vel_err_vs_flow_pct`` (mean vx against the mean drift velocity
        of the flow over the same frames), ``vx_mean``, ``vx_true_mean``;
        None where nothing was measured.
    """
    motion = _true_motion(traj)
    ids = truth_ids(rows, truth)
    inner: Dict[int, List[Row]] = defaultdict(list)
    for r in rows:
        if not r.get('edge', 0):
            inner[int(r['track_id'])].append(r)
    vx = {t['track_id']: t['vx'] for t in track_summaries(rows)}
    meas, true, drift, errs, no_truth = [], [], [], [], 0
    for tid, rs in sorted(inner.items()):
        if len(rs) < min_interior or vx.get(tid) is None:
            continue
        gid = ids.get(tid)
        if gid is None:
            no_truth += 1
            continue
        f0 = int(min(r['frame'] for r in rs))
        f1 = int(max(r['frame'] for r in rs))
        m = motion.get(gid, {})
        steps = [(m[t + 1][0] - m[t][0], m[t][1]) for t in range(f0, f1)
                 if t in m and t + 1 in m]
        if not steps:
            no_truth += 1
            continue
        v_true = float(np.mean([s[0] for s in steps]))
        meas.append(vx[tid])
        true.append(v_true)
        drift.append(float(np.mean([s[1] for s in steps])))
        errs.append(abs(vx[tid] - v_true) / max(abs(v_true), 1e-9))
    out: Dict[str, Any] = dict(tracks_measured=len(meas),
                               tracks_without_truth=no_truth)
    if not meas:
        return dict(out, vel_err_mean_pct=None, vel_err_max_pct=None,
                    vel_err_of_mean_pct=None, vel_err_vs_flow_pct=None,
                    vx_mean=None, vx_true_mean=None)
    mean_m, mean_t, mean_d = np.mean(meas), np.mean(true), np.mean(drift)
    return dict(out, vel_err_mean_pct=_pct(np.mean(errs)),
                vel_err_max_pct=_pct(np.max(errs)),
                vel_err_of_mean_pct=_pct(abs(mean_m - mean_t) /
                                         max(abs(mean_t), 1e-9)),
                vel_err_vs_flow_pct=_pct(abs(mean_m - mean_d) /
                                         max(abs(mean_d), 1e-9)),
                vx_mean=round(float(mean_m), 4),
                vx_true_mean=round(float(mean_t), 4))


def generation_error(rows: Sequence[Row], traj, n_frames: int,
                     fps: Optional[float] = None) -> Dict[str, Any]:
    """Generation frequency from the tracks
    (:func:`~.track_analysis.generation_frequency`, inlet ``'auto'``,
    window ``(0, n - 1)``) against the simulator's nozzle births in frames
    ``1 .. n - 1`` per frame.

    Returns:
        dict: ``gen_per_frame``, ``gen_true_per_frame``, ``gen_count``,
        ``gen_true_count``, ``gen_err_pct`` (signed: measured - true, in
        % of true; None without a rate).
    """
    last = n_frames - 1
    true_count = sum(1 for t in traj.tracks if t['origin'] == 'nozzle'
                     and 1 <= t['first'] <= last)
    true = true_count / last if last > 0 else None
    gen = generation_frequency(track_summaries(rows), inlet_x='auto',
                               frames=(0, last), fps=fps)
    got = gen['count'] / last if last > 0 else None
    err = None if got is None or not true else (got - true) / true
    return dict(gen_per_frame=None if got is None else round(got, 6),
                gen_true_per_frame=None if true is None
                else round(true, 6), gen_count=gen['count'],
                gen_true_count=true_count, gen_err_pct=_pct(err))


MOT_KEYS = ('mota', 'idf1', 'num_switches', 'num_false_positives',
            'num_misses')


def case_metrics(rows: Sequence[Row], truth: Sequence[Row], traj,
                 spec) -> Dict[str, Any]:
    """Everything measured on one tracked video but its speed: MOT scores
    against all truth and against interior droplets (``interior_*``),
    :func:`velocity_errors` and :func:`generation_error`."""
    m = mot_metrics(rows, truth)
    out: Dict[str, Any] = {k: m[k] for k in MOT_KEYS}
    out['truth_objects'] = m['num_unique_objects']
    inner = [r for r in rows if not r.get('edge', 0)]
    whole = [t for t in truth if not touches_border(
        (t['x0'], t['y0'], t['x1'], t['y1']), spec.height, spec.width)]
    mi = mot_metrics(inner, whole)
    out.update({f'interior_{k}': mi[k] for k in MOT_KEYS})
    out['tracks'] = len({int(r['track_id']) for r in rows})
    out.update(velocity_errors(rows, truth, traj))
    out.update(generation_error(rows, traj, spec.n_frames, spec.fps))
    return out


def tracker_setup(tracker: str, spec
                  ) -> Tuple[str, Optional[Tuple[float, float]]]:
    """``(name of TRACKERS, flow velocity or None)`` of a benchmark tracker.

    ``'<name>_prior'`` (e.g. ``'bytetrack_prior'``) is that tracker told
    the true flow, ``(u_max, 0)`` px/frame, as
    ``track_video(velocity=...)`` / ``tools/track.py --velocity``.
    """
    if tracker.endswith('_prior'):
        return tracker[:-len('_prior')], (float(spec.u_max), 0.0)
    return tracker, None


class RecordingPredictor:
    """A ``PredictFn`` that calls ``predict_fn`` and keeps its outputs and
    the seconds spent in it, so that other trackers can replay the same
    detections (:meth:`replay`) and be charged the same detection time."""

    def __init__(self, predict_fn):
        self.predict_fn = predict_fn
        self.outputs: List[Any] = []
        self.seconds = 0.0

    def __call__(self, tiles):
        t0 = time.perf_counter()
        out = self.predict_fn(tiles)
        self.seconds += time.perf_counter() - t0
        self.outputs.append(out)
        return out

    def replay(self):
        it = iter(self.outputs)
        return lambda tiles: next(it)


def run_case(predict_fn, images: Sequence[np.ndarray], truth, traj, spec,
             tracker: str = 'bytetrack', score_thr: float = 0.5,
             extra_seconds: float = 0.0) -> Dict[str, Any]:
    """Track one video with ``predict_fn`` and score it
    (:func:`case_metrics` plus ``fps``, ``seconds``, ``frames``).

    ``tracker``: see :func:`tracker_setup`; ``extra_seconds`` is added to
    the wall time (detection time of replayed detections)."""
    name, velocity = tracker_setup(tracker, spec)
    t0 = time.perf_counter()
    rows = track_video(predict_fn, images, tracker_cfg=name,
                       score_thr=score_thr, fps=spec.fps,
                       tile=max(spec.height, spec.width), velocity=velocity)
    sec = time.perf_counter() - t0 + extra_seconds
    out = case_metrics(rows, truth, traj, spec)
    out.update(frames=len(images), seconds=round(sec, 3),
               fps=round(len(images) / sec, 3) if sec > 0 else None)
    return out


# -------------------------------------------------------------- detector
def _video_dataset(video_dir: str, pipeline, metainfo, test_mode=False):
    ds = dict(type='DropletCocoDataset', data_root=video_dir + '/',
              ann_file='annotations.json', data_prefix=dict(img=''),
              metainfo=metainfo, pipeline=pipeline)
    if test_mode:
        ds['test_mode'] = True
    else:
        ds['filter_cfg'] = dict(filter_empty_gt=True, min_size=0)
    return ds


def render_training_videos(data_dir: str, n_frames: int = 20,
                           height: int = 256, width: int = 512,
                           mix: Sequence[tuple] = TRAIN_MIX,
                           log: Callable = print
                           ) -> Tuple[List[str], str]:
    """Write the detector's training videos (``mix``: profile, u,
    spacing; seeds ``TRAIN_SEED0 + i``, none used by the benchmark) and a
    validation video (plug, 15 px/frame, spacing 2, seed ``VAL_SEED``)
    under ``data_dir``; a video already written is kept.

    Returns:
        tuple: (training video folders, validation video folder).
    """
    from droplet_mmdet.datasets.synthetic import VideoSpec, write_video
    jobs = []
    for i, (profile, u, k) in enumerate(mix):
        if profile == 'plug':
            spec = plug_spec(u, k, height, width, n_frames)
        else:
            spec = VideoSpec(height=height, width=width, n_frames=n_frames,
                             channel=channel_of(height), profile=profile,
                             u_max=u)
        jobs.append((osp.join(data_dir, f'train{i}_{profile}_u{u:g}'), spec,
                     TRAIN_SEED0 + i))
    val = osp.join(data_dir, 'val_plug_u15')
    jobs.append((val, plug_spec(15.0, 2.0, height, width,
                                max(4, n_frames // 2)), VAL_SEED))
    for path, spec, seed in jobs:
        if osp.isfile(osp.join(path, 'annotations.json')):
            continue
        log(f'rendering training video {osp.basename(path)} '
            f'({spec.n_frames} frames)')
        write_video(path, spec, seed, mp4=False)
    return [j[0] for j in jobs[:-1]], val


def detector_config(base_config: str, train_dirs: Sequence[str],
                    val_dir: str, iters: int, out_file: str) -> str:
    """``base_config`` trained on the video folders (a ``ConcatDataset``
    of ``DropletCocoDataset``) for ``iters`` iterations, validated once at
    the end on ``val_dir`` (which writes the counting score threshold
    beside the checkpoint); written to ``out_file``."""
    from mmengine.config import Config
    cfg = Config.fromfile(base_config)
    tr = cfg.train_dataloader.dataset
    va = cfg.val_dataloader.dataset
    cfg.train_dataloader.dataset = dict(
        type='ConcatDataset', datasets=[
            _video_dataset(d, tr.pipeline, tr.metainfo) for d in train_dirs])
    val_ds = _video_dataset(val_dir, va.pipeline, va.metainfo,
                            test_mode=True)
    cfg.val_dataloader.dataset = val_ds
    cfg.test_dataloader.dataset = val_ds
    ann = osp.join(val_dir, 'annotations.json')
    cfg.val_evaluator.ann_file = ann
    cfg.test_evaluator.ann_file = ann
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    cfg.dump(out_file)
    return out_file


def train_detector(work_dir: str, base_config: str, root: str,
                   iters: int = 400, n_frames: int = 20,
                   height: int = 256, width: int = 512, seed: int = 0,
                   log: Callable = print) -> Tuple[str, str, Dict]:
    """Train (or reuse) the slim detector on synthetic training videos.

    The checkpoint ``<work_dir>/detector/iter_<iters>.pth`` is reused when
    it exists; an interrupted run continues from its last checkpoint
    (every 100 iterations).

    Returns:
        tuple: (config file, checkpoint, facts for the results file).
    """
    from .ablation import run_one
    data_dir = osp.join(work_dir, 'videos')
    run_dir = osp.join(work_dir, 'detector')
    train_dirs, val_dir = render_training_videos(data_dir, n_frames, height,
                                                 width, log=log)
    config = detector_config(base_config, train_dirs, val_dir, iters,
                             osp.join(run_dir, 'config.py'))
    ckpt = osp.join(run_dir, f'iter_{iters}.pth')
    facts = dict(base_config=osp.relpath(base_config, root), iters=iters,
                 train_videos=[dict(zip(('profile', 'u', 'spacing'), m),
                                    seed=TRAIN_SEED0 + i,
                                    frames=n_frames)
                               for i, m in enumerate(TRAIN_MIX)],
                 val_video=dict(profile='plug', u=15.0, spacing=2.0,
                                seed=VAL_SEED, frames=max(4, n_frames // 2)),
                 seed=seed)
    if osp.isfile(ckpt):
        from .ablation import read_curve
        log(f'reusing the trained detector {ckpt}')
        curve = read_curve(run_dir)
        facts['reused'] = True
        if curve:  # from the run's logs
            last = dict(curve[-1])
            facts.update(train_seconds_logged=last.pop('train_s'),
                         val_metrics={k: v for k, v in last.items()
                                      if k != 'iter'})
        return config, ckpt, facts
    log(f'training the detector ({iters} iterations) in {run_dir}')
    t = time.time()
    interval = min(100, iters)
    metrics = run_one(config, run_dir, {
        'randomness.seed': seed,
        'train_cfg.max_iters': iters,
        'train_cfg.val_interval': iters,
        'param_scheduler.1.end': iters,
        'param_scheduler.1.milestones': [int(iters * 0.8)],
        'default_hooks.checkpoint.interval': interval,
        'default_hooks.checkpoint.max_keep_ckpts': 1,
    }, root)
    if not osp.isfile(ckpt):
        raise RuntimeError(f'training finished without {ckpt}; see '
                           f'{run_dir}/train_stdout.log')
    facts.update(reused=False, train_seconds=round(time.time() - t, 1),
                 val_metrics=metrics)
    return config, ckpt, facts


def detector_predict_fn(config: str, checkpoint: str, device: str = 'cpu',
                        score_thr: Optional[float] = None):
    """``(predict_fn, score threshold, where it came from)`` of a trained
    detector (threshold as :func:`~.infer.resolve_score_thr`)."""
    for what, path in (('config', config), ('checkpoint', checkpoint)):
        if not osp.isfile(path):
            raise FileNotFoundError(f'detector {what} not found: {path}')
    import droplet_mmdet  # noqa: F401
    from mmdet.apis import init_detector

    from .infer import resolve_score_thr
    from .predictor import mmdet_predict_fn
    from .runner import load_config
    model = init_detector(load_config(config, checkpoint), checkpoint,
                          device=device)
    thr, source = resolve_score_thr(score_thr, checkpoint, model.cfg)
    return mmdet_predict_fn(model), thr, source


# --------------------------------------------------------------- results
def machine_info() -> Dict[str, Any]:
    """CPU, threads, versions and load (the cores may be shared)."""
    import torch
    model = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    return dict(cpu=model, cpu_cores=os.cpu_count(),
                torch_threads=torch.get_num_threads(),
                torch=torch.__version__, python=platform.python_version(),
                platform=platform.platform(), gpu='not used',
                load_avg_1min_start=round(os.getloadavg()[0], 2))


def case_key(case: Dict[str, Any]) -> Tuple:
    return (case['video'], case['seed'], case['source'], case['tracker'])


def _mean(values) -> Optional[float]:
    vals = [v for v in values if v is not None]
    return round(float(np.mean(vals)), 4) if vals else None


def aggregate(cases: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Mean over seeds per (video, source, tracker), in case order."""
    groups: Dict[Tuple, List[Dict]] = {}
    for c in cases:
        groups.setdefault((c['video'], c['source'], c['tracker']),
                          []).append(c)
    keys = ('idf1', 'mota', 'num_switches', 'interior_idf1',
            'interior_num_switches', 'vel_err_mean_pct', 'vel_err_max_pct',
            'vel_err_of_mean_pct', 'gen_err_pct', 'fps')
    out = []
    for (video, source, tracker), cs in groups.items():
        c0 = cs[0]
        row = dict(video=video, profile=c0['profile'], u=c0['u'],
                   spacing=c0['spacing'], source=source, tracker=tracker,
                   seeds=[c['seed'] for c in cs])
        row.update({k: _mean(c.get(k) for c in cs) for k in keys})
        out.append(row)
    return out


def passes(row: Dict[str, Any]) -> bool:
    """IDF1 and mean velocity error within the issue's targets."""
    return (row['idf1'] is not None and row['idf1'] >= TARGET_IDF1
            and row['vel_err_mean_pct'] is not None
            and row['vel_err_mean_pct'] <= TARGET_VEL_ERR_PCT)


def summarize(cases: Sequence[Dict[str, Any]], diameter: float = 20.0
              ) -> Dict[str, Any]:
    """The targets at ``TARGET_U`` px/frame and where tracking breaks,
    per source and tracker (means over seeds)."""
    rows = aggregate(cases)
    out: Dict[str, Any] = dict(
        targets=dict(idf1=TARGET_IDF1, vel_err_pct=TARGET_VEL_ERR_PCT,
                     u=TARGET_U, note='velocity error: mean over tracks'),
        per_source={})
    for src, trk in dict.fromkeys((r['source'], r['tracker'])
                                  for r in rows):
        mine = [r for r in rows if (r['source'], r['tracker']) == (src, trk)
                and r['profile'] == 'plug']
        at = [dict(spacing=r['spacing'], idf1=r['idf1'],
                   vel_err_mean_pct=r['vel_err_mean_pct'],
                   meets=passes(r)) for r in mine if r['u'] == TARGET_U]
        breaks = []
        for k in sorted({r['spacing'] for r in mine}):
            line = sorted((r for r in mine if r['spacing'] == k),
                          key=lambda r: r['u'])
            ok = [r['u'] for r in line if passes(r)]
            bad = [r for r in line if not passes(r)]
            first_bad = bad[0] if bad else None
            breaks.append(dict(
                spacing=k, spacing_px=k * diameter,
                largest_passing_u=max(ok) if ok else None,
                first_failing_u=first_bad['u'] if first_bad else None,
                first_failing_u_over_spacing=round(
                    first_bad['u'] / (k * diameter), 3)
                if first_bad else None,
                failing=[dict(u=r['u'], idf1=r['idf1'],
                              vel_err_mean_pct=r['vel_err_mean_pct'])
                         for r in bad]))
        out['per_source'][f'{src}/{trk}'] = dict(
            at_target_u=at,
            meets_targets_at_target_u=all(a['meets'] for a in at)
            if at else None,
            breaks=breaks)
    return out


def plot_results(cases: Sequence[Dict[str, Any]], png: str,
                 title: str = '') -> None:
    """IDF1 and mean velocity error against displacement, one line per
    spacing (plug) and a star for the Poiseuille video; one column per
    source (line style per tracker)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = aggregate(cases)
    sources = [s for s in SOURCES if any(r['source'] == s for r in rows)]
    if not sources:
        return
    trackers = list(dict.fromkeys(r['tracker'] for r in rows))
    styles = ['-', '--', ':', '-.']
    spacings = sorted({r['spacing'] for r in rows
                       if r['profile'] == 'plug'})
    colors = dict(zip(spacings, plt.cm.viridis(
        np.linspace(0, 0.85, max(len(spacings), 1)))))
    fig, axes = plt.subplots(2, len(sources), squeeze=False,
                             figsize=(5.2 * len(sources), 7.0))
    floor = 0.01  # log axis: 0 % error drawn at 0.01 %
    for j, src in enumerate(sources):
        a_id, a_v = axes[0, j], axes[1, j]
        for ti, trk in enumerate(trackers):
            mine = [r for r in rows if r['source'] == src
                    and r['tracker'] == trk]
            for k in spacings:
                line = sorted((r for r in mine if r['profile'] == 'plug'
                               and r['spacing'] == k), key=lambda r: r['u'])
                if not line:
                    continue
                u = [r['u'] for r in line]
                lab = f'spacing {k:g} d' + (f' ({trk})'
                                            if len(trackers) > 1 else '')
                a_id.plot(u, [np.nan if r['idf1'] is None else r['idf1']
                              for r in line], styles[ti % 4], marker='o',
                          color=colors[k], label=lab)
                a_v.plot(u, [np.nan if r['vel_err_mean_pct'] is None else
                             max(r['vel_err_mean_pct'], floor)
                             for r in line], styles[ti % 4], marker='o',
                         color=colors[k], label=lab)
            for r in mine:
                if r['profile'] != 'plug':
                    lab = f'Poiseuille (u_max, spacing {r["spacing"]:g} d)' \
                        + (f' ({trk})' if len(trackers) > 1 else '')
                    if r['idf1'] is not None:
                        a_id.plot([r['u']], [r['idf1']], '*', ms=12,
                                  color='tab:red', label=lab)
                    if r['vel_err_mean_pct'] is not None:
                        a_v.plot([r['u']],
                                 [max(r['vel_err_mean_pct'], floor)], '*',
                                 ms=12, color='tab:red', label=lab)
        a_id.axhline(TARGET_IDF1, color='grey', ls=':', lw=1,
                     label=f'target {TARGET_IDF1}')
        a_v.axhline(TARGET_VEL_ERR_PCT, color='grey', ls=':', lw=1,
                    label=f'target {TARGET_VEL_ERR_PCT:g} %')
        a_id.set_title(f'{src} detections')
        a_id.set_ylabel('IDF1')
        a_id.set_ylim(-0.02, 1.02)
        a_v.set_yscale('log')
        a_v.set_ylabel('velocity error, mean over tracks (%)')
        a_v.set_xlabel('displacement u (px/frame)')
        a_id.set_xlabel('displacement u (px/frame)')
        for ax in (a_id, a_v):
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
    if title:
        import textwrap
        fig.suptitle('\n'.join(textwrap.wrap(title, 40 * len(sources) + 20)),
                     fontsize=9)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(png)), exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


def write_json(path: str, data: Dict[str, Any]) -> None:
    """Write ``data`` atomically (a cut run never leaves half a file)."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(data, f, indent=1)
    os.replace(tmp, path)


def load_previous(path: str) -> List[Dict[str, Any]]:
    """The cases of an earlier results file (for ``--resume``).

    Raises:
        ValueError: when the file is not a results file of this benchmark.
    """
    if not osp.isfile(path):
        return []
    try:
        with open(path) as f:
            data = json.load(f)
        cases = data['cases']
        assert isinstance(cases, list)
    except (ValueError, KeyError, TypeError, AssertionError) as e:
        raise ValueError(f'{path}: not a tracking benchmark results file '
                         f'({type(e).__name__}: {e}); move it away or drop '
                         '--resume') from e
    return cases


def results_table(cases: Sequence[Dict[str, Any]]) -> str:
    """A Markdown table of :func:`aggregate` (for the console)."""
    head = ('| video | u | spacing | source | tracker | IDF1 | IDF1 int. '
            '| switches | vel. err. % (mean / max) | gen. freq. err. % '
            '| fps |\n|---|---|---|---|---|---|---|---|---|---|---|')
    lines = [head]

    def f(v, fmt):
        return '-' if v is None else format(v, fmt)

    for r in aggregate(cases):
        lines.append(
            f"| {r['video']} | {r['u']:g} | {r['spacing']:g} | "
            f"{r['source']} | {r['tracker']} | {f(r['idf1'], '.3f')} | "
            f"{f(r['interior_idf1'], '.3f')} | "
            f"{f(r['num_switches'], 'g')} | "
            f"{f(r['vel_err_mean_pct'], '.2f')} / "
            f"{f(r['vel_err_max_pct'], '.2f')} | "
            f"{f(r['gen_err_pct'], '+.1f')} | {f(r['fps'], '.2f')} |")
    return '\n'.join(lines)


def run_benchmark(cases: Sequence[Dict[str, Any]],
                  skipped: Sequence[Dict[str, Any]], seeds: Sequence[int],
                  trackers: Sequence[str], out: str, png: str,
                  detector: Optional[Dict[str, Any]] = None,
                  resume: bool = False, setup: Optional[Dict] = None,
                  progress: bool = True, log: Callable = print
                  ) -> Dict[str, Any]:
    """Run every video x seed x source x tracker; write ``out`` (json)
    after each video and ``png`` at the end (and after each video).

    Args:
        cases, skipped: :func:`bench_grid`.
        detector: ``predict_fn``, ``score_thr`` and ``info`` (for the
            file) of the detector source; None: truth only (recorded).
        resume: keep the cases of ``out`` made with the same video, seed,
            source and tracker (and the same spec and checkpoint).
        setup: facts for the file (command line, grid, ...).

    Returns:
        dict: what was written to ``out``.
    """
    sources = ['truth'] + (['detector'] if detector else [])
    det_info = detector['info'] if detector else None
    prev = {}
    if resume:
        for c in load_previous(out):
            prev[case_key(c)] = c
    data: Dict[str, Any] = dict(
        **(setup or {}), machine=machine_info(),
        sources=sources,
        detector=det_info if detector else dict(
            skipped='neither --detector nor --train-detector given: truth '
            'detections only'),
        skipped_cases=list(skipped), cases=[], summary={})
    plan = [(c, s) for s in seeds for c in cases]
    kept = 0
    bar = plan
    if progress:
        from tqdm import tqdm
        bar = tqdm(plan, desc='videos', unit='video')
    for case, seed in bar:
        spec_d = case['spec'].to_dict()
        todo, done = [], []
        for src in sources:
            for trk in trackers:
                key = (case['name'], seed, src, trk)
                old = prev.get(key)
                if old is not None and json.loads(json.dumps(
                        spec_d)) == old.get('spec') and (
                            src == 'truth'
                            or old.get('checkpoint') == det_info.get(
                                'checkpoint')):
                    done.append(old)
                else:
                    todo.append((src, trk))
        data['cases'] += done
        kept += len(done)
        if todo:
            if progress:
                bar.set_postfix_str(f"{case['name']} seed {seed}")
            traj, images, dets, truth = gt_video(case['spec'], seed)
            recorder = None  # the detector runs once per video
            for src, trk in todo:
                extra = {}
                if src == 'truth':
                    fn, thr = truth_predictor(dets), 0.5
                elif recorder is None:
                    recorder = RecordingPredictor(detector['predict_fn'])
                    fn, thr = recorder, detector['score_thr']
                else:
                    fn, thr = recorder.replay(), detector['score_thr']
                    extra = dict(extra_seconds=recorder.seconds)
                res = run_case(fn, images, truth, traj, case['spec'], trk,
                               thr, **extra)
                if src == 'detector':
                    res.update(detect_seconds=round(recorder.seconds, 3),
                               detections_replayed=bool(extra))
                rec = dict(video=case['name'], profile=case['profile'],
                           u=case['u'], spacing=case['spacing'],
                           u_over_spacing=round(
                               case['u'] / (case['spacing'] *
                                            case['spec'].diameter), 4),
                           frequency=case['frequency'], seed=seed,
                           source=src, tracker=trk, score_thr=thr,
                           **res, spec=spec_d)
                if src == 'detector':
                    rec['checkpoint'] = det_info.get('checkpoint')
                data['cases'].append(rec)
        data['summary'] = summarize(data['cases'])
        data['machine']['load_avg_1min_end'] = round(os.getloadavg()[0], 2)
        write_json(out, data)
        if todo:
            plot_results(data['cases'], png, (setup or {}).get('title', ''))
    if kept:
        log(f'{out}: kept {kept} case(s) from the earlier run')
    plot_results(data['cases'], png, (setup or {}).get('title', ''))
    return data

"""Accuracy ablation: train each config with the same schedule and seeds,
collect DropletMetric's figures, and tabulate them.

``tools/benchmark.py`` is the command-line shell. Each run is a separate
``tools/train.py`` process (validation at the last iteration writes the
metrics json that is read back here).
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

KEYS = (('segm_mAP', 'mask AP'), ('segm_mAP_50', 'mask AP50'),
        ('AP_d0-12', 'AP <12px'), ('R50_target', 'recall@0.5 400-500px2'),
        ('count_mre', 'count err % @0.5'),
        ('count_mre_cal', 'count err % calibrated'),
        ('diam_err_pct', 'diam err %'))


def _droplet_metrics(records) -> Dict[str, float]:
    metrics = {}
    for rec in records:
        metrics.update({k.split('/', 1)[1]: v for k, v in rec.items()
                        if k.startswith('droplet/')})
    return metrics


def read_curve(work_dir: str) -> List[Dict]:
    """Learning curve of a training run from its ``scalars.json`` files
    (several when the run was resumed): one entry per validation with
    ``iter``, ``train_s`` (training seconds up to that iteration, summed
    from the logged per-iteration times) and the droplet metrics."""
    val, times = {}, {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                metrics = _droplet_metrics([rec])
                if metrics:
                    val[int(rec['step'])] = metrics
                elif 'time' in rec and 'loss' in rec:
                    times[int(rec['step'])] = float(rec['time'])
    curve, total, prev = [], 0.0, 0
    steps = sorted(times)
    for it in sorted(val):
        for st in steps:
            if prev < st <= it:
                total += times[st] * (st - prev)
                prev = st
        curve.append(dict(iter=it, train_s=round(total, 1), **val[it]))
    return curve


def run_dir_path(work_root: str, name: str, seed: int) -> str:
    """The folder of one run: ``<work_root>/<name>_s<seed>`` (``name`` a
    row's folder name or a config's stem)."""
    return osp.join(work_root, f'{name}_s{seed}')


_HELD_LOCKS: list = []  # open lock files live as long as the process


def hold_results_lock(out: str):
    """Lock ``<out>.lock`` for as long as this process runs (or until the
    returned file is closed): a benchmark keeps its runs in memory and
    rewrites the whole results file after each run, so a second benchmark
    writing the same file would drop the first one's runs.

    Raises:
        RuntimeError: naming the file, when another process holds it.
    """
    import fcntl
    path = out + '.lock'
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    f = open(path, 'a+')
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        pid = f.read().strip()
        f.close()
        raise RuntimeError(
            f'{out}: another benchmark is writing this results file '
            f'(process {pid or "?"} holds {path}); wait for it to end, or '
            'give this one another --out and merge the two afterwards with '
            'tools/merge_benchmark_runs.py') from None
    f.seek(0)
    f.truncate()
    f.write(str(os.getpid()))
    f.flush()
    _HELD_LOCKS.append(f)
    return f


def _libc_prctl() -> Optional[Callable[..., int]]:
    """libc's ``prctl``, or None where there is none (off Linux)."""
    if not sys.platform.startswith('linux'):
        return None
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


def _die_with(prctl: Callable[..., int], parent: int, sig: int) -> None:
    """In a child just forked from ``parent``: have ``sig`` sent to it when
    the parent dies (``PR_SET_PDEATHSIG``); exit at once if the parent
    died before the call."""
    prctl(1, int(sig), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def _end_with_parent(prctl: Callable[..., int],
                     parent: int) -> Callable[[], None]:
    """A ``preexec_fn`` that has the child sent SIGTERM when the process
    that started it dies (Linux ``PR_SET_PDEATHSIG``), however it dies:
    a benchmark stopped with ``kill`` or ``pkill -f`` must not leave its
    training running on, unrecorded, in a run folder that the next
    ``--resume`` trains in too. ``prctl`` is looked up in the parent
    (:func:`_libc_prctl`), so the child between fork and exec only calls
    it."""
    def preexec():
        _die_with(prctl, parent, signal.SIGTERM)
    return preexec


_FORK_PARENT: Dict[str, Any] = {'pid': None, 'registered': False}


def forked_children_end_with_process() -> bool:
    """Have every child this process forks from now on killed (SIGKILL)
    when this process dies (Linux ``PR_SET_PDEATHSIG`` set in each child
    right after the fork; ``os.register_at_fork``).

    ``tools/train.py`` and ``tools/test.py`` call it for their DataLoader
    workers: when a benchmark that started a training is killed, the
    training gets SIGTERM (:func:`_end_with_parent`) and dies, but its
    workers do not: PDEATHSIG is not inherited across ``fork``, and a
    worker whose loader ended without its ``done_event`` set blocks at exit
    joining the feeder thread of its full result queue, asleep for good
    (~430 MB each). A child forked after its parent died exits at once.
    The signal comes when the forking *thread* ends, so call it only in
    a process that forks from its main thread (as mmengine's loaders do).
    Elsewhere (no prctl) it does nothing and returns False; a second call
    adds nothing.
    """
    prctl = _libc_prctl()
    if prctl is None:
        return False
    if _FORK_PARENT['registered']:
        return True

    def before():
        _FORK_PARENT['pid'] = os.getpid()

    def after_in_child():
        _die_with(prctl, _FORK_PARENT['pid'], signal.SIGKILL)

    os.register_at_fork(before=before, after_in_child=after_in_child)
    _FORK_PARENT['registered'] = True
    return True


def child_kwargs() -> Dict[str, Any]:
    """``subprocess`` keyword arguments for a child that ends when this
    process ends (see :func:`_end_with_parent`; none off Linux)."""
    prctl = _libc_prctl()
    if prctl is None:
        return {}
    return dict(preexec_fn=_end_with_parent(prctl, os.getpid()))


def run_child(cmd: List[str], log, env: Optional[Dict[str, str]] = None
              ) -> subprocess.CompletedProcess:
    """Run ``cmd`` with its output in the open file ``log``; the child ends
    when this process ends (see :func:`_end_with_parent`)."""
    return subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                          env=env, **child_kwargs())


def has_checkpoint(work_dir: str) -> bool:
    """Whether ``work_dir`` holds a checkpoint of an interrupted (or
    finished) training run that ``tools/train.py --resume`` continues
    from (mmengine's ``last_checkpoint`` pointer)."""
    return osp.isfile(osp.join(work_dir, 'last_checkpoint'))


def checkpoint_iteration(work_dir: str) -> int:
    """The iteration of the checkpoint that ``--resume`` continues from
    (``iter_<n>.pth`` in mmengine's ``last_checkpoint``), 0 without one."""
    if not has_checkpoint(work_dir):
        return 0
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        m = re.search(r'iter_(\d+)\.pth', f.read())
    return int(m.group(1)) if m else 0


def run_one(config: str, work_dir: str, options: Dict[str, object],
            root: str, env: Optional[Dict[str, str]] = None,
            checkpoint: Optional[str] = None) -> Dict[str, float]:
    """Train one config in a subprocess; return its final val metrics.

    A run dir that holds a checkpoint (``last_checkpoint``) of an
    interrupted run is resumed from it (``tools/train.py --resume``).

    Args:
        env: extra environment variables for the run (``ABLATION_DATA``
            picks the data profile of configs/droplet/ablation/).
        checkpoint: instead of training, evaluate this checkpoint with
            ``tools/test.py`` (work dir ``<work_dir>/rescore``).
    """
    opts = ['--cfg-options'] + [f'{k}={v}' for k, v in options.items()]
    if checkpoint is None:
        cmd = [sys.executable, osp.join(root, 'tools', 'train.py'), config,
               '--work-dir', work_dir] + opts
        if has_checkpoint(work_dir):
            cmd.append('--resume')
            validate_missed_checkpoint(config, work_dir, options, root, env)
        log_name, what = 'train_stdout.log', 'training'
    else:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'{checkpoint}: checkpoint to evaluate '
                                    'not found')
        work_dir = osp.join(work_dir, 'rescore')
        cmd = [sys.executable, osp.join(root, 'tools', 'test.py'), config,
               checkpoint, '--work-dir', work_dir] + opts
        log_name, what = 'test_stdout.log', 'evaluation'
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, log_name), 'a') as log:
        proc = run_child(cmd, log, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f'{config}: {what} failed, see '
                           f'{work_dir}/{log_name}')
    if checkpoint is not None:
        # tools/test.py: <work_dir>/<timestamp>/<timestamp>.json
        found = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
        with open(found[-1]) as f:
            return _droplet_metrics([json.load(f)])
    curve = read_curve(work_dir)
    iters = options.get('train_cfg.max_iters')
    if iters and (not curve or curve[-1]['iter'] < int(iters)):
        # the run's last validation is missing (a run killed during it,
        # after its final checkpoint was written, and resumed elsewhere)
        validate_checkpoint(config, work_dir, options, root, env,
                            int(iters))
        curve = read_curve(work_dir)
    return {k: v for k, v in curve[-1].items()
            if k not in ('iter', 'train_s')} if curve else {}


def validate_checkpoint(config: str, work_dir: str,
                        options: Dict[str, object], root: str,
                        env: Optional[Dict[str, str]],
                        it: int) -> Dict[str, float]:
    """Evaluate ``<work_dir>/iter_<it>.pth`` (``tools/test.py``) when the
    training run's own validation at ``it`` never landed in its logs, and
    record the result as that validation
    (``<work_dir>/val_iter_<it>/vis_data/scalars.json``, which
    :func:`read_curve` reads with the run's other validations).

    Raises:
        RuntimeError: naming the run dir, when the checkpoint is not there
            either (the run did not reach ``it``).
    """
    ckpt = osp.join(work_dir, f'iter_{it}.pth')
    if not osp.isfile(ckpt):
        raise RuntimeError(
            f'{work_dir}: training ended without a validation at '
            f'iteration {it} and without {ckpt}; see '
            f'{work_dir}/train_stdout.log')
    metrics = run_one(config, work_dir, options, root, env, ckpt)
    vis = osp.join(work_dir, f'val_iter_{it}', 'vis_data')
    os.makedirs(vis, exist_ok=True)
    rec = {'step': it, **{f'droplet/{k}': v for k, v in metrics.items()}}
    with open(osp.join(vis, 'scalars.json'), 'w') as f:
        f.write(json.dumps(rec) + '\n')
    return metrics


def validate_missed_checkpoint(config: str, work_dir: str,
                               options: Dict[str, object], root: str,
                               env: Optional[Dict[str, str]]) -> None:
    """Before a run resumes: a run killed during a validation, after that
    iteration's checkpoint was written, resumes past it and mmengine does
    not repeat it (at ``max_iters`` it trains and validates nothing). So
    when the checkpoint it resumes from is at a validation iteration that
    its logs lack, evaluate that checkpoint first
    (:func:`validate_checkpoint`): the curve keeps every point and the
    final result is the final iteration's."""
    at = checkpoint_iteration(work_dir)
    interval = int(options.get('train_cfg.val_interval') or 0)
    iters = int(options.get('train_cfg.max_iters') or 0)
    if not at or not interval or (at % interval and at != iters):
        return
    if any(c['iter'] == at for c in read_curve(work_dir)):
        return
    validate_checkpoint(config, work_dir, options, root, env, at)


def summarize_runs(runs: List[Dict]) -> List[Dict]:
    """Mean and spread over seeds, per config."""
    rows = []
    for cfg in dict.fromkeys(r['config'] for r in runs):
        rs = sorted((r for r in runs if r['config'] == cfg),
                    key=lambda r: r['seed'])
        row = dict(config=cfg, seeds=[r['seed'] for r in rs])
        for key, _ in KEYS:
            vals = np.array([r['metrics'].get(key, np.nan) for r in rs],
                            dtype=float)
            vals = vals[~np.isnan(vals)]
            row[key] = float(vals.mean()) if len(vals) else float('nan')
            row[key + '_spread'] = float(vals.max() - vals.min()) \
                if len(vals) else float('nan')
        rows.append(row)
    return rows


def markdown_table(rows: List[Dict]) -> str:
    """Mean ± half the seed spread; a row of one seed shows its value
    alone (no spread was measured)."""
    head = '| config | seeds | ' + ' | '.join(n for _, n in KEYS) + ' |'
    sep = '|---' * (len(KEYS) + 2) + '|'
    lines = [head, sep]
    for r in rows:
        several = len(r.get('seeds', ())) > 1
        cells = []
        for k, _ in KEYS:
            nd = 3 if k.startswith(('segm', 'R50', 'AP')) else 1
            cell = f'{r[k]:.{nd}f}'
            if several:
                cell += f' ± {r[k + "_spread"] / 2:.{nd}f}'
            cells.append(cell)
        seeds = ', '.join(str(s) for s in r.get('seeds', ()))
        lines.append(f'| {r["config"]} | {seeds} | ' + ' | '.join(cells)
                     + ' |')
    return '\n'.join(lines)


def plot_curves(runs: List[Dict], out_png: str, title: str = '') -> None:
    """Mask AP learning curves, one line per row (mean over seeds, band =
    min..max), against iterations and against training seconds."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    rows = list(dict.fromkeys(r['config'] for r in runs if r.get('curve')))
    if not rows:
        return
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), sharey=True)
    for k, row in enumerate(rows):
        rs = [r for r in runs if r['config'] == row and r.get('curve')]
        its = sorted(set.intersection(*[{c['iter'] for c in r['curve']}
                                        for r in rs]))
        if not its:
            continue
        ap = np.array([[next(c.get('segm_mAP', np.nan) for c in r['curve']
                             if c['iter'] == it) for it in its] for r in rs])
        secs = np.array([[next(c['train_s'] for c in r['curve']
                               if c['iter'] == it) for it in its]
                         for r in rs]).mean(0) / 60
        n = f'{len(rs)} seed' + ('s' if len(rs) > 1 else '')
        style = dict(color=f'C{k % 10}', ls='-' if k < 10 else '--',
                     label=f'{row} ({n})')
        for ax, x in zip(axes, (its, secs)):
            ax.plot(x, ap.mean(0), marker='o', ms=3, **style)
            ax.fill_between(x, ap.min(0), ap.max(0), color=style['color'],
                            alpha=0.15)
    axes[0].set_xlabel('iteration')
    # runs written before they recorded a device all trained on the CPU
    devices = sorted({r.get('device', 'cpu') for r in runs})
    where = ', '.join('2-core CPU' if d == 'cpu' else d for d in devices)
    if len(devices) > 1:
        where += ': not comparable'
    axes[1].set_xlabel(f'training time, min ({where})')
    axes[0].set_ylabel('mask AP (val)')
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc='lower right')
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def write_results(out: str, results: Dict, title: Optional[str] = None
                  ) -> None:
    """Write a results file ``out`` (json, with ``runs`` and ``summary``)
    and its ``.md`` table; with a ``title``, its ``.png`` curves too."""
    with open(out, 'w') as f:
        json.dump(results, f, indent=2)
    stem = osp.splitext(out)[0]
    with open(stem + '.md', 'w') as f:
        f.write(markdown_table(results['summary']) + '\n')
    if title is not None:
        plot_curves(results['runs'], stem + '.png', title)


def config_with_env(path: str, env: Dict[str, str]):
    """``Config.fromfile(path)`` with ``env`` set while it is read (the
    ``{{$VAR:default}}`` items of data profiles), the environment restored
    after."""
    from mmengine.config import Config
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        return Config.fromfile(path)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def real_data_env(data: str, bubbles_root: str,
                  zerog_root: str) -> Dict[str, str]:
    """Environment of the ablation data profile ``data`` (``bubbles`` or
    ``zerog_bubbles``, the latter converted from labelme on first use).

    Raises:
        FileNotFoundError: naming the file or folder that is missing.
    """
    env = dict(ABLATION_DATA=data)
    if data == 'bubbles':
        root = bubbles_root.rstrip('/\\') + '/'
        ann = osp.join(root, 'annotations', 'instances_train.json')
        if not osp.isfile(ann):
            raise FileNotFoundError(
                f'{ann}: bubbles annotations not found (--bubbles-root or '
                'BUBBLES_ROOT)')
        env['BUBBLES_ROOT'] = root
    elif data == 'zerog_bubbles':
        from droplet_mmdet.datasets.converters import prepare_zerog_bubbles
        root = zerog_root.rstrip('/\\') + '/'
        if not osp.isdir(osp.join(root, 'labels')):
            raise FileNotFoundError(
                f'{root}labels: zerog_bubbles labelme files not found '
                '(--zerog-root or ZEROG_ROOT)')
        env['ZEROG_ROOT'] = root
        env.update(prepare_zerog_bubbles(root))
    else:
        raise ValueError(f'unknown real data set {data!r}')
    return env


def _compose_row(row: str, base_config: str, recipe: Sequence[str],
                 env: Dict[str, str], run_dir: str,
                 options: Dict[str, object]) -> Tuple[str, list]:
    """Write the composed config of ``row``, with the run's ``options``
    (schedule, seed, data) merged in, to ``run_dir/config.json`` (json: a
    dumped ``.py`` cannot hold ``float('inf')``)."""
    from .ablation_rows import compose, row_techniques
    techs = row_techniques(row, recipe)
    base = config_with_env(base_config, env)
    cfg = compose(base, techs)
    cfg.merge_from_dict(options)
    os.makedirs(run_dir, exist_ok=True)
    path = osp.join(run_dir, 'config.json')
    cfg.dump(path)
    return path, techs


def _is_path(value) -> bool:
    return isinstance(value, str) and ('/' in value or os.sep in value)


def _norm_paths(value):
    """``value`` with every string that names an existing path resolved
    (``/a/x/../data/`` and ``/a/data`` are the same data; ``..`` is taken
    lexically first, so ``/gone/../data`` is ``/data`` too)."""
    if isinstance(value, dict):
        return {k: _norm_paths(v) for k, v in value.items()}
    if _is_path(value):
        for path in (value, osp.normpath(value)):
            if os.path.exists(path):
                return osp.realpath(path)
    return value


def _without_paths(value):
    """``value`` without the entries that name files or folders."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()
                if not _is_path(v)}
    return value


def annotation_digests(config: str, env: Dict[str, str],
                       data_options: Dict[str, object],
                       root: str) -> Dict[str, Optional[str]]:
    """sha1 of the train and val annotation files that ``config`` (read
    with ``env`` and ``data_options``, relative paths from ``root`` as the
    runs see them) trains and validates on; None for a file that is not
    there. What data a results file was made with, wherever the data or
    the checkout lay (paths differ between machines and clones)."""
    cfg = config_with_env(config, env)
    cfg.merge_from_dict(dict(data_options))
    out: Dict[str, Optional[str]] = {}
    for split in ('train', 'val'):
        ds = cfg[f'{split}_dataloader'].dataset
        path = ds.ann_file
        if not osp.isabs(path) and ds.get('data_root'):
            path = osp.join(ds.data_root, path)
        path = osp.join(root, path)
        if osp.isfile(path):
            with open(path, 'rb') as f:
                out[split] = hashlib.sha1(f.read()).hexdigest()
        else:
            out[split] = None
    return out


def setup_differences(prev: Dict, setup: Dict) -> List[str]:
    """The entries of ``setup`` (schedule, options, environment, data) in
    which an earlier results file ``prev`` differs, one line each. Where
    both carry the digests of their annotation files (``data``), those say
    whether the data are the same and the paths are not compared (a
    results file made in another clone or on another machine names other
    paths to the same data); otherwise paths are compared after resolving
    them."""
    by_content = bool(prev.get('data')) and bool(setup.get('data'))
    diffs = []
    for k, v in setup.items():
        if k == 'data' and not by_content:
            continue
        old = prev.get(k)
        norm = _without_paths if by_content else _norm_paths
        if norm(old) != norm(v):
            diffs.append(f'{k}: {old!r} there, {v!r} here')
    return diffs


def ablation_setup(iters: int, data_options: Dict[str, object],
                   env: Optional[Dict[str, str]], val_interval: int,
                   recipe: Sequence[str], base_config: Optional[str],
                   root: str) -> Dict:
    """What a results file records of how its runs were made: schedule,
    options, environment, recipe and, given ``base_config``, the digests
    of its annotation files (``data``)."""
    setup = dict(iters=iters, data_options=data_options, env=env or {},
                 val_interval=val_interval, recipe=list(recipe))
    if base_config and osp.isfile(base_config):
        setup['data'] = annotation_digests(base_config, env or {},
                                           data_options, root)
    return setup


def resumable_runs(out: str, setup: Dict) -> List[Dict]:
    """The finished runs of the results file ``out`` when it was made with
    ``setup`` (:func:`setup_differences`).

    Raises:
        ValueError: naming ``out`` and each difference, when it was made
            with another setup (resuming would write over its runs).
    """
    with open(out) as f:
        prev = json.load(f)
    prev.setdefault('val_interval', prev.get('iters'))
    prev.setdefault('recipe', setup['recipe'])
    diffs = setup_differences(prev, setup)
    if diffs:
        raise ValueError(
            f'{out}: its {len(prev.get("runs", []))} runs were made with '
            'another setup (' + '; '.join(diffs) + '), so --resume cannot '
            'continue it; give another --out (and merge the two with '
            'tools/merge_benchmark_runs.py), or leave out --resume to '
            'start this file anew')
    return prev['runs']


def ablation_status(rows: Sequence[str], seeds: Sequence[int],
                    work_root: str, out: str, iters: int,
                    others: Sequence[str] = ()) -> List[Dict]:
    """Where a long (multi-session) ablation stands, without training:
    per run, in the order :func:`run_ablation` trains them, ``done`` (in
    ``out``, with its final mask AP and seconds), ``partial`` (a
    checkpoint in its work dir: the iteration it resumes from) or
    ``pending``; the last entry estimates the CPU time left from the
    finished runs' mean. A run not done here but found in one of
    ``others`` (results files of the same schedule from another device,
    e.g. ``*_gpu.json``) says so in ``elsewhere`` (file, device, mask
    AP); it still counts as left here."""
    from .ablation_rows import run_dir_name

    def finished(path):
        if not osp.isfile(path):
            return {}
        with open(path) as f:
            prev = json.load(f)
        if prev.get('iters') != iters:
            return {}
        return {(r['config'], r['seed']): r for r in prev['runs']}

    done = finished(out)
    other_runs = [(path, finished(path)) for path in others]
    status, left = [], 0.0
    for seed in seeds:
        for row in rows:
            r = done.get((row, seed))
            if r is not None:
                status.append(dict(row=row, seed=seed, state='done',
                                   mask_ap=r['metrics'].get('segm_mAP'),
                                   seconds=r.get('seconds')))
                continue
            elsewhere = [dict(file=path, device=o.get('device', 'cpu'),
                              mask_ap=o['metrics'].get('segm_mAP'))
                         for path, runs in other_runs
                         for o in [runs.get((row, seed))] if o is not None]
            run_dir = run_dir_path(work_root, run_dir_name(row), seed)
            at = checkpoint_iteration(run_dir)
            status.append(dict(row=row, seed=seed,
                               state='partial' if at else 'pending',
                               resumes_at=at))
            if elsewhere:
                status[-1]['elsewhere'] = elsewhere
            left += 1 - at / iters
    secs = [s['seconds'] for s in status if s['state'] == 'done'
            and s.get('seconds')]
    status.append(dict(runs_left=round(left, 2), hours_left=round(
        left * float(np.mean(secs)) / 3600, 1) if secs else None))
    return status


def device_name() -> str:
    """What the runs train on: the GPU's name, or ``cpu`` (a results
    file can hold runs from several machines, see
    ``tools/merge_benchmark_runs.py``)."""
    import torch
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return 'cpu'


def run_ablation(configs: Sequence[str], seeds: Sequence[int],
                 data_options: Dict[str, str], iters: int, work_root: str,
                 out: str, root: str, env: Optional[Dict[str, str]] = None,
                 resume: bool = False, eval_only: bool = False,
                 log=print, val_interval: Optional[int] = None,
                 base_config: Optional[str] = None,
                 recipe: Sequence[str] = (), title: str = '',
                 extra: Optional[Dict] = None,
                 run_options: Optional[Callable[[str, int],
                                                Dict[str, object]]] = None
                 ) -> List[Dict]:
    """Train every row with every seed, same schedule; write ``out`` (json,
    every run with its learning curve), its ``.md`` table (mean ± half the
    spread) and ``.png`` curves after each run, so that an interrupted
    ablation keeps what it measured.

    Args:
        configs: config files (``.py``, or ``.json`` as composed configs
            are written), or row names (``stock``, ``+focal``,
            ``recipe``, ``recipe-focal``; see :mod:`.ablation_rows`)
            composed on ``base_config`` with ``recipe``.
        data_options: ``--cfg-options`` shared by all runs (data paths).
        env: extra environment variables for every run.
        base_config: the config rows are composed on; its train and val
            annotation files (read with ``env`` and ``data_options``) are
            recorded by digest as the results file's ``data``
            (:func:`annotation_digests`).
        resume: keep the runs already in ``out`` that used the same
            schedule, options, environment and data
            (:func:`setup_differences`); train the others (a run
            interrupted mid-way continues from its last checkpoint). A
            file made with another setup is an error, never overwritten.
        val_interval: validate (and checkpoint) every so many iterations;
            default: once, at the end.
        eval_only: train nothing; evaluate the checkpoints an earlier run
            left (``<work_root>/<config>_s<seed>/iter_<iters>.pth``) with
            the current code, e.g. after a metric fix.
        extra: more facts for the results file (e.g. what each row
            trains on).
        run_options: ``(row name, seed) -> --cfg-options`` of that run
            alone, asked just before it trains (e.g. ``load_from``: the
            checkpoint of another row's run of the same seed); recorded in
            the run as ``run_options``.
    """
    val_interval = val_interval or iters
    device = device_name()
    setup = ablation_setup(iters, data_options, env, val_interval, recipe,
                           base_config, root)
    runs = []
    if resume and osp.isfile(out):
        runs = resumable_runs(out, setup)
        log(f'{out}: keeping {len(runs)} finished runs')
    for seed in seeds:  # every row at one seed before the next seed
        for cfg in configs:
            is_file = cfg.endswith(('.py', '.json'))
            name = osp.splitext(osp.basename(cfg))[0] if is_file else cfg
            if any(r['config'] == name and r['seed'] == seed for r in runs):
                continue
            opts = dict(data_options)
            opts.update({
                'randomness.seed': seed,
                'train_cfg.max_iters': iters,
                'train_cfg.val_interval': val_interval,
                'param_scheduler.1.end': iters,
                'param_scheduler.1.milestones': [int(iters * 0.8)],
                'default_hooks.checkpoint.interval': val_interval,
                'default_hooks.checkpoint.max_keep_ckpts': 1,
            })
            t = time.time()
            if is_file:
                run_dir = run_dir_path(work_root, name, seed)
                path, techs = cfg, None
            else:
                from .ablation_rows import run_dir_name
                run_dir = run_dir_path(work_root, run_dir_name(name), seed)
                path, techs = _compose_row(name, base_config, recipe,
                                           env or {}, run_dir, opts)
            ckpt = osp.join(run_dir, f'iter_{iters}.pth') if eval_only \
                else None
            own = run_options(name, seed) if run_options and not eval_only \
                else {}
            at = 0 if eval_only else checkpoint_iteration(run_dir)
            metrics = run_one(path, run_dir, {**opts, **own}, root, env,
                              ckpt)
            run = dict(config=name, seed=seed, metrics=metrics,
                       seconds=round(time.time() - t, 1),
                       device=device)
            if at:  # ``seconds`` is this process's part of the run alone
                run['resumed_from'] = at
            if own:
                run['run_options'] = own
            if techs is not None:
                run['techniques'] = techs
            if not eval_only:
                run['curve'] = read_curve(run_dir)
            runs.append(run)
            log(f'{name} seed {seed}: mask AP {metrics.get("segm_mAP"):.3f}'
                f' ({time.time() - t:.0f}s)')
            rows = summarize_runs(runs)
            write_results(out, dict(runs=runs, summary=rows, **setup,
                                    evaluated_checkpoints=eval_only,
                                    **(extra or {})), title)
    return summarize_runs(runs)

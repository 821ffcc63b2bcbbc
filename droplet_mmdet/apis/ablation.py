"""Accuracy ablation: train each config with the same schedule and seeds,
collect DropletMetric's figures, and tabulate them.

``tools/benchmark.py`` is the command-line shell. Each run is a separate
``tools/train.py`` process (validation at the last iteration writes the
metrics json that is read back here).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

KEYS = (('segm_mAP', 'mask AP'), ('segm_mAP_50', 'mask AP50'),
        ('R50_target', 'recall@0.5 400-500px2'), ('count_mre', 'count err %'),
        ('diam_err_pct', 'diam err %'))


def _droplet_metrics(records) -> Dict[str, float]:
    metrics = {}
    for rec in records:
        metrics.update({k.split('/', 1)[1]: v for k, v in rec.items()
                        if k.startswith('droplet/')})
    return metrics


def run_one(config: str, work_dir: str, options: Dict[str, object],
            root: str, env: Optional[Dict[str, str]] = None,
            checkpoint: Optional[str] = None) -> Dict[str, float]:
    """Train one config in a subprocess; return its final val metrics.

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
    with open(osp.join(work_dir, log_name), 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f'{config}: {what} failed, see '
                           f'{work_dir}/{log_name}')
    if checkpoint is not None:
        # tools/test.py: <work_dir>/<timestamp>/<timestamp>.json
        found = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
        with open(found[-1]) as f:
            return _droplet_metrics([json.load(f)])
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                        'scalars.json')))
    with open(scalars[-1]) as f:
        return _droplet_metrics(json.loads(line) for line in f)


def summarize_runs(runs: List[Dict]) -> List[Dict]:
    """Mean and spread over seeds, per config."""
    rows = []
    for cfg in dict.fromkeys(r['config'] for r in runs):
        rs = [r for r in runs if r['config'] == cfg]
        row = dict(config=cfg, seeds=[r['seed'] for r in rs])
        for key, _ in KEYS:
            vals = np.array([r['metrics'].get(key, np.nan) for r in rs],
                            dtype=float)
            row[key] = float(np.nanmean(vals))
            row[key + '_spread'] = float(np.nanmax(vals) - np.nanmin(vals))
        rows.append(row)
    return rows


def markdown_table(rows: List[Dict]) -> str:
    head = '| config | ' + ' | '.join(n for _, n in KEYS) + ' |'
    sep = '|---' * (len(KEYS) + 1) + '|'
    lines = [head, sep]
    for r in rows:
        cells = [f'{r[k]:.3f} ± {r[k + "_spread"] / 2:.3f}'
                 if k.startswith(('segm', 'R50')) else
                 f'{r[k]:.1f} ± {r[k + "_spread"] / 2:.1f}' for k, _ in KEYS]
        lines.append(f'| {r["config"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def run_ablation(configs: Sequence[str], seeds: Sequence[int],
                 data_options: Dict[str, str], iters: int, work_root: str,
                 out: str, root: str, env: Optional[Dict[str, str]] = None,
                 resume: bool = False, eval_only: bool = False,
                 log=print) -> List[Dict]:
    """Train every config with every seed, same schedule; write ``out``
    (json, every run) and its ``.md`` table (mean ± half the spread) after
    each run, so that an interrupted ablation keeps what it measured.

    Args:
        data_options: ``--cfg-options`` shared by all runs (data paths).
        env: extra environment variables for every run.
        resume: keep the runs already in ``out`` that used the same
            schedule, options and environment; train the others.
        eval_only: train nothing; evaluate the checkpoints an earlier run
            left (``<work_root>/<config>_s<seed>/iter_<iters>.pth``) with
            the current code, e.g. after a metric fix.
    """
    runs = []
    if resume and osp.isfile(out):
        with open(out) as f:
            prev = json.load(f)
        if (prev.get('iters') == iters
                and prev.get('data_options') == data_options
                and prev.get('env') == (env or {})):
            runs = prev['runs']
            log(f'{out}: keeping {len(runs)} finished runs')
        else:
            log(f'{out}: other schedule/data, not resuming from it')
    for cfg in configs:
        for seed in seeds:
            name = osp.splitext(osp.basename(cfg))[0]
            if any(r['config'] == name and r['seed'] == seed for r in runs):
                continue
            opts = dict(data_options)
            opts.update({
                'randomness.seed': seed,
                'train_cfg.max_iters': iters,
                'train_cfg.val_interval': iters,
                'param_scheduler.1.end': iters,
                'param_scheduler.1.milestones': f'[{int(iters * 0.8)}]',
                'default_hooks.checkpoint.interval': iters,
            })
            t = time.time()
            run_dir = osp.join(work_root, f'{name}_s{seed}')
            ckpt = osp.join(run_dir, f'iter_{iters}.pth') if eval_only \
                else None
            metrics = run_one(cfg, run_dir, opts, root, env, ckpt)
            runs.append(dict(config=name, seed=seed, metrics=metrics,
                             seconds=round(time.time() - t, 1)))
            log(f'{name} seed {seed}: mask AP {metrics.get("segm_mAP"):.3f}'
                f' ({time.time() - t:.0f}s)')
            rows = summarize_runs(runs)
            with open(out, 'w') as f:
                json.dump(dict(runs=runs, summary=rows, iters=iters,
                               data_options=data_options, env=env or {},
                               evaluated_checkpoints=eval_only),
                          f, indent=2)
            with open(osp.splitext(out)[0] + '.md', 'w') as f:
                f.write(markdown_table(rows) + '\n')
    return summarize_runs(runs)

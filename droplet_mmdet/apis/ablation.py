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


def run_one(config: str, work_dir: str, options: Dict[str, object],
            root: str, env: Optional[Dict[str, str]] = None
            ) -> Dict[str, float]:
    """Train one config in a subprocess; return its final val metrics.

    Args:
        env: extra environment variables for the run (``ABLATION_DATA``
            picks the data profile of configs/droplet/ablation/).
    """
    cmd = [sys.executable, osp.join(root, 'tools', 'train.py'), config,
           '--work-dir', work_dir, '--cfg-options'
           ] + [f'{k}={v}' for k, v in options.items()]
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'train_stdout.log'), 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise RuntimeError(f'{config}: training failed, see '
                           f'{work_dir}/train_stdout.log')
    scalars = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                        'scalars.json')))
    metrics = {}
    with open(scalars[-1]) as f:
        for line in f:
            rec = json.loads(line)
            metrics.update({k.split('/', 1)[1]: v for k, v in rec.items()
                            if k.startswith('droplet/')})
    return metrics


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
                 resume: bool = False, log=print) -> List[Dict]:
    """Train every config with every seed, same schedule; write ``out``
    (json, every run) and its ``.md`` table (mean ± half the spread) after
    each run, so that an interrupted ablation keeps what it measured.

    Args:
        data_options: ``--cfg-options`` shared by all runs (data paths).
        env: extra environment variables for every run.
        resume: keep the runs already in ``out`` that used the same
            schedule, options and environment; train the others.
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
            metrics = run_one(cfg, osp.join(work_root, f'{name}_s{seed}'),
                              opts, root, env)
            runs.append(dict(config=name, seed=seed, metrics=metrics,
                             seconds=round(time.time() - t, 1)))
            log(f'{name} seed {seed}: mask AP {metrics.get("segm_mAP"):.3f}'
                f' ({time.time() - t:.0f}s)')
            rows = summarize_runs(runs)
            with open(out, 'w') as f:
                json.dump(dict(runs=runs, summary=rows, iters=iters,
                               data_options=data_options, env=env or {}),
                          f, indent=2)
            with open(osp.splitext(out)[0] + '.md', 'w') as f:
                f.write(markdown_table(rows) + '\n')
    return summarize_runs(runs)

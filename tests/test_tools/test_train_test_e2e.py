"""End to end through the real tools: train -> checkpoint -> resume -> test.

A slim Mask R-CNN trains 2 iterations on CPU on a tiny generated COCO set,
resumes from its checkpoint for a third, and ``tools/test.py`` evaluates the
result with COCO metrics. ``--amp`` on a CPU machine falls back to fp32.
"""
import glob
import json
import os
import os.path as osp
import pickle
import re
import subprocess

import pytest
import torch

from conftest import PYTHON, SLIM_CONFIG, tiny_train_options, tool_env
from conftest import ablation_standin, child_pids
from conftest import process_alive as _alive


def _run(args, cwd):
    proc = subprocess.run([PYTHON] + args, cwd=cwd, env=tool_env(),
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def test_train_resume_test(tmp_path, tiny_droplets, repo_root):
    work = tmp_path / 'work'
    train = osp.join(repo_root, 'tools', 'train.py')
    out = _run([train, SLIM_CONFIG, '--work-dir', str(work), '--amp',
                '--cfg-options'] + tiny_train_options(tiny_droplets, 2),
               cwd=tmp_path)
    if not torch.cuda.is_available():
        assert 'no GPU is available; training in fp32' in out
    assert 'Iter(train) [2/2]' in out
    assert (work / 'iter_2.pth').is_file()

    out = _run([train, SLIM_CONFIG, '--work-dir', str(work), '--resume',
                '--cfg-options'] + tiny_train_options(tiny_droplets, 3),
               cwd=tmp_path)
    assert 'resumed epoch: 0, iter: 2' in out
    assert 'Iter(train) [3/3]' in out
    assert (work / 'iter_3.pth').is_file()

    test_dir = tmp_path / 'test'
    preds = tmp_path / 'preds.pkl'
    out = _run([osp.join(repo_root, 'tools', 'test.py'), SLIM_CONFIG,
                str(work / 'iter_3.pth'), '--work-dir', str(test_dir),
                '--out', str(preds), '--cfg-options'] +
               tiny_train_options(tiny_droplets, 3), cwd=tmp_path)
    assert 'Load checkpoint from' in out
    results = glob.glob(str(test_dir / '*' / '*.json'))
    assert results, out[-3000:]
    with open(results[0]) as f:
        metrics = json.load(f)
    with open(preds, 'rb') as f:
        dumped = pickle.load(f)
    assert len(dumped) == 2  # one entry per val frame
    # the reported figures are those of the dumped predictions, scored
    # again here; AP is a score (not -1, "nothing to evaluate": the val
    # frames hold droplets)
    from droplet_mmdet.evaluation import DropletMetric
    metric = DropletMetric(ann_file=osp.join(tiny_droplets, 'val.json'))
    metric.dataset_meta = dict(classes=('droplet', ))
    metric.process({}, dumped)
    again = metric.compute_metrics(metric.results)
    assert len(again) > 20
    for key, value in again.items():
        assert metrics[f'droplet/{key}'] == pytest.approx(
            value, rel=1e-6, abs=1e-6, nan_ok=True), key
    for key in ('bbox_mAP', 'segm_mAP', 'segm_mAP_50'):
        assert 0.0 <= again[key] <= 1.0, (key, again)
    assert sum(len(d['pred_instances']['scores']) for d in dumped) > 0

    # tools/infer.py on the val folder and on a 2-frame video of it
    import csv

    import cv2
    video = tmp_path / 'clip.avi'
    frames = sorted((tiny_droplets + '/val/' + f)
                    for f in os.listdir(tiny_droplets + '/val'))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 2,
                             (128, 128))
    for f in frames:
        writer.write(cv2.imread(f))
    writer.release()
    for source, n_frames in ((tiny_droplets + '/val', 2), (str(video), 2)):
        out_dir = tmp_path / ('infer_' + osp.basename(source))
        out = _run([osp.join(repo_root, 'tools', 'infer.py'), SLIM_CONFIG,
                    str(work / 'iter_3.pth'), source, '--out-dir',
                    str(out_dir), '--score-thr', '0.0', '--px-size', '0.5',
                    '--tile', '96', '--overlap', '32'], cwd=tmp_path)
        with open(out_dir / 'summary.csv') as f:
            summary = list(csv.DictReader(f))
        with open(out_dir / 'droplets.csv') as f:
            drops = list(csv.DictReader(f))
        assert len(summary) == n_frames, out[-2000:]
        assert sum(int(r['count']) for r in summary) == len(drops)
        assert drops and {'cx', 'cy', 'area_px', 'diameter_px',
                          'diameter_um', 'circularity',
                          'score'} <= set(drops[0])
        assert (out_dir / 'size_histogram.png').is_file()
        assert len(list((out_dir / 'overlays').iterdir())) == n_frames


def test_bad_paths_are_named(tmp_path, repo_root):
    proc = subprocess.run(
        [PYTHON, osp.join(repo_root, 'tools', 'test.py'), SLIM_CONFIG,
         str(tmp_path / 'missing.pth')], env=tool_env(), capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0
    assert 'missing.pth: checkpoint not found' in proc.stderr
    proc = subprocess.run(
        [PYTHON, osp.join(repo_root, 'tools', 'train.py'),
         str(tmp_path / 'nope.py')], env=tool_env(), capture_output=True,
        text=True, timeout=300)
    assert proc.returncode != 0
    assert 'nope.py: config file not found' in proc.stderr


@pytest.mark.skipif(not osp.isdir('/proc/self'),
                    reason='PR_SET_PDEATHSIG and /proc are Linux')
def test_a_killed_benchmark_leaves_no_training_or_workers(tmp_path,
                                                          repo_root):
    # a benchmark stopped with kill took tools/train.py along, but the
    # validation's DataLoader workers stayed, asleep at exit: the masks of
    # their data samples travel through the result queue's pipe, which
    # nobody read any more (a worker exits at once only when its loader
    # shut it down)
    import signal
    import sys
    import time
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    data = str(tmp_path / 'data')  # val frames whose masks fill the pipe
    generate_dataset(data, FrameSpec.v1(height=384, width=384),
                     dict(train=4, val=20), seed=1, gallery=0,
                     progress=False)
    opts = tiny_train_options(data, 1000, extra={
        'train_cfg.val_interval': 2,
        'train_dataloader.num_workers': 2,
        'train_dataloader.persistent_workers': True,
        'val_dataloader.num_workers': 2,
        'val_dataloader.persistent_workers': True})
    cmd = [PYTHON, osp.join(repo_root, 'tools', 'train.py'), SLIM_CONFIG,
           '--work-dir', str(tmp_path / 'work'), '--cfg-options'] + opts
    log = tmp_path / 'train.log'
    parent = ablation_standin(  # ablation.py alone, no mmdet
        f'mod.run_child({cmd!r}, open({str(log)!r}, "w"), env={tool_env()!r})')
    proc = subprocess.Popen([sys.executable, '-c', parent], cwd=tmp_path)
    pids = []
    try:
        deadline = time.time() + 600
        while time.time() < deadline:
            assert proc.poll() is None, log.read_text()[-4000:]
            # killed in the middle of the first validation
            if log.exists() and re.search(r'\(val\) \[\s*3/20\]',
                                          log.read_text()):
                break
            time.sleep(0.5)
        else:
            pytest.fail('validation never reached frame 3: ' +
                        log.read_text()[-4000:])
        train = child_pids(proc.pid)
        assert len(train) == 1, train
        workers = child_pids(train[0])
        assert len(workers) == 4, (workers, log.read_text()[-2000:])
        pids = train + workers
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while any(map(_alive, pids)) and time.time() < deadline:
            time.sleep(0.2)
        left = [p for p in pids if _alive(p)]
        assert not left, f'{left} of training {train} and workers ' \
            f'{workers} outlived the benchmark'
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)

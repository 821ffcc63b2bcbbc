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
import subprocess

import pytest
import torch

from conftest import PYTHON, SLIM_CONFIG, tiny_train_options, tool_env


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

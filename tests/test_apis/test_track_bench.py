"""The tracking benchmark (droplet_mmdet.apis.track_bench,
tools/benchmark_tracking.py): the video grid, the metrics of one tracked
video against the simulator's truth, and the command line end to end on
tiny videos.

References come from outside the code under test: the spec's flow speed
and frequency, and a deliberately broken tracking (two tracks' ids
swapped halfway) that every identity and velocity score must notice.
"""
import json
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest

from conftest import PYTHON, ROOT, SLIM_CONFIG, tool_env
from droplet_mmdet.apis.track import track_video
from droplet_mmdet.apis.track_bench import (bench_grid, case_metrics,
                                            gt_video, plug_spec, run_case,
                                            truth_predictor)

TOOL = osp.join(ROOT, 'tools', 'benchmark_tracking.py')
#: a tiny plug video: 96 x 256, 30 frames, 20 px droplets 3 diameters
#: apart at 8 px/frame (frequency 8 / 60 droplets/frame)
U, K, FRAMES = 8.0, 3.0, 30


def test_grid_skips_impossible_cases():
    cases, skipped = bench_grid([10, 40], [1.5, 2], n_frames=20)
    names = [c['name'] for c in cases]
    assert names == ['plug_u10_k1.5', 'plug_u10_k2', 'plug_u40_k2',
                     'poiseuille_u12']
    (sk, ) = skipped  # 40 px/frame at 30 px spacing: 1.33 droplets/frame
    assert (sk['name'], sk['u'], sk['spacing']) == ('plug_u40_k1.5', 40, 1.5)
    assert sk['frequency'] == pytest.approx(40 / 30, abs=1e-3)
    assert 'frequency' in sk['reason'] and '> 1' in sk['reason']
    for c in cases[:3]:
        s = c['spec']
        assert (s.profile, s.height, s.width, s.n_frames) == ('plug', 256,
                                                              512, 20)
        # spacing u / frequency in diameters is what was asked for
        assert s.u_max / s.frequency / s.diameter == pytest.approx(
            c['spacing'])
        assert s.u_max == c['u']
    p = cases[-1]['spec']
    assert (p.profile, p.u_max, p.frequency, p.channel) == (
        'poiseuille', 12.0, 0.25, (88.0, 168.0))
    # u = spacing exactly (1 droplet/frame) is possible: kept
    cases, skipped = bench_grid([30], [1.5], poiseuille=False)
    assert [c['frequency'] for c in cases] == [1.0] and skipped == []
    with pytest.raises(ValueError, match='spacing'):
        bench_grid([10], [0.8])
    with pytest.raises(ValueError, match='displacement'):
        bench_grid([0], [2])
    with pytest.raises(ValueError, match='height'):
        bench_grid([10], [2], height=64)


@pytest.fixture(scope='module')
def tiny():
    spec = plug_spec(U, K, height=96, width=256, n_frames=FRAMES)
    traj, images, dets, truth = gt_video(spec, seed=3)
    return spec, traj, images, dets, truth


def test_truth_source_is_perfect_on_a_plug_video(tiny):
    spec, traj, images, dets, truth = tiny
    res = run_case(truth_predictor(dets), images, truth, traj, spec)
    # whole droplets: one track each, never swapped, none missed
    assert res['interior_idf1'] == 1.0
    assert res['interior_mota'] == 1.0
    assert res['interior_num_switches'] == 0
    assert res['interior_num_misses'] == 0
    assert res['interior_num_false_positives'] == 0
    # a sliver of a droplet leaving may get an id of its own
    assert res['idf1'] > 0.97 and res['num_misses'] == 0
    # velocity of every measured track within 1 % of its droplet's
    assert res['tracks_measured'] >= 5
    assert res['tracks_without_truth'] == 0
    assert res['vel_err_max_pct'] < 1.0
    assert res['vel_err_mean_pct'] <= res['vel_err_max_pct']
    assert res['vel_err_of_mean_pct'] < 1.0
    # the truth is the flow (plug: u everywhere, jitter averages out)
    assert res['vx_true_mean'] == pytest.approx(U, rel=0.02)
    assert res['vel_err_vs_flow_pct'] < 2.0
    # births: the simulator's rate is the spec's frequency, and the
    # tracks find every birth
    assert res['gen_true_per_frame'] == pytest.approx(U / (K * 20),
                                                      abs=0.04)
    assert res['gen_count'] == res['gen_true_count'] >= 2
    assert res['gen_err_pct'] == pytest.approx(0.0, abs=1e-6)
    assert res['frames'] == FRAMES and res['fps'] > 0


def test_swapped_ids_lower_idf1_and_raise_switches(tiny):
    """Two tracks that share frames 8..22 exchange ids from their middle
    on: the scores of the broken rows must be worse than the intact
    ones."""
    spec, traj, images, dets, truth = tiny
    rows = track_video(truth_predictor(dets), images, fps=spec.fps,
                       tile=256)
    good = case_metrics(rows, truth, traj, spec)
    span = {}
    for r in rows:
        if not r['edge']:
            span.setdefault(r['track_id'], []).append(r['frame'])
    long_ = sorted((t for t, f in span.items() if len(f) >= 20),
                   key=lambda t: min(span[t]))
    assert len(long_) >= 2, span
    a, b = long_[:2]
    both = sorted(set(span[a]) & set(span[b]))
    assert len(both) >= 10
    mid = both[len(both) // 2]
    broken = [dict(r) for r in rows]
    for r in broken:
        if r['frame'] >= mid and r['track_id'] in (a, b):
            r['track_id'] = b if r['track_id'] == a else a
    bad = case_metrics(broken, truth, traj, spec)
    assert bad['idf1'] < good['idf1'] - 0.02
    assert bad['interior_idf1'] < 1.0
    assert bad['num_switches'] >= good['num_switches'] + 2
    assert bad['interior_num_switches'] >= 2
    # each broken track jumps by the droplet spacing: far off its truth
    assert bad['vel_err_max_pct'] > 10 * max(good['vel_err_max_pct'], 0.1)
    # detections are the same: no extra misses or false positives
    assert bad['num_misses'] == good['num_misses']
    assert bad['num_false_positives'] == good['num_false_positives']


def test_prior_tracker_follows_a_fast_dense_train():
    """20 px/frame at 30 px spacing (two thirds of the spacing per frame):
    the nearest droplet in the next frame is the wrong one. ByteTrack
    told the flow speed (``bytetrack_prior``) keeps every id and the
    velocity."""
    spec = plug_spec(20.0, 1.5, height=96, width=256, n_frames=20)
    traj, images, dets, truth = gt_video(spec, seed=0)
    res = run_case(truth_predictor(dets), images, truth, traj, spec,
                   'bytetrack_prior')
    assert res['interior_idf1'] == 1.0
    assert res['interior_num_switches'] == 0
    assert res['vel_err_max_pct'] < 1.0
    assert res['gen_err_pct'] == pytest.approx(0.0, abs=1e-6)


def run_tool(*args):
    return subprocess.run([PYTHON, TOOL, *args], capture_output=True,
                          text=True, env=tool_env())


def test_cli_help():
    res = run_tool('--help')
    assert res.returncode == 0, res.stderr
    for flag in ('--train-detector', '--detector', '--resume', '--seeds',
                 '--trackers', '--displacements', '--spacings'):
        assert flag in res.stdout


def test_cli_rejects_bad_input(tmp_path):
    missing = str(tmp_path / 'nope.pth')
    res = run_tool('--detector', SLIM_CONFIG, missing)
    assert res.returncode == 2 and missing in res.stderr
    res = run_tool('--spacings', '0.5', '--out', str(tmp_path / 'x.json'))
    assert res.returncode == 2 and 'spacing' in res.stderr
    res = run_tool('--frames', '1')
    assert res.returncode == 2 and '--frames' in res.stderr
    bad = tmp_path / 'bad.json'
    bad.write_text('{"runs": []}')
    res = run_tool('--resume', '--out', str(bad), '--no-poiseuille',
                   '--displacements', '8', '--spacings', '2')
    assert res.returncode == 2 and str(bad) in res.stderr
    assert not osp.exists(str(tmp_path / 'bad.png'))


TINY_ARGS = ('--displacements', '8', '60', '--spacings', '2', '--frames',
             '20', '--height', '96', '--width', '256', '--no-poiseuille',
             '--no-progress')


def test_cli_truth_only_end_to_end(tmp_path):
    out = str(tmp_path / 'bench' / 'tracking.json')
    res = run_tool(*TINY_ARGS, '--out', out)
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'skipping plug_u60_k2' in res.stdout
    with open(out) as f:
        data = json.load(f)
    assert data['command'].startswith('python tools/benchmark_tracking.py')
    assert data['sources'] == ['truth'] and 'skipped' in data['detector']
    assert data['machine']['cpu_cores'] >= 1
    assert [s['name'] for s in data['skipped_cases']] == ['plug_u60_k2']
    (case, ) = data['cases']
    assert (case['video'], case['source'], case['tracker'], case['seed']) \
        == ('plug_u8_k2', 'truth', 'bytetrack', 0)
    assert case['interior_idf1'] == 1.0 and case['vel_err_max_pct'] < 1.0
    assert case['spec']['n_frames'] == 20
    (trk, ) = data['summary']['per_source'].values()
    assert trk['meets_targets_at_target_u'] is None  # no u = 20 here
    assert trk['breaks'][0]['largest_passing_u'] == 8.0
    png = cv2.imread(osp.join(osp.dirname(out), 'tracking.png'))
    assert png is not None and png.shape[0] > 200 and png.std() > 5
    # --resume keeps the finished case (same timing: not run again) and
    # runs the new tracker only
    res = run_tool(*TINY_ARGS, '--out', out, '--resume', '--trackers',
                   'bytetrack', 'ocsort')
    assert res.returncode == 0, res.stderr[-3000:]
    assert 'kept 1 case' in res.stdout
    with open(out) as f:
        again = json.load(f)
    assert [c['tracker'] for c in again['cases']] == ['bytetrack', 'ocsort']
    assert again['cases'][0]['seconds'] == case['seconds']


# at most 10 droplets a frame from the random model: fast
FEW = """
_base_ = '{base}'
model = dict(test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50),
                           rcnn=dict(max_per_img=10)))
"""


def test_cli_detector_source(tmp_path):
    """--detector with a seeded random slim model: the detector source is
    run and recorded (its scores are whatever a random model gets)."""
    import torch
    from mmdet.apis import init_detector
    from mmengine.registry import init_default_scope
    config = str(tmp_path / 'slim_few.py')
    with open(config, 'w') as f:
        f.write(FEW.format(base=SLIM_CONFIG))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = init_detector(config, None, device='cpu')
    model.roi_head.bbox_head.fc_cls.bias.data = torch.tensor([3.0, -3.0])
    ckpt = str(tmp_path / 'random.pth')
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('droplet', )))),
               ckpt)
    out = str(tmp_path / 'det.json')
    res = run_tool('--displacements', '8', '--spacings', '3', '--frames',
                   '3', '--height', '96', '--width', '160',
                   '--no-poiseuille', '--no-progress', '--detector', config,
                   ckpt, '--score-thr', '0.3', '--out', out, '--trackers',
                   'bytetrack', 'sort')
    assert res.returncode == 0, res.stderr[-3000:]
    with open(out) as f:
        data = json.load(f)
    assert data['sources'] == ['truth', 'detector']
    assert data['detector']['checkpoint'] == ckpt
    assert data['detector']['score_thr'] == 0.3
    det = [c for c in data['cases'] if c['source'] == 'detector']
    assert [c['tracker'] for c in det] == ['bytetrack', 'sort']
    for c in det:
        assert c['frames'] == 3 and c['checkpoint'] == ckpt
        assert c['fps'] > 0 and np.isfinite(c['num_misses'])
        assert c['seconds'] >= c['detect_seconds'] > 0
    # the detector ran once; SORT replayed its detections, same time
    assert [c['detections_replayed'] for c in det] == [False, True]
    assert det[0]['detect_seconds'] == det[1]['detect_seconds']

"""tools/track.py end to end on CPU: a tiny synthetic video (MP4 and its
PNG folder) through a seeded, randomly initialised slim Mask R-CNN (nothing
to download). A random model finds zero or more droplets; the test checks
that every output is written and well formed, whatever it found, and that
unreadable input fails with a message naming the file."""
import csv
import json
import os.path as osp
import subprocess

import cv2
import pytest

from conftest import PYTHON, ROOT, SLIM_CONFIG, random_checkpoint, tool_env

TOOL = osp.join(ROOT, 'tools', 'track.py')
# at most 10 droplets a frame from the random model: a few tracks, fast
CONFIG = """
_base_ = '{base}'
model = dict(test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=50),
                           rcnn=dict(max_per_img=10)))
"""
TRACK_FIELDS = ['frame', 'time_s', 'track_id', 'cx', 'cy', 'area_px',
                'diameter_px', 'diameter_um', 'circularity', 'score', 'x0',
                'y0', 'x1', 'y1', 'edge']


@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    """A 6-frame 96 x 160 video, the slim config with few detections per
    frame, and a seeded random checkpoint whose box classifier is biased
    towards droplets."""
    from droplet_mmdet.datasets.synthetic import VideoSpec, write_video
    tmp = tmp_path_factory.mktemp('track_tool')
    vid = str(tmp / 'vid')
    spec = VideoSpec(height=96, width=160, n_frames=6, fps=25.0,
                     channel=(28.0, 68.0), diameter=14.0, inlet_x=20.0,
                     u_max=8.0, profile='plug', speckle=None, debris=0.0)
    info = write_video(vid, spec, seed=2)
    config = str(tmp / 'slim_few.py')
    with open(config, 'w') as f:
        f.write(CONFIG.format(base=SLIM_CONFIG))
    ckpt = str(tmp / 'random.pth')
    random_checkpoint(config, ckpt)
    return vid, info, config, ckpt


def run_tool(*args):
    return subprocess.run([PYTHON, TOOL, *args], capture_output=True,
                          text=True, env=tool_env())


def test_track_tool_writes_everything(setup, tmp_path):
    vid, info, config, ckpt = setup
    source = info['mp4'] or osp.join(vid, 'img1')
    out = tmp_path / 'out'
    proc = run_tool(config, ckpt, source, '--out-dir', str(out), '--device',
                    'cpu', '--score-thr', '0.3', '--px-size', '0.5', '--gt',
                    osp.join(vid, 'gt', 'gt.txt'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'tracking droplets at score >= 0.300 (--score-thr) with ' \
        'bytetrack' in proc.stdout

    with open(out / 'summary.json') as f:
        s = json.load(f)
    assert s['frames'] == 6 and s['frame_size'] == [96, 160]
    assert s['fps'] == pytest.approx(25.0)  # the MP4's / seqinfo.ini's
    assert s['tracker'] == 'bytetrack' and s['px_size'] == 0.5
    assert set(s['generation']) >= {'count', 'per_frame', 'hz', 'method'}
    assert s['generation']['frames'] == 5
    assert set(s['events']) == {'coalescence', 'breakup'}
    assert set(s['mot']) >= {'mota', 'idf1', 'num_switches'}
    assert s['mot']['num_frames'] >= 6  # every frame of the ground truth

    with open(out / 'tracks.csv', newline='') as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == TRACK_FIELDS
    assert len(rows) == s['detections']
    for r in rows:
        assert 0 <= int(r['frame']) < 6
        assert 0 <= float(r['cx']) <= 160 and 0 <= float(r['cy']) <= 96
        assert float(r['score']) >= 0.1  # ByteTrack's second stage
        assert float(r['time_s']) == pytest.approx(int(r['frame']) / 25)
    ids = {int(r['track_id']) for r in rows}
    assert len(ids) == s['tracks']

    with open(out / 'track_summary.csv', newline='') as f:
        tracks = list(csv.DictReader(f))
    assert {int(t['track_id']) for t in tracks} == ids
    # the biased random model does find droplets: the checks above ran
    assert s['detections'] > 0 and ids
    for t in tracks:  # px/frame -> um/s with --px-size 0.5 and 25 fps
        if t['vx'] not in ('', 'None'):
            assert float(t['vx_um_s']) == pytest.approx(
                float(t['vx']) * 0.5 * 25, abs=0.02)
    with open(out / 'events.csv', newline='') as f:
        reader = csv.DictReader(f)
        events = list(reader)
    assert reader.fieldnames[:3] == ['type', 'frame', 'time_s']
    assert len(events) == sum(s['events'].values())
    with open(out / 'tracks_mot.txt') as f:
        assert len(f.read().splitlines()) == len(rows)

    for name in ('velocity_profile.png', 'diameter_vs_time.png'):
        img = cv2.imread(str(out / name))
        assert img is not None and img.shape[0] > 100, name
    pngs = sorted((out / 'overlays').glob('*.png'))
    assert [p.name for p in pngs] == ['00000.png', '00002.png',
                                      '00003.png', '00005.png']
    assert cv2.imread(str(pngs[0])).shape == (192, 320, 3)  # 2x for ids
    if info['mp4'] is not None:
        cap = cv2.VideoCapture(str(out / 'overlay.mp4'))
        assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
        cap.release()


def test_track_tool_names_unreadable_input(setup, tmp_path):
    _, _, config, ckpt = setup
    bad = tmp_path / 'broken.mp4'
    bad.write_bytes(b'not a video')
    proc = run_tool(config, ckpt, str(bad), '--out-dir',
                    str(tmp_path / 'o'))
    assert proc.returncode != 0
    assert f'error: {bad}: ' in proc.stderr and 'Traceback' not in \
        proc.stderr
    assert not (tmp_path / 'o').exists()  # failed before anything ran


def test_track_tool_refuses_a_tracking_config(setup, tmp_path):
    vid, _, _, ckpt = setup
    config = osp.join(ROOT, 'configs', 'droplet', 'bytetrack_slim_droplets.py')
    proc = run_tool(config, ckpt, osp.join(vid, 'img1'), '--out-dir',
                    str(tmp_path / 'o'))
    assert proc.returncode != 0
    assert 'is an mmdet tracking config' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_track_tool_names_bad_ground_truth_before_tracking(setup, tmp_path):
    vid, _, config, ckpt = setup
    gt = tmp_path / 'gt.txt'
    gt.write_text('1,1,10,10,5,5,1,1,1\n2,x,10,10,5,5,1,1,1\n')
    proc = run_tool(config, ckpt, osp.join(vid, 'img1'), '--out-dir',
                    str(tmp_path / 'o'), '--device', 'cpu', '--gt', str(gt))
    assert proc.returncode != 0
    assert f'error: {gt}:2: not a MOTChallenge row' in proc.stderr
    assert not (tmp_path / 'o' / 'tracks.csv').exists()

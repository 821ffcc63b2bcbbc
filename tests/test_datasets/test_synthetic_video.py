"""Synthetic droplet videos: determinism, motion truth, births, outlet,
events, MOT/COCO agreement and masks against the drawn pixels.

References are independent of the code under test: the flow formulas of the
issue, masks rasterised here from the true ellipses, pixel differences
between frames, and pycocotools decoding the written RLEs.
"""
import csv
import filecmp
import importlib.util
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from droplet_mmdet.datasets.synthetic import (VideoSpec, render_video,
                                              render_video_frame, simulate,
                                              write_video)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: a small, quiet video: 96 x 192 frames, 14 px droplets, plug flow
SMALL = dict(height=96, width=192, n_frames=20, channel=(28.0, 68.0),
             diameter=14.0, inlet_x=20.0, u_max=8.0, frequency=0.25,
             profile='plug', jitter=0.0, inlet_y_sd=0.0, period_cv=0.0,
             speckle=None, debris=0.0)
#: no noise, blur or lighting: pixels differ only where droplets are drawn
CLEAN = dict(photons=(1e9, 1e9), read_noise=(0.0, 0.0),
             blur_sigma=(0.0, 0.0), texture=None, illumination=0.0,
             vignetting=None)


def _by_frame(traj):
    """``{(frame, id): state}``."""
    return {(t, s.id): s for t, row in enumerate(traj.states) for s in row}


def _full(d, h, w):
    m = np.zeros((h, w), bool)
    m[d.y0:d.y0 + d.mask.shape[0], d.x0:d.x0 + d.mask.shape[1]] = d.mask
    return m


def _ellipse_mask(cx, cy, a, b, theta, h, w):
    """Pixel centres inside the ellipse (the mask rule, from the formula)."""
    ys, xs = np.mgrid[0:h, 0:w] + 0.5
    c, s = np.cos(theta), np.sin(theta)
    u = (xs - cx) * c + (ys - cy) * s
    v = -(xs - cx) * s + (ys - cy) * c
    return (u / a)**2 + (v / b)**2 < 1


@pytest.fixture(scope='module')
def events_video(tmp_path_factory):
    """A written video with a coalescence (frame 8) and a break-up (14)."""
    out = str(tmp_path_factory.mktemp('video') / 'vid')
    spec = VideoSpec(**SMALL, coalescence=(8, ), breakup=(14, ))
    summary = write_video(out, spec, seed=3, mp4=False)
    return out, spec, summary


def test_same_seed_same_bytes(tmp_path):
    spec = VideoSpec(**dict(SMALL, n_frames=8, jitter=0.3, inlet_y_sd=1.0),
                     coalescence=(6, ))
    outs = [str(tmp_path / d / 'vid') for d in ('a', 'b', 'c')]
    s0 = write_video(outs[0], spec, seed=5)
    write_video(outs[1], spec, seed=5)
    write_video(outs[2], spec, seed=6)
    files = ['gt/gt.txt', 'truth.csv', 'truth.json', 'annotations.json',
             'seqinfo.ini'] + [f'img1/{t:06d}.png' for t in range(1, 9)]
    if s0['mp4'] is not None:
        files.append('video.mp4')
    for f in files:
        assert filecmp.cmp(osp.join(outs[0], f), osp.join(outs[1], f),
                           shallow=False), f
    for f in ('gt/gt.txt', 'img1/000001.png', 'img1/000008.png'):
        assert not filecmp.cmp(osp.join(outs[0], f), osp.join(outs[2], f),
                               shallow=False), f
    # a frame alone, from (spec, seed, t), is the same frame
    frames = {t: (img, drops) for t, img, drops in render_video(spec, 5)}
    for t in (0, 5, 7):
        img, drops = render_video_frame(spec, 5, t)
        assert np.array_equal(img, frames[t][0])
        assert [(d.track_id, d.x0, d.y0, d.mask.tobytes()) for d in drops] \
            == [(d.track_id, d.x0, d.y0, d.mask.tobytes())
                for d in frames[t][1]]
        png = cv2.imread(osp.join(outs[0], 'img1', f'{t + 1:06d}.png'),
                         cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(png, img)


def test_plug_flow_moves_by_u_exactly():
    spec = VideoSpec(**SMALL)
    traj = simulate(spec, seed=0)
    states = _by_frame(traj)
    pairs = [(s, states[(t + 1, i)]) for (t, i), s in states.items()
             if (t + 1, i) in states]
    assert len(pairs) > 100
    for s, nxt in pairs:
        # x += u in float64, a handful of additions: 1e-9 px is rounding
        assert abs(nxt.cx - s.cx - 8.0) < 1e-9
        assert nxt.cy == s.cy and s.vx == 8.0 and s.vy == 0.0
    # the drawn masks sit on the true centres: the centroid of a disc of
    # radius >= 6.5 px sampled at pixel centres is within 0.21 px of its
    # centre (worst of 8000 random sub-pixel offsets), so 0.3 px
    n = 0
    for t, img, drops in render_video(VideoSpec(**dict(SMALL, n_frames=6)),
                                      0):
        for d in drops:
            if d.cut:
                continue
            ys, xs = np.nonzero(d.mask)
            assert abs(d.x0 + xs.mean() + 0.5 - d.cx) < 0.3
            assert abs(d.y0 + ys.mean() + 0.5 - d.cy) < 0.3
            n += 1
    assert n >= 20


def test_poiseuille_profile_slower_near_walls():
    spec = VideoSpec(**dict(SMALL, profile='poiseuille', inlet_y_sd=8.0,
                            n_frames=30))
    traj = simulate(spec, seed=1)
    states = _by_frame(traj)
    yc, hc = 48.0, 40.0
    speed = {}
    for (t, i), s in states.items():
        u = 8.0 * (1 - (2 * (s.cy - yc) / hc)**2)
        assert abs(s.vx - u) < 1e-9 and s.vy == 0.0
        if (t + 1, i) in states:
            assert abs(states[(t + 1, i)].cx - s.cx - u) < 1e-9
        speed[i] = (abs(s.cy - yc), s.vx)
    dist, u = np.array(sorted(speed.values())).T
    assert dist[-1] - dist[0] > 4  # the births spread across the channel
    assert np.all(np.diff(u) <= 1e-12)  # farther from the centre: slower
    assert u[-1] < u[0] - 0.3


@pytest.mark.parametrize('frequency', [0.15, 0.3, 0.5])
def test_births_follow_the_frequency(frequency):
    n = 40
    spec = VideoSpec(**dict(SMALL, frequency=frequency, n_frames=n))
    traj = simulate(spec, seed=2)
    present = [{s.id for s in row} for row in traj.states]
    new = set().union(*present[1:]) - present[0]
    assert abs(len(new) - frequency * (n - 1)) <= 1
    first = {}
    for t, row in enumerate(traj.states):
        for s in row:
            first.setdefault(s.id, s)
    for i in new:  # each appears at the nozzle, within one step of it
        assert 20.0 <= first[i].cx < 28.0


def test_droplets_leave_at_the_outlet(events_video):
    out, spec, _ = events_video
    gt = np.loadtxt(osp.join(out, 'gt', 'gt.txt'), delimiter=',', ndmin=2)
    with open(osp.join(out, 'truth.json')) as f:
        tracks = {t['id']: t for t in json.load(f)['tracks']}
    outlet = 0
    for i in np.unique(gt[:, 1]).astype(int):
        rows = gt[gt[:, 1] == i]
        frames = rows[:, 0].astype(int)
        assert np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))
        if tracks[i]['fate'] == 'outlet':
            outlet += 1
            last = rows[-1]
            # cut by the right border in its last labelled frame (1-based
            # bb_left), never seen again, and within the simulation's life
            assert last[2] - 1 + last[4] == spec.width
            assert frames[-1] - 1 <= tracks[i]['last']
    assert outlet >= 3
    # the simulation drops a droplet once its outline is past the border
    traj = simulate(spec, seed=3)
    for row in traj.states:
        for s in row:
            assert s.cx - np.hypot(s.a * np.cos(s.theta),
                                   s.b * np.sin(s.theta)) < spec.width
    gone = [t for t in traj.tracks if t['fate'] == 'outlet']
    assert len(gone) >= outlet
    for t in gone:
        s = next(s for s in traj.states[t['last']] if s.id == t['id'])
        assert s.cx + s.vx - s.a >= spec.width  # the next step takes it out
    counts = np.bincount(gt[:, 0].astype(int))[1:]
    # at most one droplet per spacing (u / f = 32 px) of channel, + a cut one
    assert counts.max() <= (spec.width - spec.inlet_x) / 32 + 2


def test_coalescence_and_breakup(events_video):
    out, spec, summary = events_video
    with open(osp.join(out, 'truth.csv')) as f:
        rows = list(csv.DictReader(f))
    truth = {(int(r['frame']), int(r['id'])): r for r in rows}
    ids_at = {}
    for t, i in truth:
        ids_at.setdefault(t, set()).add(i)
    merge = [e for e in summary['events'] if e['type'] == 'coalescence']
    split = [e for e in summary['events'] if e['type'] == 'breakup']
    assert len(merge) == 1 and len(split) == 1 and not summary['skipped']

    ev = merge[0]
    (child, ), (pb, pa) = ev['children'], ev['parents']
    assert ev['frame'] == 8 and pa != pb
    assert all(child not in ids_at[t] for t in range(8))
    assert {pa, pb} <= ids_at[7]
    assert all(not {pa, pb} & ids_at[t] for t in range(8, spec.n_frames))
    A, Bt, C = truth[(7, pa)], truth[(7, pb)], truth[(8, child)]
    da, db, dc = (float(r['diameter']) for r in (A, Bt, C))
    assert abs(dc**2 - (da**2 + db**2)) < 1e-2  # summed area (4 decimals)
    # they touch in frame 7, and the child sits at their area-weighted
    # centroid one step later
    xa, xb = float(A['cx']), float(Bt['cx'])
    assert abs(abs(xa - xb) - (da + db) / 2) < 1e-3
    xc = (da**2 * (xa + float(A['vx'])) + db**2 * (xb + float(Bt['vx']))) \
        / (da**2 + db**2)
    assert abs(float(C['cx']) - xc) < 1e-3
    # the drawn masks keep the area once the child has relaxed to a disc
    img_area = {}
    with open(osp.join(out, 'annotations.json')) as f:
        for ann in json.load(f)['annotations']:
            img_area[(ann['image_id'] - 1, ann['track_id'])] = ann['area']
    t_round = 8 + spec.relax_frames
    assert float(truth[(t_round, child)]['a']) == pytest.approx(dc / 2)
    assert img_area[(t_round, child)] == pytest.approx(
        img_area[(7, pa)] + img_area[(7, pb)], rel=0.04)

    ev = split[0]
    (parent, ), kids = ev['parents'], ev['children']
    assert ev['frame'] == 14 and len(set(kids)) == 2
    dp = float(truth[(13, parent)]['diameter'])
    for k in kids:
        assert k not in set().union(*(ids_at[t] for t in range(14)))
        assert float(truth[(14, k)]['diameter']) == pytest.approx(
            dp / np.sqrt(2), abs=1e-3)


def test_gt_agrees_with_coco(events_video):
    out, spec, summary = events_video
    H, W = spec.height, spec.width
    gt = np.loadtxt(osp.join(out, 'gt', 'gt.txt'), delimiter=',', ndmin=2)
    with open(osp.join(out, 'annotations.json')) as f:
        coco = json.load(f)
    assert [im['id'] for im in coco['images']] == list(
        range(1, spec.n_frames + 1))
    assert all(osp.isfile(osp.join(out, im['file_name']))
               for im in coco['images'])
    assert len(gt) == len(coco['annotations']) == summary['annotations']
    boxes = {(int(r[0]), int(r[1])): r[2:] for r in gt}
    assert len(boxes) == len(gt)  # one row per frame and id
    for ann in coco['annotations']:
        assert ann['track_id'] == ann['instance_id']
        r = boxes[(ann['image_id'], ann['track_id'])]
        x, y, w, h = ann['bbox']
        assert list(r[:4]) == [x + 1, y + 1, w, h]  # MOT: 1-based pixels
        assert list(r[4:6]) == [1, 1]
        assert r[6] == pytest.approx(ann['visibility'], abs=1e-4)
        m = mask_utils.decode(ann['segmentation']).astype(bool)
        assert m.shape == (H, W) and m.sum() == ann['area']
        ys, xs = np.nonzero(m)
        assert [xs.min(), ys.min(), xs.max() + 1 - xs.min(),
                ys.max() + 1 - ys.min()] == [x, y, w, h]


def test_masks_agree_with_drawn_pixels():
    spec = VideoSpec(**dict(SMALL, frequency=0.1, n_frames=12, **CLEAN),
                     rim_scale=(0.3, 0.3))
    H, W = spec.height, spec.width
    frames = {t: (img.astype(float), d) for t, img, d in
              render_video(spec, 4)}
    kernel = np.ones((11, 11), np.uint8)
    checked = 0
    for t in range(0, 8):
        img, drops = frames[t]
        later, drops2 = frames[t + 4]  # 32 px on: each droplet has moved off
        union = np.zeros((H, W), np.uint8)
        for d in drops + drops2:
            union |= _full(d, H, W)
        # pixels away from every droplet (and from unlabelled remnants at
        # the outlet) stay: only droplets change between frames (up to one
        # grey level, where the residual shot noise of 1e9 photons flips a
        # value that lies on a rounding boundary)
        far = ~cv2.dilate(union, kernel).astype(bool)
        far[:, W - 12:] = False
        assert far.sum() > 0.5 * H * W
        change = np.abs(img[far] - later[far])
        assert change.max() <= 1 and (change > 0).mean() < 0.01
        busy = cv2.dilate(union, kernel).astype(bool)
        for d in drops:
            if d.cut:
                continue
            m = _full(d, H, W)
            # the mask is the set of pixel centres inside the true ellipse
            assert np.array_equal(m, _ellipse_mask(d.cx, d.cy, d.a, d.b,
                                                   d.theta, H, W))
            other = np.zeros((H, W), np.uint8)
            for e in drops2:
                other |= _full(e, H, W)
            bg_ok = ~cv2.dilate(other, kernel).astype(bool)
            u8 = m.astype(np.uint8)
            inner = m & ~cv2.erode(u8, np.ones((5, 5), np.uint8)).astype(
                bool) & bg_ok
            outer = cv2.dilate(u8, np.ones((5, 5), np.uint8)).astype(
                bool) & ~m & bg_ok & ~(busy & ~cv2.dilate(
                    u8, kernel).astype(bool))
            dark_in = np.mean(1 - img[inner] / later[inner])
            dark_out = np.mean(1 - img[outer] / later[outer])
            # the painter's dark rim lies inside the outline
            assert dark_in > 0.12 and dark_out < 0.5 * dark_in
            checked += 1
    assert checked >= 6


def test_bad_specs_and_cli(tmp_path):
    with pytest.raises(ValueError, match='overlap at the inlet'):
        VideoSpec(**dict(SMALL, frequency=0.9))
    with pytest.raises(ValueError, match='channel height'):
        VideoSpec(**dict(SMALL, channel=(40.0, 60.0)))
    with pytest.raises(ValueError, match='coalescence frames'):
        VideoSpec(**SMALL, coalescence=(20, ))
    with pytest.raises(ValueError, match='profile'):
        VideoSpec(**dict(SMALL, profile='parabolic'))
    path = osp.join(ROOT, 'tools', 'dataset_converters',
                    'generate_droplet_video.py')
    mod_spec = importlib.util.spec_from_file_location('gdv', path)
    tool = importlib.util.module_from_spec(mod_spec)
    mod_spec.loader.exec_module(tool)
    with pytest.raises(SystemExit) as e:
        tool.main([str(tmp_path / 'bad'), '--frequency', '0.9',
                   '--no-progress'])
    assert e.value.code == 2 and not osp.exists(tmp_path / 'bad')
    tool.main([str(tmp_path / 'ok'), '--size', '64', '128', '--frames', '3',
               '--diameter', '10', '--frequency-hz', '6', '--fps', '24',
               '--coalescence', '2', '--no-mp4', '--no-progress'])
    assert sorted(os.listdir(tmp_path / 'ok' / 'img1')) == [
        '000001.png', '000002.png', '000003.png']
    with open(tmp_path / 'ok' / 'truth.json') as f:
        spec = json.load(f)['spec']
    assert spec['frequency'] == 0.25 and spec['height'] == 64


def test_mp4_writer_failure_still_writes_pngs(tmp_path):
    out = tmp_path / 'vid'
    os.makedirs(out / 'video.mp4')  # a folder: no writer can open it
    spec = VideoSpec(**dict(SMALL, n_frames=2))
    with pytest.warns(UserWarning, match='could not open an mp4v writer'):
        summary = write_video(str(out), spec, seed=0)
    assert summary['mp4'] is None
    assert sorted(os.listdir(out / 'img1')) == ['000001.png', '000002.png']
    assert osp.getsize(out / 'gt' / 'gt.txt') > 0

"""Per-frame look of labelled droplets: contrast and edge sharpness follow
known images, blurrier frames rank lower, bad input names its file."""
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from droplet_mmdet.analysis import droplet_look, frame_stats, rank_against
from conftest import ROOT


def _disc(size=80, r=15, inside=0.2, outside=1.0, c=(40, 40)):
    yy, xx = np.mgrid[:size, :size]
    m = (yy - c[1])**2 + (xx - c[0])**2 <= r * r
    return np.where(m, inside, outside).astype(np.float32), m


def test_contrast_and_sharpness_of_known_discs():
    img, m = _disc()
    box = [25, 25, 31, 31]
    sharp = droplet_look(img, m, box)
    assert sharp['contrast'] == pytest.approx(0.8, abs=1e-4)
    # a Gaussian-blurred step of 0.8 peaks at 0.8 / (sigma sqrt(2 pi))
    blurred = droplet_look(cv2.GaussianBlur(img, (0, 0), 2), m, box)
    assert blurred['sharpness'] == pytest.approx(
        0.8 / (2 * np.sqrt(2 * np.pi)), rel=0.1)
    assert sharp['sharpness'] > 2.5 * blurred['sharpness']
    # a bright droplet on a dark background: contrast over the background
    bright, m2 = _disc(inside=1.0, outside=0.2)
    assert droplet_look(bright, m2, box)['contrast'] == pytest.approx(4.0,
                                                                      1e-3)
    # the scale and dtype of the image (8 / 16 bit, float64) change nothing
    for scaled in ((img * 250).round().astype(np.uint8),
                   (img * 65000).round().astype(np.uint16),
                   img.astype(np.float64)):
        look = droplet_look(scaled, m, box)
        assert look['sharpness'] == pytest.approx(sharp['sharpness'], 1e-3)
        assert look['contrast'] == pytest.approx(sharp['contrast'], 1e-3)
    # under 4 px: nothing to measure
    tiny = np.zeros_like(m)
    tiny[40, 40] = True
    assert droplet_look(img, tiny, [40, 40, 1, 1]) is None


def test_touching_droplets_are_not_background():
    """The centre disc of a packed 3 x 3 grid: with the other droplets
    left out of its background ring it measures as the same disc alone."""
    size, r, step = 100, 10, 21
    yy, xx = np.mgrid[:size, :size]
    img = np.ones((size, size), np.float32)
    masks = []
    for cy in (29, 29 + step, 29 + 2 * step):
        for cx in (29, 29 + step, 29 + 2 * step):
            m = (yy - cy)**2 + (xx - cx)**2 <= r * r
            img[m] = 0.2
            masks.append(m)
    centre = masks[4]
    occupied = np.any(masks, axis=0)
    box = [40, 40, 21, 21]
    alone = droplet_look(*_disc(size, r, c=(50, 50)), box)
    got = droplet_look(img, centre, box, occupied)
    assert got['contrast'] == pytest.approx(alone['contrast'], 1e-3)
    assert got['sharpness'] == pytest.approx(alone['sharpness'], 1e-3)
    # counting the neighbours as background gets it wrong
    assert droplet_look(img, centre, box)['contrast'] < 0.9 * got['contrast']
    # a droplet walled in by others has no background to compare with
    walled = np.ones_like(occupied)
    assert droplet_look(img, centre, box, walled) is None


def _write_set(tmp_path, blur_sigmas, size=(96, 128)):
    """One frame per sigma, three dark discs each, COCO with RLE masks."""
    h, w = size
    images, anns = [], []
    for i, sigma in enumerate(blur_sigmas):
        img = np.full((h, w), 200, np.float32)
        masks = []
        for j, (cx, cy, r) in enumerate([(25, 30, 10), (70, 40, 12),
                                         (100, 70, 8)]):
            yy, xx = np.mgrid[:h, :w]
            m = (yy - cy)**2 + (xx - cx)**2 <= r * r
            img[m] = 60
            masks.append(m)
        if sigma:
            img = cv2.GaussianBlur(img, (0, 0), sigma)
        name = f'f{i}.png'
        cv2.imwrite(str(tmp_path / name), img.round().astype(np.uint8))
        images.append(dict(id=i + 1, file_name=name, height=h, width=w))
        for m in masks:
            rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
            rle['counts'] = rle['counts'].decode()
            x, y, bw, bh = mask_utils.toBbox(rle).tolist()
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=1,
                             segmentation=rle, area=float(m.sum()),
                             bbox=[x, y, bw, bh], iscrowd=0))
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(dict(images=images, annotations=anns,
                                   categories=[dict(id=1, name='droplet')])))
    return str(ann)


def test_frame_stats_rank_blurred_frames_below_sharp_ones(tmp_path):
    ann = _write_set(tmp_path, [0, 0.8, 2.5])
    rows = frame_stats(ann, str(tmp_path))
    assert [r['droplets'] for r in rows] == [3, 3, 3]
    assert [r['measured'] for r in rows] == [3, 3, 3]
    # median equivalent diameter: the r = 10 disc
    assert rows[0]['diameter'] == pytest.approx(20, abs=0.5)
    s = [r['sharpness'] for r in rows]
    assert s[0] > s[1] > s[2]
    assert rows[0]['contrast'] == pytest.approx(140 / 200, abs=0.01)
    ranks = rank_against(rows, rows[1:])
    assert ranks == [100.0, 50.0, 0.0]  # strictly less sharp only
    assert rank_against([dict(sharpness=None)], rows) == [None]


def test_frame_stats_names_the_bad_file(tmp_path):
    ann = _write_set(tmp_path, [0])
    data = json.loads(open(ann).read())
    data['images'][0]['height'] = 50
    bad = tmp_path / 'bad_size.json'
    bad.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r'f0\.png: image is 128x96'):
        frame_stats(str(bad), str(tmp_path))
    with pytest.raises(ValueError, match='missing_dir.*cannot read'):
        frame_stats(ann, str(tmp_path / 'missing_dir'))
    with pytest.raises(ValueError, match='nope.json'):
        frame_stats(str(tmp_path / 'nope.json'), str(tmp_path))


def test_frame_stats_tool_prints_and_writes(tmp_path):
    ann = _write_set(tmp_path, [0, 2.5])
    out = tmp_path / 'stats.json'
    res = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tools', 'analysis_tools',
                                  'frame_stats.py'), ann, '--img-dir',
         str(tmp_path), '--reference', ann, '--out', str(out)],
        capture_output=True, text=True, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith('f') and '.png' in ln]
    assert [ln.split()[0] for ln in lines] == ['f0.png', 'f1.png']
    saved = json.loads(out.read_text())
    # the sharp frame is sharper than the blurred reference frame only
    assert [r['sharper_than_reference_pct'] for r in saved['frames']] == [
        50.0, 0.0]

"""Sliced inference: tiling, seam handling and merging, checked with an
oracle predictor that returns the true masks cut to each tile (as a perfect
detector would see them), on a dense synthetic frame larger than one tile."""
import cv2
import numpy as np
import pytest

from droplet_mmdet.apis.slicing import (Detection, masks_to_detections,
                                        measure, merge_detections,
                                        paste_mask, predict_frame, summarize,
                                        tile_detections, tile_windows)
from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame


def oracle(droplets, windows_seen):
    def predict(tiles_and_windows):
        out = []
        for win in tiles_and_windows:
            x0, y0, x1, y1 = win
            masks = []
            for d in droplets:
                ph, pw = d.mask.shape
                if d.x0 >= x1 or d.y0 >= y1 or d.x0 + pw <= x0 or \
                        d.y0 + ph <= y0:
                    continue
                m = np.zeros((y1 - y0, x1 - x0), bool)
                sx0, sy0 = max(d.x0, x0), max(d.y0, y0)
                sx1, sy1 = min(d.x0 + pw, x1), min(d.y0 + ph, y1)
                m[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = d.mask[
                    sy0 - d.y0:sy1 - d.y0, sx0 - d.x0:sx1 - d.x0]
                if m.any():
                    masks.append(m)
            masks = np.stack(masks) if masks else np.zeros(
                (0, y1 - y0, x1 - x0), bool)
            out.append(masks_to_detections(masks, np.full(len(masks), 0.9)))
        return out

    def predict_fn(tiles):
        wins = windows_seen[:len(tiles)]
        del windows_seen[:len(tiles)]
        return predict(wins)

    return predict_fn


@pytest.mark.parametrize('h,w,tile,overlap',
                         [(1700, 2200, 512, 64), (2048, 2048, 1024, 64),
                          (1000, 700, 300, 40)])
def test_tile_windows_cover_the_frame(h, w, tile, overlap):
    wins = tile_windows(h, w, tile, overlap)
    cover = np.zeros((h, w), int)
    xs = sorted({(x0, x1) for x0, _, x1, _ in wins})
    ys = sorted({(y0, y1) for _, y0, _, y1 in wins})
    for x0, y0, x1, y1 in wins:
        assert x1 - x0 <= tile and y1 - y0 <= tile
        cover[y0:y1, x0:x1] += 1
    assert cover.min() >= 1
    for spans in (xs, ys):  # neighbours overlap by at least ``overlap``
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 - b0 >= overlap
    assert xs[-1][1] == w and ys[-1][1] == h


def test_tile_windows_small_frame_and_size():
    assert tile_windows(300, 200, 512, 64) == [(0, 0, 200, 300)]
    wins = tile_windows(2048, 2048, 1024, 64)
    assert len(wins) == 9 and wins[0] == (0, 0, 726, 726)


@pytest.mark.parametrize('tile,overlap', [(256, 48), (400, 64)])
def test_seams_count_each_droplet_once(tile, overlap):
    spec = FrameSpec.v1(height=700, width=900, layout='packed',
                        cluster_coverage=(1.0, 1.0))
    img, droplets, _ = render_frame(spec, seed=7)
    assert len(droplets) > 800
    wins = tile_windows(700, 900, tile, overlap)
    assert len(wins) > 4
    dets = predict_frame(oracle(droplets, list(wins)), img, tile=tile,
                         overlap=overlap, batch_size=3)
    assert len(dets) == len(droplets)  # no seam double counts or losses
    got = sorted((d.box, d.area) for d in dets)
    want = sorted(((int(x), int(y), int(x + w), int(y + h)), d.area)
                  for d, (x, y, w, h) in
                  ((d, d.bbox()) for d in droplets))
    assert got == want


def test_inner_border_detections_dropped_frame_border_kept():
    m = np.zeros((2, 100, 100), bool)
    m[0, 40:60, 0:10] = True    # touches the tile's left border
    m[1, 40:60, 45:55] = True   # inside
    dets = masks_to_detections(m, np.ones(2))
    inner = tile_detections(dets, (100, 0, 200, 100), (100, 300), 0.5)
    assert [d.box for d in inner] == [(145, 40, 155, 60)]
    frame_edge = tile_detections(dets, (0, 0, 100, 100), (100, 300), 0.5)
    assert len(frame_edge) == 2  # left border of tile = frame border


def test_merge_keeps_higher_score_of_duplicates_only():
    a = np.ones((10, 10), bool)
    d1 = Detection(0.9, (0, 0, 10, 10), a)
    d2 = Detection(0.8, (1, 0, 11, 10), a)   # 90 % overlap: duplicate
    d3 = Detection(0.7, (10, 0, 20, 10), a)  # touching neighbour
    kept = merge_detections([d2, d3, d1])
    assert [d.score for d in kept] == [0.9, 0.7]


def test_paste_mask_into_box_only():
    prob = np.zeros((28, 28), np.float32)
    prob[7:21, 7:21] = 1.0  # the central half of the RoI
    box, patch = paste_mask(prob, (10.2, 20.7, 30.0, 40.1), 0.5)
    assert box == (10, 20, 30, 41)
    assert patch.shape == (21, 20)
    ys, xs = np.nonzero(patch)
    assert 4 <= xs.min() <= 6 and 14 <= xs.max() <= 16
    assert patch.sum() == pytest.approx(0.25 * 21 * 20, rel=0.2)


def test_measure_disc():
    y, x = np.mgrid[0:41, 0:41] + 0.5
    disc = (x - 20.5)**2 + (y - 20.5)**2 < 15**2
    rows = measure([Detection(0.8, (100, 50, 141, 91), disc)], px_size=0.5)
    r = rows[0]
    assert r['cx'] == pytest.approx(120.5) and r['cy'] == pytest.approx(70.5)
    assert r['area_px'] == disc.sum()
    assert r['diameter_px'] == pytest.approx(2 * np.sqrt(disc.sum() / np.pi),
                                             abs=1e-3)
    assert r['diameter_px'] == pytest.approx(30, abs=0.3)
    assert r['diameter_um'] == pytest.approx(r['diameter_px'] / 2, abs=1e-3)
    assert 0.85 < r['circularity'] <= 1.05
    s = summarize(rows)
    assert s['count'] == 1 and s['cv_diameter_pct'] == 0


def test_paste_mask_matches_mmdet_paste():
    import torch
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import \
        _do_paste_mask
    rng = np.random.RandomState(0)
    for _ in range(10):
        prob = cv2.GaussianBlur(rng.rand(28, 28).astype(np.float32), (0, 0),
                                3)
        prob = (prob - prob.min()) / (prob.max() - prob.min())
        x0, y0 = rng.uniform(0, 40, 2)
        box = [x0, y0, x0 + rng.uniform(8, 40), y0 + rng.uniform(8, 40)]
        ref, _ = _do_paste_mask(torch.from_numpy(prob)[None, None],
                                torch.tensor([box], dtype=torch.float32),
                                96, 96,
                                skip_empty=False)
        ref = ref[0].numpy() >= 0.5
        (bx0, by0, bx1, by1), patch = paste_mask(prob, box, 0.5)
        ours = np.zeros((96, 96), bool)
        ours[by0:by1, bx0:bx1] = patch
        iou = (ours & ref).sum() / max((ours | ref).sum(), 1)
        assert iou > 0.97, iou

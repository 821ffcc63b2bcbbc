"""Sliced inference: tiling, seam handling and merging, checked with an
oracle predictor that reads each tile it is given: the frame carries every
droplet's id in the pixels of its visible mask, and the oracle returns one
detection per id it finds in the tile (a perfect detector sees exactly
that). A tile cut from the wrong place shows other ids at other places, so a
wrong window or offset changes the result."""
import numpy as np
import pytest

from droplet_mmdet.apis.slicing import (Detection, mask_overlap,
                                        masks_to_detections,
                                        merge_detections, predict_frame,
                                        tight_patch, tile_detections,
                                        tile_windows)
from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame


def id_frame(droplets, h, w):
    """(h, w, 3) uint8 frame: pixel = 24-bit id (k + 1) of droplet k whose
    visible mask covers it, 0 = background."""
    ids = np.zeros((h, w), np.int64)
    for k, d in enumerate(droplets):
        ph, pw = d.mask.shape
        assert d.x0 >= 0 and d.y0 >= 0 and d.x0 + pw <= w and d.y0 + ph <= h
        region = ids[d.y0:d.y0 + ph, d.x0:d.x0 + pw]
        assert not region[d.mask].any()  # visible masks are disjoint
        region[d.mask] = k + 1
    return np.stack([ids & 255, (ids >> 8) & 255, ids >> 16],
                    -1).astype(np.uint8)


def pixel_oracle(tiles):
    """Per tile: one detection (score 0.9) per droplet id in its pixels."""
    out = []
    for t in tiles:
        t = t.astype(np.int64)
        ids = t[..., 0] | t[..., 1] << 8 | t[..., 2] << 16
        found = np.unique(ids)
        found = found[found > 0]
        masks = ids[None] == found[:, None, None]
        out.append(masks_to_detections(masks, np.full(len(found), 0.9)))
    return out


def truth(droplets):
    return sorted(((int(x), int(y), int(x + w), int(y + h)), d.area)
                  for d, (x, y, w, h) in ((d, d.bbox()) for d in droplets))


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


@pytest.fixture(scope='module')
def packed():
    spec = FrameSpec.v1(height=700, width=900, layout='packed',
                        cluster_coverage=(1.0, 1.0))
    _, droplets, _ = render_frame(spec, seed=7)
    assert len(droplets) > 800
    return id_frame(droplets, 700, 900), droplets


@pytest.mark.parametrize('tile,overlap', [(256, 48), (400, 64)])
def test_seams_count_each_droplet_once(tile, overlap, packed):
    img, droplets = packed
    assert len(tile_windows(700, 900, tile, overlap)) > 4
    dets = predict_frame(pixel_oracle, img, tile=tile, overlap=overlap,
                         batch_size=3)
    # no seam double counts or losses, each droplet whole and in place
    assert len(dets) == len(droplets)
    assert sorted((d.box, d.area) for d in dets) == truth(droplets)


def test_oracle_reads_the_tile_pixels(packed):
    """The oracle is not told where a tile lies: a frame shifted by one
    pixel gives shifted droplets (so a wrong tile offset cannot pass)."""
    img, droplets = packed
    shifted = np.zeros_like(img)
    shifted[:, 1:] = img[:, :-1]
    dets = predict_frame(pixel_oracle, shifted, tile=256, overlap=48)
    inside = [d for d in droplets if d.bbox()[0] + d.bbox()[2] <= 899]
    got = {(d.box, d.area) for d in dets}
    want = {((x0 + 1, y0, x1 + 1, y1), a) for (x0, y0, x1, y1), a in
            truth(inside)}
    assert want <= got and not got & set(truth(inside))


def test_inner_border_detections_dropped_frame_border_kept():
    m = np.zeros((2, 100, 100), bool)
    m[0, 40:60, 0:10] = True    # touches the tile's left border
    m[1, 40:60, 45:55] = True   # inside
    dets = masks_to_detections(m, np.ones(2))
    inner = tile_detections(dets, (100, 0, 200, 100), (100, 300), 0.5)
    assert [d.box for d in inner] == [(145, 40, 155, 60)]
    frame_edge = tile_detections(dets, (0, 0, 100, 100), (100, 300), 0.5)
    assert len(frame_edge) == 2  # left border of tile = frame border


def test_tile_detections_moves_the_model_box_and_filters():
    mask = np.ones((4, 5), bool)
    dets = [Detection(0.8, (10, 20, 15, 24), mask, (9.6, 19.5, 15.2, 24.1)),
            Detection(0.2, (30, 20, 35, 24), mask),  # under score_thr
            Detection(0.9, (50, 20, 50, 20), np.zeros((0, 0), bool))]
    out = tile_detections(dets, (100, 200, 300, 400), (1000, 1000), 0.5)
    assert len(out) == 1
    assert out[0].box == (110, 220, 115, 224)
    assert out[0].bbox == pytest.approx((109.6, 219.5, 115.2, 224.1))
    assert out[0].mask is mask and dets[0].box == (10, 20, 15, 24)


def test_tight_patch():
    m = np.zeros((10, 12), bool)
    m[3:5, 4:9] = True
    m[7, 5] = True
    box, patch = tight_patch(m, 100, 200)
    assert box == (104, 203, 109, 208) and patch.shape == (5, 5)
    assert patch.sum() == m.sum() and patch.base is None
    box, patch = tight_patch(np.zeros((3, 3), bool), 7, 8)
    assert box == (7, 8, 7, 8) and patch.shape == (0, 0)


def disc(cx, cy, r, size=160):
    y, x = np.mgrid[0:size, 0:size] + 0.5
    return (x - cx)**2 + (y - cy)**2 < r**2


def det(score, full):
    (d, ) = masks_to_detections(full[None], np.array([score]))
    return d


def test_merge_keeps_higher_score_of_duplicates_only():
    a = np.ones((10, 10), bool)
    d1 = Detection(0.9, (0, 0, 10, 10), a)
    d2 = Detection(0.8, (1, 0, 11, 10), a)   # 90 % overlap: duplicate
    d3 = Detection(0.7, (10, 0, 20, 10), a)  # touching neighbour
    kept = merge_detections([d2, d3, d1])
    assert [d.score for d in kept] == [0.9, 0.7]


def test_merge_duplicates_with_different_masks():
    """One droplet seen by two tiles: masks of different size, shape and
    box, across a grid cell border (x = 64): one detection, the better."""
    a = disc(64.0, 40.0, 10)
    b = disc(65.0, 40.5, 9) | disc(73.5, 40, 2)  # smaller, shifted, a bump
    b[30:33, 60:63] = False
    da, db = det(0.7, a), det(0.95, b)
    assert da.box != db.box and da.area != db.area
    assert 0.5 < mask_overlap(da, db) < 1
    for order in ([da, db], [db, da]):
        kept = merge_detections(order)
        assert len(kept) == 1 and kept[0] is db


def test_merge_keeps_truly_overlapping_droplets():
    """Two droplets whose masks really overlap (19 % of the smaller one)
    and a small one a third inside a big one: all kept."""
    a, b = det(0.9, disc(40, 40, 10)), det(0.8, disc(54, 40, 10))
    big, small = det(0.95, disc(100, 100, 20)), det(0.6, disc(121, 100, 4))
    assert 0.1 < mask_overlap(a, b) < 0.3
    assert 0.3 < mask_overlap(big, small) < 0.5
    kept = merge_detections([b, small, a, big])
    assert [d.score for d in kept] == [0.95, 0.9, 0.8, 0.6]


def test_merge_of_equal_scores_keeps_the_larger_mask():
    """A droplet whose visible mask is in two parts: a tile that shows only
    one part (not touching its border) and a tile that shows it whole give
    the same score; the whole one is kept, whatever the order."""
    part = det(0.9, disc(30, 30, 8))
    whole = det(0.9, disc(30, 30, 8) | disc(50, 30, 8))
    for dets in ([part, whole], [whole, part]):
        kept = merge_detections(dets)
        assert len(kept) == 1 and kept[0] is whole


def test_merge_threshold_is_inclusive():
    a = np.ones((4, 10), bool)
    d1 = Detection(0.9, (0, 0, 10, 4), a)
    d2 = Detection(0.8, (5, 0, 15, 4), a)  # overlap exactly 0.5
    assert mask_overlap(d1, d2) == 0.5
    assert len(merge_detections([d1, d2], merge_thr=0.5)) == 1
    assert len(merge_detections([d1, d2], merge_thr=0.51)) == 2

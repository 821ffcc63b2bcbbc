"""run_inference outputs when frames are empty (videos often start empty).

The predictor stands in for a model: it returns the bright connected
components of each tile, so the true counts and sizes are known.
"""
import csv

import cv2
import numpy as np
import pytest

from droplet_mmdet.apis.infer import (run_inference, summary_fields,
                                      summary_row, write_summary)
from droplet_mmdet.apis.slicing import masks_to_detections

H, W = 64, 96


def bright_blobs(tiles):
    """Detections = connected components brighter than 128 (score 0.9)."""
    out = []
    for tile in tiles:
        gray = tile if tile.ndim == 2 else tile[..., 1]
        n, lab = cv2.connectedComponents((gray > 128).astype(np.uint8))
        masks = np.stack([lab == k for k in range(1, n)]) if n > 1 else \
            np.zeros((0, ) + gray.shape, bool)
        out.append(masks_to_detections(masks, np.full(len(masks), 0.9)))
    return out


def _frame(discs):
    img = np.zeros((H, W, 3), np.uint8)
    for cx, cy, r in discs:
        cv2.circle(img, (cx, cy), r, (255, 255, 255), -1)
    return img


FRAMES = [[], [(20, 20, 8), (60, 40, 10)], []]  # empty first and last


def _read(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def _check_outputs(out, names, px_size, tol=1e-3):
    summary = _read(out / 'summary.csv')
    assert [r['image'] for r in summary] == names
    assert [int(r['count']) for r in summary] == [0, 2, 0]
    # empty frames: empty cells, never a 0 mean or a missing column
    cols = ['mean_diameter_px', 'cv_diameter_pct'] + (
        ['mean_diameter_um'] if px_size else [])
    assert list(summary[0]) == ['image', 'frame', 'count'] + cols
    for r in (summary[0], summary[2]):
        assert [r[c] for c in cols] == [''] * len(cols)
    drops = _read(out / 'droplets.csv')
    assert len(drops) == 2
    true = sorted(2 * np.sqrt((_frame([c])[..., 1] > 128).sum() / np.pi)
                  for c in FRAMES[1])
    assert sorted(float(r['diameter_px']) for r in drops) == pytest.approx(
        true, abs=tol)
    assert float(summary[1]['mean_diameter_px']) == pytest.approx(
        np.mean([float(r['diameter_px']) for r in drops]), abs=1e-3)
    if px_size:
        assert float(summary[1]['mean_diameter_um']) == pytest.approx(
            np.mean([float(r['diameter_um']) for r in drops]), abs=1e-3)
    assert (out / 'size_histogram.png').stat().st_size > 0


@pytest.mark.parametrize('px_size', [0.5, None])
def test_folder_with_empty_first_frame(tmp_path, px_size):
    src = tmp_path / 'frames'
    src.mkdir()
    names = [f'f{k}.png' for k in range(len(FRAMES))]
    for name, discs in zip(names, FRAMES):
        cv2.imwrite(str(src / name), _frame(discs))
    out = tmp_path / 'out'
    rows = run_inference(bright_blobs, str(src), str(out), px_size=px_size,
                         progress=False)
    assert [r['count'] for r in rows] == [0, 2, 0]
    _check_outputs(out, names, px_size)
    assert len(list((out / 'overlays').glob('*.png'))) == 3


def test_video_with_empty_first_frame(tmp_path):
    video = tmp_path / 'run.avi'
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             (W, H))
    assert writer.isOpened()
    for discs in FRAMES:
        writer.write(_frame(discs))
    writer.release()
    out = tmp_path / 'out'
    run_inference(bright_blobs, str(video), str(out), px_size=0.5,
                  overlays=False, progress=False)
    _check_outputs(out, ['run.avi'] * 3, 0.5, tol=0.5)  # MJPEG edges
    assert [r['frame'] for r in _read(out / 'summary.csv')] == ['0', '1', '2']


def test_summary_writer_with_hand_made_rows(tmp_path):
    """The writer alone: first frame empty, then one droplet of 20 px."""
    drop = dict(id=0, cx=5.0, cy=5.0, area_px=314, diameter_px=20.0,
                diameter_um=13.0, circularity=1.0, score=0.9)
    rows = [summary_row('a.png', 0, [], px_size=0.65),
            summary_row('b.png', 0, [drop], px_size=0.65)]
    assert rows[0] == dict(image='a.png', frame=0, count=0,
                           mean_diameter_px=None, cv_diameter_pct=None,
                           mean_diameter_um=None)
    assert rows[1] == dict(image='b.png', frame=0, count=1,
                           mean_diameter_px=20.0, cv_diameter_pct=0.0,
                           mean_diameter_um=13.0)
    write_summary(rows, str(tmp_path / 's.csv'), px_size=0.65)
    assert (tmp_path / 's.csv').read_text().splitlines() == [
        'image,frame,count,mean_diameter_px,cv_diameter_pct,'
        'mean_diameter_um', 'a.png,0,0,,,', 'b.png,0,1,20.0,0.0,13.0']
    write_summary([], str(tmp_path / 'none.csv'))
    assert (tmp_path / 'none.csv').read_text().strip() == ','.join(
        summary_fields())

"""Calibrated count threshold: chosen on validation, stored beside the
checkpoint, used by tools/infer.py."""
import json

import numpy as np
import pytest
from mmengine.config import Config

from droplet_mmdet.apis.infer import resolve_score_thr
from droplet_mmdet.engine import CountThresholdHook, load_count_threshold
from droplet_mmdet.evaluation import (calibrate_count_threshold, count_errors,
                                      count_report, held_out_count_errors)


def test_threshold_minimises_count_error_on_hand_made_scores():
    gt = [3, 2]
    scores = [np.array([0.9, 0.8, 0.7, 0.3, 0.2]),
              np.array([0.95, 0.6, 0.4, 0.1])]
    thr, err = calibrate_count_threshold(gt, scores)
    # counts at >= 0.6: 3 and 2 -> exact; next lower score is 0.4
    assert thr == pytest.approx(0.5)
    assert err['count_mre'] == 0 and err['count_bias'] == 0
    # brute force over a fine grid: nothing beats it
    grid = np.linspace(0, 1, 1001)
    best = min(count_errors(gt, [int((s >= t).sum()) for s in scores])
               ['count_mre'] for t in grid)
    assert err['count_mre'] == best


def test_threshold_when_best_count_needs_lowest_or_no_scores():
    # every prediction is needed: halfway between the lowest score and 0
    thr, err = calibrate_count_threshold([3], [np.array([0.9, 0.5, 0.2])])
    assert thr == pytest.approx(0.1) and err['count_mae'] == 0
    # no droplets: counting nothing is best, above the top score
    thr, err = calibrate_count_threshold([0], [np.array([0.9, 0.5])])
    assert thr > 0.9 and err['count_mae'] == 0
    # one droplet per image: keep each image's top score only
    thr, _ = calibrate_count_threshold([1, 1], [np.array([0.9]),
                                                np.array([0.8, 0.7])])
    assert 0.7 < thr <= 0.8


def test_held_out_error_counts_each_image_at_the_others_threshold():
    gt = [2, 1]
    scores = [np.array([0.9, 0.8, 0.3]), np.array([0.7, 0.6])]
    # chosen on both images, 0.65 counts both exactly: in-sample error 0
    assert calibrate_count_threshold(gt, scores)[1]['count_mre'] == 0
    # chosen on image 0 alone: 2 of [0.9, 0.8, 0.3] -> thr 0.55, which
    # counts 2 in image 1 (true 1: +100 %); chosen on image 1 alone:
    # thr 0.65, 2 in image 0 (exact)
    held = held_out_count_errors(gt, scores)
    assert held['count_mre'] == pytest.approx(50.0)
    assert held['count_bias'] == pytest.approx(0.5)
    # images alike: any other image's threshold counts each exactly
    same = held_out_count_errors([2] * 7, [np.array([0.9, 0.8, 0.3])] * 7)
    assert same['count_mre'] == 0
    # 5 folds of 7 images: image j's threshold comes from images not in
    # j's fold (j % 5); one odd image in fold 1 (images 1 and 6) is then
    # counted at the others' threshold and is the only one off
    scores7 = [np.array([0.9, 0.8, 0.3])] * 7
    scores7[6] = np.array([0.9, 0.85, 0.82, 0.3])
    odd = held_out_count_errors([2] * 7, scores7)
    assert odd['count_mae'] == pytest.approx(1 / 7)
    assert np.isnan(held_out_count_errors([2], [scores[0]])['count_mre'])
    # fold dealing (j % folds) decides the result: A, B need a high
    # threshold, C, D a low one (2 true each). With 2 folds, {A, C} and
    # {B, D}: each calibration set ties 1 : 1, the higher threshold wins,
    # so A and B are exact and C and D off by one (mae 0.5). Leave one out:
    # each image's calibration set is 2 : 1 against it, all four off by
    # one (mae 1); contiguous folds {A, B}, {C, D} would also give 1
    hi, lo = np.array([0.9, 0.85, 0.82, 0.3]), np.array([0.9, 0.8, 0.3])
    abcd = [hi, hi, lo, lo]
    assert held_out_count_errors([2] * 4, abcd, folds=2)['count_mae'] == 0.5
    assert held_out_count_errors([2] * 4, abcd, folds=4)['count_mae'] == 1


class _Runner:
    def __init__(self, work_dir, it):
        import logging
        self.work_dir, self.iter, self.epoch = str(work_dir), it, 0
        self._train_loop = None
        self.logger = logging.getLogger('test')


def test_hook_writes_per_checkpoint_and_infer_uses_it(tmp_path):
    hook = CountThresholdHook()
    for it, thr in ((200, 0.61), (400, 0.72)):
        hook.after_val_epoch(_Runner(tmp_path, it), {
            'droplet/count_thr': thr, 'droplet/count_mre': 40.0,
            'droplet/count_mre_cal': 3.0, 'droplet/segm_mAP': 0.5})
    table = json.loads((tmp_path / 'count_threshold.json').read_text())
    assert table['iter_200.pth']['count_thr'] == 0.61
    assert 'segm_mAP' not in table['iter_400.pth']
    ckpt = str(tmp_path / 'iter_200.pth')
    assert load_count_threshold(ckpt)[0] == 0.61
    thr, src = resolve_score_thr(None, ckpt)
    assert thr == 0.61 and 'iter_200.pth' in src
    # a checkpoint without an entry takes the newest, and says so
    thr, src = resolve_score_thr(None, str(tmp_path / 'best.pth'))
    assert thr == 0.72 and 'no entry for best.pth' in src
    assert resolve_score_thr(0.3, ckpt) == (0.3, '--score-thr')


def test_resolve_without_file_uses_config_then_default(tmp_path):
    ckpt = str(tmp_path / 'iter_1.pth')
    cfg = Config(dict(count_score_thr=0.42))
    assert resolve_score_thr(None, ckpt, cfg)[0] == 0.42
    assert resolve_score_thr(None, ckpt, Config({}))[0] == 0.5


def test_count_report_lists_the_worst_frames_first():
    """Per frame true -> counted at the threshold, the largest relative
    error first (the frame that carries a mean count error), frames
    without droplets last, and a line for what is left out."""
    scores = [np.array([0.9, 0.8, 0.2]), np.array([0.9] * 7),
              np.array([0.9, 0.6]), np.array([0.7])]
    lines = count_report(['a.png', 'b.png', 'c.png', 'empty.png'],
                         [4, 5, 2, 0], scores, 0.5, worst=3)
    # a: 2 of 4 (-50 %), b: 7 of 5 (+40 %), c: 2 of 2, empty: 1 of 0
    assert lines == ['a.png: 4 -> 2 (-50.0 %)', 'b.png: 5 -> 7 (+40.0 %)',
                     'c.png: 2 -> 2 (+0.0 %)', '... and 1 more image(s)']
    assert count_report(['empty.png'], [0], [np.array([0.7])], 0.5) == [
        'empty.png: 0 -> 1']

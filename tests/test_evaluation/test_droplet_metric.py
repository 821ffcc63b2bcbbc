"""DropletMetric on hand-made COCO files with real-world quirks."""
import contextlib
import copy
import io
import json

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import droplet_mmdet  # noqa: F401
from droplet_mmdet.evaluation import (DropletMetric, count_errors,
                                      diameter_stats, equivalent_diameter,
                                      normalize_file_name)

H = W = 64


def _disc(cx, cy, r):
    y, x = np.mgrid[0:H, 0:W] + 0.5
    return ((x - cx)**2 + (y - cy)**2 < r * r).astype(np.uint8)


def _coco_file(tmp_path, first_id=0, cat_id=0):
    """2 images, 5 discs, ids starting at ``first_id``, Windows names."""
    discs = {first_id: [(12, 12, 6), (40, 20, 10), (20, 45, 12)],
             first_id + 1: [(30, 30, 8), (50, 50, 5)]}
    images, anns = [], []
    aid = first_id
    for img_id, ds in discs.items():
        images.append(dict(id=img_id, file_name=f'.\\JPEGImages\\{img_id}.jpg',
                           height=H, width=W))
        for cx, cy, r in ds:
            rle = mask_utils.encode(np.asfortranarray(_disc(cx, cy, r)))
            rle['counts'] = rle['counts'].decode()
            x, y, w, h = mask_utils.toBbox(rle).tolist()
            anns.append(dict(id=aid, image_id=img_id, category_id=cat_id,
                             segmentation=rle,
                             area=float(mask_utils.area(rle)),
                             bbox=[x, y, w, h], iscrowd=0))
            aid += 1
    path = tmp_path / 'gt.json'
    path.write_text(json.dumps(dict(
        images=images, annotations=anns,
        categories=[dict(id=cat_id, name='bubble')])))
    return str(path), discs


def _samples(discs, drop_last=False, extra=0, shrink=0):
    out = []
    for img_id, ds in discs.items():
        ds = ds[:-1] if drop_last else ds
        masks = [_disc(cx, cy, r - shrink) for cx, cy, r in ds]
        masks += [_disc(5 + 8 * k, 60, 2) for k in range(extra)]
        masks = np.stack(masks).astype(bool)
        boxes = []
        for m in masks:
            ys, xs = np.nonzero(m)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        n = len(masks)
        out.append(dict(img_id=img_id, pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.linspace(0.99, 0.9, n),
            labels=torch.zeros(n, dtype=torch.long),
            masks=torch.from_numpy(masks))))
    return out


def _run(path, samples):
    metric = DropletMetric(ann_file=path)
    metric.dataset_meta = dict(classes=('bubble', ))
    metric.process({}, samples)
    return metric.compute_metrics(metric.results)


@pytest.mark.parametrize('first_id,cat_id', [(0, 0), (1, 1), (7, 3)])
def test_perfect_predictions_score_one_even_with_id_zero(tmp_path, first_id,
                                                         cat_id):
    path, discs = _coco_file(tmp_path, first_id, cat_id)
    out = _run(path, _samples(discs))
    assert out['segm_mAP'] == pytest.approx(1.0)
    assert out['bbox_mAP'] == pytest.approx(1.0)
    assert out['count_mae'] == 0 and out['count_mre'] == 0
    assert out['diam_err_px'] == 0
    assert out['diam_mean_pred'] == pytest.approx(out['diam_mean_true'])
    assert out['matched_pct'] == 100


def test_plain_pycocotools_is_wrong_on_id_zero(tmp_path):
    """The bug DropletMetric avoids: ann id 0 counts as unmatched."""
    path, discs = _coco_file(tmp_path, first_id=0, cat_id=0)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(path)
        dets = []
        for ann in gt.dataset['annotations']:
            dets.append(dict(image_id=ann['image_id'], category_id=0,
                             segmentation=ann['segmentation'], score=1.0))
        ev = COCOeval(gt, gt.loadRes(dets), 'segm')
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert ev.stats[0] < 0.99


def test_counts_sizes_and_bins(tmp_path):
    path, discs = _coco_file(tmp_path, first_id=1, cat_id=1)
    # image 1 misses its last droplet, image 2 too; two extra small blobs
    out = _run(path, _samples(discs, drop_last=True, extra=2))
    # true counts 3, 2; predicted 2 + 2, 1 + 2
    assert out['count_mae'] == pytest.approx((1 + 1) / 2)
    assert out['count_bias'] == pytest.approx(1.0)
    assert out['count_mre'] == pytest.approx((1 / 3 + 1 / 2) / 2 * 100)
    # held out: image 2 alone (2 true; scores .99 .945 .90) puts the
    # threshold at .9225, which counts image 1 (.99 .96 .93 .90) as 3,
    # exact; image 1 alone puts it at .915: image 2 counted as 2, exact
    assert out['count_mae_heldout'] == 0
    # scores that separate nothing: each image's top prediction at .99,
    # the rest at .1. Image 1 alone (3 true; 1 or 4 countable) picks 4 at
    # >= .05, which counts image 2 as 3 (true 2); image 2 alone (2 true; 1
    # or 3, a tie, to the higher threshold) picks 1 at >= .545, which
    # counts image 1 as 1 (true 3)
    one = _samples(discs, drop_last=True, extra=2)
    for s in one:
        s['pred_instances']['scores'][1:] = 0.1
    out1 = _run(path, one)
    assert out1['count_mae_heldout'] == pytest.approx((1 + 2) / 2)
    assert out['matched_pct'] == pytest.approx(60.0)
    # the 24 px disc (r=12) is missed: its bin has recall 0; 20 px bin full
    assert out['R50_d22-26'] == 0.0
    assert out['R50_d18-22'] == 1.0
    # areas 400-500 px^2: only the r=12 disc (452 px^2), missed
    assert out['R50_target'] == 0.0
    assert out['segm_mAP'] < 1.0


def test_shrunken_masks_give_diameter_error(tmp_path):
    path, discs = _coco_file(tmp_path, first_id=1, cat_id=1)
    out = _run(path, _samples(discs, shrink=1))
    # radius 1 px smaller -> equivalent diameter about 2 px smaller
    assert out['diam_err_px'] == pytest.approx(2.0, abs=0.3)
    assert out['diam_mean_pred'] < out['diam_mean_true']


def test_unknown_image_is_named(tmp_path):
    path, discs = _coco_file(tmp_path, first_id=1, cat_id=1)
    samples = _samples(discs)
    samples[0]['img_id'] = 99
    with pytest.raises(KeyError, match='image id 99'):
        _run(path, samples)


def test_pure_statistics_hand_computed():
    e = count_errors([10, 20], [12, 15])
    assert e == dict(count_mae=3.5, count_mre=22.5, count_bias=-1.5)
    d = diameter_stats(gt_areas=[np.pi * 100, np.pi * 100],
                       pred_areas=[np.pi * 81],
                       pair_gt_areas=[np.pi * 100],
                       pair_pred_areas=[np.pi * 81])
    assert d['diam_mean_true'] == pytest.approx(20)
    assert d['diam_cv_true'] == pytest.approx(0)
    assert d['diam_err_px'] == pytest.approx(2)
    assert d['diam_err_pct'] == pytest.approx(10)
    assert equivalent_diameter(np.pi * 4) == pytest.approx(4)
    assert normalize_file_name('.\\JPEGImages\\a.jpg') == 'JPEGImages/a.jpg'


def test_dense_frame_with_300_droplets(tmp_path):
    """More than 255 droplets in one frame (pycocotools' area() limit under
    numpy 2): every figure is computed, all 300 found and sized exactly."""
    h = w = 200
    y, x = np.mgrid[0:h, 0:w] + 0.5
    centres = [(5 + 10 * i, 5 + 13 * j) for i in range(20) for j in range(15)]
    masks = np.stack([((x - cx)**2 + (y - cy)**2 < 16) for cx, cy in centres])
    anns = []
    for k, m in enumerate(masks):
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        rle['counts'] = rle['counts'].decode()
        anns.append(dict(id=k + 1, image_id=1, category_id=1,
                         segmentation=rle, area=float(m.sum()),
                         bbox=mask_utils.toBbox(rle).tolist(), iscrowd=0))
    path = tmp_path / 'dense.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=h, width=w)],
        annotations=anns, categories=[dict(id=1, name='bubble')])))
    boxes = [[b[0], b[1], b[0] + b[2], b[1] + b[3]]
             for b in (a['bbox'] for a in anns)]
    sample = dict(img_id=1, pred_instances=dict(
        bboxes=torch.tensor(boxes, dtype=torch.float32),
        scores=torch.linspace(0.99, 0.9, len(masks)),
        labels=torch.zeros(len(masks), dtype=torch.long),
        masks=torch.from_numpy(masks)))
    out = _run(str(path), [sample])
    assert out['segm_mAP'] == pytest.approx(1.0)
    assert out['count_mae'] == 0
    assert out['matched_pct'] == pytest.approx(100.0)
    assert out['diam_err_px'] == pytest.approx(0.0)


def _empty_samples(img_ids):
    return [dict(img_id=i, pred_instances=dict(
        bboxes=torch.zeros((0, 4)), scores=torch.zeros(0),
        labels=torch.zeros(0, dtype=torch.long),
        masks=torch.zeros((0, H, W), dtype=torch.bool))) for i in img_ids]


def test_no_prediction_on_frames_with_droplets_is_ap_zero(tmp_path):
    """A model that predicts nothing scores AP 0, not -1 ("not evaluated");
    -1 stays for a size bin without a true droplet."""
    path, discs = _coco_file(tmp_path, first_id=1, cat_id=1)
    out = _run(path, _empty_samples(discs))
    for key in ('segm_mAP', 'segm_mAP_50', 'segm_mAP_75', 'bbox_mAP',
                'bbox_mAP_50', 'bbox_mAP_75', 'AP_d22-26', 'R50_d22-26',
                'AP_target', 'R50_target'):
        assert out[key] == 0.0, key
    # diameters 10, 12, 16, 20, 24 px: nothing in 26-32 px to score
    assert out['AP_d26-32'] == -1.0 and out['R50_d26-32'] == -1.0
    assert out['count_mae'] == pytest.approx(2.5)
    assert out['count_mre'] == pytest.approx(100.0)
    # one frame empty, the other perfect: its 2 droplets of 5 found
    out = _run(path, _empty_samples([1]) + _samples(discs)[1:])
    assert out['segm_mAP_50'] == pytest.approx(0.4, abs=0.01)
    assert out['AP_d26-32'] == -1.0


def test_no_ground_truth_and_no_prediction_is_not_evaluated(tmp_path):
    path = tmp_path / 'empty.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=H, width=W)],
        annotations=[], categories=[dict(id=1, name='bubble')])))
    out = _run(str(path), _empty_samples([1]))
    assert out['segm_mAP'] == -1.0 and out['bbox_mAP'] == -1.0


def _imperfect(discs, seed, h=H, w=W):
    """Predictions that a half-trained model makes: jittered and resized
    masks of most true droplets, a missed one, a duplicate, false
    positives, and scores that rank some false ones above true ones."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] + 0.5
    out = []
    for img_id, ds in discs.items():
        preds = []
        for k, (cx, cy, r) in enumerate(ds):
            if k == 1 and img_id % 2:  # missed
                continue
            preds.append((cx + rng.normal(0, 1.5), cy + rng.normal(0, 1.5),
                          r * rng.uniform(0.75, 1.2), rng.uniform(0.3, 1.0)))
            if k == 0:  # duplicate, worse and lower
                preds.append((cx + 3, cy - 2, r * 0.7, rng.uniform(0.1, 0.5)))
        for _ in range(3):  # false positives, some with high scores
            preds.append((rng.uniform(5, w - 5), rng.uniform(5, h - 5),
                          rng.uniform(2, 6), rng.uniform(0.2, 0.95)))
        masks, boxes, scores = [], [], []
        for cx, cy, r, s in preds:
            m = (x - cx)**2 + (y - cy)**2 < r * r
            if not m.any():
                continue
            ys, xs = np.nonzero(m)
            masks.append(m)
            boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
            scores.append(s)
        n = len(masks)
        out.append(dict(img_id=img_id, ori_shape=(h, w), pred_instances=dict(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            scores=torch.tensor(scores, dtype=torch.float32),
            labels=torch.zeros(n, dtype=torch.long),
            masks=torch.from_numpy(np.stack(masks)))))
    return out


def _coco_metric(path, samples, tmp_path):
    from mmdet.evaluation import CocoMetric
    metric = CocoMetric(ann_file=path, metric=['bbox', 'segm'],
                        outfile_prefix=str(tmp_path / 'coco'))
    metric.dataset_meta = dict(classes=('bubble', ))
    metric.process({}, copy.deepcopy(samples))
    with contextlib.redirect_stdout(io.StringIO()):
        return metric.compute_metrics(metric.results)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_ap_equals_mmdet_coco_metric_on_imperfect_predictions(tmp_path,
                                                              seed):
    """Where both are defined (ids from 1, under 100 detections per
    image), DropletMetric's AP is mmdet's CocoMetric's, box and mask."""
    path, discs = _coco_file(tmp_path, first_id=1, cat_id=1)
    samples = _imperfect(discs, seed)
    ours = _run(path, copy.deepcopy(samples))
    ref = _coco_metric(path, samples, tmp_path)
    for t in ('bbox', 'segm'):
        for k in ('mAP', 'mAP_50', 'mAP_75'):
            assert ours[f'{t}_{k}'] == pytest.approx(ref[f'{t}_{k}'],
                                                     abs=1e-3), (t, k)
        assert 0.05 < ours[f'{t}_mAP_50'] < 0.99  # imperfect, not empty


def test_ap_at_1000_detections_where_coco_metric_caps_at_100(tmp_path):
    """300 droplets in one frame: mmdet reads mAP at maxDets=100 (the
    'mAP' of pycocotools' summarize) and so misses two thirds of them;
    DropletMetric scores all. AP50 and AP75 (maxDets 1000 in both) agree."""
    h = w = 200
    y, x = np.mgrid[0:h, 0:w] + 0.5
    centres = [(5 + 10 * i, 5 + 13 * j) for i in range(20) for j in range(15)]
    anns = []
    for k, (cx, cy) in enumerate(centres):
        m = ((x - cx)**2 + (y - cy)**2 < 16).astype(np.uint8)
        rle = mask_utils.encode(np.asfortranarray(m))
        rle['counts'] = rle['counts'].decode()
        anns.append(dict(id=k + 1, image_id=1, category_id=1,
                         segmentation=rle, area=float(m.sum()),
                         bbox=mask_utils.toBbox(rle).tolist(), iscrowd=0))
    path = tmp_path / 'dense.json'
    path.write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=h, width=w)],
        annotations=anns, categories=[dict(id=1, name='bubble')])))
    discs = {1: [(cx, cy, 4) for cx, cy in centres]}
    samples = _imperfect(discs, seed=3, h=h, w=w)
    assert len(samples[0]['pred_instances']['scores']) > 300
    ours = _run(str(path), copy.deepcopy(samples))
    ref = _coco_metric(str(path), samples, tmp_path)
    for t in ('bbox', 'segm'):
        for k in ('mAP_50', 'mAP_75'):
            assert ours[f'{t}_{k}'] == pytest.approx(ref[f'{t}_{k}'],
                                                     abs=1e-3), (t, k)
        assert ours[f'{t}_mAP'] > 2 * ref[f'{t}_mAP'] > 0

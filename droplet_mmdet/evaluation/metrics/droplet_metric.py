"""DropletMetric: COCO AP plus what a droplet scientist reads.

Every droplet is under COCO's 32^2 "small" bound, so COCO's AP_s equals AP
and AP_m / AP_l are -1. This metric reports instead:

* ``bbox_mAP`` / ``segm_mAP`` (+ ``_50``, ``_75``) through pycocotools, with
  ``maxDets`` raised to ``max_dets`` (1000) so dense frames are not capped;
* per equivalent-diameter bin: AP (segm if masks, else bbox) and recall at
  IoU 0.5 (``AP_d22-26``, ``R50_d22-26``);
* counting at ``score_thr``: per-image absolute and relative count error;
  and at the calibrated threshold ``count_thr``, the score that minimises
  the count error on this set (``count_mre_cal``, ``count_mae_cal``,
  ``count_bias_cal``; :class:`CountThresholdHook` stores it beside the
  checkpoints for ``tools/infer.py``). Chosen and scored on the same
  images, the calibrated error is optimistic for this set: calibrate on
  validation, report on test. ``count_mre_heldout`` (``_mae_``,
  ``_bias_``) is the honest estimate: each image counted at the threshold
  chosen on the other images (5 folds; leave one out up to 5 images);
* sizes: median absolute equivalent-diameter error of matched pairs (mask
  IoU >= ``match_iou``) in px and %, and predicted vs true mean diameter and
  coefficient of variation (polydispersity).

Real COCO files are handled: ids are renumbered from 1 before pycocotools
sees them (it treats annotation id 0 as unmatched), category ids may start
anywhere, and ``file_name`` is not used for matching.
"""
import contextlib
import io
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet.structures.mask import encode_mask_results
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..coco_utils import ann_to_rle, clean_coco, load_json
from ..droplet_stats import (calibrate_count_threshold, count_errors,
                             count_report, diameter_stats,
                             held_out_count_errors, match_masks)

INF = float('inf')
DEFAULT_BINS = ((0, 18), (18, 22), (22, 26), (26, 32), (32, INF))


def _bin_name(lo: float, hi: float) -> str:
    return f'd{lo:g}-{hi:g}' if hi != INF else f'd{lo:g}+'


def _valid_mean(x: np.ndarray) -> float:
    """Mean of the entries COCOeval filled (-1 marks "nothing to score");
    -1 when there are none."""
    return float(x[x > -1].mean()) if (x > -1).any() else -1.0


def _mean_ap(ev: COCOeval, iou: Optional[float] = None,
             area: int = 0) -> float:
    """COCO AP at the largest ``maxDets`` for area range ``area`` of
    ``ev.params.areaRng``, over IoU 0.5:0.95 or at one IoU; -1 when there
    is no true droplet in that range (0 when there are droplets and no
    detection).

    Not ``COCOeval.stats[0]``: pycocotools computes that one at
    ``maxDets=100`` whatever ``params.maxDets`` says, which caps AP on
    frames with more than 100 droplets (``stats[1]``/``[2]`` use the
    largest).
    """
    p = ev.eval['precision'][:, :, :, area, -1]  # [IoU, recall, class]
    if iou is not None:
        p = p[np.isclose(ev.params.iouThrs, iou)]
    return _valid_mean(p)


@METRICS.register_module()
class DropletMetric(BaseMetric):
    """COCO AP, per-size AP/recall, count and diameter errors.

    Args:
        ann_file (str): COCO ground truth of the evaluated set.
        metric (str | list): ``'bbox'`` and/or ``'segm'``.
        max_dets (int): detections per image considered by COCO AP.
        diameter_bins (list[tuple]): equivalent-diameter bins in px.
        score_thr (float): score at which predictions count as droplets
            for counting and sizing.
        match_iou (float): mask IoU that makes a predicted/true pair.
        target_area (tuple): area range (px^2) of the droplets the project
            is built for; reported as ``AP_target`` / ``R50_target``.
    """
    default_prefix: Optional[str] = 'droplet'

    def __init__(self,
                 ann_file: str,
                 metric=('bbox', 'segm'),
                 max_dets: int = 1000,
                 diameter_bins: Sequence[Tuple[float, float]] = DEFAULT_BINS,
                 score_thr: float = 0.5,
                 match_iou: float = 0.5,
                 target_area: Tuple[float, float] = (400.0, 500.0),
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        for m in self.metrics:
            if m not in ('bbox', 'segm'):
                raise KeyError(f'metric {m!r} is not bbox or segm')
        self.ann_file = ann_file
        self.max_dets = max_dets
        self.diameter_bins = [tuple(b) for b in diameter_bins]
        self.score_thr = score_thr
        self.match_iou = match_iou
        self.target_area = tuple(target_area)
        raw = load_json(ann_file)
        self._gt, self._img_map, self._cat_map = clean_coco(raw)
        self._raw_cat_names = {c['id']: c['name'] for c in raw['categories']}

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_instances']
            res = dict(img_id=sample['img_id'],
                       bboxes=pred['bboxes'].cpu().numpy(),
                       scores=pred['scores'].cpu().numpy(),
                       labels=pred['labels'].cpu().numpy())
            if 'masks' in pred:
                masks = pred['masks']
                res['masks'] = encode_mask_results(
                    masks.detach().cpu().numpy()) if isinstance(
                        masks, torch.Tensor) else masks
            self.results.append(res)

    # -- helpers --------------------------------------------------------
    def _gt_coco(self) -> COCO:
        coco = COCO()
        coco.dataset = self._gt
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
        return coco

    def _label_to_cat(self) -> Dict[int, int]:
        classes = list(self.dataset_meta['classes']) if self.dataset_meta \
            else [c['name'] for c in self._gt['categories']]
        by_name = {self._raw_cat_names[old]: new
                   for old, new in self._cat_map.items()}
        missing = [c for c in classes if c not in by_name]
        if missing:
            raise KeyError(f'{self.ann_file}: categories {missing} of the '
                           'dataset are not in this annotation file')
        return {k: by_name[c] for k, c in enumerate(classes)}

    def _detections(self, results: List[dict], iou_type: str) -> List[dict]:
        label2cat = self._label_to_cat()
        dets = []
        for res in results:
            if res['img_id'] not in self._img_map:
                raise KeyError(f'{self.ann_file}: prediction for image id '
                               f'{res["img_id"]}, which the file lacks')
            image_id = self._img_map[res['img_id']]
            for k in range(len(res['scores'])):
                x0, y0, x1, y1 = res['bboxes'][k].tolist()
                det = dict(image_id=image_id,
                           category_id=label2cat[int(res['labels'][k])],
                           bbox=[x0, y0, x1 - x0, y1 - y0],
                           score=float(res['scores'][k]))
                if iou_type == 'segm':
                    rle = dict(res['masks'][k])
                    if isinstance(rle['counts'], bytes):
                        rle['counts'] = rle['counts'].decode()
                    det['segmentation'] = rle
                dets.append(det)
        return dets

    @staticmethod
    def _no_detections(coco_gt: COCO) -> COCO:
        """An empty result set (``COCO.loadRes`` refuses an empty list)."""
        coco_dt = COCO()
        coco_dt.dataset = dict(images=list(coco_gt.dataset['images']),
                               categories=list(coco_gt.dataset['categories']),
                               annotations=[])
        coco_dt.createIndex()
        return coco_dt

    def _evaluate(self, coco_gt: COCO, dets: List[dict], iou_type: str,
                  area_rngs=None) -> COCOeval:
        """COCOeval, also without a single detection: that scores AP and
        recall 0 wherever there are true droplets (a model that finds
        nothing has AP 0, not "not evaluated")."""
        with contextlib.redirect_stdout(io.StringIO()):
            coco_dt = coco_gt.loadRes(dets) if dets else \
                self._no_detections(coco_gt)
            ev = COCOeval(coco_gt, coco_dt, iou_type)
            ev.params.maxDets = [100, 300, self.max_dets]
            if area_rngs is not None:
                ev.params.areaRng = [r for _, r in area_rngs]
                ev.params.areaRngLbl = [n for n, _ in area_rngs]
            ev.evaluate()
            ev.accumulate()
        return ev

    def _size_bins(self, coco_gt: COCO, dets: List[dict], iou_type: str,
                   out: Dict[str, float]) -> None:
        rngs = [('all', [0, 1e10])]
        for lo, hi in self.diameter_bins:
            rngs.append((_bin_name(lo, hi),
                         [np.pi * (lo / 2)**2,
                          np.pi * (hi / 2)**2 if hi != INF else 1e10]))
        rngs.append(('target', list(self.target_area)))
        ev = self._evaluate(coco_gt, dets, iou_type, rngs)
        for a, (name, _) in enumerate(rngs[1:], start=1):
            out[f'AP_{name}'] = _mean_ap(ev, area=a)
            out[f'R50_{name}'] = _valid_mean(ev.eval['recall'][0, :, a, -1])

    def _count_and_size(self, coco_gt: COCO, results: List[dict],
                        out: Dict[str, float]) -> None:
        gt_counts, pred_counts = [], []
        gt_areas, pred_areas, pair_gt, pair_pred = [], [], [], []
        for res in results:
            image_id = self._img_map[res['img_id']]
            info = coco_gt.imgs[image_id]
            anns = [a for a in coco_gt.imgToAnns.get(image_id, [])
                    if not a.get('iscrowd', 0)]
            keep = np.flatnonzero(res['scores'] >= self.score_thr)
            gt_counts.append(len(anns))
            pred_counts.append(len(keep))
            if 'masks' not in res:
                continue
            g_rles = [ann_to_rle(a, info['height'], info['width'])
                      for a in anns]
            p_rles = [res['masks'][k] for k in keep]
            g_area = mask_utils.area(g_rles) if g_rles else np.zeros(0)
            p_area = mask_utils.area(p_rles) if p_rles else np.zeros(0)
            gt_areas += list(g_area)
            pred_areas += list(p_area)
            pairs = match_masks(g_rles, p_rles, res['scores'][keep],
                                self.match_iou)
            pair_gt += list(g_area[pairs[:, 0]])
            pair_pred += list(p_area[pairs[:, 1]])
        out.update(count_errors(gt_counts, pred_counts))
        scores = [r['scores'] for r in results]
        thr, cal = calibrate_count_threshold(gt_counts, scores)
        out['count_thr'] = thr
        out.update({f'{k}_cal': v for k, v in cal.items()})
        held = held_out_count_errors(gt_counts, scores)
        out.update({f'{k}_heldout': v for k, v in held.items()})
        names = [osp.basename(coco_gt.imgs[self._img_map[r['img_id']]].get(
            'file_name', str(r['img_id']))) for r in results]
        MMLogger.get_current_instance().info(
            f'count per image at the calibrated threshold {thr:.3f} '
            '(true -> counted, largest error first): ' + '; '.join(
                count_report(names, gt_counts, scores, thr)))
        if gt_areas or pred_areas:
            out.update(diameter_stats(gt_areas, pred_areas, pair_gt,
                                      pair_pred))
            out['matched_pct'] = 100.0 * len(pair_gt) / max(len(gt_areas), 1)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        coco_gt = self._gt_coco()
        out: Dict[str, float] = OrderedDict()
        for iou_type in self.metrics:
            if iou_type == 'segm' and not all('masks' in r for r in results):
                raise KeyError('segm metric asked but the model predicts no '
                               'masks')
            dets = self._detections(results, iou_type)
            ev = self._evaluate(coco_gt, dets, iou_type)
            out[f'{iou_type}_mAP'] = _mean_ap(ev)
            out[f'{iou_type}_mAP_50'] = _mean_ap(ev, 0.5)
            out[f'{iou_type}_mAP_75'] = _mean_ap(ev, 0.75)
        size_type = 'segm' if 'segm' in self.metrics else 'bbox'
        self._size_bins(coco_gt, self._detections(results, size_type),
                        size_type, out)
        self._count_and_size(coco_gt, results, out)
        logger.info('droplet metrics: ' + '  '.join(
            f'{k}={v:.3f}' for k, v in out.items()))
        return out

"""Fit anchor scales/ratios to a COCO dataset's boxes and compare coverage.

    python tools/analysis_tools/fit_anchors.py data/synthetic_droplets/train.json

Prints the share of ground-truth boxes matched by some anchor at IoU 0.5 and
0.7 for mmdet's stock anchors, droplet_mmdet's small anchors and the fitted
ones, and the ``anchor_generator`` to paste into a config.
"""
import argparse
import json

import numpy as np


def load_boxes(ann_file: str) -> np.ndarray:
    try:
        with open(ann_file) as f:
            coco = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f'{ann_file}: cannot read COCO json ({err})')
    if 'annotations' not in coco:
        raise SystemExit(f'{ann_file}: no "annotations" list')
    boxes = [a['bbox'] for a in coco['annotations']
             if not a.get('iscrowd', 0) and a['bbox'][2] > 0
             and a['bbox'][3] > 0]
    if not boxes:
        raise SystemExit(f'{ann_file}: no non-empty boxes')
    b = np.asarray(boxes, dtype=np.float64)
    b[:, 2:] += b[:, :2]
    return b


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file', help='COCO instances json')
    p.add_argument('--strides', type=int, nargs='+', default=[4, 8, 16, 32,
                                                              64])
    p.add_argument('--scale', type=float, default=None,
                   help='input resize factor applied by the pipeline')
    args = p.parse_args()
    from droplet_mmdet.analysis import STOCK_ANCHORS, coverage, fit_anchors
    boxes = load_boxes(args.ann_file)
    if args.scale:
        boxes *= args.scale
    side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    print(f'{args.ann_file}: {len(boxes)} boxes, sqrt(w*h) p10/p50/p90 = '
          + '/'.join(f'{v:.1f}' for v in np.percentile(side, [10, 50, 90]))
          + ' px')
    small = dict(scales=[6], ratios=[0.8, 1.0, 1.25], strides=args.strides)
    stock = dict(STOCK_ANCHORS, strides=args.strides)
    fitted, _ = fit_anchors(boxes, strides=args.strides)
    print(f'{"anchors":10s} {"scales":>8s} {"ratios":>20s} '
          f'{"IoU>=0.5":>9s} {"IoU>=0.7":>9s} {"mean IoU":>9s}')
    for name, cfg in (('stock', stock), ('small', small), ('fitted', fitted)):
        cov = coverage(boxes, cfg['scales'], cfg['ratios'], cfg['strides'])
        print(f'{name:10s} {str(cfg["scales"]):>8s} '
              f'{str(cfg["ratios"]):>20s} {cov["match@0.5"]:9.3f} '
              f'{cov["match@0.7"]:9.3f} {cov["mean_best_iou"]:9.3f}')
    print('\nmodel = dict(rpn_head=dict(anchor_generator=dict('
          f'type=\'AnchorGenerator\', scales={fitted["scales"]}, '
          f'ratios={fitted["ratios"]}, strides={fitted["strides"]})))')


if __name__ == '__main__':
    main()

"""Fit anchor scales/ratios to a COCO dataset's boxes and compare coverage.

    python tools/analysis_tools/fit_anchors.py data/synthetic_droplets/train.json
    python tools/analysis_tools/fit_anchors.py train.json --iou 0.7 --num-scales 2

Prints the share of ground-truth boxes matched by some anchor at IoU 0.3, 0.5
and 0.7 (mmdet's RPN assigner: 0.7 makes an anchor positive, 0.3 is the least
IoU at which a box still gets its best anchor) for mmdet's stock anchors, the
current ones (droplet_mmdet's small anchors unless --current-* say
otherwise) and the fitted ones, which maximise the coverage at --iou (default
0.7, the RPN's pos_iou_thr) with --num-scales scales per level. Also prints
the mean box size sqrt(w * h), the constant C of the NWD assigner
(droplet_mmdet.models.task_modules.BboxOverlaps2DNWD), and the
``anchor_generator`` to paste into a config.
"""
import argparse

import numpy as np


def load_boxes(ann_file: str) -> np.ndarray:
    from droplet_mmdet.analysis import load_coco_boxes
    try:
        return load_coco_boxes(ann_file)
    except ValueError as err:
        raise SystemExit(str(err))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file', help='COCO instances json')
    p.add_argument('--strides', type=int, nargs='+', default=[4, 8, 16, 32,
                                                              64])
    p.add_argument('--scale', type=float, default=None,
                   help='input resize factor applied by the pipeline')
    p.add_argument('--iou', type=float, default=0.7,
                   help='IoU at which to maximise the share of matched '
                   'boxes (default 0.7, the RPN pos_iou_thr; 0.5 for the '
                   'looser fit)')
    p.add_argument('--num-scales', type=int, default=1, choices=[1, 2],
                   help='anchor scales per level to fit')
    p.add_argument('--current-scales', type=float, nargs='+', default=[6],
                   help='scales of the anchors in use (the "current" row)')
    p.add_argument('--current-ratios', type=float, nargs='+',
                   default=[0.8, 1.0, 1.25])
    args = p.parse_args()
    if not 0 < args.iou <= 1:
        p.error(f'--iou must be in (0, 1]: {args.iou}')
    from droplet_mmdet.analysis import STOCK_ANCHORS, coverage, fit_anchors
    boxes = load_boxes(args.ann_file)
    if args.scale:
        boxes *= args.scale
    side = np.sqrt((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]))
    print(f'{args.ann_file}: {len(boxes)} boxes, sqrt(w*h) p10/p50/p90 = '
          + '/'.join(f'{v:.1f}' for v in np.percentile(side, [10, 50, 90]))
          + f' px, mean {side.mean():.1f} px (NWD constant C)')
    current = dict(scales=args.current_scales, ratios=args.current_ratios,
                   strides=args.strides)
    stock = dict(STOCK_ANCHORS, strides=args.strides)
    fitted, _ = fit_anchors(boxes, strides=args.strides, iou=args.iou,
                            num_scales=args.num_scales)
    thr = sorted({0.3, 0.5, 0.7, args.iou})
    print(f'fitted: {args.num_scales} scale(s) per level, maximising '
          f'IoU>={args.iou:g} coverage')
    print(f'{"anchors":8s} {"scales":>12s} {"ratios":>20s} '
          + ' '.join(f'{f"IoU>={t:g}":>9s}' for t in thr)
          + f' {"mean IoU":>9s}')
    for name, cfg in (('stock', stock), ('current', current),
                      ('fitted', fitted)):
        cov = coverage(boxes, cfg['scales'], cfg['ratios'], cfg['strides'],
                       thresholds=thr)
        print(f'{name:8s} {str(cfg["scales"]):>12s} '
              f'{str(cfg["ratios"]):>20s} '
              + ' '.join(f'{cov[f"match@{t:g}"]:9.3f}' for t in thr)
              + f' {cov["mean_best_iou"]:9.3f}')
    print('\nmodel = dict(rpn_head=dict(anchor_generator=dict('
          f'type=\'AnchorGenerator\', scales={fitted["scales"]}, '
          f'ratios={fitted["ratios"]}, strides={fitted["strides"]})))')


if __name__ == '__main__':
    main()

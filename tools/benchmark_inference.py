"""Benchmark sliced inference on a large synthetic frame.

    python tools/benchmark_inference.py [CONFIG CHECKPOINT] [--size 2048] [--tile 1024]

Renders a size x size synthetic droplet frame (seeded), predicts it with
sliced inference (after one warm-up run), and writes the wall time, the
true and predicted counts and the count error to benchmarks/inference.json.
Defaults to the slim config and the checkpoint of the README demo.
"""
import argparse
import json
import os
import os.path as osp
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config', nargs='?', default=osp.join(
        ROOT, 'configs/droplet/mask_rcnn_r18_fpn_slim_400it_synthetic.py'))
    p.add_argument('checkpoint', nargs='?',
                   default=osp.join(ROOT, 'work_dirs/demo/iter_400.pth'))
    p.add_argument('--size', type=int, default=2048)
    p.add_argument('--tile', type=int, nargs='+', default=[1536, 1024, 2048])
    p.add_argument('--overlap', type=int, default=64)
    p.add_argument('--score-thr', type=float, default=0.5)
    p.add_argument('--seed', type=int, default=3)
    p.add_argument('--out', default='benchmarks/inference.json')
    args = p.parse_args()
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'{args.checkpoint}: no checkpoint; run '
                         '`bash tools/run_demo.sh` first or pass one')
    import cv2
    import torch

    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.predictor import mmdet_predict_fn
    from droplet_mmdet.apis.slicing import predict_frame
    from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame
    from mmdet.apis import init_detector
    img, truth, info = render_frame(
        FrameSpec.v1(height=args.size, width=args.size, layout='sparse',
                     sparse_coverage=(0.22, 0.22)), args.seed)
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    from droplet_mmdet.apis import load_config
    model = init_detector(load_config(args.config, args.checkpoint),
                          args.checkpoint, device='cpu')
    fn = mmdet_predict_fn(model)
    results = []
    for tile in args.tile:
        predict_frame(fn, img[:tile, :tile], tile=tile)  # warm-up
        t = time.perf_counter()
        dets = predict_frame(fn, img, tile=tile, overlap=args.overlap,
                             score_thr=args.score_thr)
        sec = time.perf_counter() - t
        results.append(dict(tile=tile, overlap=args.overlap,
                            seconds=round(sec, 2),
                            predicted=len(dets), true=len(truth),
                            count_error_pct=round(
                                100 * (len(dets) - len(truth)) /
                                len(truth), 2)))
        print(results[-1])
    out = dict(frame=[args.size, args.size], layout=info['layout'],
               threads=torch.get_num_threads(),
               config=osp.relpath(args.config, ROOT),
               checkpoint=osp.relpath(args.checkpoint, ROOT),
               results=results,
               command='python tools/benchmark_inference.py --size '
               f'{args.size} --tile {" ".join(map(str, args.tile))}')
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(out, f, indent=2)


if __name__ == '__main__':
    main()

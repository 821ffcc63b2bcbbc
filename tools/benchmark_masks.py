"""Benchmark mask loading on dense frames: RLE vs polygons.

    python tools/benchmark_masks.py [--frames 4] [--droplets 1000] [--crop 512] [--samples 24] [--train-iters 4] [--out benchmarks/masks.json]

Writes ``--frames`` dense 1280 x 800 frames with ``--droplets`` bubbles each
(7-14 px radius polygons, ~30 % of the frame) twice: as COCO polygons and
as the RLEs of those same polygons (pycocotools rasterises them as mmdet
does), so both files hold identical masks. Then, each variant in a fresh
process (a data-loader worker's situation):

- ``polygon``: ``LoadAnnotations(poly2mask=False)`` (PolygonMasks)
- ``rle_stock``: ``LoadAnnotations`` (a full-frame bitmap per instance)
- ``rle_box``: ``LoadDropletAnnotations`` (one bitmap per box)

runs the slim configs' train pipeline (load, RecordDropletSize,
ObjectAwareRandomCrop at ``--crop``, blur, noise, flip, PackDropletInputs)
over ``--samples`` samples and reports seconds per sample (wall and CPU
time: on a shared machine the CPU figure is the one-core cost) and the
process's peak resident memory, absolute and above its state before the
first sample. With ``--train-iters``, the slim Mask R-CNN trains that many
iterations (batch 2, after one warm-up) on each variant's samples in one
process, data included (no workers, one torch thread): seconds per
iteration.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import tempfile
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SLIM = osp.join(ROOT, 'configs', 'droplet',
                'mask_rcnn_r18_fpn_slim_400it_synthetic.py')
VARIANTS = {
    'polygon': ('polygons.json',
                dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
                     poly2mask=False)),
    'rle_stock': ('rle.json',
                  dict(type='LoadAnnotations', with_bbox=True,
                       with_mask=True)),
    'rle_box': ('rle.json',
                dict(type='LoadDropletAnnotations', with_bbox=True,
                     with_mask=True)),
}


def dense_frame(seed: int, n: int, height: int = 800, width: int = 1280):
    """``(image (H, W, 3) uint8, polygons)``: ``n`` non-overlapping bubbles
    (radius 7-14 px, slightly elliptic 24-gons) on a grey background."""
    import cv2
    import numpy as np
    rng = np.random.default_rng(seed)
    img = np.full((height, width, 3), 60, np.uint8)
    placed, polys = [], []
    grid = {}
    tries = 0
    while len(placed) < n and tries < 200 * n:
        tries += 1
        r = rng.uniform(7, 14)
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        gx, gy = int(cx // 30), int(cy // 30)
        near = [p for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                for p in grid.get((gx + dx, gy + dy), [])]
        if any((cx - x)**2 + (cy - y)**2 < (r + q + 1)**2
               for x, y, q in near):
            continue
        placed.append((cx, cy, r))
        grid.setdefault((gx, gy), []).append((cx, cy, r))
        a = np.linspace(0, 2 * np.pi, 24, endpoint=False)
        e = rng.uniform(0.85, 1.0)
        xy = np.stack([cx + r * np.cos(a), cy + e * r * np.sin(a)], 1)
        xy = np.clip(xy, 0, [width, height])
        polys.append(xy.ravel().round(2).tolist())
        cv2.fillPoly(img, [xy.round().astype(np.int32)], (170, 170, 170))
        cv2.polylines(img, [xy.round().astype(np.int32)], True,
                      (30, 30, 30), 2)
    return img, polys


def write_data(root: str, frames: int, droplets: int) -> int:
    """Images and the two COCO files; returns bubbles per frame."""
    import cv2
    from pycocotools import mask as mask_utils
    os.makedirs(osp.join(root, 'img'), exist_ok=True)
    images, poly_anns, rle_anns = [], [], []
    for i in range(frames):
        img, polys = dense_frame(i, droplets)
        h, w = img.shape[:2]
        cv2.imwrite(osp.join(root, 'img', f'{i}.png'), img)
        images.append(dict(id=i + 1, file_name=f'{i}.png', height=h,
                           width=w))
        for p in polys:
            rle = mask_utils.merge(mask_utils.frPyObjects([p], h, w))
            x, y, bw, bh = mask_utils.toBbox(rle).tolist()
            ann = dict(id=len(poly_anns) + 1, image_id=i + 1, category_id=1,
                       area=float(mask_utils.area(rle)),
                       bbox=[x, y, bw, bh], iscrowd=0)
            poly_anns.append(dict(ann, segmentation=[p]))
            rle_anns.append(dict(ann, segmentation=dict(
                size=rle['size'], counts=rle['counts'].decode())))
    cats = [dict(id=1, name='droplet')]
    for name, anns in (('polygons.json', poly_anns), ('rle.json', rle_anns)):
        with open(osp.join(root, name), 'w') as f:
            json.dump(dict(images=images, annotations=anns,
                           categories=cats), f)
    return len(poly_anns) // frames


def pipeline(load: dict, crop: int) -> list:
    return [
        dict(type='LoadImageFromFile'), load,
        dict(type='RecordDropletSize'),
        dict(type='ObjectAwareRandomCrop', crop_size=(crop, crop),
             min_objects=3, min_visible=0.7, min_visible_area=16),
        dict(type='DropletGaussianBlur', sigma_ratio=(0.0, 0.15), prob=0.5),
        dict(type='DropletNoise', snr_range=(4.0, 20.0), prob=0.5),
        dict(type='RandomFlip', prob=0.5,
             direction=['horizontal', 'vertical']),
        dict(type='PackDropletInputs')
    ]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(variant: str, root: str, crop: int, samples: int,
            train_iters: int) -> dict:
    """One variant, in this process: pipeline, then optional training."""
    import numpy as np
    from mmengine.registry import init_default_scope

    import droplet_mmdet  # noqa: F401
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    ann, load = VARIANTS[variant]
    ds = DATASETS.build(dict(
        type='CocoDataset', data_root=root, ann_file=ann,
        data_prefix=dict(img='img/'), metainfo=dict(classes=('droplet', )),
        pipeline=pipeline(load, crop)))
    np.random.seed(0)
    base = peak_rss_mb()
    ds[0]  # warm-up
    w, c = time.perf_counter(), time.process_time()
    kept = 0
    for i in range(samples):
        kept += len(ds[i % len(ds)]['data_samples'].gt_instances)
    out = dict(
        s_per_sample=round((time.perf_counter() - w) / samples, 4),
        cpu_s_per_sample=round((time.process_time() - c) / samples, 4),
        instances_per_crop=round(kept / samples, 1),
        peak_rss_mb=round(peak_rss_mb(), 1),
        rss_increase_mb=round(peak_rss_mb() - base, 1))
    if train_iters:
        out.update(train(ds, train_iters))
    return out


def train(ds, iters: int) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate

    from mmdet.registry import MODELS
    cfg = Config.fromfile(SLIM)
    torch.set_num_threads(1)  # CPU time = compute, also on a busy machine
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step(k):
        batch = pseudo_collate([ds[(2 * k) % len(ds)],
                                ds[(2 * k + 1) % len(ds)]])
        data = model.data_preprocessor(batch, training=True)
        losses = model(**data, mode='loss')
        loss, _ = model.parse_losses(losses)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step(0)
    w, c = time.perf_counter(), time.process_time()
    for k in range(1, iters + 1):
        step(k)
    return dict(train_s_per_iter=round((time.perf_counter() - w) / iters, 3),
                train_cpu_s_per_iter=round(
                    (time.process_time() - c) / iters, 3),
                train_peak_rss_mb=round(peak_rss_mb(), 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=4)
    p.add_argument('--droplets', type=int, default=1000)
    p.add_argument('--crop', type=int, default=512)
    p.add_argument('--samples', type=int, default=24)
    p.add_argument('--train-iters', type=int, default=0)
    p.add_argument('--variants', nargs='+', default=list(VARIANTS),
                   choices=list(VARIANTS))
    p.add_argument('--out', default=osp.join(ROOT, 'benchmarks',
                                             'masks.json'))
    p.add_argument('--one', nargs=2, metavar=('VARIANT', 'ROOT'),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], args.crop,
                                 args.samples, args.train_iters)))
        return
    from droplet_mmdet.apis.ablation import child_kwargs
    result = dict(frame=[800, 1280], frames=args.frames, crop=args.crop,
                  samples=args.samples, train_iters=args.train_iters,
                  cpus=os.cpu_count(), load_avg_start=os.getloadavg()[0])
    with tempfile.TemporaryDirectory() as root:
        result['droplets_per_frame'] = write_data(root, args.frames,
                                                  args.droplets)
        for variant in args.variants:
            cmd = [sys.executable, __file__, '--one', variant, root,
                   '--crop', str(args.crop), '--samples', str(args.samples),
                   '--train-iters', str(args.train_iters)]
            # the child ends with this benchmark, however it is stopped
            proc = subprocess.run(cmd, capture_output=True, text=True,
                                  cwd=ROOT, **child_kwargs())
            if proc.returncode:
                sys.exit(f'{variant} failed:\n{proc.stderr[-3000:]}')
            result[variant] = json.loads(proc.stdout.strip().splitlines()[-1])
            print(variant, result[variant], flush=True)
    result['load_avg_end'] = os.getloadavg()[0]
    result['command'] = 'python tools/benchmark_masks.py ' + ' '.join(
        sys.argv[1:])
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()

"""Speed and memory: training and inference throughput per model, data
pipeline throughput (object-aware crop vs RandomCrop).

    python tools/benchmark_speed.py [--out benchmarks/speed.json]

Each model is measured in its own process (peak resident memory is that
process's): training seconds/iteration at 256 x 256, batch 2 (after one
warm-up iteration), inference images/s at 256 x 256 and seconds for one
1024 x 1024 frame. On a CPU the configs' AMP falls back to fp32.
"""
import argparse
import json
import os
import os.path as osp
import resource
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
MODELS = [('slim R-18', 'mask_rcnn_r18_fpn_slim_600it_synthetic.py', 10),
          ('R-50', 'mask_rcnn_r50_fpn_small.py', 3),
          ('R-101', 'mask_rcnn_r101_fpn_small.py', 2)]


def measure_model(config: str, iters: int, data_root: str) -> dict:
    import torch
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import droplet_mmdet  # noqa: F401
    from droplet_mmdet import compat
    from droplet_mmdet.apis.demo import data_options
    from mmdet.registry import MODELS as M
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(data_options(data_root))
    cfg.merge_from_dict({'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'val_dataloader.num_workers': 0,
                         'val_dataloader.persistent_workers': False})
    precision = compat.resolve_amp(cfg)
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = M.build(cfg.model)
    model.init_weights()
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)

    def cycle():
        while True:
            yield from loader

    batches = cycle()
    model.train()
    model.train_step(next(batches), wrapper)  # warm-up
    t = time.perf_counter()
    for _ in range(iters):
        model.train_step(next(batches), wrapper)
    train_s = (time.perf_counter() - t) / iters
    model.eval()
    val = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    vb = list(val)[:6]
    with torch.no_grad():
        model.test_step(vb[0])
        t = time.perf_counter()
        for b in vb[1:]:
            model.test_step(b)
        infer_ips = (len(vb) - 1) / (time.perf_counter() - t)
        big = dict(vb[0])
        big['inputs'] = [torch.nn.functional.interpolate(
            vb[0]['inputs'][0][None].float(), size=(1024, 1024))[0].to(
                torch.uint8)]
        sample = vb[0]['data_samples'][0].clone()
        sample.set_metainfo(dict(img_shape=(1024, 1024),
                                 ori_shape=(1024, 1024),
                                 scale_factor=(1.0, 1.0)))
        big['data_samples'] = [sample]
        t = time.perf_counter()
        model.test_step(big)
        big_s = time.perf_counter() - t
    return dict(precision=precision, train_s_per_iter=round(train_s, 3),
                train_images_per_s=round(2 / train_s, 3),
                infer_images_per_s_256=round(infer_ips, 2),
                infer_s_1024=round(big_s, 2),
                peak_rss_mb=round(resource.getrusage(
                    resource.RUSAGE_SELF).ru_maxrss / 1024))


def measure_pipelines(data_root: str, n: int = 60) -> dict:
    from mmengine.registry import init_default_scope

    import droplet_mmdet  # noqa: F401
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    out = {}
    for name, crop in (('RandomCrop', dict(type='RandomCrop',
                                           crop_size=(256, 256))),
                       ('ObjectAwareRandomCrop',
                        dict(type='ObjectAwareRandomCrop',
                             crop_size=(256, 256), min_objects=3))):
        ds = DATASETS.build(dict(
            type='CocoDataset', data_root=data_root, ann_file='train.json',
            data_prefix=dict(img='train/'),
            metainfo=dict(classes=('droplet', )),
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations', with_bbox=True,
                           with_mask=True), crop,
                      dict(type='PackDetInputs')]))
        ds[0]
        t = time.perf_counter()
        for i in range(n):
            ds[i % len(ds)]
        out[name] = round(n / (time.perf_counter() - t), 1)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default='benchmarks/speed.json')
    p.add_argument('--data-root', default='data/bench_droplets')
    p.add_argument('--one', nargs=2, metavar=('CONFIG', 'ITERS'),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure_model(args.one[0], int(args.one[1]),
                                       args.data_root)))
        return
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.demo import ensure_dataset
    ensure_dataset(args.data_root, 20, 6, 512, seed=5)
    result = dict(machine=f'{os.cpu_count()} CPU cores, no GPU', models={},
                  command='python tools/benchmark_speed.py')
    for name, cfg, iters in MODELS:
        proc = subprocess.run(
            [sys.executable, __file__, '--data-root', args.data_root,
             '--one', osp.join(ROOT, 'configs/droplet', cfg), str(iters)],
            capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(
                f'{cfg}: benchmark failed:\n{proc.stderr[-3000:]}')
        result['models'][name] = json.loads(
            proc.stdout.strip().splitlines()[-1])
        print(name, result['models'][name], flush=True)
    result['pipeline_samples_per_s_512_to_256'] = measure_pipelines(
        args.data_root)
    print(result['pipeline_samples_per_s_512_to_256'])
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)


if __name__ == '__main__':
    main()

"""Speed and memory: training and inference throughput per model, data
pipeline throughput (object-aware crop vs RandomCrop).

``tools/benchmark_speed.py`` is the command-line shell around
:func:`run_speed_benchmark` (and, in each worker process it starts,
:func:`measure_model`).

Each model and precision is measured in its own process (peak memory is
that process's: resident memory on a CPU, ``max_memory_allocated`` on a
GPU): training seconds/iteration (``batch_size`` crops of ``crop`` px,
after warm-up iterations), inference images/s at 256 x 256 and seconds per
1024 x 1024 frame (mean of ``frames_1024``), fresh weights. On a GPU every
model is measured in fp32 and in fp16 AMP (AmpOptimWrapper; autocast for
inference) and the fp16/fp32 ratios are written; on a CPU the configs' AMP
falls back to fp32 and only fp32 is measured.
"""
import itertools
import json
import math
import os
import os.path as osp
import resource
import subprocess
import time
from typing import List, Optional

from .ablation import child_kwargs

# (name, config in configs/droplet, training iterations timed on a CPU;
# x10 on a GPU)
MODELS = [('slim R-18', 'mask_rcnn_r18_fpn_slim_400it_synthetic.py', 10),
          ('R-50', 'mask_rcnn_r50_fpn_small.py', 3),
          ('R-101', 'mask_rcnn_r101_fpn_small.py', 2),
          ('R-50 stock', 'mask_rcnn_r50_fpn_stock.py', 3),
          ('R-101 stock', 'mask_rcnn_r101_fpn_stock.py', 2)]


def set_precision(cfg, precision: str) -> None:
    """Point ``cfg.optim_wrapper`` at fp32 (OptimWrapper) or fp16 AMP."""
    wrapper = cfg.optim_wrapper
    if precision == 'fp16':
        wrapper.type = 'AmpOptimWrapper'
        wrapper.dtype = 'float16'
        wrapper.loss_scale = 'dynamic'
    else:
        from droplet_mmdet.compat import use_fp32
        use_fp32(wrapper)


def set_crop(pipeline: list, crop: int) -> int:
    """Set the size of every crop step of a train pipeline; returns how
    many there were. A pipeline without one (the stock configs) gets mmdet's
    RandomCrop after its loading steps, where the droplet configs have
    theirs, so that every model is timed on the same input size."""
    n = 0
    for step in pipeline:
        if 'crop_size' in step:
            step['crop_size'] = (crop, crop)
            n += 1
    if n == 0:
        at = next((i for i, step in enumerate(pipeline)
                   if 'Pack' in step['type'] or 'Flip' in step['type']),
                  len(pipeline))
        pipeline.insert(at, dict(type='RandomCrop', crop_size=(crop, crop)))
        n = 1
    return n


def finite_loss(log_vars: dict) -> bool:
    """Whether the total loss a ``train_step`` logged is a finite number."""
    return math.isfinite(float(log_vars['loss']))


def measure_model(config: str, iters: int, data_root: str, device: str,
                  precision: str, batch_size: int, crop: int,
                  frames_1024: int) -> dict:
    """Train and inference speed and peak memory of one config at one
    precision (``fp32`` / ``fp16``) on ``device``, in this process."""
    import torch
    from mmdet.registry import MODELS as M
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.runner.amp import autocast

    from droplet_mmdet import compat
    from droplet_mmdet.apis.demo import data_options
    from droplet_mmdet.apis.runner import fill_fitted_anchors
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(data_options(data_root))
    cfg.merge_from_dict({'train_dataloader.num_workers': 0,
                         'train_dataloader.persistent_workers': False,
                         'train_dataloader.batch_size': batch_size,
                         'val_dataloader.num_workers': 0,
                         'val_dataloader.persistent_workers': False})
    set_crop(cfg.train_dataloader.dataset.pipeline, crop)
    fill_fitted_anchors(cfg, source=config)
    set_precision(cfg, precision)
    precision = compat.resolve_amp(cfg, cuda_available=device == 'cuda')
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = M.build(cfg.model)
    model.init_weights()
    model = model.to(device)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    loader = Runner.build_dataloader(cfg.train_dataloader, seed=0)

    def sync():
        if device == 'cuda':
            torch.cuda.synchronize()

    # The model's time alone: a few batches are loaded before the clock
    # starts and cycled (the data pipelines are timed on their own below).
    loaded = []
    for batch in loader:
        loaded.append(batch)
        if len(loaded) == 4:
            break
    batches = itertools.cycle(loaded)
    warm_up = 1 if device == 'cpu' else 5
    model.train()
    nonfinite = 0
    for _ in range(warm_up):
        nonfinite += not finite_loss(model.train_step(next(batches), wrapper))
    sync()
    t = time.perf_counter()
    losses = [model.train_step(next(batches), wrapper)['loss'].detach()
              for _ in range(iters)]  # read after the clock: no sync here
    sync()
    train_s = (time.perf_counter() - t) / iters
    nonfinite += int((~torch.isfinite(torch.stack(losses))).sum())
    model.eval()
    val = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    vb = list(val)[:6]
    big = dict(vb[0])
    big['inputs'] = [torch.nn.functional.interpolate(
        vb[0]['inputs'][0][None].float(), size=(1024, 1024))[0].to(
            torch.uint8)]
    sample = vb[0]['data_samples'][0].clone()
    sample.set_metainfo(dict(img_shape=(1024, 1024), ori_shape=(1024, 1024),
                             scale_factor=(1.0, 1.0)))
    big['data_samples'] = [sample]
    with torch.no_grad(), autocast(enabled=precision == 'fp16'):
        model.test_step(vb[0])
        sync()
        t = time.perf_counter()
        for b in vb[1:]:
            model.test_step(b)
        sync()
        infer_ips = (len(vb) - 1) / (time.perf_counter() - t)
        model.test_step(big)  # warm-up at this size
        sync()
        t = time.perf_counter()
        for _ in range(frames_1024):
            model.test_step(big)
        sync()
        big_s = (time.perf_counter() - t) / frames_1024
    if device == 'cuda':
        peak = dict(peak_gpu_mb=round(torch.cuda.max_memory_allocated() /
                                      2**20))
    else:
        peak = dict(peak_rss_mb=round(resource.getrusage(
            resource.RUSAGE_SELF).ru_maxrss / 1024))
    return dict(precision=precision, batch_size=batch_size, crop=crop,
                nonfinite_losses=nonfinite,
                train_s_per_iter=round(train_s, 4),
                train_images_per_s=round(batch_size / train_s, 3),
                infer_images_per_s_256=round(infer_ips, 2),
                infer_s_1024=round(big_s, 4),
                infer_fps_1024=round(1 / big_s, 2), **peak)


def measure_pipelines(data_root: str, n: int = 60) -> dict:
    """Samples/s of the train pipeline (load, crop 512 -> 256, pack) with
    ``RandomCrop`` and with ``ObjectAwareRandomCrop``, one worker."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
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


def run_speed_benchmark(worker: List[str], config_dir: str, data_root: str,
                        device: str, batch_size: int, crop: int,
                        frames_1024: int, out: str, command: str,
                        models: Optional[List[str]] = None) -> dict:
    """Every model of :data:`MODELS` (each precision) in its own process,
    then the data pipelines; prints each result and writes ``out`` (JSON),
    rewritten after every model so that a run cut short keeps what it
    measured.

    Args:
        worker: the command that measures one model, given ``--data-root``,
            ``--device``, ``--batch-size``, ``--crop``, ``--frames-1024``
            and ``--one CONFIG ITERS PRECISION``, and prints its
            :func:`measure_model` result as the last line of JSON
            (``[python, tools/benchmark_speed.py]``).
        config_dir: the folder holding the configs of :data:`MODELS`.
        command: the command line recorded in the output.
        models: names of :data:`MODELS` to measure (default: all).

    Where a model and its stock counterpart (``'<name> stock'``) are both
    measured, ``ours_over_stock`` holds the ratio of their training seconds
    per iteration and of their seconds per 1024 x 1024 frame, per precision
    (1.05 = our modules cost 5 %).
    """
    import torch

    from droplet_mmdet.apis.demo import ensure_dataset
    ensure_dataset(data_root, 20, 6, 512, seed=5)
    precisions = ['fp32'] if device == 'cpu' else ['fp32', 'fp16']
    machine = (f'{os.cpu_count()} CPU cores, no GPU' if device == 'cpu'
               else torch.cuda.get_device_name(0))
    result = dict(machine=machine, device=device, command=command,
                  torch=torch.__version__, models={})
    known = [m[0] for m in MODELS]
    unknown = sorted(set(models or []) - set(known))
    if unknown:
        raise SystemExit(f'unknown model(s) {unknown}; known: {known}')

    def write():
        os.makedirs(osp.dirname(out) or '.', exist_ok=True)
        with open(out, 'w') as f:
            json.dump(result, f, indent=2)

    def key(name, prec):
        return name if len(precisions) == 1 else f'{name} {prec}'

    failed = []
    for name, cfg, iters in MODELS:
        if models and name not in models:
            continue
        iters = iters if device == 'cpu' else iters * 10
        for prec in precisions:
            proc = subprocess.run(
                worker + ['--data-root', data_root, '--device', device,
                          '--batch-size', str(batch_size), '--crop',
                          str(crop), '--frames-1024', str(frames_1024),
                          '--one', osp.join(config_dir, cfg), str(iters),
                          prec], capture_output=True, text=True,
                **child_kwargs())
            if proc.returncode != 0:
                # the others are still measured; the run fails at the end
                failed.append(f'{cfg} ({prec}): benchmark failed:\n'
                              f'{proc.stderr[-3000:]}')
                print(failed[-1], flush=True)
                continue
            result['models'][key(name, prec)] = json.loads(
                proc.stdout.strip().splitlines()[-1])
            print(key(name, prec), result['models'][key(name, prec)],
                  flush=True)
            write()
        if all(key(name, q) in result['models'] for q in precisions) \
                and len(precisions) == 2:
            r32, r16 = (result['models'][f'{name} {q}'] for q in precisions)
            result.setdefault('fp16_over_fp32', {})[name] = dict(
                train=round(r16['train_images_per_s'] /
                            r32['train_images_per_s'], 2),
                infer_1024=round(r16['infer_fps_1024'] /
                                 r32['infer_fps_1024'], 2))
            print(name, 'fp16/fp32', result['fp16_over_fp32'][name])
    for name, _, _ in MODELS:
        for prec in precisions:
            ours = result['models'].get(key(name, prec))
            stock = result['models'].get(key(name + ' stock', prec))
            if ours is None or stock is None:
                continue
            result.setdefault('ours_over_stock', {})[key(name, prec)] = dict(
                train_s=round(ours['train_s_per_iter'] /
                              stock['train_s_per_iter'], 3),
                infer_s_1024=round(ours['infer_s_1024'] /
                                   stock['infer_s_1024'], 3))
            print(key(name, prec), 'ours/stock',
                  result['ours_over_stock'][key(name, prec)])
    result['pipeline_samples_per_s_512_to_256'] = measure_pipelines(
        data_root)
    print(result['pipeline_samples_per_s_512_to_256'])
    write()
    print(f'written to {out}')
    if failed:
        raise SystemExit(f'{len(failed)} measurement(s) failed; the first:\n'
                         + failed[0])
    return result

"""Speed and memory: training and inference throughput per model, data
pipeline throughput (object-aware crop vs RandomCrop).

    python tools/benchmark_speed.py [--device auto] [--batch-size 2] [--crop 256]

Each model and precision is measured in its own process (peak memory is
that process's: resident memory on a CPU, ``max_memory_allocated`` on a
GPU): training seconds/iteration (``--batch-size`` crops of ``--crop`` px,
after warm-up iterations), inference images/s at 256 x 256 and seconds per
1024 x 1024 frame (mean of ``--frames-1024``), fresh weights. On a GPU
every model is measured in fp32 and in fp16 AMP (AmpOptimWrapper; autocast
for inference) and the fp16/fp32 ratios are written; on a CPU the configs'
AMP falls back to fp32 and only fp32 is measured. The measuring code is
droplet_mmdet/apis/speed.py.
"""
import argparse
import json
import os.path as osp
import shlex
import sys

from droplet_mmdet.apis.speed import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--out', default=None,
                   help='default: benchmarks/speed.json on a CPU, '
                   'benchmarks/speed_gpu.json on a GPU')
    p.add_argument('--data-root', default='data/bench_droplets')
    p.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                   default='auto')
    p.add_argument('--batch-size', type=int, default=2)
    p.add_argument('--crop', type=int, default=256,
                   help='training crop size (px)')
    p.add_argument('--frames-1024', type=int, default=None,
                   help='1024 x 1024 frames timed (default 2 on a CPU, '
                   '20 on a GPU)')
    p.add_argument('--models', nargs='+', default=None,
                   help='names of the models to measure (default: all): '
                   + ', '.join(repr(m[0]) for m in MODELS))
    p.add_argument('--one', nargs=3, metavar=('CONFIG', 'ITERS', 'PREC'),
                   help=argparse.SUPPRESS)
    args = p.parse_args()
    import torch
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    elif device == 'cuda' and not torch.cuda.is_available():
        p.error('--device cuda: torch sees no GPU')
    frames = args.frames_1024 or (2 if device == 'cpu' else 20)
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis import speed
    if args.one:
        print(json.dumps(speed.measure_model(
            args.one[0], int(args.one[1]), args.data_root, device,
            args.one[2], args.batch_size, args.crop, frames)))
        return
    out = args.out or osp.join(
        ROOT, 'benchmarks',
        'speed.json' if device == 'cpu' else 'speed_gpu.json')
    speed.run_speed_benchmark(
        [sys.executable, osp.abspath(__file__)],
        osp.join(ROOT, 'configs/droplet'), args.data_root, device,
        args.batch_size, args.crop, frames, out,
        shlex.join(['python', 'tools/benchmark_speed.py'] + sys.argv[1:]),
        models=args.models)


if __name__ == '__main__':
    main()

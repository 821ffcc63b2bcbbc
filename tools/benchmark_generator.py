"""Benchmark the synthetic droplet generator on one CPU core.

    python tools/benchmark_generator.py [--frames 200] [--presets v2 v1] [--out benchmarks/generator.json]

Measures, per preset (``v2``: the default ``FrameSpec()``; ``v1``:
``FrameSpec.v1()``), (a) rendering alone and (b) the full writer (render +
RLE + PNG + JSON, streamed to a temporary folder), in frames/s for
512 x 512 frames, and the peak resident memory after 1/4 and all of the
frames (flat memory = no growth with dataset size). Frames/s are given by
wall clock and by the process's CPU time (``*_cpu``): on a machine shared
with other jobs the CPU-time figure is the one-core speed.
"""
import argparse
import json
import os
import resource
import tempfile
import time


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS'):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn):
    """``(result, wall seconds, CPU seconds)`` of ``fn()``."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench(preset, frames, size):
    from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame
    from droplet_mmdet.datasets.synthetic.coco import write_split
    spec = FrameSpec.preset(preset, height=size, width=size)
    render_frame(spec, 0)  # warm-up
    n_drops, wall, cpu = timed(lambda: sum(
        len(render_frame(spec, i)[1]) for i in range(frames)))
    with tempfile.TemporaryDirectory() as tmp:
        quarter = max(1, frames // 4)
        write_split(tmp, 'warm', spec, quarter, seed=1, progress=False)
        rss_quarter = rss_mb()
        _, w_wall, w_cpu = timed(lambda: write_split(
            tmp, 'full', spec, frames, seed=2, progress=False))
        rss_full = rss_mb()
    return dict(
        droplets_per_frame=round(n_drops / frames, 1),
        render_fps_1core=round(frames / wall, 1),
        render_fps_cpu=round(frames / cpu, 1),
        write_fps_1core=round(frames / w_wall, 1),
        write_fps_cpu=round(frames / w_cpu, 1),
        rss_mb_after_quarter=round(rss_quarter, 1),
        rss_mb_after_full=round(rss_full, 1))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=200)
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--presets', nargs='+', default=['v2', 'v1'],
                   choices=['v1', 'v2'])
    p.add_argument('--out', default='benchmarks/generator.json')
    args = p.parse_args()
    os.environ['OMP_NUM_THREADS'] = '1'
    import cv2
    cv2.setNumThreads(1)
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    result = dict(frame_size=[args.size, args.size], frames=args.frames,
                  load_average=[round(v, 2) for v in os.getloadavg()],
                  presets={p: bench(p, args.frames, args.size)
                           for p in args.presets},
                  command='python tools/benchmark_generator.py --frames '
                  f'{args.frames} --size {args.size} --presets '
                  f'{" ".join(args.presets)}')
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()

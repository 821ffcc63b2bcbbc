"""Benchmark the synthetic droplet generator on one CPU core.

    python tools/benchmark_generator.py [--frames 200] [--out benchmarks/generator.json]

Measures (a) rendering alone and (b) the full writer (render + RLE + PNG +
JSON, streamed to a temporary folder), in frames/s for 512 x 512 frames with
the default spec (~150 droplets), and the peak resident memory after 1/4 and
all of the frames (flat memory = no growth with dataset size).
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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--frames', type=int, default=200)
    p.add_argument('--size', type=int, default=512)
    p.add_argument('--out', default='benchmarks/generator.json')
    args = p.parse_args()
    os.environ['OMP_NUM_THREADS'] = '1'
    import cv2
    cv2.setNumThreads(1)
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    except (AttributeError, OSError):
        pass
    from droplet_mmdet.datasets.synthetic import FrameSpec, render_frame
    from droplet_mmdet.datasets.synthetic.coco import write_split
    spec = FrameSpec(height=args.size, width=args.size)

    render_frame(spec, 0)  # warm-up
    t = time.perf_counter()
    n_drops = 0
    for i in range(args.frames):
        n_drops += len(render_frame(spec, i)[1])
    render_fps = args.frames / (time.perf_counter() - t)

    with tempfile.TemporaryDirectory() as tmp:
        quarter = max(1, args.frames // 4)
        write_split(tmp, 'warm', spec, quarter, seed=1, progress=False)
        rss_quarter = rss_mb()
        t = time.perf_counter()
        write_split(tmp, 'full', spec, args.frames, seed=2, progress=False)
        write_fps = args.frames / (time.perf_counter() - t)
        rss_full = rss_mb()
    result = dict(
        frame_size=[args.size, args.size], frames=args.frames,
        droplets_per_frame=round(n_drops / args.frames, 1),
        render_fps_1core=round(render_fps, 1),
        write_fps_1core=round(write_fps, 1),
        rss_mb_after_quarter=round(rss_quarter, 1),
        rss_mb_after_full=round(rss_full, 1),
        command='python tools/benchmark_generator.py --frames '
        f'{args.frames} --size {args.size}')
    os.makedirs(os.path.dirname(args.out) or '.', exist_ok=True)
    with open(args.out, 'w') as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))


if __name__ == '__main__':
    main()

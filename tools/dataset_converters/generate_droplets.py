"""Write a synthetic microfluidic droplet dataset in COCO format.

    python tools/dataset_converters/generate_droplets.py data/synthetic_droplets \
        --train 200 --val 20 --size 512 512 --seed 0

Writes ``train/``, ``val/`` (PNG frames), ``train.json``/``val.json`` (COCO
instances with RLE masks), ``*_droplets.json`` (per-droplet ground truth:
centre, true diameter, border cut) and ``gallery.png``.
"""
import argparse
import dataclasses
import json
import time


def parse_args():
    from droplet_mmdet.datasets.synthetic import FrameSpec
    d = FrameSpec()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out_dir', help='output folder')
    p.add_argument('--train', type=int, default=200, help='train frames')
    p.add_argument('--val', type=int, default=20, help='val frames')
    p.add_argument('--size', type=int, nargs=2, default=[d.height, d.width],
                   metavar=('H', 'W'), help='frame size in px')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--area', type=float, nargs=2, default=list(d.mean_area),
                   metavar=('LO', 'HI'),
                   help='range of the mean droplet area, px^2')
    p.add_argument('--size-cv', type=float, default=d.size_cv)
    p.add_argument('--polydisperse', action='store_true')
    p.add_argument('--layout', default=d.layout,
                   choices=['mixed', 'sparse', 'packed', 'channel'])
    p.add_argument('--look', default=d.look,
                   choices=['brightfield', 'fluorescence', 'mixed'])
    p.add_argument('--no-border-cut', action='store_true',
                   help='keep droplets whole inside the frame')
    p.add_argument('--spec', help='JSON file of further FrameSpec fields')
    p.add_argument('--gallery', type=int, default=16,
                   help='frames in gallery.png (0: none)')
    return p.parse_args()


def main():
    args = parse_args()
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    fields = dict(
        height=args.size[0], width=args.size[1], mean_area=tuple(args.area),
        size_cv=args.size_cv, polydisperse=args.polydisperse,
        layout=args.layout, look=args.look,
        border_cut=not args.no_border_cut)
    if args.spec:
        with open(args.spec) as f:
            extra = json.load(f)
        known = {f.name for f in dataclasses.fields(FrameSpec)}
        unknown = set(extra) - known
        if unknown:
            raise SystemExit(f'{args.spec}: unknown FrameSpec fields '
                             f'{sorted(unknown)}; known: {sorted(known)}')
        fields.update(extra)
    spec = FrameSpec(**fields)
    t = time.time()
    stats = generate_dataset(args.out_dir, spec,
                             dict(train=args.train, val=args.val),
                             seed=args.seed, gallery=args.gallery)
    for split, s in stats.items():
        print(f'{split}: {s["frames"]} frames, {s["droplets"]} droplets')
    print(f'wrote {args.out_dir} in {time.time() - t:.1f}s')


if __name__ == '__main__':
    main()

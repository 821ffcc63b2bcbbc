"""Write a synthetic microfluidic droplet dataset in COCO format.

    python tools/dataset_converters/generate_droplets.py data/synthetic_droplets \
        --train 200 --val 20 --size 512 512 --seed 0 [--preset v1]

Writes ``train/``, ``val/`` (PNG frames; 16-bit with ``--output-bits 16``),
``train.json``/``val.json`` (COCO instances with RLE masks),
``*_droplets.json`` (per-droplet ground truth: centre, true diameter, border
cut) and ``gallery.png``.

``--preset v2`` (default) randomises every realism knob per frame (sizes,
depth, outlines, background, artefacts); ``--preset v1`` is the first
generator's look, byte for byte. The flags below override the preset;
``--spec`` takes any other ``FrameSpec`` field from a JSON file.
"""
import argparse
import dataclasses
import json
import time


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out_dir', help='output folder')
    p.add_argument('--train', type=int, default=200, help='train frames')
    p.add_argument('--val', type=int, default=20, help='val frames')
    p.add_argument('--size', type=int, nargs=2, default=[512, 512],
                   metavar=('H', 'W'), help='frame size in px')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--preset', default='v2', choices=['v1', 'v2'],
                   help='v2: realism v2 (default); v1: the first look')
    p.add_argument('--area', type=float, nargs=2, metavar=('LO', 'HI'),
                   help='range of the mean droplet area, px^2')
    p.add_argument('--size-cv', type=float,
                   help='monodisperse CV of the area')
    p.add_argument('--polydisperse', action='store_true',
                   help='make every frame polydisperse')
    p.add_argument('--poly-cv', type=float, nargs=2, metavar=('LO', 'HI'),
                   help='range of the diameter CV of polydisperse frames')
    p.add_argument('--diameter-range', type=float, nargs=2,
                   metavar=('LO', 'HI'), help='droplet diameters, px')
    p.add_argument('--layout',
                   choices=['mixed', 'sparse', 'packed', 'channel'])
    p.add_argument('--look', choices=['brightfield', 'fluorescence', 'mixed'])
    p.add_argument('--no-border-cut', action='store_true',
                   help='keep droplets whole inside the frame')
    p.add_argument('--defocus', type=float, nargs=2, metavar=('LO', 'HI'),
                   help='range of the per-frame defocus bound (0 0: off)')
    p.add_argument('--label-defocus',
                   help="|defocus| above which droplets are unlabelled "
                   "background ('none': label all)")
    p.add_argument('--artefact-prob', type=float,
                   help='chance of fringes / motion blur / JPEG per frame')
    p.add_argument('--output-bits', type=int, choices=[8, 16])
    p.add_argument('--bit-depth', type=int, help='sensor bits')
    p.add_argument('--spec', help='JSON file of further FrameSpec fields')
    p.add_argument('--gallery', type=int, default=16,
                   help='frames in gallery.png (0: none)')
    return p.parse_args(argv)


def build_spec(args):
    """The ``FrameSpec`` the flags ask for: the preset, then the flags that
    were given, then ``--spec``."""
    from droplet_mmdet.datasets.synthetic import FrameSpec
    fields = dict(height=args.size[0], width=args.size[1])
    given = dict(mean_area=args.area, size_cv=args.size_cv,
                 poly_cv=args.poly_cv, diameter_range=args.diameter_range,
                 layout=args.layout, look=args.look, defocus=args.defocus,
                 artefact_prob=args.artefact_prob,
                 output_bits=args.output_bits, bit_depth=args.bit_depth)
    for k, v in given.items():
        if v is not None:
            fields[k] = tuple(v) if isinstance(v, list) else v
    if args.polydisperse:
        fields['polydisperse'] = True
    if args.no_border_cut:
        fields['border_cut'] = False
    if args.label_defocus is not None:
        fields['label_defocus'] = (None if args.label_defocus.lower()
                                   == 'none' else float(args.label_defocus))
    if args.spec:
        with open(args.spec) as f:
            extra = json.load(f)
        known = {f.name for f in dataclasses.fields(FrameSpec)}
        unknown = set(extra) - known
        if unknown:
            raise SystemExit(f'{args.spec}: unknown FrameSpec fields '
                             f'{sorted(unknown)}; known: {sorted(known)}')
        fields.update((k, tuple(v) if isinstance(v, list) else v)
                      for k, v in extra.items())
    return FrameSpec.preset(args.preset, **fields)


def main(argv=None):
    args = parse_args(argv)
    from droplet_mmdet.datasets.synthetic import generate_dataset
    spec = build_spec(args)
    t = time.time()
    stats = generate_dataset(args.out_dir, spec,
                             dict(train=args.train, val=args.val),
                             seed=args.seed, gallery=args.gallery)
    for split, s in stats.items():
        print(f'{split}: {s["frames"]} frames, {s["droplets"]} droplets')
    print(f'wrote {args.out_dir} in {time.time() - t:.1f}s')


if __name__ == '__main__':
    main()

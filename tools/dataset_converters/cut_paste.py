"""Compose new labelled frames from a few labelled real ones (cut and paste).

    python tools/dataset_converters/cut_paste.py ANN_FILE IMG_ROOT OUT_DIR \
        --num-source-frames 5 --num-frames 200 --val-frames 20 --seed 0

Cuts the labelled droplets and an empty background (interpolated, or
filled from the other frames) out of the first N labelled frames of
ANN_FILE (or --image-ids), and composes new frames: a background crop,
droplets pasted at a random scale, flip and quarter turn, later pastes in
front, masks exact. Writes ``train/``
(``val/``) PNG frames, ``train.json`` (COCO, RLE masks, each with its
``droplet_diameter``), ``train_droplets.json`` (per-droplet truth),
``cut_paste_report.json`` and ``gallery.png``, in the layout of
``generate_droplets.py``. Val frames come from the same source droplets:
they measure fit to these frames, not generalisation.
"""
import argparse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file', help='COCO json of the labelled frames')
    p.add_argument('img_root', help='folder the json file_names start in')
    p.add_argument('out_dir', help='output folder')
    src = p.add_mutually_exclusive_group()
    src.add_argument('--num-source-frames', type=int, default=5,
                     help='use the first N labelled images of the json')
    src.add_argument('--image-ids', type=int, nargs='+',
                     help='use exactly these image ids')
    p.add_argument('--num-frames', type=int, default=200,
                   help='train frames to compose')
    p.add_argument('--val-frames', type=int, default=0,
                   help='val frames to compose (0: no val split)')
    p.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                   help='frame size (default: the first source frame\'s)')
    p.add_argument('--scale', type=float, nargs=2, default=[0.8, 1.25],
                   metavar=('LO', 'HI'), help='droplet scale range')
    n = p.add_mutually_exclusive_group()
    n.add_argument('--count', type=int, nargs=2, metavar=('LO', 'HI'),
                   help='droplets pasted per frame')
    n.add_argument('--density-factor', type=float, nargs=2,
                   default=[0.8, 1.2], metavar=('LO', 'HI'),
                   help='droplets per frame = source density x this '
                   '(default)')
    p.add_argument('--blend', choices=['alpha', 'poisson'], default='alpha')
    p.add_argument('--feather', type=float, default=1.0,
                   help='alpha blending: feather width, px')
    p.add_argument('--max-occlusion', type=float, default=0.5,
                   help='redraw a position that would hide more than this '
                   'fraction of an earlier droplet (1: any overlap)')
    p.add_argument('--min-visible-area', type=int, default=10,
                   help='drop pasted droplets with fewer visible px')
    p.add_argument('--min-visible-fraction', type=float, default=0.25,
                   help='drop pasted droplets with less of their in-frame '
                   'area visible')
    p.add_argument('--no-flip-rot', action='store_true',
                   help='no flips or quarter turns (droplets, backgrounds)')
    p.add_argument('--background', choices=['inpaint', 'frames'],
                   default='inpaint',
                   help='fill removed droplets by inpainting, or (frames '
                   'of one fixed view) with the other source frames\' '
                   'pixels')
    p.add_argument('--keep-border-cut', action='store_true',
                   help='harvest droplets cut by the source frame border')
    p.add_argument('--keep-occluded', action='store_true',
                   help='harvest overlapping / cut-by-a-neighbour droplets')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--gallery', type=int, default=16,
                   help='frames in gallery.png (0: none)')
    return p.parse_args()


def main():
    args = parse_args()
    from droplet_mmdet.datasets.synthetic.cutpaste_io import (
        cut_paste_dataset, format_report)
    splits = dict(train=args.num_frames)
    if args.val_frames:
        splits['val'] = args.val_frames
    try:
        report = cut_paste_dataset(
            args.ann_file, args.img_root, args.out_dir, splits,
            num_source_frames=(None if args.image_ids
                               else args.num_source_frames),
            image_ids=args.image_ids, size=args.size, seed=args.seed,
            harvest_cfg=dict(background=args.background,
                             keep_border_cut=args.keep_border_cut,
                             keep_occluded=args.keep_occluded),
            gallery=args.gallery, count=args.count,
            density_factor=tuple(args.density_factor),
            scale=tuple(args.scale),
            blend=args.blend, feather=args.feather,
            max_occlusion=args.max_occlusion,
            min_visible_area=args.min_visible_area,
            min_visible_fraction=args.min_visible_fraction,
            flip_rot=not args.no_flip_rot)
    except (FileNotFoundError, ValueError) as err:
        raise SystemExit(f'error: {err}')
    print(format_report(report))
    print(f'wrote {args.out_dir}')


if __name__ == '__main__':
    main()

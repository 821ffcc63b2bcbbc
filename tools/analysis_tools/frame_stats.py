"""Per-frame size, contrast and edge sharpness of the labelled droplets.

    python tools/analysis_tools/frame_stats.py VAL.json --img-dir DIR
    python tools/analysis_tools/frame_stats.py VAL.json --img-dir DIR \
        --reference TRAIN.json [--reference-img-dir DIR2] [--out stats.json]

Prints one line per frame: droplets, median equivalent diameter (px),
median contrast and median edge sharpness of its labelled droplets
(droplet_mmdet/analysis/frames.py says how each is measured). With
--reference (the frames a model trained on) each frame also gets the share
of reference frames that are less sharp than it: a frame blurrier than
nearly every training frame is where a model under-scores its droplets and
a single count threshold under-counts.
"""
import argparse
import json
import sys


def _fmt(v, spec):
    return '-' if v is None else format(v, spec)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file', help='COCO instances json')
    p.add_argument('--img-dir', required=True,
                   help='folder the file_name values are in')
    p.add_argument('--reference', metavar='REF_JSON',
                   help='COCO json of the frames to compare with (e.g. the '
                   'training split)')
    p.add_argument('--reference-img-dir',
                   help='image folder of --reference (default --img-dir)')
    p.add_argument('--out', help='write every figure to this JSON file')
    args = p.parse_args()
    from droplet_mmdet.analysis import frame_stats, rank_against
    try:
        rows = frame_stats(args.ann_file, args.img_dir, progress=True)
        ref = None
        if args.reference:
            ref = frame_stats(args.reference, args.reference_img_dir
                              or args.img_dir, progress=True)
    except ValueError as err:
        sys.exit(str(err))
    ranks = rank_against(rows, ref) if ref else [None] * len(rows)
    for r, rank in zip(rows, ranks):
        r['sharper_than_reference_pct'] = rank
    name_w = max([len('frame')] + [len(r['file_name']) for r in rows])
    head = (f'{"frame":<{name_w}}  droplets  diameter  contrast  sharpness'
            + ('  sharper than % of reference' if ref else ''))
    print(head)
    for r in rows:
        line = (f'{r["file_name"]:<{name_w}}  {r["droplets"]:>8d}  '
                f'{_fmt(r["diameter"], ">8.1f")}  '
                f'{_fmt(r["contrast"], ">8.2f")}  '
                f'{_fmt(r["sharpness"], ">9.3f")}')
        if ref:
            line += f'  {_fmt(r["sharper_than_reference_pct"], ">28.0f")}'
        print(line)
    if ref:
        vals = sorted(r['sharpness'] for r in ref
                      if r['sharpness'] is not None)
        if vals:
            print(f'{args.reference}: {len(ref)} frames, median sharpness '
                  f'{vals[0]:.3f} to {vals[-1]:.3f}')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(ann_file=args.ann_file, frames=rows,
                           reference=args.reference, reference_frames=ref),
                      f, indent=1)
        print(f'wrote {args.out}')


if __name__ == '__main__':
    main()

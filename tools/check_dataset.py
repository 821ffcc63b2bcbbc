"""Check a COCO instance file (and its images); optionally repair it.

    python tools/check_dataset.py ANN.json --img-dir DIR            # report
    python tools/check_dataset.py ANN.json --img-dir DIR --strict   # fail on any problem
    python tools/check_dataset.py ANN.json --img-dir DIR --repair OUT.json

Each problem is printed with the file, image or annotation it concerns.
--repair writes a copy with only the safe fixes (paths, image and
annotation ids, boxes and polygons clipped to the image, short polygon
parts, missing or zero areas recomputed, exact copies of an annotation
dropped; see droplet_mmdet/datasets/check.py) and says how many of each it
changed and which annotations it dropped (only those with nothing left
inside the image, of 0 px or exact copies); what it cannot fix (missing
images, ambiguous duplicate image ids, RLE masks of another frame size,
...) is listed and makes
the command exit with status 1.
"""
import argparse
import json
import sys
from collections import Counter


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('ann_file')
    p.add_argument('--img-dir', help='folder the file_name values are in')
    g = p.add_mutually_exclusive_group()
    g.add_argument('--strict', action='store_true')
    g.add_argument('--repair', metavar='OUT_JSON')
    p.add_argument('--max-lines', type=int, default=50)
    args = p.parse_args()
    from droplet_mmdet.datasets.check import (check_coco, dropped_count,
                                              repair_coco)
    from droplet_mmdet.evaluation.coco_utils import load_json
    try:
        data = load_json(args.ann_file)
    except (FileNotFoundError, ValueError) as err:
        sys.exit(str(err))
    problems = check_coco(data, args.img_dir, args.ann_file)
    counts = Counter(pr.kind for pr in problems)
    for pr in problems[:args.max_lines]:
        print(pr)
    if len(problems) > args.max_lines:
        print(f'... and {len(problems) - args.max_lines} more')
    print(f'{args.ann_file}: {len(data["images"])} images, '
          f'{len(data["annotations"])} annotations, {len(problems)} '
          'problems' + (': ' + ', '.join(
              f'{k} {v}' for k, v in sorted(counts.items()))
              if problems else ''))
    if args.strict and problems:
        sys.exit(1)
    if args.repair:
        fixed, changes, notes = repair_coco(data)
        with open(args.repair, 'w') as f:
            json.dump(fixed, f)
        for line in notes[:args.max_lines]:
            print(line)
        if len(notes) > args.max_lines:
            print(f'... and {len(notes) - args.max_lines} more')
        print(f'wrote {args.repair}; changed: ' + (', '.join(
            f'{k} {v}' for k, v in sorted(changes.items())) or 'nothing') +
              f'; annotations {len(data["annotations"])} -> '
              f'{len(fixed["annotations"])} ({dropped_count(changes)} '
              'dropped)')
        left = [pr for pr in check_coco(fixed, args.img_dir, args.repair)
                if not pr.safe]
        if left:
            print(f'{len(left)} problems need a person:')
            for pr in left[:args.max_lines]:
                print(pr)
            sys.exit(1)


if __name__ == '__main__':
    main()

"""Check a COCO instance file (and its images); optionally repair it.

    python tools/check_dataset.py ANN.json --img-dir DIR            # report
    python tools/check_dataset.py ANN.json --img-dir DIR --strict   # fail on any problem
    python tools/check_dataset.py ANN.json --img-dir DIR --repair OUT.json

Each problem is printed with the file, image or annotation it concerns.
--repair writes a copy with only the safe fixes (paths, ids, clipped boxes,
short polygons, zero areas) and says how many of each it changed; what it
cannot fix is listed and makes the command exit with status 1.
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
    from droplet_mmdet.datasets.check import check_coco, repair_coco
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
        fixed, changes = repair_coco(data)
        with open(args.repair, 'w') as f:
            json.dump(fixed, f)
        print(f'wrote {args.repair}; changed: ' + (', '.join(
            f'{k} {v}' for k, v in sorted(changes.items())) or 'nothing') +
              f'; annotations {len(data["annotations"])} -> '
              f'{len(fixed["annotations"])}')
        left = [pr for pr in check_coco(fixed, args.img_dir, args.repair)
                if not pr.safe]
        if left:
            print(f'{len(left)} problems need a person:')
            for pr in left[:args.max_lines]:
                print(pr)
            sys.exit(1)


if __name__ == '__main__':
    main()

"""Convert a folder of labelme JSON files into COCO instance file(s).

    python tools/dataset_converters/labelme2coco.py LABELME_DIR OUT.json [--labels droplet] [--img-dir DIR] [--file-root DIR]
    python tools/dataset_converters/labelme2coco.py LABELME_DIR OUT_DIR --val-pattern C1S0024 [--img-dir DIR] [--file-root DIR]

Circles, polygons and rectangles are converted; every other shape
(linestrip, line, point, ...) is listed with its file and label. Each
image is looked for at ``imagePath`` relative to its labelme file, then
by file name under ``--img-dir`` (alias ``--image-dir``), then in the
``images/`` folder beside the labelme file's folder (the labelme /
X-AnyLabeling layout ``labels/`` + ``images/``). An image found in none of
these places is an error naming the labelme file and the paths tried, and
nothing is written; with ``--skip-missing`` the files are written without
those frames, which are counted and listed. With ``--val-pattern REGEX``
the files whose name matches (``re.search``) go to OUT_DIR/val.json, the
others to OUT_DIR/train.json (same categories, ids from 1 in each).
``file_name`` values are written relative to ``--file-root`` (default: the
folder of the output file).
"""
import argparse
import os.path as osp
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('labelme_dir')
    p.add_argument('out', help='OUT.json, or OUT_DIR with --val-pattern')
    p.add_argument('--labels', nargs='+', default=None,
                   help='category names (default: every label found)')
    p.add_argument('--circle-points', type=int, default=48)
    p.add_argument('--img-dir', '--image-dir', dest='img_dir', default=None,
                   help='where images are when imagePath, relative to the '
                   'labelme file, does not exist (matched by file name; '
                   'the images/ folder beside the labelme folder is tried '
                   'after it)')
    p.add_argument('--skip-missing', action='store_true',
                   help='write the output without the frames whose image '
                   'is not found (listed and counted) instead of failing')
    p.add_argument('--val-pattern', default=None,
                   help='regex searched in each labelme file name: matches '
                   '-> OUT_DIR/val.json, the rest -> OUT_DIR/train.json')
    p.add_argument('--file-root', default=None,
                   help='write file_name relative to this folder (default: '
                   'the folder of the output json)')
    args = p.parse_args()
    from droplet_mmdet.datasets.converters import (coco_summary,
                                                   convert_labelme_folder,
                                                   write_coco)
    try:
        conv = convert_labelme_folder(args.labelme_dir, args.val_pattern,
                                      args.labels, args.circle_points,
                                      args.img_dir)
    except ValueError as err:
        raise SystemExit(str(err))
    missing = conv.missing_images
    if missing and not args.skip_missing:
        print(f'error: {len(missing)} images not found, nothing written '
              '(--img-dir? --skip-missing writes the rest):\n  '
              + '\n  '.join(missing), file=sys.stderr)
        sys.exit(1)
    for split, coco in conv.cocos.items():
        out = args.out if split == 'all' else osp.join(args.out,
                                                       f'{split}.json')
        write_coco(coco, out, args.file_root)
        s = coco_summary(coco)
        print(f'{len(conv.files[split])} files -> {out}: {s["images"]} '
              f'images, {s["annotations"]} annotations, categories '
              f'{[c["name"] for c in coco["categories"]]}, equivalent '
              'diameter p10/p50/p90 '
              + '/'.join(map(str, s['diameter_p10_50_90'])) + ' px')
    if conv.report:
        print(f'{len(conv.report)} not converted:')
        for line in conv.report:
            print('  ' + line)
    if missing:
        print(f'{len(missing)} frames left out (--skip-missing): image not '
              'found (listed above)')


if __name__ == '__main__':
    main()

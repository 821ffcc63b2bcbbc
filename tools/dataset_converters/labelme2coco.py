"""Convert a folder of labelme JSON files into a COCO instance file.

    python tools/dataset_converters/labelme2coco.py LABELME_DIR OUT.json [--labels droplet]

Circles, polygons and rectangles are converted; every other shape is listed
with its file and label. ``file_name`` values are written relative to the
folder of OUT.json.
"""
import argparse
import glob
import json
import os
import os.path as osp


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('labelme_dir')
    p.add_argument('out_json')
    p.add_argument('--labels', nargs='+', default=None,
                   help='category names (default: every label found)')
    p.add_argument('--circle-points', type=int, default=48)
    args = p.parse_args()
    from droplet_mmdet.datasets.converters import labelme_to_coco
    files = sorted(glob.glob(osp.join(args.labelme_dir, '**', '*.json'),
                             recursive=True))
    if not files:
        raise SystemExit(f'{args.labelme_dir}: no labelme .json files')
    coco, report = labelme_to_coco(files, args.labels, args.circle_points)
    root = osp.dirname(osp.abspath(args.out_json))
    for im in coco['images']:
        im['file_name'] = osp.relpath(osp.abspath(im['file_name']), root)
    os.makedirs(root, exist_ok=True)
    with open(args.out_json, 'w') as f:
        json.dump(coco, f)
    print(f'{len(files)} files -> {args.out_json}: {len(coco["images"])} '
          f'images, {len(coco["annotations"])} annotations, categories '
          f'{[c["name"] for c in coco["categories"]]}')
    if report:
        print(f'{len(report)} not converted:')
        for line in report:
            print('  ' + line)


if __name__ == '__main__':
    main()

"""Synthetic renders beside crops of real frames, at the same crop size.

    python tools/analysis_tools/render_gallery.py \
        --real ../shared/datasets/bubbles/annotations/instances_val.json ../shared/datasets/bubbles/val \
        --real data/zerog_bubbles/annotations/train.json ../shared/datasets/zerog_bubbles/images \
        --crop 256 --cols 6 --out benchmarks/gallery_v2_vs_real.png [--outlines] [--preset v1]

Writes one PNG: a labelled row of random crops (``--crop`` px, native
resolution, seeded) per real COCO set (``--real ANN_FILE IMAGE_ROOT``,
repeatable; without it, the bubbles and zerog_bubbles sets are used where
they exist), then rows of synthetic frames rendered at the crop size with
the chosen preset (and ``--spec`` JSON overrides). ``--outlines`` draws the
labelled masks (real: the annotations; synthetic: the droplets) so the
labelling conventions can be compared too. Look at it before trusting a
model trained on the renders with real frames.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np

DEFAULT_REAL = (
    ('bubbles', '../shared/datasets/bubbles/annotations/instances_val.json',
     '../shared/datasets/bubbles/val'),
    ('zerog_bubbles', 'data/zerog_bubbles/annotations/train.json',
     '../shared/datasets/zerog_bubbles/images'),
)


def find_image(root: str, file_name: str) -> str:
    """The image of a COCO record under ``root`` (Windows paths too)."""
    name = file_name.replace('\\', '/')
    for cand in (osp.join(root, name), osp.join(root, osp.basename(name)),
                 osp.join(root, 'JPEGImages', osp.basename(name))):
        if osp.isfile(cand):
            return cand
    raise FileNotFoundError(f'{file_name}: not found under {root}')


def real_crops(ann_file: str, root: str, n: int, crop: int, seed: int,
               outlines: bool):
    """``n`` random ``crop`` x ``crop`` grey crops (uint8) of a COCO set's
    images, each holding at least one annotation centre; with
    ``outlines``, BGR crops with the annotations' polygons drawn."""
    import cv2
    with open(ann_file) as f:
        coco = json.load(f)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    images = [im for im in coco['images'] if by_image.get(im['id'])]
    if not images:
        raise SystemExit(f'{ann_file}: no annotated images')
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        info = images[int(rng.integers(len(images)))]
        img = cv2.imread(find_image(root, info['file_name']),
                         cv2.IMREAD_GRAYSCALE)
        H, W = img.shape
        anns = by_image[info['id']]
        x, y, w, h = anns[int(rng.integers(len(anns)))]['bbox']
        # a crop around a random annotation, shifted at random
        x0 = int(np.clip(x + w / 2 - crop * rng.uniform(0.2, 0.8), 0,
                         max(W - crop, 0)))
        y0 = int(np.clip(y + h / 2 - crop * rng.uniform(0.2, 0.8), 0,
                         max(H - crop, 0)))
        tile = np.zeros((crop, crop), np.uint8)
        part = img[y0:y0 + crop, x0:x0 + crop]
        tile[:part.shape[0], :part.shape[1]] = part
        if outlines:
            tile = cv2.cvtColor(tile, cv2.COLOR_GRAY2BGR)
            for ann in anns:
                seg = ann.get('segmentation')
                if isinstance(seg, list):
                    for poly in seg:
                        pts = (np.asarray(poly).reshape(-1, 2) -
                               (x0, y0)).round().astype(np.int32)
                        cv2.polylines(tile, [pts], True, (0, 0, 255), 1)
        out.append(tile)
    return out


def synthetic_tiles(spec, n: int, seed: int, outlines: bool):
    """``n`` rendered frames (uint8; 16-bit output is shown as its top 8
    bits), with the labelled droplets outlined if asked."""
    import cv2

    from droplet_mmdet.datasets.synthetic import render_frame
    out = []
    for k in range(n):
        frame_seed = int(np.random.SeedSequence([seed, k]).generate_state(
            1)[0])
        img, drops, _ = render_frame(spec, frame_seed)
        if img.dtype != np.uint8:
            img = (img >> 8).astype(np.uint8)
        if outlines:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
            for d in drops:
                m = np.zeros(img.shape[:2], np.uint8)
                h, w = d.mask.shape
                m[d.y0:d.y0 + h, d.x0:d.x0 + w] = d.mask
                cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL,
                                         cv2.CHAIN_APPROX_NONE)
                cv2.drawContours(img, cs, -1, (0, 0, 255), 1)
        out.append(img)
    return out


def grid(rows, crop: int, gap: int = 4, label_w: int = 150):
    """One BGR image: a text label, then the row's tiles, per row."""
    import cv2
    cols = max(len(t) for _, t in rows)
    W = label_w + cols * (crop + gap)
    canvas = np.full((len(rows) * (crop + gap), W, 3), 255, np.uint8)
    for r, (label, tiles) in enumerate(rows):
        y = r * (crop + gap)
        for i, line in enumerate(label.split('\n')):
            cv2.putText(canvas, line, (6, y + 24 + 20 * i),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1,
                        cv2.LINE_AA)
        for c, t in enumerate(tiles):
            if t.ndim == 2:
                t = cv2.cvtColor(t, cv2.COLOR_GRAY2BGR)
            x = label_w + c * (crop + gap)
            canvas[y:y + crop, x:x + crop] = t
    return canvas


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--real', nargs=2, action='append',
                   metavar=('ANN_FILE', 'IMAGE_ROOT'),
                   help='a real COCO set (repeatable)')
    p.add_argument('--crop', type=int, default=256)
    p.add_argument('--cols', type=int, default=6)
    p.add_argument('--synthetic-rows', type=int, default=3)
    p.add_argument('--preset', default='v2', choices=['v1', 'v2'])
    p.add_argument('--spec', help='JSON file of FrameSpec overrides')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--outlines', action='store_true',
                   help='draw the labelled masks')
    p.add_argument('--out', default='benchmarks/gallery_v2_vs_real.png')
    args = p.parse_args(argv)
    import cv2

    from droplet_mmdet.datasets.synthetic import FrameSpec
    if args.real:
        real = [(osp.basename(osp.dirname(osp.dirname(a))) or a, a, r)
                for a, r in args.real]
    else:
        real = [(n, a, r) for n, a, r in DEFAULT_REAL
                if osp.isfile(a) and osp.isdir(r)]
    rows = []
    for k, (name, ann, root) in enumerate(real):
        rows.append((f'real:\n{name}', real_crops(
            ann, root, args.cols, args.crop, args.seed + k, args.outlines)))
    extra = {}
    if args.spec:
        with open(args.spec) as f:
            extra = json.load(f)
    spec = FrameSpec.preset(args.preset, height=args.crop, width=args.crop,
                            **extra)
    tiles = synthetic_tiles(spec, args.cols * args.synthetic_rows,
                            args.seed, args.outlines)
    for r in range(args.synthetic_rows):
        rows.append((f'synthetic\n{args.preset}',
                     tiles[r * args.cols:(r + 1) * args.cols]))
    os.makedirs(osp.dirname(args.out) or '.', exist_ok=True)
    canvas = grid(rows, args.crop)
    if not args.outlines:  # grey only: one channel, a third of the bytes
        canvas = canvas[..., 0]
    if not cv2.imwrite(args.out, canvas):
        raise SystemExit(f'{args.out}: could not write')
    print(f'wrote {args.out}: {len(real)} real set(s), '
          f'{len(tiles)} renders of {args.crop} px')


if __name__ == '__main__':
    main()

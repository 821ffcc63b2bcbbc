"""repair_coco on a fuzzed COCO file: a valid file, corrupted at random
(seeded) in every way the check knows, must come back with every
annotation either kept (on its own image) or dropped with a counted
reason, and nothing else changed.

Each annotation carries a ``tag`` (its true image and index), which the
repair passes through untouched, so the test can follow it.
"""
import copy

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from droplet_mmdet.datasets.check import (check_coco, clip_polygon,
                                          dropped_count, repair_coco)

SIZES = [(80, 60), (64, 64), (100, 70), (90, 90), (70, 50), (60, 80)]
AMBIGUOUS = 5  # image 5 shares its id with another image: left alone


def _disc(cx, cy, r, n=16):
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [float(v) for v in np.stack([cx + r * np.cos(t),
                                        cy + r * np.sin(t)], 1).reshape(-1)]


def _extent(poly):
    xs, ys = poly[0::2], poly[1::2]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _valid_coco(rng):
    """6 images; per image 5 disc polygons, 1 RLE disc, 1 box-only
    annotation, all inside their image, with exact areas."""
    images, anns = [], []
    for k, (w, h) in enumerate(SIZES):
        images.append(dict(id=k + 1, file_name=f'img{k}.png', width=w,
                           height=h))
        for j in range(7):
            r = float(rng.uniform(4, 8))
            cx = rng.uniform(r + 1, w - r - 1)
            cy = rng.uniform(r + 1, h - r - 1)
            ann = dict(id=len(anns) + 1, image_id=k + 1, category_id=1,
                       iscrowd=0, tag=f'img{k}.png#{j}')
            poly = _disc(cx, cy, r)
            rle = mask_utils.merge(mask_utils.frPyObjects([poly], h, w))
            if j == 5:
                rle['counts'] = rle['counts'].decode()
                ann.update(segmentation=rle,
                           bbox=mask_utils.toBbox(rle).tolist())
            elif j == 6:
                ann.update(segmentation=[], bbox=_extent(poly))
            else:
                ann.update(segmentation=[poly], bbox=_extent(poly))
            ann['area'] = float(mask_utils.area(rle)) if j != 6 else \
                ann['bbox'][2] * ann['bbox'][3]
            anns.append(ann)
    return dict(images=images, annotations=anns,
                categories=[dict(id=1, name='droplet')])


def _move(ann, dx, dy):
    if isinstance(ann['segmentation'], list):
        ann['segmentation'] = [[v + (dx if i % 2 == 0 else dy)
                                for i, v in enumerate(p)]
                               for p in ann['segmentation']]
    ann['bbox'] = [ann['bbox'][0] + dx, ann['bbox'][1] + dy] + \
        ann['bbox'][2:]


def _fuzz(coco, rng):
    """Corrupt ``coco`` in place; returns ``{tag: corruption}`` and the
    tags expected to be dropped, by reason."""
    size = {im['id']: (im['width'], im['height']) for im in coco['images']}
    done, drops = {}, {}
    for ann in coco['annotations']:
        kind = str(rng.choice(['none', 'no_area', 'zero_area', 'partly_out',
                               'fully_out', 'short_part', 'short_only',
                               'degenerate', 'id']))
        polygon = bool(ann['segmentation']) and isinstance(
            ann['segmentation'], list)
        if ann['image_id'] == AMBIGUOUS + 1 and kind != 'none':
            kind = 'zero_area'  # left as is: the image is not known
        w, h = size[ann['image_id']]
        x, y, bw, bh = ann['bbox']
        if kind == 'no_area':
            del ann['area']
        elif kind == 'zero_area':
            ann['area'] = 0
        elif kind in ('partly_out', 'fully_out'):
            # centre within half a radius of a border, or beyond it
            side = rng.randint(4)
            r = bw / 2
            off = rng.uniform(-0.5, 0.5) * r if kind == 'partly_out' else \
                -(r + 1 + rng.uniform(0, 20))
            cx, cy = x + bw / 2, y + bh / 2
            target = [(off, cy), (w - off, cy), (cx, off), (cx, h - off)][side]
            if not polygon and kind == 'partly_out' and ann['segmentation']:
                # an RLE mask is inside by construction: widen its box
                ann['bbox'] = [x - bw, y - bh, 3 * bw, 3 * bh]
            elif ann['segmentation'] and not polygon:
                kind = 'none'  # an RLE cannot lie outside its image
            else:
                _move(ann, target[0] - cx, target[1] - cy)
        elif kind in ('short_part', 'short_only') and polygon:
            short = [1.0, 1.0, 2.0, 2.0]
            ann['segmentation'] = ann['segmentation'] + [short] \
                if kind == 'short_part' else [short]
        elif kind == 'degenerate' and polygon:
            ann['segmentation'] = [[x, y, x + 5, y, x + 10, y]]
            ann['area'] = 0
        elif kind == 'id':
            ann['id'] = int(rng.choice([0, 1, 2]))
        else:
            kind = 'none'
        done[ann['tag']] = kind
        reason = dict(fully_out='dropped_outside_image',
                      short_only='dropped_short_polygon',
                      degenerate='dropped_zero_area').get(kind)
        if reason:
            drops.setdefault(reason, set()).add(ann['tag'])
    # image ids: 0, an image listed twice, two distinct images sharing an
    # id no annotation uses, two distinct images sharing a used id
    im0 = coco['images'][0]
    for ann in coco['annotations']:
        if ann['image_id'] == im0['id']:
            ann['image_id'] = 0
    im0['id'] = 0
    im0['file_name'] = '.\\' + im0['file_name']
    coco['images'].insert(3, copy.deepcopy(coco['images'][2]))
    coco['images'] += [dict(id=99, file_name='empty_a.png', width=10,
                            height=10),
                       dict(id=99, file_name='empty_b.png', width=20,
                            height=20),
                       dict(id=AMBIGUOUS + 1, file_name='other.png',
                            width=64, height=64)]
    return done, drops


@pytest.mark.parametrize('seed', range(6))
def test_repair_of_fuzzed_file_loses_nothing_unreported(seed):
    rng = np.random.RandomState(seed)
    valid = _valid_coco(rng)
    data = copy.deepcopy(valid)
    done, drops = _fuzz(data, rng)
    before = copy.deepcopy(data)
    fixed, changes, notes = repair_coco(data)
    assert data == before  # input untouched

    # every annotation kept or dropped with a counted reason
    assert len(data['annotations']) == len(fixed['annotations']) + \
        dropped_count(changes)
    kept = {a['tag'] for a in fixed['annotations']}
    for reason in ('dropped_outside_image', 'dropped_short_polygon',
                   'dropped_zero_area'):
        assert changes.get(reason, 0) == len(drops.get(reason, ()))
        assert not kept & drops.get(reason, set())
    assert kept | set().union(*drops.values()) == set(done)
    assert sum(': dropped_' in n for n in notes) == dropped_count(changes)

    # annotations follow their own image
    ims = {}
    for im in fixed['images']:
        ims.setdefault(im['id'], []).append(im)
    assert 0 not in ims
    for ann in fixed['annotations']:
        names = [im['file_name'] for im in ims[ann['image_id']]]
        if ann['image_id'] == AMBIGUOUS + 1:
            assert names == [f'img{AMBIGUOUS}.png', 'other.png']
        else:
            assert names == [ann['tag'].split('#')[0]]
    # the image listed twice is merged, the unused shared id split
    assert [len(v) for k, v in ims.items() if k != AMBIGUOUS + 1] == \
        [1] * (len(ims) - 1)
    assert changes['duplicate_image_merged'] == 1
    assert changes['duplicate_image_id'] == 1
    assert changes['image_id_zero'] == 1
    assert changes['windows_path'] == 1
    assert any('image 6: 2 different images (img5.png, other.png) share '
               'this id and 7 annotations use it' in n for n in notes)

    # what is left is consistent with its image
    orig = {a['tag']: a for a in valid['annotations']}
    for ann in fixed['annotations']:
        if ann['image_id'] == AMBIGUOUS + 1:
            continue  # not touched
        im = ims[ann['image_id']][0]
        w, h = im['width'], im['height']
        x, y, bw, bh = ann['bbox']
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
        assert ann['area'] > 0
        if isinstance(ann['segmentation'], list):
            for p in ann['segmentation']:
                assert len(p) >= 6 and clip_polygon(p, w, h) == p
        kind, src = done[ann['tag']], orig[ann['tag']]
        if kind in ('no_area', 'zero_area'):
            assert ann['area'] == src['area']  # recomputed exactly
        elif kind == 'partly_out' and isinstance(ann['segmentation'], list):
            if ann['segmentation']:
                rle = mask_utils.merge(mask_utils.frPyObjects(
                    ann['segmentation'], h, w))
                assert ann['area'] == float(mask_utils.area(rle))
            else:  # box only
                assert ann['area'] == bw * bh
            assert 0 < ann['area'] < src['area']
    ids = [a['id'] for a in fixed['annotations']]
    assert ids == list(range(1, len(ids) + 1))

    # only the ambiguous id needs a person; a second repair changes nothing
    left = check_coco(fixed)
    assert {p.kind for p in left if not p.safe} == {'ambiguous_image_id'}
    assert all(p.kind == 'ambiguous_image_id' or
               p.where.endswith(f'(image {AMBIGUOUS + 1})') for p in left)
    again, changes2, _ = repair_coco(fixed)
    assert changes2 == {} and again == fixed


def test_clip_polygon_square_and_concave():
    sq = [-5.0, -5.0, 5.0, -5.0, 5.0, 5.0, -5.0, 5.0]
    assert clip_polygon(sq, 10, 10) == [0.0, 0.0, 5.0, 0.0, 5.0, 5.0, 0.0,
                                        5.0]
    assert clip_polygon([20.0, 20, 30, 20, 30, 30], 10, 10) == []
    # a U open to the top, its two arms reaching above y = 0
    u = [0.0, -4, 2, -4, 2, 6, 6, 6, 6, -4, 8, -4, 8, 8, 0, 8]
    rle = mask_utils.frPyObjects([clip_polygon(u, 10, 10)], 10, 10)
    assert mask_utils.area(rle)[0] == 2 * 2 * 6 + 8 * 2

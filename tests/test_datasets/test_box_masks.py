"""Box bitmaps: RLE decoding into boxes, BoxBitmapMasks against mmdet's
BitmapMasks op by op, and LoadDropletAnnotations against mmdet's
LoadAnnotations through whole train pipelines."""
import copy
import json
import random

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures.bbox import HorizontalBoxes, get_box_tensor
from mmdet.structures.mask import BitmapMasks
from pycocotools import mask as mask_utils

import droplet_mmdet  # noqa: F401
from droplet_mmdet.structures import (BoxBitmapMasks, decode_rles_to_boxes,
                                      parse_counts)


def _random_masks(rng, n, h, w):
    """Edge cases (empty, full, corners, multi-part, noise, runs that wrap
    from the bottom of one column to the top of the next) and discs."""
    masks = np.zeros((n, h, w), np.uint8)
    for k in range(n):
        kind = k % 7
        m = masks[k]
        if kind == 0:
            m[:] = rng.random((h, w)) > 0.5
        elif kind == 1:
            m[:] = 1
        elif kind == 2:
            pass
        elif kind == 3:
            m[0, 0] = m[-1, -1] = m[-1, 0] = 1
        elif kind == 4:
            m[-3:, min(2, w - 1)] = 1  # bottom of a column runs on ...
            m[:2, min(3, w - 1)] = 1  # ... into the top of the next
        else:
            cx, cy = rng.uniform(-5, w + 5), rng.uniform(-5, h + 5)
            cv2.circle(m, (int(cx), int(cy)), int(rng.integers(1, 12)), 1,
                       -1)
            if kind == 6:
                cv2.circle(m, (int(rng.integers(0, w)),
                               int(rng.integers(0, h))), 3, 1, -1)
    return masks


def _paste(offsets, bitmaps, h, w):
    out = np.zeros((len(bitmaps), h, w), np.uint8)
    for i, ((x0, y0), b) in enumerate(zip(offsets, bitmaps)):
        out[i, y0:y0 + b.shape[0], x0:x0 + b.shape[1]] = b
    return out


@pytest.mark.parametrize('h,w', [(1, 1), (7, 1), (1, 9), (37, 53), (64, 48)])
def test_rle_decode_into_boxes_equals_pycocotools(h, w):
    rng = np.random.default_rng(h * 100 + w)
    masks = _random_masks(rng, 21, h, w)
    rles = [mask_utils.encode(np.asfortranarray(m)) for m in masks]
    # bytes, str and uncompressed (list) counts mixed in one frame
    counts = []
    for k, r in enumerate(rles):
        if k % 3 == 0:
            counts.append(r['counts'])
        elif k % 3 == 1:
            counts.append(r['counts'].decode())
        else:
            counts.append(_uncompressed(masks[k]))
    offsets, bitmaps = decode_rles_to_boxes(counts, h, w)
    full = _paste(offsets, bitmaps, h, w)
    np.testing.assert_array_equal(
        full, np.stack([mask_utils.decode(r) for r in rles]))
    for m, (x0, y0), b in zip(masks, offsets, bitmaps):  # tight boxes
        ys, xs = np.nonzero(m)
        if len(xs):
            assert (x0, y0) == (xs.min(), ys.min())
            assert b.shape == (np.ptp(ys) + 1, np.ptp(xs) + 1)
        else:
            assert b.shape == (0, 0)


def _uncompressed(m):
    flat = np.asfortranarray(m).ravel(order='F')
    change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]]))
    return np.diff(np.r_[0, change]).tolist()


def test_parse_counts_big_values_and_deltas():
    """Counts above 2^20 and negative deltas (c[m] - c[m-2] < 0)."""
    counts = [3_000_000, 5, 70, 2, 1_000_000, 40_000, 1, 77]
    enc = mask_utils.frPyObjects(
        {'counts': counts, 'size': [1, sum(counts)]}, 1, sum(counts))
    c, seg = parse_counts([enc['counts'], counts])
    assert c.tolist() == counts * 2 and seg.tolist() == [0] * 8 + [1] * 8


def test_rle_decode_rejects_wrong_size():
    ok = mask_utils.encode(np.asfortranarray(np.ones((4, 6), np.uint8)))
    r = mask_utils.encode(np.asfortranarray(np.ones((4, 5), np.uint8)))
    with pytest.raises(ValueError, match=r'RLE 1 covers 20 pixels, not 4 x 6'):
        decode_rles_to_boxes([ok['counts'], r['counts']], 4, 6)


def _pair(seed=0, n=12, h=45, w=61):
    masks = _random_masks(np.random.default_rng(seed), n, h, w)
    return BitmapMasks(masks, h, w), BoxBitmapMasks.from_ndarray(masks)


def _same(box, ref):
    assert isinstance(ref, BitmapMasks)
    assert (box.height, box.width) == (ref.height, ref.width)
    assert len(box) == len(ref)
    np.testing.assert_array_equal(box.to_ndarray(), ref.to_ndarray())


def test_box_masks_ops_equal_bitmap_masks():
    ref, box = _pair()
    _same(box, ref)
    for index in (3, slice(2, 9, 3), [0, 5, 5], np.array([7, 1]),
                  np.arange(12) % 3 == 0, torch.tensor([2, 4]), []):
        _same(box[index], ref[index if not isinstance(index, torch.Tensor)
                              else index.numpy()])
    for bbox in ([0, 0, 61, 45], [10, 5, 40, 30], [-5, -9, 20, 70],
                 [50, 40, 90, 80], [30, 20, 31, 21], [13, 0, 13, 45]):
        _same(box.crop(np.array(bbox)), ref.crop(np.array(bbox)))
    for d in ('horizontal', 'vertical', 'diagonal'):
        _same(box.flip(d), ref.flip(d))
        _same(box.crop(np.array([7, 3, 50, 33])).flip(d),
              ref.crop(np.array([7, 3, 50, 33])).flip(d))
    _same(box.pad((64, 96)), ref.pad((64, 96)))
    _same(box.pad((64, 96), pad_val=1), ref.pad((64, 96), pad_val=1))
    _same(box.expand(80, 90, 7, 11), ref.expand(80, 90, 7, 11))
    np.testing.assert_array_equal(box.areas, ref.areas)
    assert box.areas.dtype == ref.areas.dtype
    np.testing.assert_array_equal(box.get_bboxes('hbox').numpy(),
                                  ref.get_bboxes('hbox').numpy())
    np.testing.assert_array_equal(box.get_bboxes(HorizontalBoxes).numpy(),
                                  ref.get_bboxes(HorizontalBoxes).numpy())
    _same(BoxBitmapMasks.cat([box[:4], box[4:]]),
          BitmapMasks.cat([ref[:4], ref[4:]]))
    torch.testing.assert_close(box.to_tensor(torch.float32, 'cpu'),
                               ref.to_tensor(torch.float32, 'cpu'))
    np.testing.assert_array_equal(box.union(), ref.masks.any(0))
    for a, b in zip(box, ref):
        np.testing.assert_array_equal(a, b)
    # transforms without a box version go through the full bitmaps
    _same(box.translate((45, 61), 5), ref.translate((45, 61), 5))
    _same(box.rotate((45, 61), 30), ref.rotate((45, 61), 30))


@pytest.mark.parametrize('scale', [0.5, 2.0, 0.43, 1.37, 3.1, (80, 40)])
def test_box_masks_rescale_equals_bitmap_masks(scale):
    ref, box = _pair(seed=1)
    _same(box.rescale(scale), ref.rescale(scale))
    crop = np.array([3, 2, 52, 40])
    _same(box.crop(crop).rescale(scale), ref.crop(crop).rescale(scale))
    _same(box.rescale(scale, 'bilinear'), ref.rescale(scale, 'bilinear'))


@pytest.mark.parametrize('shape', [(45, 61), (30, 100), (91, 17), (200, 3)])
def test_box_masks_resize_equals_bitmap_masks(shape):
    ref, box = _pair(seed=2)
    _same(box.resize(shape), ref.resize(shape))


def test_box_masks_crop_and_resize_equals_bitmap_masks():
    ref, box = _pair(seed=3)
    rng = np.random.default_rng(0)
    xy = rng.uniform(-5, 50, (40, 2))
    bboxes = np.concatenate([xy, xy + rng.uniform(1, 30, (40, 2))], 1)
    inds = rng.integers(0, len(box), 40)
    for binarize in (True, False):
        out = box.crop_and_resize(bboxes, (28, 28), inds, binarize=binarize)
        exp = ref.crop_and_resize(bboxes, (28, 28), inds, binarize=binarize)
        _same(out, exp)
    empty = box.crop_and_resize(bboxes[:0], (28, 28), inds[:0])
    assert len(empty) == 0 and empty.height == 28


def test_crop_and_resize_on_dense_touching_droplets():
    """Mask targets of RoIs around touching droplets (each RoI sees its
    neighbours) equal mmdet's, from a few canvases, not one per RoI."""
    h, w = 90, 120
    masks = []
    for cy in range(6, h, 11):
        for cx in range(6 + (cy // 11 % 2) * 5, w, 11):
            m = np.zeros((h, w), np.uint8)
            cv2.circle(m, (cx, cy), 6, 1, -1)  # 13 px, touching
            masks.append(m)
    masks.append(np.zeros((h, w), np.uint8))  # an empty instance
    masks = np.stack(masks)
    ref, box = BitmapMasks(masks, h, w), BoxBitmapMasks.from_ndarray(masks)
    rng = np.random.default_rng(1)
    inds = np.repeat(np.arange(len(masks)), 3)
    gt = ref.get_bboxes('hbox').numpy()[inds]
    gt[inds == len(masks) - 1] = [40, 40, 52, 52]
    wh = gt[:, 2:] - gt[:, :2]
    c = (gt[:, :2] + gt[:, 2:]) / 2 + rng.normal(0, 1.5, (len(inds), 2))
    half = wh * rng.uniform(0.4, 0.8, (len(inds), 1))
    half[::7] *= 3  # some RoIs reach far beyond their droplet
    bboxes = np.concatenate([c - half, c + half], 1).astype(np.float32)
    for binarize in (True, False):
        _same(box.crop_and_resize(bboxes, (28, 28), inds, binarize=binarize),
              ref.crop_and_resize(bboxes, (28, 28), inds,
                                  binarize=binarize))
    canvases, _ = box._canvases(bboxes.astype(np.float64), inds)
    assert len(inds) > 200 and len(canvases) < 40


def test_full_bitmaps_are_read_only():
    """mmdet's RandomErasing writes into ``gt_masks.masks``: on box masks
    that would be lost in a temporary array, so it fails loudly."""
    _, box = _pair()
    with pytest.raises(ValueError, match='read-only'):
        box.masks[:, 2:5, 2:5] = 0


def test_box_masks_are_small():
    """A dense 800 x 1280 frame of 1,000 droplets: megabytes, not a GB."""
    rng = np.random.default_rng(0)
    h, w = 800, 1280
    counts = []
    for _ in range(1000):
        m = np.zeros((h, w), np.uint8)
        cv2.circle(m, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                   12, 1, -1)
        counts.append(mask_utils.encode(np.asfortranarray(m))['counts'])
    offsets, bitmaps = decode_rles_to_boxes(counts, h, w)
    assert sum(b.size for b in bitmaps) < 1000 * 26 * 26
    assert all(b.sum() > 0 for b in bitmaps)


def _coco(tmp_path, formats):
    """One 72 x 90 frame, a droplet in each segmentation format."""
    h, w = 72, 90
    img = np.full((h, w, 3), 40, np.uint8)
    anns = []
    discs = [(12, 12, 9), (45, 30, 14), (80, 60, 11), (30, 62, 8),
             (60, 8, 6), (5, 66, 5)]
    for k, (cx, cy, r) in enumerate(discs):
        fmt = formats[k % len(formats)]
        a = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        poly = np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1)
        m = mask_utils.decode(mask_utils.merge(mask_utils.frPyObjects(
            [poly.ravel().tolist()], h, w)))
        img[m > 0] = 200
        if fmt == 'polygon':
            seg = [poly.ravel().tolist()]
        elif fmt == 'bad_polygon':  # mmdet ignores it
            seg = [[1.0, 2.0, 3.0, 4.0]]
        elif fmt == 'rle':
            seg = mask_utils.encode(np.asfortranarray(m))
            seg['counts'] = seg['counts'].decode()
        else:
            seg = dict(counts=_uncompressed(m), size=[h, w])
        x, y, bw, bh = mask_utils.toBbox(
            mask_utils.encode(np.asfortranarray(m))).tolist()
        anns.append(dict(id=k + 1, image_id=1, category_id=1,
                         segmentation=seg, area=float(m.sum()),
                         bbox=[x, y, bw, bh], iscrowd=0))
    (tmp_path / 'img').mkdir()
    cv2.imwrite(str(tmp_path / 'img' / 'a.png'), img)
    (tmp_path / 'ann.json').write_text(json.dumps(dict(
        images=[dict(id=1, file_name='a.png', height=h, width=w)],
        annotations=anns, categories=[dict(id=1, name='droplet')])))
    return str(tmp_path)


CROPS = {
    'object_aware': [
        dict(type='ObjectAwareRandomCrop', crop_size=(96, 96),
             min_objects=2),
        dict(type='DropletGaussianBlur', prob=1.0),
        dict(type='DropletNoise', prob=1.0),
        dict(type='RandomFlip', prob=0.7,
             direction=['horizontal', 'vertical', 'diagonal']),
        dict(type='Resize', scale_factor=1.37, keep_ratio=True),
        dict(type='Pad', size_divisor=32),
    ],
    'mmdet_random_crop': [
        dict(type='RandomCrop', crop_size=(60, 50), allow_negative_crop=True),
        dict(type='RandomFlip', prob=0.5),
        dict(type='Resize', scale=(111, 77), keep_ratio=False),
    ],
}


def _pipelines(load_type, tail):
    from mmcv.transforms import Compose
    return Compose([
        dict(type='LoadImageFromFile'),
        dict(type=load_type, with_bbox=True, with_mask=True),
        dict(type='RecordDropletSize'), *copy.deepcopy(tail),
        dict(type='PackDropletInputs')
    ])


def _run_both(data_infos, tail, seeds):
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    stock = _pipelines('LoadAnnotations', tail)
    ours = _pipelines('LoadDropletAnnotations', tail)
    n = 0
    for info in data_infos:
        for seed in seeds:
            outs = []
            for pipe in (stock, ours):
                random.seed(seed)
                np.random.seed(seed)
                outs.append(pipe(copy.deepcopy(info)))
            if outs[0] is None:
                assert outs[1] is None
                continue
            (ref, box) = outs
            torch.testing.assert_close(box['inputs'], ref['inputs'])
            for field in ('gt_instances', 'ignored_instances'):
                a = getattr(ref['data_samples'], field)
                b = getattr(box['data_samples'], field)
                assert set(a.keys()) == set(b.keys())
                for key in a.keys():
                    if key == 'masks':
                        assert isinstance(b.masks, BoxBitmapMasks)
                        _same(b.masks, a.masks)
                    else:
                        torch.testing.assert_close(get_box_tensor(b[key]),
                                                   get_box_tensor(a[key]))
            n += len(ref['data_samples'].gt_instances)
    return n


@pytest.mark.parametrize('tail', sorted(CROPS))
def test_pipeline_output_equals_stock_on_synthetic_rle(tiny_droplets, tail):
    """Synthetic frames (compressed RLE): the packed image, boxes, labels,
    droplet sizes and masks equal mmdet's LoadAnnotations path, crop,
    blur, noise, flip, resize and pad included."""
    from mmdet.datasets import CocoDataset
    ds = CocoDataset(data_root=tiny_droplets, ann_file='train.json',
                     data_prefix=dict(img='train/'),
                     metainfo=dict(classes=('droplet', )), pipeline=[])
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert _run_both(infos, CROPS[tail], seeds=(0, 1, 2)) > 30


def test_pipeline_output_equals_stock_on_every_format(tmp_path):
    """Polygons, uncompressed and compressed RLE, and an invalid polygon
    (marked ignored by both) give the stock masks."""
    from mmdet.datasets import CocoDataset
    root = _coco(tmp_path, ['polygon', 'rle', 'uncompressed',
                            'bad_polygon'])
    ds = CocoDataset(data_root=root, ann_file='ann.json',
                     data_prefix=dict(img='img/'),
                     metainfo=dict(classes=('droplet', )), pipeline=[])
    info = ds.get_data_info(0)
    assert _run_both([info], CROPS['mmdet_random_crop'],
                     seeds=range(6)) > 6
    assert _run_both([info], [], seeds=(0, )) == 5  # one ignored


def test_rle_of_another_size_is_named(tmp_path):
    from mmengine.registry import init_default_scope

    from droplet_mmdet.datasets.transforms import LoadDropletAnnotations
    init_default_scope('mmdet')
    rle = mask_utils.encode(np.asfortranarray(np.ones((5, 4), np.uint8)))
    rle['counts'] = rle['counts'].decode()  # as read from JSON
    results = dict(img_path='x.png', ori_shape=(4, 5), instances=[
        dict(bbox=[0, 0, 4, 5], bbox_label=0, ignore_flag=0, mask=rle)])
    with pytest.raises(ValueError, match=r'x\.png: instance 0 has an RLE '
                       r'of size \[5, 4\], the image is 4 x 5'):
        LoadDropletAnnotations(with_mask=True).transform(results)
    with pytest.raises(ValueError, match='poly2mask=False'):
        LoadDropletAnnotations(poly2mask=False)

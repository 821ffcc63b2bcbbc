"""Cut-and-paste synthesis: harvesting, exact occlusion, determinism, CLI,
and the ``DropletBankCopyPaste`` transform."""
import json
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from scipy import ndimage

from conftest import PYTHON, ROOT, tool_env
from droplet_mmdet.datasets.synthetic import mask_to_rle
from droplet_mmdet.datasets.synthetic.blending import poisson_blend
from droplet_mmdet.datasets.synthetic.cutpaste import (build_bank,
                                                       compose_frame,
                                                       decode_segmentation,
                                                       harvest_frame,
                                                       paste_droplets)
from droplet_mmdet.datasets.synthetic.cutpaste_io import load_source_frames

TOOL = osp.join(ROOT, 'tools', 'dataset_converters', 'cut_paste.py')


def _disc(h, w, cx, cy, r):
    y, x = np.mgrid[0:h, 0:w] + 0.5
    return (x - cx)**2 + (y - cy)**2 < r * r


def _drawn(seed=1, h=160, w=160, n=30):
    """A brightfield-like frame: up to ``n`` discs (dark rim, brighter
    centre; some cut by the border, none touching another) on a tilted,
    noisy background, and their COCO annotations (RLE)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] + 0.5
    img = 150 + 20 * x / w
    masks, taken = [], np.zeros((h, w), bool)
    for _ in range(50 * n):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(7, 11)
        d = np.hypot(x - cx, y - cy)
        m = d < r
        if (m & ndimage.binary_dilation(taken, iterations=2)).any():
            continue
        img[m] *= np.where(d[m] > r - 2.5, 0.45, 1.1)
        masks.append(m)
        taken |= m
        if len(masks) == n:
            break
    img = np.clip(np.round(img + rng.normal(0, 4, img.shape)), 0, 255)
    anns = [dict(id=k + 1, iscrowd=0,
                 segmentation=mask_to_rle(m, 0, 0, h, w))
            for k, m in enumerate(masks)]
    return img.astype(np.uint8), anns


def _place(patch, x0, y0, h, w):
    """An (h, w) frame with ``patch`` at ``(x0, y0)``, clipped."""
    out = np.zeros((h, w), bool)
    ph, pw = patch.shape
    fy0, fx0 = max(y0, 0), max(x0, 0)
    fy1, fx1 = min(y0 + ph, h), min(x0 + pw, w)
    if fy1 > fy0 and fx1 > fx0:
        out[fy0:fy1, fx0:fx1] = patch[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0]
    return out


@pytest.fixture(scope='module')
def bank():
    img, anns = _drawn()
    return build_bank([(img, anns)])


def test_decode_polygon_and_both_rle_forms():
    poly = [[2, 3, 9, 3, 9, 8, 2, 8]]
    m = decode_segmentation(poly, 12, 14)
    rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
    as_str = dict(size=rle['size'], counts=rle['counts'].decode())
    np.testing.assert_array_equal(decode_segmentation(as_str, 12, 14), m)
    np.testing.assert_array_equal(decode_segmentation(rle, 12, 14), m)
    flat = m.T.ravel()  # column-major runs, starting with background
    bounds = np.r_[0, np.flatnonzero(np.diff(flat)) + 1, flat.size]
    runs = ([0] if flat[0] else []) + np.diff(bounds).tolist()
    uncompressed = dict(size=[12, 14], counts=runs)
    np.testing.assert_array_equal(
        decode_segmentation(uncompressed, 12, 14), m)
    assert m.sum() == 7 * 5
    with pytest.raises(ValueError, match='3 or more points'):
        decode_segmentation([[1, 1, 5, 5]], 12, 14)
    with pytest.raises(ValueError, match='not the image size'):
        decode_segmentation(as_str, 20, 14)


def test_harvest_skips_and_counts_each_reason():
    h, w = 120, 160
    img = np.full((h, w, 3), 180, np.uint8)
    a = _disc(h, w, 30, 30, 9)  # isolated: harvested
    b = _disc(h, w, 5, 90, 8)  # cut by the left border
    c, d = _disc(h, w, 80, 30, 9), _disc(h, w, 88, 30, 9)  # overlap 50 %
    e = _disc(h, w, 130, 90, 6)  # inside a crowd ring: contact 1.0
    ring = _disc(h, w, 130, 90, 12) & ~e
    k, k2 = _disc(h, w, 60, 90, 8), _disc(h, w, 77, 90, 8)  # touch
    tiny = _disc(h, w, 100, 100, 1.5)
    for m in (a, b, c, d, e, k, k2):
        img[m] = 60
    anns = [dict(id=i + 1, segmentation=mask_to_rle(m, 0, 0, h, w))
            for i, m in enumerate((a, b, c, d, e, k, k2, tiny))]
    anns.append(dict(id=20, iscrowd=1,
                     segmentation=mask_to_rle(ring, 0, 0, h, w)))
    anns.append(dict(id=21, segmentation=[[1, 1, 4, 4]]))  # 2 points
    patches, bg, report = harvest_frame(img, anns, margin=3)
    assert [p.ann_id for p in patches] == [1, 6, 7]
    assert (report['harvested'], report['border'], report['occluded'],
            report['contact'], report['small'], report['crowd'],
            report['invalid']) == (3, 1, 2, 1, 1, 1, 1)
    assert report['labelled'] == 8 and report['annotations'] == 10
    pa = patches[0]
    ys, xs = np.nonzero(a)
    y0, x0 = ys.min() - 3, xs.min() - 3
    np.testing.assert_array_equal(
        pa.mask, a[y0:ys.max() + 4, x0:xs.max() + 4])
    np.testing.assert_array_equal(
        pa.pixels, img[y0:ys.max() + 4, x0:xs.max() + 4])
    # the touching neighbour's pixels are never part of a patch
    pk = patches[1]
    ys, xs = np.nonzero(k)
    k2_in = k2[ys.min() - 3:ys.max() + 4, xs.min() - 3:xs.max() + 4]
    assert k2_in.any() and not (pk.valid & k2_in).any()
    assert pk.valid[~k2_in].all()
    # everything labelled, crowd included, is gone from the background
    # (discs were 120 below it; the restored texture adds a few levels)
    for m in (a, b, c, d, e, k, k2, ring):
        assert np.abs(bg[m].astype(int) - 180).max() <= 5
    # keep_occluded / keep_border_cut bring them back
    patches, _, report = harvest_frame(img, anns, keep_occluded=True,
                                       keep_border_cut=True)
    assert report['harvested'] == 7
    with pytest.raises(ValueError, match='smooth or telea'):
        harvest_frame(img, anns, inpaint='nope')


def test_report_counts_the_filled_in_background():
    """``filled_px`` is what the background lost: every labelled mask
    grown by ``bg_dilate`` px (a disc-like kernel); no other pixel
    changes."""
    img, anns = _drawn(seed=3)
    union = np.zeros(img.shape, bool)
    for a in anns:
        union |= mask_utils.decode(a['segmentation']).astype(bool)
    filled = {}
    for px in (0, 3):
        _, bg, report = harvest_frame(img, anns, bg_dilate=px, seed=0)
        assert report['pixels'] == img.size
        filled[px] = report['filled_px']
        changed = bg != img
        assert changed.sum() <= filled[px]
        assert not changed[~_grow_ref(union, px * px + 1)].any()
    assert filled[0] == union.sum()
    assert _grow_ref(union, 4).sum() <= filled[3] <= \
        _grow_ref(union, 10).sum()
    bank = build_bank([(img, anns), (img[:, ::-1].copy(), [])], seed=0)
    assert bank.report['filled_px'] == filled[3]
    assert bank.report['pixels'] == 2 * img.size


def _grow_ref(mask, r2):
    """``mask`` grown by the disc x^2 + y^2 <= ``r2`` (scipy)."""
    r = int(np.sqrt(r2))
    y, x = np.mgrid[-r:r + 1, -r:r + 1]
    return ndimage.binary_dilation(mask, structure=x * x + y * y <= r2)


def test_background_loses_the_dark_rims():
    img, anns = _drawn(seed=2)
    patches, bg, report = harvest_frame(img, anns, seed=0)
    assert report['labelled'] > 10
    rim_drop = {'image': [], 'background': []}
    for ann in anns:
        m = decode_segmentation(ann['segmentation'], *img.shape)
        rim = m & ~ndimage.binary_erosion(m, iterations=3)
        ring = ndimage.binary_dilation(m, iterations=9) & \
            ~ndimage.binary_dilation(m, iterations=5)
        for key, im in (('image', img), ('background', bg)):
            rim_drop[key].append(im[ring].mean() - im[rim].mean())
    # the drawn rims are ~70 grey levels darker than the surroundings;
    # after inpainting the same pixels are level with them
    assert np.median(rim_drop['image']) > 40
    assert abs(np.median(rim_drop['background'])) < 3
    # the inpainted pixels get the frame's noise back
    labelled = np.zeros(img.shape, bool)
    for ann in anns:
        labelled |= decode_segmentation(ann['segmentation'], *img.shape)
    hp = bg.astype(float) - cv2.GaussianBlur(bg.astype(float), (0, 0), 1.5)
    inner = ndimage.binary_erosion(labelled, iterations=4)
    outer = ~ndimage.binary_dilation(labelled, iterations=8)
    assert 0.6 < hp[inner].std() / hp[outer].std() < 1.5


def test_frames_background_fills_from_the_other_frames():
    h, w = 64, 96
    rng = np.random.default_rng(0)
    base = np.clip(np.round(120 + 30 * np.mgrid[0:h, 0:w][1] / w +
                            rng.normal(0, 5, (h, w))), 0, 255)
    frames, masks = [], []
    for cx in (20, 50, 78):  # one view, a disc at a different place each
        m = _disc(h, w, cx, 30, 8)
        img = base.copy()
        img[m] = 40
        frames.append((img.astype(np.uint8),
                       [dict(id=1, segmentation=mask_to_rle(m, 0, 0, h,
                                                            w))]))
        masks.append(m)
    bank = build_bank(frames, background='frames', texture=False)
    for bg, m in zip(bank.backgrounds, masks):
        # the other frames show plain background there: it comes back
        np.testing.assert_array_equal(bg, base.astype(np.uint8))
    # frames of different sizes cannot fill each other
    small = (frames[0][0][:40], frames[0][1])
    with pytest.raises(ValueError, match='one size'):
        build_bank([frames[0], small], background='frames')
    with pytest.raises(ValueError, match='inpaint or frames'):
        build_bank(frames, background='median')


def _check_frame(image, pasted, H, W):
    """Each visible mask is exactly where its paste is frontmost."""
    fulls = [_place(p.full_mask, p.x0, p.y0, H, W) for p in pasted]
    claimed = np.zeros((H, W), bool)
    for k, p in enumerate(pasted):
        later = np.zeros((H, W), bool)
        for f in fulls[k + 1:]:
            later |= f
        vis = _place(p.mask, p.x0, p.y0, H, W)
        np.testing.assert_array_equal(vis, fulls[k] & ~later)
        assert not (claimed & vis).any()
        claimed |= vis
        if p.kept:
            ys, xs = np.nonzero(vis)
            assert p.bbox() == [xs.min(), ys.min(), xs.max() - xs.min() + 1,
                                ys.max() - ys.min() + 1]
            assert p.area == vis.sum()
        assert p.diameter == pytest.approx(
            2 * np.sqrt(p.full_mask.sum() / np.pi))
        assert p.cut == (fulls[k].sum() < p.full_mask.sum())


def test_masks_are_exactly_the_frontmost_pixels(bank):
    H, W = 90, 110
    image, pasted, info = compose_frame(
        bank, H, W, seed=4, count=(40, 40), max_occlusion=1.0,
        min_visible_fraction=0.5, min_visible_area=30)
    assert image.shape == (H, W) and len(pasted) == 40
    _check_frame(image, pasted, H, W)
    # every paste is kept or dropped, and the reasons follow the rule
    assert info['pasted'] == 40 == info['kept'] + info['dropped_small'] + \
        info['dropped_occluded']
    assert info['dropped_small'] > 0 and info['dropped_occluded'] > 0
    for p in pasted:
        in_frame = _place(p.full_mask, p.x0, p.y0, H, W).sum()
        reason = 'small' if p.area < 30 else \
            'occluded' if p.area < 0.5 * in_frame else ''
        assert (p.reason, p.kept) == (reason, not reason)


def test_two_overlapping_pastes_earlier_loses_exactly_the_overlap():
    h = w = 40
    img = np.full((h, w), 200, np.uint8)
    disc = _disc(h, w, 20, 20, 8)
    img[disc] = 50
    one = build_bank([(img, [dict(id=1, segmentation=mask_to_rle(
        disc, 0, 0, h, w))])])
    canvas = np.full((48, 48), 200, np.uint8)
    for seed in range(100):
        out, (p, q), counts = paste_droplets(
            canvas, one, [0, 0], np.random.default_rng(seed), scale=(1, 1),
            max_occlusion=1.0, min_visible_fraction=0.0, min_visible_area=1)
        fp = _place(p.full_mask, p.x0, p.y0, 48, 48)
        fq = _place(q.full_mask, q.x0, q.y0, 48, 48)
        if (fp & fq).any() and (fp & ~fq).any():
            break
    else:
        pytest.fail('no seed overlapped two pastes')
    assert p.area == fp.sum() - (fp & fq).sum()
    np.testing.assert_array_equal(_place(p.mask, p.x0, p.y0, 48, 48),
                                  fp & ~fq)
    np.testing.assert_array_equal(_place(q.mask, q.x0, q.y0, 48, 48), fq)
    # at scale 1 the pasted mask is the source mask, flipped and turned as
    # reported, and the front droplet's pixels are the source's
    for r in (p, q):
        m = one.patches[0].mask[:, ::-1] if r.flip else one.patches[0].mask
        np.testing.assert_array_equal(r.full_mask, np.rot90(m, r.k_rot))
    assert (out[fq] == 50).all()


def test_same_seed_same_bytes_other_seed_other_frame(bank):
    for blend in ('alpha', 'poisson'):
        a, pa, _ = compose_frame(bank, 64, 80, seed=7, blend=blend)
        b, pb, _ = compose_frame(bank, 64, 80, seed=7, blend=blend)
        c, _, _ = compose_frame(bank, 64, 80, seed=8, blend=blend)
        assert a.tobytes() == b.tobytes() and a.tobytes() != c.tobytes()
        assert all((x.mask == y.mask).all() for x, y in zip(pa, pb))
    # the blending never changes a mask
    alpha = compose_frame(bank, 64, 80, seed=7, blend='alpha')
    poisson = compose_frame(bank, 64, 80, seed=7, blend='poisson')
    assert alpha[0].tobytes() != poisson[0].tobytes()
    assert [(p.x0, p.y0) for p in alpha[1]] == \
        [(p.x0, p.y0) for p in poisson[1]]
    assert all((x.mask == y.mask).all()
               for x, y in zip(alpha[1], poisson[1]))
    img, anns = _drawn()
    b1, b2 = build_bank([(img, anns)]), build_bank([(img, anns)])
    assert b1.backgrounds[0].tobytes() == b2.backgrounds[0].tobytes()


def test_poisson_blend_keeps_the_source_gradients():
    yy, xx = np.mgrid[0:41, 0:41]
    r = np.hypot(yy - 20, xx - 20)
    src = np.where(r < 14, 170, 140).astype(np.uint8)
    src[(r >= 11) & (r < 14)] = 60
    dst = np.full_like(src, 100)
    region = r < 16
    out = poisson_blend(dst, src, region)
    # boundary 40 grey levels lower: the whole droplet shifts by -40
    np.testing.assert_array_equal(out[region], src[region].astype(int) - 40)
    np.testing.assert_array_equal(out[~region], dst[~region])
    out3 = poisson_blend(cv2.merge([dst] * 3), cv2.merge([src] * 3), region)
    np.testing.assert_array_equal(out3[..., 1], out)


def test_frame_larger_than_the_background_and_density(bank):
    image, pasted, info = compose_frame(bank, 200, 240, seed=1,
                                        density_factor=(1, 1))
    assert image.shape == (200, 240)
    assert len(pasted) == round(bank.density * 200 * 240)
    _check_frame(image, pasted, 200, 240)
    with pytest.raises(ValueError, match='alpha or poisson'):
        compose_frame(bank, 50, 50, seed=1, blend='cubic')


def _tiny_coco(tmp_path, n=2):
    """``n`` rendered frames (Windows file names, category id 0, one
    polygon annotation each) plus an unlabelled frame."""
    img_dir = tmp_path / 'src' / 'JPEGImages'
    img_dir.mkdir(parents=True)
    images, anns = [], []
    for i in range(n + 1):
        img, frame_anns = _drawn(seed=10 + i, h=96, w=96, n=12)
        cv2.imwrite(str(img_dir / f'f{i}.png'), img)
        images.append(dict(id=i, file_name=f'.\\JPEGImages\\f{i}.png',
                           height=96, width=96))
        if i == n:
            continue
        for a in frame_anns:
            anns.append(dict(a, id=len(anns), image_id=i, category_id=0))
        m = decode_segmentation(frame_anns[0]['segmentation'], 96, 96)
        cs, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL,
                                 cv2.CHAIN_APPROX_NONE)
        anns[-len(frame_anns)]['segmentation'] = [
            cs[0].ravel().astype(float).tolist()]
    ann_file = tmp_path / 'src' / 'train.json'
    ann_file.write_text(json.dumps(dict(
        images=images, annotations=anns,
        categories=[dict(id=0, name='bubble')])))
    return str(ann_file), str(tmp_path / 'src')


def test_cli_writes_a_coco_set_pycocotools_loads(tmp_path):
    ann_file, root = _tiny_coco(tmp_path)
    out = tmp_path / 'out'
    tool = subprocess.run(
        [PYTHON, TOOL, ann_file, root, str(out), '--num-source-frames', '5',
         '--num-frames', '3', '--val-frames', '1', '--size', '80', '120',
         '--gallery', '0', '--seed', '3'], capture_output=True, text=True,
        env=tool_env())
    assert tool.returncode == 0, tool.stderr
    assert 'harvested' in tool.stdout and 'frames/s' in tool.stdout
    assert 'f2.png: no droplets labelled' in tool.stdout
    report = json.loads((out / 'cut_paste_report.json').read_text())
    h = report['harvest']
    assert 0 < h['filled_px'] < h['pixels'] == 2 * 96 * 96  # 2 labelled
    assert (f'backgrounds: {100 * h["filled_px"] / h["pixels"]:.1f} % '
            'filled in') in tool.stdout
    assert report['sources'] == ['.\\JPEGImages\\f0.png',
                                 '.\\JPEGImages\\f1.png']
    for split, n in (('train', 3), ('val', 1)):
        coco = COCO(str(out / f'{split}.json'))
        assert len(coco.imgs) == n
        assert coco.cats == {1: dict(id=1, name='bubble',
                                     supercategory='bubble')}
        s = report['splits'][split]
        assert len(coco.anns) == s['droplets'] == s['kept']
        assert s['kept'] + s['dropped_small'] + s['dropped_occluded'] == \
            s['pasted']
        for img in coco.imgs.values():
            im = cv2.imread(str(out / split / img['file_name']))
            assert im.shape == (80, 120, 3)
        claimed = {}
        for ann in coco.anns.values():
            m = coco.annToMask(ann).astype(bool)
            ys, xs = np.nonzero(m)
            assert ann['area'] == m.sum() > 0
            assert ann['bbox'] == [xs.min(), ys.min(), xs.max() - xs.min() +
                                   1, ys.max() - ys.min() + 1]
            assert ann['droplet_diameter'] > 0
            seen = claimed.setdefault(ann['image_id'], np.zeros_like(m))
            assert not (seen & m).any()
            seen |= m
    truth = json.loads((out / 'train_droplets.json').read_text())
    assert len(truth['droplets']) == report['splits']['train']['droplets']
    # bad input: the error names the file
    (tmp_path / 'src' / 'JPEGImages' / 'f1.png').unlink()
    bad = subprocess.run([PYTHON, TOOL, ann_file, root, str(tmp_path / 'b')],
                         capture_output=True, text=True, env=tool_env())
    assert bad.returncode == 1
    assert "image '.\\\\JPEGImages\\\\f1.png' (id 1) not found" in bad.stderr


def test_bad_sources_are_named(tmp_path):
    ann_file, root = _tiny_coco(tmp_path)
    with pytest.raises(ValueError, match=r'none of the selected images'):
        load_source_frames(ann_file, root, image_ids=[2])
    with pytest.raises(ValueError, match=r'no image with id \[7\]'):
        load_source_frames(ann_file, root, image_ids=[0, 7])
    frames, info = load_source_frames(ann_file, root, image_ids=[2, 1])
    assert [f[0] for f in frames] == ['.\\JPEGImages\\f1.png']
    assert info['skipped'][0].startswith('.\\JPEGImages\\f2.png: no drop')
    broken = tmp_path / 'broken.json'
    broken.write_text('{"images": [')
    with pytest.raises(ValueError, match='broken.json: not valid JSON'):
        load_source_frames(str(broken), root)


def test_bank_copy_paste_transform(tmp_path):
    from mmdet.structures.bbox import HorizontalBoxes
    from mmdet.structures.mask import BitmapMasks, PolygonMasks
    from droplet_mmdet.datasets.transforms.bank_copy_paste import \
        DropletBankCopyPaste
    from mmdet.registry import TRANSFORMS
    ann_file, root = _tiny_coco(tmp_path)
    t = TRANSFORMS.build(dict(
        type='DropletBankCopyPaste', ann_file=ann_file, img_root=root,
        label=1, max_num_pasted=40, bbox_occluded_thr=0, mask_occluded_thr=0,
        paste_cfg=dict(min_visible_fraction=0.0, min_visible_area=1)))
    assert isinstance(t, DropletBankCopyPaste)
    assert 'DropletBankCopyPaste' in repr(t) and 'f0.png' in repr(t)
    img, anns = _drawn(seed=5, h=128, w=128)
    masks = np.stack([decode_segmentation(a['segmentation'], 128, 128)
                      for a in anns]).astype(np.uint8)
    bm = BitmapMasks(masks, 128, 128)
    n = len(masks)

    def results():
        return dict(img=cv2.merge([img] * 3),
                    gt_bboxes=bm.get_bboxes(HorizontalBoxes),
                    gt_bboxes_labels=np.zeros(n, np.int64),
                    gt_ignore_flags=np.zeros(n, bool),
                    gt_masks=BitmapMasks(masks.copy(), 128, 128))

    counts = []
    for seed in range(4):
        np.random.seed(seed)
        out = t(results())
        labels = out['gt_bboxes_labels']
        m = out['gt_masks'].masks.astype(bool)
        pasted = m[labels == 1]
        counts.append(len(pasted))
        assert out['img'].dtype == np.uint8
        assert len(m) == len(out['gt_bboxes']) == len(
            out['gt_ignore_flags'])
        assert (m.sum(0) <= 1).all(), 'masks overlap'
        boxes = out['gt_bboxes'].numpy()
        for k, mk in enumerate(m):
            ys, xs = np.nonzero(mk)
            np.testing.assert_array_equal(
                boxes[k], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        # every paste pixel is some kept paste's (none dropped here): the
        # image's own droplets lose exactly those pixels
        cover = pasted.any(0)
        left = [o & ~cover for o in masks.astype(bool)
                if (o & ~cover).any()]
        np.testing.assert_array_equal(m[labels == 0], np.array(left))
        if len(pasted):
            assert (out['img'][cover] != results()['img'][cover]).any()
        np.random.seed(seed)
        assert t(results())['img'].tobytes() == out['img'].tobytes()
    assert max(counts) > 2, counts  # a bank of a few droplets
    poly = results()
    poly['gt_masks'] = PolygonMasks([[np.array([0., 0, 5, 0, 5, 5])]], 128,
                                    128)
    with pytest.raises(TypeError, match='poly2mask=True'):
        t(poly)

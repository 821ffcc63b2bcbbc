"""Generator realism v2: knobs, exact masks of the new outlines, depth,
16-bit output, determinism.

Independent references: outlines rasterised as dense polygons
(matplotlib's point-in-polygon) and the documented formulas of
``shapes.py`` evaluated with ``arctan2``/``cos`` here, never the renderer's
own geometry.
"""
import hashlib
import importlib.util
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from matplotlib.path import Path

from droplet_mmdet.datasets.synthetic import (FrameSpec, frame_records,
                                              generate_dataset, render_frame)
from droplet_mmdet.datasets.synthetic.spec import V1_FIELDS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: every v2 feature on, the chance ones always
ALL_ON = dict(poly_prob=1.0, coalesce=0.1, stacked=0.15, satellite_rate=0.4,
              field_stop=1.0, overlay=1.0, artefact_prob=1.0,
              defocus=(0.8, 0.8), label_defocus=0.5)

#: each v2 knob: a value that switches it on (on top of FrameSpec.v1()),
#: and the values that switch it off
KNOBS = {
    'poly_prob': (1.0, [0.0]),
    'diameter_range': ((8.0, 65.0), [None]),
    'harmonics': ((0.1, 0.1), [None, 0.0, (0.0, 0.0)]),
    'coalesce': (0.3, [0.0]),
    'rim_scale': ((0.5, 0.5), [None, 0.0, (0.0, 0.0)]),
    'gas_bubbles': (1.0, [0.0]),
    'stacked': (0.3, [0.0]),
    'satellite_rate': (1.0, [0.0]),
    'defocus': ((0.8, 0.8), [None, 0.0, (0.0, 0.0)]),
    'texture': ((0.08, 0.08), [None, 0.0, (0.0, 0.0)]),
    'speckle': ((400.0, 400.0), [None, 0.0, (0.0, 0.0)]),
    'vignetting': ((0.4, 0.4), [None, 0.0, (0.0, 0.0)]),
    'field_stop': (1.0, [0.0]),
    'overlay': (1.0, [0.0]),
    'fringes': ((0.05, 0.05), [None, 0.0]),
    'motion_blur': ((6.0, 6.0), [None, 0.0]),
    'jpeg_quality': ((40.0, 40.0), [None]),
}
ARTEFACTS = ('fringes', 'motion_blur', 'jpeg_quality')


def _frame_of(spec, seed):
    img, drops, info = render_frame(spec, seed)
    return img, [(d.kind, d.cx, d.cy, d.diameter, d.x0, d.y0,
                  d.mask.tobytes()) for d in drops], info


def _full(drop, h, w):
    m = np.zeros((h, w), bool)
    ph, pw = drop.mask.shape
    m[drop.y0:drop.y0 + ph, drop.x0:drop.x0 + pw] = drop.mask
    return m


def _radius(o, psi):
    """Documented boundary radius of an ellipse with harmonics, at
    droplet-frame angle ``psi`` (amplitude |c_k|, phase arg c_k)."""
    r = o.a * o.b / np.hypot(o.b * np.cos(psi), o.a * np.sin(psi))
    if o.harm is not None:
        r = r * (1 + sum(abs(c) * np.cos((k + 2) * psi + np.angle(c))
                         for k, c in enumerate(o.harm)))
    return r


def _sdist(o, X, Y):
    """Documented distance-like function of an outline (< 0 inside)."""
    dx, dy = X - o.cx, Y - o.cy
    c, s = np.cos(o.theta), np.sin(o.theta)
    u, v = dx * c + dy * s, -dx * s + dy * c
    d1 = np.hypot(u, v) - _radius(o, np.arctan2(v, u))
    if o.lobe is None:
        return d1
    x2, y2, r2 = o.lobe
    d2 = np.hypot(X - x2, Y - y2) - r2
    h = np.clip(0.5 + 0.5 * (d2 - d1) / o.neck, 0, 1)
    return d2 * (1 - h) + d1 * h - o.neck * h * (1 - h)


def _aperture(info, X, Y):
    """Field-stop inside test from the frame's info: 8 half-planes with
    normals at ``angle + k pi / 4`` (octagon) or a circle."""
    fs = info.get('field_stop')
    if not fs:
        return np.full(X.shape, -np.inf)
    dx, dy = X - fs['cx'], Y - fs['cy']
    if fs['shape'] == 'circle':
        return np.hypot(dx, dy) - fs['size']
    return np.max([dx * np.cos(fs['angle'] + k * np.pi / 4) +
                   dy * np.sin(fs['angle'] + k * np.pi / 4)
                   for k in range(8)], axis=0) - fs['size']


def test_same_seed_same_bytes_with_every_knob_on():
    spec = FrameSpec(height=192, width=192, look='mixed', **ALL_ON)
    for seed in (3, 4):
        a, da, ia = _frame_of(spec, seed)
        b, db, ib = _frame_of(spec, seed)
        assert a.tobytes() == b.tobytes() and da == db and ia == ib
    assert _frame_of(spec, 3)[0].tobytes() != _frame_of(spec, 4)[0].tobytes()
    c = render_frame(FrameSpec(height=192, width=192, output_bits=16,
                               bit_depth=12, **ALL_ON), 3)[0]
    assert c.tobytes() == render_frame(
        FrameSpec(height=192, width=192, output_bits=16, bit_depth=12,
                  **ALL_ON), 3)[0].tobytes()


def _tree_digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def test_v2_dataset_is_byte_identical_for_same_seed_16_bit(tmp_path):
    spec = FrameSpec(height=96, width=96, output_bits=16, bit_depth=12,
                     **ALL_ON)
    for name in ('a', 'b'):
        generate_dataset(str(tmp_path / name), spec, dict(train=3), seed=7,
                         gallery=0, progress=False)
    assert _tree_digest(tmp_path / 'a') == _tree_digest(tmp_path / 'b')
    png = cv2.imread(str(tmp_path / 'a' / 'train' / '000001.png'),
                     cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16  # written as 16-bit PNG
    seed = int(np.random.SeedSequence([7 * 1000, 1]).generate_state(1)[0])
    np.testing.assert_array_equal(png[..., 0], render_frame(spec, seed)[0])


@pytest.mark.parametrize('knob', sorted(KNOBS))
def test_each_knob_off_is_v1_and_on_changes_the_frame(knob):
    on, offs = KNOBS[knob]
    extra = dict(artefact_prob=1.0) if knob in ARTEFACTS else {}
    base = _frame_of(FrameSpec.v1(height=128, width=128), 5)
    for off in offs:
        got = _frame_of(FrameSpec.v1(height=128, width=128,
                                     **{knob: off, **extra}), 5)
        assert got[0].tobytes() == base[0].tobytes(), (knob, off)
        assert got[1] == base[1]
    changed = _frame_of(FrameSpec.v1(height=128, width=128,
                                     **{knob: on, **extra}), 5)
    assert changed[0].tobytes() != base[0].tobytes(), knob


def test_v1_preset_switches_every_v2_knob_off():
    v1 = FrameSpec.v1()
    for knob in KNOBS:
        assert knob in V1_FIELDS
        assert getattr(v1, knob) in ([None, 0.0] + KNOBS[knob][1])
    assert FrameSpec.preset('v2') == FrameSpec()
    with pytest.raises(ValueError, match='output_bits'):
        FrameSpec(output_bits=12)


@pytest.mark.parametrize('knob', ['texture', 'speckle', 'vignetting',
                                  'overlay', 'fringes', 'motion_blur',
                                  'jpeg_quality'])
def test_background_and_artefacts_change_pixels_not_labels(knob):
    spec = FrameSpec(height=160, width=160, artefact_prob=1.0, overlay=1.0)
    a = _frame_of(spec, 2)
    b = _frame_of(FrameSpec(**{**spec.to_dict(), knob: None if knob not in (
        'overlay', ) else 0.0}), 2)
    assert a[1] == b[1]  # same droplets, same masks
    assert a[0].tobytes() != b[0].tobytes()


@pytest.mark.parametrize('seed', range(6))
def test_deformed_outline_mask_equals_polygon_rasterisation(seed):
    """A single droplet with radial harmonics: its mask is exactly the
    pixel centres inside the polygon of its documented outline."""
    h = w = 128
    spec = FrameSpec.v1(height=h, width=w, layout='sparse',
                        mean_area=(1200, 1200), sparse_coverage=(0.08, 0.08),
                        harmonics=(0.12, 0.12), max_ellipticity=0.2,
                        border_cut=False, satellites=0.0)
    _, drops, _ = render_frame(spec, seed)
    assert len(drops) == 1
    d = drops[0]
    o = d.outline
    assert o.harm is not None and len(o.harm) == 4
    psi = np.linspace(0, 2 * np.pi, 20000, endpoint=False)
    rad = _radius(o, psi)
    poly = np.stack([o.cx + rad * np.cos(psi + o.theta),
                     o.cy + rad * np.sin(psi + o.theta)], 1)
    Y, X = np.mgrid[0:h, 0:w] + 0.5
    inside = Path(poly).contains_points(
        np.stack([X.ravel(), Y.ravel()], 1)).reshape(h, w)
    # polygon chords sag < 1e-4 px: only pixel centres that close to the
    # outline may differ
    near = np.abs(_sdist(o, X, Y)) < 1e-3
    mask = _full(d, h, w)
    assert not ((mask != inside) & ~near).any()
    assert abs(d.area - inside.sum()) <= near.sum()
    # deformed: the mask is not the plain ellipse of (a, b, theta)
    c, s = np.cos(o.theta), np.sin(o.theta)
    u, v = (X - o.cx) * c + (Y - o.cy) * s, -(X - o.cx) * s + (Y - o.cy) * c
    assert (mask != ((u / o.a)**2 + (v / o.b)**2 < 1)).sum() > 5
    # centroid and equivalent diameter of the whole outline
    if not d.cut:
        assert abs(d.diameter - 2 * np.sqrt(inside.sum() / np.pi)) < 0.3
        ys, xs = np.nonzero(inside)
        assert abs(xs.mean() + 0.5 - d.cx) < 0.2
        assert abs(ys.mean() + 0.5 - d.cy) < 0.2


@pytest.mark.parametrize('seed', range(6))
def test_v2_masks_follow_the_mask_rule(seed):
    """Every labelled droplet: inside its outline (ellipse, harmonics,
    coalescing pair), not inside a labelled droplet drawn later, inside the
    field stop; unlabelled defocused droplets hide nothing."""
    h = w = 160
    spec = FrameSpec(height=h, width=w, **{**ALL_ON, 'field_stop': 0.6})
    _, drops, info = render_frame(spec, seed)
    assert len(drops) >= 2
    Y, X = np.mgrid[0:h, 0:w] + 0.5
    stop = _aperture(info, X, Y)
    dist = [_sdist(d.outline, X, Y) for d in drops]
    claimed = np.zeros((h, w), bool)
    for k, d in enumerate(drops):
        want = (dist[k] < 0) & (stop < 0)
        unsure = (np.abs(dist[k]) < 1e-4) | (np.abs(stop) < 1e-6)
        for e in dist[k + 1:]:
            want &= e >= 0
            unsure |= np.abs(e) < 1e-4
        full = _full(d, h, w)
        assert not ((full != want) & ~unsure).any(), (k, d.kind)
        assert not (claimed & full).any()
        claimed |= full
        assert abs(d.depth) <= 0.5  # label_defocus


def test_coalescing_pair_is_one_instance_between_union_and_neck():
    h = w = 192
    spec = FrameSpec.v1(height=h, width=w, layout='sparse', coalesce=1.0,
                        mean_area=(700, 700), max_ellipticity=0.0,
                        sparse_coverage=(0.1, 0.1), border_cut=False,
                        satellites=0.0)
    _, drops, _ = render_frame(spec, 1)
    pairs = [d for d in drops if d.kind == 'pair']
    assert len(pairs) >= 3 and len(pairs) == len(drops)
    Y, X = np.mgrid[0:h, 0:w] + 0.5
    for k, d in enumerate(drops):
        o = d.outline
        d1 = np.hypot(X - o.cx, Y - o.cy) - o.a
        d2 = np.hypot(X - o.lobe[0], Y - o.lobe[1]) - o.lobe[2]
        union = np.minimum(d1, d2)
        later = np.zeros((h, w), bool)
        for e in drops[k + 1:]:
            later |= _sdist(e.outline, X, Y) < 0
        full = _full(d, h, w)
        assert not ((union < 0) & ~later & ~full).any()  # holds both lobes
        assert not (full & (union >= o.neck / 4)).any()  # at most the neck
        if not later[union < o.neck].any():
            n, _ = cv2.connectedComponents(full.astype(np.uint8))
            assert n == 2  # background + one instance


def test_pair_and_deformed_sizes_equal_supersampled_area():
    """Equivalent diameter and centroid of every outline kind (pairs are
    integrated together in one bisection, harmonics in one batch) against
    the documented outline counted on a 1/8 px grid."""
    h = w = 192
    spec = FrameSpec.v1(height=h, width=w, layout='sparse', coalesce=0.5,
                        harmonics=(0.12, 0.12), mean_area=(700, 700),
                        max_ellipticity=0.2, sparse_coverage=(0.1, 0.1),
                        border_cut=False, satellites=0.0)
    step = 1 / 8
    kinds = set()
    for seed in range(3):
        _, drops, _ = render_frame(spec, seed)
        for d in drops:
            o = d.outline
            x0, y0, x1, y1 = o.bounds()
            ys, xs = np.mgrid[y0 - 1:y1 + 1:step, x0 - 1:x1 + 1:step]
            ys, xs = ys + step / 2, xs + step / 2
            inside = _sdist(o, xs, ys) < 0
            area = inside.sum() * step * step
            assert abs(d.diameter - 2 * np.sqrt(area / np.pi)) < 0.02
            assert abs(d.cx - xs[inside].mean()) < 0.02
            assert abs(d.cy - ys[inside].mean()) < 0.02
            kinds.add('harmonics' if o.harm is not None else d.kind)
    assert {'pair', 'harmonics'} <= kinds


def _centre_and_ring(img, d, bg):
    Y, X = np.mgrid[0:img.shape[0], 0:img.shape[1]] + 0.5
    rho = np.hypot(X - d.cx, Y - d.cy) / (d.diameter / 2)
    return (img[rho < 0.3].mean() - bg,
            img[(rho > 0.8) & (rho < 1.2)].mean() - bg)


def test_defocus_flips_the_profile_above_and_below_focus():
    """Above focus (z > 0): bright centre, dark ring; below (z < 0): dark
    centre, bright ring/halo."""
    spec = FrameSpec.v1(height=256, width=256, layout='sparse',
                        defocus=(0.6, 0.6), label_defocus=None,
                        mean_area=(700, 700), sparse_coverage=(0.08, 0.08),
                        photons=(1e6, 1e6), read_noise=(0.0, 0.0),
                        blur_sigma=(0.0, 0.0), illumination=0.0,
                        contents_prob=0.0, satellites=0.0, debris=0.0)
    signs = []
    for seed in range(6):
        img, drops, _ = render_frame(spec, seed)
        img = img.astype(float)
        bg = np.median(img)
        for d in drops:
            alone = all(np.hypot(e.cx - d.cx, e.cy - d.cy) > (
                d.diameter + e.diameter) / 2 + 12 for e in drops if e is not d)
            if d.cut or not alone or abs(d.depth) < 0.3:
                continue
            centre, ring = _centre_and_ring(img, d, bg)
            if d.depth > 0:
                assert centre > 10 and ring < -3, (seed, d.depth)
            else:
                assert centre < -3 and ring > 3, (seed, d.depth)
            signs.append(np.sign(d.depth))
    assert signs.count(1) >= 3 and signs.count(-1) >= 3
    # in focus (defocus off): v1's look, lens-bright centre and dark rim
    spec = FrameSpec(**{**spec.to_dict(), 'defocus': None})
    img, drops, _ = render_frame(spec, 0)
    for d in drops:
        if not d.cut:
            c, r = _centre_and_ring(img.astype(float), d, np.median(img))
            assert c > 0 > r


def test_gas_bubbles_are_dark_bodies_with_a_bright_centre():
    """Shadowgraphy: the body (0.7-0.9 of the radius) well below the
    background, the centre above the body; same droplets and masks as the
    frame of droplets."""
    spec = FrameSpec.v1(height=256, width=256, layout='sparse',
                        gas_bubbles=1.0, mean_area=(900, 900),
                        sparse_coverage=(0.08, 0.08), photons=(1e6, 1e6),
                        read_noise=(0.0, 0.0), blur_sigma=(0.0, 0.0),
                        illumination=0.0, satellites=0.0, debris=0.0)
    checked = 0
    for seed in range(4):
        img, drops, info = render_frame(spec, seed)
        assert info['gas_bubbles'] is True
        img = img.astype(float)
        bg = np.median(img)
        Y, X = np.mgrid[0:img.shape[0], 0:img.shape[1]] + 0.5
        for d in drops:
            alone = all(np.hypot(e.cx - d.cx, e.cy - d.cy) > (
                d.diameter + e.diameter) / 2 + 8 for e in drops if e is not d)
            if d.cut or not alone:
                continue
            rho = np.hypot(X - d.cx, Y - d.cy) / (d.diameter / 2)
            body = img[(rho > 0.75) & (rho < 0.9)].mean()
            centre = img[rho < 0.05].mean()
            assert body < 0.45 * bg, (seed, body, bg)
            assert centre > body + 0.1 * bg, (seed, centre, body)
            checked += 1
        plain = render_frame(FrameSpec(**{**spec.to_dict(),
                                          'gas_bubbles': 0.0}), seed)
        assert [(d.cx, d.diameter, d.mask.tobytes()) for d in drops] == [
            (d.cx, d.diameter, d.mask.tobytes()) for d in plain[1]]
        assert 'gas_bubbles' not in plain[2]
    assert checked >= 6
    # the frame's other draws (blur, photons, layout) are those of the
    # same frame of droplets, beads inside droplets included
    for seed in range(6):
        kw = dict(height=160, width=160, contents_prob=1.0, defocus=(0.3, 0.3))
        with_b = render_frame(FrameSpec.v1(gas_bubbles=1.0, **kw), seed)[2]
        without = render_frame(FrameSpec.v1(**kw), seed)[2]
        assert with_b['gas_bubbles'] and 'gas_bubbles' not in without
        assert {k: v for k, v in with_b.items() if k != 'gas_bubbles'
                } == without
    # a frame the knob leaves without bubbles is the v1 frame, byte for byte
    some = [render_frame(FrameSpec.v1(height=128, width=128,
                                      gas_bubbles=0.3), seed) for seed in
            range(8)]
    plain = [s for s, frame in enumerate(some)
             if not frame[2]['gas_bubbles']]
    assert 0 < len(plain) < 8
    for seed in plain:
        assert some[seed][0].tobytes() == render_frame(
            FrameSpec.v1(height=128, width=128), seed)[0].tobytes()
    # a fluorescence frame never shows bubbles
    info = render_frame(FrameSpec(**{**spec.to_dict(),
                                     'look': 'fluorescence'}), 0)[2]
    assert info['gas_bubbles'] is False


def test_strong_defocus_is_unlabelled_background():
    base = dict(height=192, width=192, layout='sparse', defocus=(1.0, 1.0))
    img_a, lab, info = render_frame(FrameSpec.v1(label_defocus=0.4, **base),
                                    2)
    img_b, every, _ = render_frame(FrameSpec.v1(label_defocus=None, **base),
                                   2)
    assert all(abs(d.depth) <= 0.4 for d in lab)
    assert info['unlabelled_defocused'] > 0
    assert len(every) > len(lab) and any(abs(d.depth) > 0.4 for d in every)
    # the threshold changes the labels, not the (brightfield) pixels
    assert img_a.tobytes() == img_b.tobytes()


def test_16_bit_output():
    kw = dict(height=128, width=128, jpeg_quality=None)
    img8 = render_frame(FrameSpec(**kw), 9)[0]
    img16 = render_frame(FrameSpec(output_bits=16, **kw), 9)[0]
    assert img8.dtype == np.uint8 and img16.dtype == np.uint16
    # 8 sensor bits spread over 0-65535: the same levels times 257
    np.testing.assert_array_equal(img16, img8.astype(np.uint16) * 257)
    img12 = render_frame(FrameSpec(output_bits=16, bit_depth=12, **kw),
                         9)[0]
    levels = np.unique(img12)
    assert img12.max() <= 65535 and img12.max() > 255 * 16
    assert len(levels) > 256  # finer than 8 bits
    # the 4096 sensor levels, rounded to integers: within 1/32 of a level
    np.testing.assert_allclose(levels / (65535 / 4095),
                               np.round(levels / (65535 / 4095)), atol=0.04)


def test_labelled_satellites_sit_beside_their_parents():
    h = w = 256
    spec = FrameSpec.v1(height=h, width=w, layout='sparse',
                        satellite_rate=2.0, mean_area=(1500, 1500),
                        sparse_coverage=(0.2, 0.2), satellites=0.0,
                        border_cut=False)
    _, drops, _ = render_frame(spec, 4)
    sats = [d for d in drops if d.kind == 'satellite']
    big = [d for d in drops if d.kind == 'droplet']
    assert len(sats) >= 10
    anns, truths = frame_records(drops, 1, 1, h, w)
    assert len(anns) == len(drops)
    n_whole = 0
    for ann, t, d in zip(anns, truths, drops):
        if d.kind != 'satellite':
            continue
        assert 5.0 - 1e-9 <= d.diameter
        assert ann['area'] == d.area >= spec.min_visible_px
        # next to some droplet: gap from its outline -0.15 to 0.6 x radius
        rs = d.diameter / 2
        gaps = [np.hypot(d.cx - p.cx, d.cy - p.cy) - _radius(
            p.outline, np.arctan2(d.cy - p.cy, d.cx - p.cx) - p.theta) - rs
            for p in big if d.diameter <= 0.35 * p.diameter + 1e-6]
        assert any(-0.16 * rs <= g <= 0.61 * rs for g in gaps), t
        # drawn in front of the droplets: whole unless cut or hidden by a
        # later satellite
        later = drops[drops.index(d) + 1:]
        if not d.cut and all(np.hypot(e.cx - d.cx, e.cy - d.cy) >
                             rs + e.diameter / 2 + 1 for e in later):
            assert abs(ann['area'] - np.pi * rs**2) <= 0.15 * np.pi * rs**2
            n_whole += 1
    assert n_whole >= 5


def test_sizes_respect_the_range_and_spread_wide():
    diam, cvs = [], []
    for seed in range(16):
        _, drops, info = render_frame(FrameSpec(height=256, width=256), seed)
        one = [d.diameter for d in drops if d.kind == 'droplet']
        for d in drops:
            if d.kind == 'droplet':
                assert 8.0 - 1e-6 <= d.diameter <= 65.0 + 1e-6
            elif d.kind == 'satellite':
                assert 5.0 - 1e-6 <= d.diameter <= 0.35 * 65 + 1e-6
            else:  # a pair's lobes are each in range
                assert 4.0 - 1e-6 <= d.outline.lobe[2] <= 32.5 + 1e-6
                assert 4.0 <= np.sqrt(d.a * d.b) <= 32.5 + 1e-6
        diam += one
        if info['polydisperse'] and len(one) > 10:
            cvs.append(np.std(one) / np.mean(one))
    assert np.percentile(diam, 5) < 12 and np.percentile(diam, 95) > 32
    assert max(cvs) > 0.3
    _, drops, _ = render_frame(FrameSpec(diameter_range=(20.0, 30.0),
                                         satellite_rate=0.0, coalesce=0.0),
                               1)
    assert all(20 - 1e-6 <= d.diameter <= 30 + 1e-6 for d in drops)


def test_field_stop_hides_what_lies_outside():
    spec = FrameSpec.v1(height=256, width=256, field_stop=1.0,
                        layout='packed', cluster_coverage=(1.0, 1.0))
    img, drops, info = render_frame(spec, 3)
    Y, X = np.mgrid[0:256, 0:256] + 0.5
    stop = _aperture(info, X, Y)
    for d in drops:
        assert (stop[_full(d, 256, 256)] < 0).all()
    assert img[stop > 6].mean() < 0.5 * img[stop < -6].mean()
    assert any(d.cut and 0 < d.cx < 256 and 0 < d.cy < 256 for d in drops)


def _load_tool(rel):
    spec = importlib.util.spec_from_file_location(
        osp.splitext(osp.basename(rel))[0], osp.join(ROOT, rel))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_generate_droplets_flags_and_presets(tmp_path):
    tool = _load_tool('tools/dataset_converters/generate_droplets.py')
    args = tool.parse_args(['out', '--preset', 'v1', '--size', '64', '80'])
    assert tool.build_spec(args) == FrameSpec.v1(height=64, width=80)
    args = tool.parse_args(['out', '--area', '100', '200', '--polydisperse',
                            '--defocus', '0', '0.5', '--label-defocus',
                            'none', '--output-bits', '16', '--bit-depth',
                            '12', '--diameter-range', '6', '40'])
    spec = tool.build_spec(args)
    assert spec.mean_area == (100.0, 200.0) and spec.polydisperse
    assert spec.defocus == (0.0, 0.5) and spec.label_defocus is None
    assert spec.output_bits == 16 and spec.bit_depth == 12
    assert spec.diameter_range == (6.0, 40.0)
    assert spec.harmonics == FrameSpec().harmonics  # v2 default kept
    tool.main([str(tmp_path / 'd'), '--train', '1', '--val', '0', '--size',
               '48', '48', '--gallery', '0', '--output-bits', '16'])
    png = cv2.imread(str(tmp_path / 'd' / 'train' / '000000.png'),
                     cv2.IMREAD_UNCHANGED)
    assert png.dtype == np.uint16 and png.shape[:2] == (48, 48)


def test_render_gallery_tool(tmp_path, tiny_droplets):
    tool = _load_tool('tools/analysis_tools/render_gallery.py')
    out = str(tmp_path / 'g.png')
    tool.main(['--real', osp.join(tiny_droplets, 'val.json'),
               osp.join(tiny_droplets, 'val'), '--crop', '64', '--cols', '3',
               '--synthetic-rows', '2', '--outlines', '--out', out])
    img = cv2.imread(out)
    assert img.shape[0] == 3 * (64 + 4)  # one real row, two synthetic

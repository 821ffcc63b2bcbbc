"""How droplets and frames look: droplet profiles, sensor, artefacts.

Pure functions on float32 frames (H x W, 1 = full scale) and float64
droplet patches (h x w). Every random draw comes from the generator that
is passed in.

**Brightfield droplet** at defocus ``z`` (0 = in focus): a lens-like
brightening towards the centre, a dark refraction rim inside the outer
boundary (width ``rim_w``) and a faint halo outside it. Defocus blurs the
edge and the rim by ``sigma = |z| (1 + 0.12 r)`` px (``r``: equivalent
radius) and adds the sign-dependent part of a transparent sphere seen out
of focus: **above focus** (``z > 0``) a bright central spot inside a dark
ring, **below focus** (``z < 0``) a darker centre, a fading rim and a
bright halo around the boundary. Fluorescent droplets only blur and dim.
"""
import cv2
import numpy as np


def _coverage(d: np.ndarray) -> np.ndarray:
    return np.clip(0.5 - d, 0.0, 1.0)


def defocus_sigma(z, r):
    """Blur (px) of a droplet of equivalent radius ``r`` at defocus ``z``
    (floats or arrays)."""
    return np.abs(z) * (1.0 + 0.12 * r)


def paint_droplet(img: np.ndarray, geom, look: str,
                  rng: np.random.Generator, contents: bool, z: float = 0.0,
                  rim_extra: float = 0.0, r: float = 10.0) -> None:
    """Blend one droplet into ``img`` in place (multiplicative in
    brightfield, so the order of droplets does not change their look).

    Args:
        geom: ``(x0, y0, d, rn)`` from :meth:`Outline.patch`.
        contents: draw 1-3 beads/cells inside.
        z: defocus (see module docstring).
        rim_extra: px added to the rim width.
        r: equivalent radius (px), scales the defocus blur.
    """
    x0, y0, d, rn = geom
    h, w = d.shape
    sigma = defocus_sigma(z, r)
    # the coverage ramp is >= 1/2 exactly where d <= 0: the mask rule
    if z == 0:
        cov = _coverage(d)
    else:
        d = d.astype(np.float32)
        rn = rn.astype(np.float32)
        cov = np.float32(0.5) - d * np.float32(1 / (1 + 2 * sigma))
        np.maximum(cov, 0, out=cov)
        np.minimum(cov, 1, out=cov)
    sl = (slice(y0, y0 + h), slice(x0, x0 + w))
    bg = img[sl]
    if look == 'brightfield':
        rim_w = rng.uniform(1.5, 3.0) + rim_extra
        gain = rng.uniform(0.05, 0.25)
        if z == 0:
            val = bg * (1 + gain * (1 - np.clip(rn, 0, 1)**2))
            dark = rng.uniform(0.5, 0.8)
            rim = np.exp(-0.5 * ((d + rim_w * 0.6) / (rim_w * 0.5))**2)
            val = val * (1 - dark * rim)
            halo = 0.08 * np.exp(-0.5 * ((d - 1.2) / 0.8)**2) * (d > 0)
            new = bg * (1 - cov) + val * cov + halo * bg
        else:
            dark = rng.uniform(0.5, 0.8)
            new = _defocused(bg, d, rn, cov, z, sigma, r, rim_w, gain, dark)
    else:
        level = rng.uniform(0.45, 0.8)
        if z != 0:
            level = level / (1 + (sigma / max(r, 1.0))**2 * 4)
        val = level * (0.85 + 0.15 * (1 - np.clip(rn, 0, 1)**2))
        new = bg * (1 - cov) + val * cov
    if contents:
        for _ in range(rng.integers(1, 4)):
            rr = rng.uniform(1.2, 3.0)
            ang, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.5)
            bx = (w / 2) + dist * (w / 2 - 4) * np.cos(ang)
            by = (h / 2) + dist * (h / 2 - 4) * np.sin(ang)
            yy, xx = np.mgrid[0:h, 0:w]
            bead = np.clip(rr + 0.5 - np.hypot(xx + 0.5 - bx, yy + 0.5 - by),
                           0, 1) * cov
            tone = 0.5 if look == 'brightfield' else 1.4
            new = new * (1 - bead) + new * tone * bead
    img[sl] = new


def _defocused(bg: np.ndarray, d: np.ndarray, rn: np.ndarray,
               cov: np.ndarray, z: float, sigma: float, r: float,
               rim_w: float, gain: float, dark: float) -> np.ndarray:
    """Brightfield droplet at defocus ``z != 0`` (float32 patch)."""
    f32 = np.float32
    sd = float(np.hypot(0.5 * rim_w, sigma))
    q2 = np.minimum(rn, f32(1))
    q2 *= q2
    # lens brightening, then the sign-dependent part
    val = f32(1 + gain) - f32(gain) * q2
    t = d + f32(rim_w * 0.6)
    t *= f32(1 / sd)
    t *= t
    rim = np.exp(t * f32(-0.5))
    if z > 0:  # above focus: bright spot, dark ring, faint outer halo
        width = 0.3 + sigma / max(r, 1.0)
        spot = rn * f32(1 / width)
        spot *= spot
        val *= 1 + f32(0.35 * min(z, 1.0)) * np.exp(spot * f32(-0.5))
        t = d - f32(1.2 + sigma)
        t *= f32(1 / (0.8 + sigma))
        halo = np.exp(t * t * f32(-0.5)) * f32(0.08) * (d > 0)
    else:  # below focus: dark centre, fading rim, bright halo
        val *= f32(1) - f32(0.5 * min(-z, 1.0)) * (f32(1) - q2)
        dark = dark * max(0.0, 1 - 1.6 * -z)
        t = d - f32(0.5 + 0.5 * sigma)
        t *= f32(1 / (0.8 + sigma))
        halo = np.exp(t * t * f32(-0.5)) * f32(0.08 + 0.25 * min(-z, 1.0))
    rim *= f32(-dark * 0.5 * rim_w / sd)
    rim += 1
    val *= rim
    # bg * (1 - cov + val * cov + halo)
    val -= 1
    val *= cov
    val += 1
    val += halo
    val *= bg
    return val


def sensor(img: np.ndarray, photons: float, read: float,
           rng: np.random.Generator) -> np.ndarray:
    """Shot noise (Poisson with ``photons`` counts at full scale, in its
    Gaussian form, variance = signal / photons) plus Gaussian read noise;
    returns the frame clipped to [0, 1] (float32)."""
    np.clip(img, 0, None, out=img)
    sd = np.sqrt(img / np.float32(photons) + np.float32(read**2))
    img += sd * rng.standard_normal(img.shape, dtype=np.float32)
    np.clip(img, 0, 1, out=img)
    return img


def quantise(img: np.ndarray, bit_depth: int, output_bits: int
             ) -> np.ndarray:
    """``bit_depth``-bit sensor levels spread over the output's range:
    uint8 for ``output_bits`` 8, uint16 (0-65535) for 16."""
    levels = np.float32(2**bit_depth - 1)
    if output_bits == 8:
        img = np.round(img * levels) * np.float32(255 / levels)
        return np.round(img).astype(np.uint8)
    img = np.round(img * levels) * np.float32(65535 / levels)
    return np.round(img).astype(np.uint16)


def fringes(H: int, W: int, amp: float, rng: np.random.Generator
            ) -> np.ndarray:
    """Multiplicative interference fringes ``1 + amp * sin(phase)``:
    straight (phase linear in x, y) or rings (phase ~ squared distance
    from a centre, Newton's rings), period 6-40 px. Separable, so it costs
    two outer products."""
    x = np.arange(W, dtype=np.float32) + 0.5
    y = np.arange(H, dtype=np.float32) + 0.5
    if rng.random() < 0.5:
        period = rng.uniform(6, 40)
        ang = rng.uniform(0, np.pi)
        k = np.float32(2 * np.pi / period)
        px = k * np.float32(np.cos(ang)) * x
        py = k * np.float32(np.sin(ang)) * y + np.float32(
            rng.uniform(0, 2 * np.pi))
    else:
        cx, cy = rng.uniform(-0.5, 1.5) * W, rng.uniform(-0.5, 1.5) * H
        # ring period ~ period at distance r0: phase = pi r^2 / (period r0)
        r0 = rng.uniform(0.3, 1.0) * max(H, W)
        k = np.float32(np.pi / (rng.uniform(6, 40) * r0))
        px = k * (x - np.float32(cx))**2
        py = k * (y - np.float32(cy))**2
    sin = np.sin(py)[:, None] * np.cos(px)[None, :]
    sin += np.cos(py)[:, None] * np.sin(px)[None, :]
    return 1 + np.float32(amp) * sin


def motion_blur(img: np.ndarray, length: float,
                rng: np.random.Generator) -> np.ndarray:
    """Linear motion blur: a streak of ``length`` px at a random angle."""
    n = int(np.ceil(length)) | 1
    canvas = np.zeros((n * 4, n * 4), np.uint8)
    ang = rng.uniform(0, np.pi)
    c = 2 * n - 0.5
    dx, dy = 2 * length * np.cos(ang), 2 * length * np.sin(ang)
    # 4x oversampled anti-aliased line, shrunk to the kernel (float32)
    p = (int(round((c - dx) * 16)), int(round((c - dy) * 16)))
    q = (int(round((c + dx) * 16)), int(round((c + dy) * 16)))
    cv2.line(canvas, p, q, 255, 4, cv2.LINE_AA, shift=4)
    kernel = cv2.resize(canvas.astype(np.float32), (n, n),
                        interpolation=cv2.INTER_AREA)
    kernel /= kernel.sum()
    return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT)


def jpeg(image: np.ndarray, quality: float) -> np.ndarray:
    """JPEG round trip of a uint8 frame (blocking, ringing)."""
    ok, buf = cv2.imencode('.jpg', image,
                           [cv2.IMWRITE_JPEG_QUALITY, int(round(quality))])
    if not ok:
        raise RuntimeError('JPEG encoding failed')
    return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)


def overlay(img: np.ndarray, rng: np.random.Generator) -> None:
    """Burn a scale bar and text (``'50 um'``, a time stamp or a frame
    number) into one side of the frame, in place: white or black glyphs,
    sometimes on a solid label box of the opposite tone."""
    H, W = img.shape
    canvas = np.zeros((H, W), np.uint8)
    scale = min(H, W) / 512
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN,
                           cv2.FONT_HERSHEY_DUPLEX]))
    fs = rng.uniform(0.35, 0.8) * scale * (1.6 if font == 1 else 1.0)
    thick = max(1, int(round(rng.uniform(0.6, 1.8) * scale)))
    bar = int(rng.uniform(0.08, 0.22) * W)
    bar_h = max(2, int(rng.uniform(0.006, 0.014) * H))
    label = f'{int(rng.choice([10, 20, 50, 100, 200]))} um'
    stamp = str(rng.choice([f't = {rng.uniform(0, 99):.3f} s',
                            f'Frame {int(rng.integers(0, 99999))}',
                            f'{int(rng.integers(0, 24)):02d}:'
                            f'{int(rng.integers(0, 60)):02d}:'
                            f'{int(rng.integers(0, 60)):02d}']))
    (tw, th), _ = cv2.getTextSize(label, font, fs, thick)
    m = int(0.03 * min(H, W)) + 2
    right, bottom = rng.random() < 0.7, rng.random() < 0.7
    bx = W - m - max(bar, tw) if right else m
    by = H - m - bar_h if bottom else m + th + 6
    cv2.rectangle(canvas, (bx, by), (bx + bar, by + bar_h), 255, -1)
    cv2.putText(canvas, label, (bx, by - 4), font, fs, 255, thick,
                cv2.LINE_AA)
    (sw, sh), _ = cv2.getTextSize(stamp, font, fs, thick)
    sx = m if right else W - m - sw
    sy = H - m if bottom else m + sh
    cv2.putText(canvas, stamp, (sx, sy), font, fs, 255, thick, cv2.LINE_AA)
    tone = np.float32(1.0 if rng.random() < 0.75 else 0.0)
    boxed = rng.random() < 0.3
    rows = np.flatnonzero(canvas.any(axis=1))
    if len(rows) == 0:
        return
    y0, y1 = max(int(rows[0]) - 3, 0), min(int(rows[-1]) + 4, H)
    band = img[y0:y1]
    if boxed:  # one box around each group of glyphs (bar + label, stamp)
        cols = np.flatnonzero(canvas[y0:y1].any(axis=0))
        groups = np.split(cols, np.flatnonzero(np.diff(cols) > 8) + 1)
        for g in groups:
            seg = band[:, max(int(g[0]) - 3, 0):int(g[-1]) + 4]
            seg += np.float32(0.85) * (1 - tone - seg)
    alpha = canvas[y0:y1].astype(np.float32) * np.float32(1 / 255)
    band += alpha * (tone - band)

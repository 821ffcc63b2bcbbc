"""What a synthetic frame holds: :class:`FrameSpec`, its knobs and presets.

A default ``FrameSpec()`` is the realism-v2 generator: every knob draws
per frame (or per droplet) from a range, so consecutive frames differ in
sizes, depths, outlines, background, optics and artefacts (domain
randomisation). ``FrameSpec.v1()`` switches every v2 knob off and gives,
seed for seed, the bytes of the first generator.
"""
import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

Range = Tuple[float, float]
Knob = Union[None, float, Range]


@dataclass
class FrameSpec:
    """Everything that controls a frame.

    Ranges ``(lo, hi)`` are drawn uniformly per frame unless said otherwise;
    a float is a fixed value. Every v2 knob is off at ``0`` / ``None``
    (a range knob also at ``(0, 0)``) and then draws nothing; each draws
    from its own random stream, so a background or artefact knob changes
    pixels but never the droplets, and with all of them off a frame is the
    v1 frame of its seed (:meth:`v1`).

    Size: ``mean_area`` (px^2; the mean over the frame's main population),
    ``size_cv`` (monodisperse spread of the area), ``polydisperse`` (every
    frame polydisperse), ``poly_prob`` (chance a frame is), ``poly_cv``
    (CV of the *diameter* in a polydisperse frame, log-normal; packed
    lattices cap it at 0.25), ``diameter_range`` (px, equivalent diameters
    are redrawn once, then clipped into it; ``None``: area clipped to
    0.2-5 x ``mean_area`` as in v1), ``max_ellipticity`` (``1 - b/a``).

    Outlines: ``harmonics`` (per-frame bound of the radial harmonics
    k = 2..5 of an outline, fraction of the radius; each droplet draws
    amplitudes up to ``bound * 2 / k``, scaled down under 15 px radius:
    small droplets are rounder), ``coalesce`` (fraction
    of droplets that merge with a second lobe into one labelled instance),
    ``rim_scale`` (extra dark-rim width, fraction of the radius, per frame;
    each droplet varies it by +-30 %: thin oil-droplet rims to gas bubbles
    that are dark almost to the centre).

    Arrangement: ``layout`` is ``'sparse'``, ``'packed'``, ``'channel'`` or
    ``'mixed'``; ``sparse_coverage`` (area fraction for sparse flow),
    ``cluster_coverage`` (frame fraction of a packed cluster, 1 = whole
    frame), ``max_overlap`` (projected overlap of neighbours, fraction of the
    radius sum), ``border_cut`` (let droplets run past the border),
    ``stacked`` (extra droplets per droplet placed on top of another, which
    they partly hide), ``satellite_rate`` (mean number of small *labelled*
    satellite droplets, 0.12-0.35 x the parent's diameter and at least
    5 px, beside each droplet of 16 px or more).

    Gas bubbles: ``gas_bubbles`` (chance a brightfield frame shows gas
    bubbles in backlit shadowgraphy instead of droplets: a body that
    refracts the light away, 0.04-0.35 of the background, with a bright
    flat-topped centre spot of 0.08-0.6 of the radius; per frame, each
    bubble varying it; no beads inside).

    Depth: ``defocus`` (per-frame bound ``z_max``; each droplet draws its
    defocus ``z`` in ``[-z_max, z_max]``, ``z > 0`` above focus: bright
    centre, dark ring; ``z < 0`` below: dark centre, bright halo; blur grows
    with ``|z|``), ``label_defocus`` (droplets with ``|z|`` above it are
    unlabelled background, as in real sets that label only in-focus
    objects; ``None``: every droplet is labelled).

    Background: ``texture`` (amplitude of smooth mottling of the continuous
    phase), ``speckle`` (tiny unlabelled dark specks, under 4 px, per
    512 x 512), ``vignetting`` (corner darkening), ``field_stop``
    (chance of a round or octagonal aperture with dark surroundings),
    ``overlay`` (chance of a burned-in scale bar and text).

    Optics and sensor: ``look`` is ``'brightfield'``, ``'fluorescence'`` or
    ``'mixed'``; ``illumination`` (uneven lighting), ``blur_sigma`` (frame
    defocus, px), ``photons`` (Poisson photon count at full scale),
    ``read_noise`` (Gaussian sigma, fraction of full scale), ``bit_depth``
    (sensor quantisation), ``output_bits`` (8: uint8 image; 16: uint16,
    the sensor levels spread over 0-65535, written as 16-bit PNG).

    Artefacts, each applied to a frame with chance ``artefact_prob``:
    ``fringes`` (amplitude of straight or ring interference fringes),
    ``motion_blur`` (streak length, px), ``jpeg_quality`` (JPEG round trip;
    8-bit output only).

    Distractors (drawn, never labelled): ``satellites`` (v1's tiny round
    specks; off in v2, whose small droplets are labelled), ``debris``
    (fibres and particles, mean count), ``contents_prob`` (chance a droplet
    holds beads/cells). ``min_visible_px``: smaller visible remnants are
    not labelled.
    """
    height: int = 512
    width: int = 512
    # size
    mean_area: Range = (150.0, 1000.0)
    size_cv: float = 0.03
    polydisperse: bool = False
    poly_prob: float = 0.5
    poly_cv: Knob = (0.2, 1.0)
    diameter_range: Optional[Range] = (8.0, 65.0)
    max_ellipticity: float = 0.2
    # outlines
    harmonics: Knob = (0.0, 0.08)
    coalesce: float = 0.03
    rim_scale: Knob = (0.0, 1.2)
    gas_bubbles: float = 0.3
    # arrangement
    layout: str = 'mixed'
    sparse_coverage: Range = (0.12, 0.35)
    cluster_coverage: Range = (0.25, 0.6)
    max_overlap: float = 0.06
    border_cut: bool = True
    stacked: float = 0.05
    satellite_rate: float = 0.2
    # depth
    defocus: Knob = (0.0, 1.2)
    label_defocus: Optional[float] = 0.6
    # background
    texture: Knob = (0.0, 0.08)
    speckle: Knob = (0.0, 800.0)
    vignetting: Knob = (0.0, 0.5)
    field_stop: float = 0.15
    overlay: float = 0.2
    # optics and sensor
    look: str = 'brightfield'
    illumination: float = 0.25
    blur_sigma: Range = (0.0, 1.2)
    photons: Range = (80.0, 600.0)
    read_noise: Range = (0.004, 0.02)
    bit_depth: int = 8
    output_bits: int = 8
    # artefacts
    artefact_prob: float = 0.3
    fringes: Knob = (0.01, 0.06)
    motion_blur: Knob = (2.0, 8.0)
    jpeg_quality: Knob = (30.0, 90.0)
    # distractors
    satellites: float = 0.0
    debris: float = 4.0
    contents_prob: float = 0.15
    min_visible_px: int = 10

    def __post_init__(self):
        if self.output_bits not in (8, 16):
            raise ValueError(f'output_bits must be 8 or 16, got '
                             f'{self.output_bits}')
        if not 1 <= self.bit_depth <= self.output_bits:
            raise ValueError(f'bit_depth must be in 1..output_bits '
                             f'({self.output_bits}), got {self.bit_depth}')

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def v1(cls, **overrides) -> 'FrameSpec':
        """The first generator's look: every v2 knob off, v1's defaults.

        ``render_frame(FrameSpec.v1(), seed)`` is byte for byte the v1
        frame of that seed (polydisperse frames follow the same law as v1,
        ``poly_cv`` now being the diameter CV, not bit for bit).
        """
        fields = dict(V1_FIELDS)
        fields.update(overrides)
        return cls(**fields)

    @classmethod
    def preset(cls, name: str, **overrides) -> 'FrameSpec':
        """``'v1'`` (see :meth:`v1`) or ``'v2'`` (the defaults)."""
        if name == 'v1':
            return cls.v1(**overrides)
        if name == 'v2':
            return cls(**overrides)
        raise ValueError(f"unknown preset {name!r}: 'v1' or 'v2'")


V1_FIELDS: Dict[str, Any] = dict(
    mean_area=(400.0, 500.0), poly_prob=0.0, poly_cv=0.125,
    diameter_range=None, max_ellipticity=0.08, harmonics=None, coalesce=0.0,
    rim_scale=None, gas_bubbles=0.0, stacked=0.0, satellite_rate=0.0,
    defocus=None,
    texture=None, speckle=None, vignetting=None, field_stop=0.0, overlay=0.0,
    artefact_prob=0.0, fringes=None, motion_blur=None, jpeg_quality=None,
    satellites=6.0)
"""The v2 knobs and changed defaults that :meth:`FrameSpec.v1` sets."""

assert set(V1_FIELDS) <= {f.name for f in dataclasses.fields(FrameSpec)}


def is_on(knob: Knob) -> bool:
    """Whether a knob does anything (``None``, 0 and ``(0, 0)`` do not)."""
    if knob is None:
        return False
    if isinstance(knob, (tuple, list)):
        return any(float(v) != 0 for v in knob)
    return float(knob) != 0


def draw(rng: np.random.Generator, knob: Knob) -> float:
    """One value of a knob: a float as is, a range drawn uniformly."""
    if knob is None:
        return 0.0
    if isinstance(knob, (tuple, list)):
        lo, hi = knob
        return float(rng.uniform(lo, hi))
    return float(knob)


def stream(seed: int, key: int) -> np.random.Generator:
    """The random stream of one v2 feature: independent of the v1 stream
    (``default_rng(seed)``) and of the other features, so that switching a
    feature on or off never changes what the others draw."""
    return np.random.default_rng([seed, key])


#: bumped whenever the renderer draws other frames for the same spec and
#: seed (a changed default is seen in the spec itself): the transfer
#: benchmark renders its frames again and retrains their rows
#: (droplet_mmdet.apis.transfer.spec_digest)
GENERATOR_VERSION = 2

# one stream per feature (keys are part of the byte format: do not reuse)
S_SIZE, S_COALESCE, S_STACK, S_SATELLITE, S_DEPTH, S_HARMONIC, S_RIM = range(
    1, 8)
S_TEXTURE, S_SPECKLE, S_VIGNETTE, S_STOP, S_OVERLAY = range(8, 13)
S_FRINGE, S_MOTION, S_JPEG = range(13, 16)
S_BUBBLE = 16

"""Write a synthetic droplet video with ground-truth trajectories.

    python tools/dataset_converters/generate_droplet_video.py data/droplet_video \
        --frames 60 --velocity 12 --frequency 0.25 --seed 0 [--coalescence 20 40]

Droplets pinch off at a nozzle at ``--frequency`` droplets per frame (or
``--frequency-hz``), flow along a horizontal channel with a plug or
Poiseuille profile (``--velocity`` px/frame on the centre line) and leave at
the right border; ``--coalescence`` / ``--breakup`` script events at given
frames. Writes ``img1/*.png`` and ``video.mp4`` (frames), ``gt/gt.txt`` and
``seqinfo.ini`` (MOTChallenge), ``annotations.json`` (COCO, RLE masks,
``track_id`` per annotation), ``truth.csv`` (per frame and id: centre,
diameter, velocity) and ``truth.json`` (spec, seed, events, tracks).
``--spec`` takes any other ``VideoSpec`` field from a JSON file.
"""
import argparse
import dataclasses
import json
import time


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('out_dir', help='output folder (one video)')
    p.add_argument('--frames', type=int, help='number of frames (60)')
    p.add_argument('--size', type=int, nargs=2, metavar=('H', 'W'),
                   help='frame size in px (256 512)')
    p.add_argument('--fps', type=float, help='frame rate of the MP4 (30)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--velocity', type=float,
                   help='flow speed on the centre line, px/frame (12)')
    p.add_argument('--profile', choices=['plug', 'poiseuille'],
                   help='velocity profile across the channel (poiseuille)')
    freq = p.add_mutually_exclusive_group()
    freq.add_argument('--frequency', type=float,
                      help='new droplets per frame (0.25)')
    freq.add_argument('--frequency-hz', type=float,
                      help='new droplets per second (divided by --fps)')
    p.add_argument('--diameter', type=float, help='mean diameter, px (20)')
    p.add_argument('--diameter-cv', type=float,
                   help='CV of the diameter (0.03)')
    p.add_argument('--channel', type=float, nargs=2, metavar=('TOP', 'BOT'),
                   help='y of the channel walls, px (default: 80 px high, '
                   'centred)')
    p.add_argument('--nozzle', choices=['none', 't_junction',
                                        'flow_focusing'])
    p.add_argument('--inlet-x', type=float,
                   help='x where droplets appear, px (40)')
    p.add_argument('--jitter', type=float,
                   help='sd of the random displacement per frame, px (0.2)')
    p.add_argument('--coalescence', type=int, nargs='+', metavar='FRAME',
                   help='frames at which two droplets merge')
    p.add_argument('--breakup', type=int, nargs='+', metavar='FRAME',
                   help='frames at which a droplet splits in two')
    p.add_argument('--coalescence-rate', type=float,
                   help='chance per frame of a coalescence')
    p.add_argument('--breakup-rate', type=float,
                   help='chance per frame of a break-up')
    p.add_argument('--look', choices=['brightfield', 'fluorescence'])
    p.add_argument('--no-prefill', action='store_true',
                   help='start with an empty channel')
    p.add_argument('--spec', help='JSON file of further VideoSpec fields')
    p.add_argument('--no-mp4', action='store_true', help='PNG frames only')
    p.add_argument('--no-progress', action='store_true')
    return p


def build_spec(args):
    """The ``VideoSpec`` the flags ask for: the defaults, the flags that were
    given, then ``--spec``. Raises ``ValueError`` on a bad combination."""
    from droplet_mmdet.datasets.synthetic import VideoSpec
    fields = {}
    if args.size:
        fields.update(height=args.size[0], width=args.size[1])
    given = dict(n_frames=args.frames, fps=args.fps, u_max=args.velocity,
                 profile=args.profile, frequency=args.frequency,
                 diameter=args.diameter, diameter_cv=args.diameter_cv,
                 channel=args.channel, nozzle=args.nozzle,
                 inlet_x=args.inlet_x, jitter=args.jitter,
                 coalescence=args.coalescence, breakup=args.breakup,
                 coalescence_rate=args.coalescence_rate,
                 breakup_rate=args.breakup_rate, look=args.look)
    fields.update((k, v) for k, v in given.items() if v is not None)
    if args.no_prefill:
        fields['prefill'] = False
    if args.spec:
        with open(args.spec) as f:
            extra = json.load(f)
        known = {f.name for f in dataclasses.fields(VideoSpec)}
        unknown = set(extra) - known
        if unknown:
            raise ValueError(f'{args.spec}: unknown VideoSpec fields '
                             f'{sorted(unknown)}; known: {sorted(known)}')
        fields.update(extra)
    if args.frequency_hz is not None:
        fps = fields.get('fps', VideoSpec.fps)
        fields['frequency'] = args.frequency_hz / fps
    if 'channel' not in fields and 'height' in fields:
        mid = fields['height'] / 2
        half = min(40.0, 0.4 * fields['height'])
        fields['channel'] = (mid - half, mid + half)
    return VideoSpec(**fields)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        spec = build_spec(args)
    except (ValueError, TypeError, OSError) as e:
        parser.error(str(e))  # usage + message, exit status 2
    from droplet_mmdet.datasets.synthetic import write_video
    t = time.time()
    out = write_video(args.out_dir, spec, args.seed, mp4=not args.no_mp4,
                      progress=not args.no_progress)
    print(f'{out["frames"]} frames, {out["tracks"]} tracks, '
          f'{out["annotations"]} annotations, {len(out["events"])} events')
    for ev in out['events']:
        print(f'  frame {ev["frame"]}: {ev["type"]} {ev["parents"]} -> '
              f'{ev["children"]}')
    for ev in out['skipped']:
        print(f'  skipped {ev["type"]} at frame {ev["frame"]}: '
              f'{ev["reason"]}')
    if not args.no_mp4 and out['mp4'] is None:
        print('NOTE: video.mp4 was not written (cv2.VideoWriter could not '
              'open an mp4v writer); the PNG frames are in img1/')
    print(f'wrote {args.out_dir} in {time.time() - t:.1f}s')


if __name__ == '__main__':
    main()

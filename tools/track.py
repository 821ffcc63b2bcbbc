"""Track droplets through a video: ids, velocities, generation frequency,
coalescence and break-up.

    python tools/track.py CONFIG CHECKPOINT VIDEO_OR_FOLDER --out-dir OUT [--px-size 0.65] [--fps 500] [--tracker bytetrack]

Each frame is predicted as tools/infer.py does (the config's test
pipeline, tiles of at most --tile px) and the droplets are linked across
frames by one of mmdet's trackers (ByteTrack by default, SORT or OC-SORT),
keeping each droplet's mask with its track id
(droplet_mmdet/apis/track.py). Writes OUT/tracks.csv (per droplet and
frame), OUT/track_summary.csv (per track: frames, mean velocity, mean
diameter and its drift), OUT/events.csv (coalescences, break-ups),
OUT/tracks_mot.txt (MOTChallenge format), OUT/summary.json (generation
frequency, counts, mean velocity and diameter, flow profile),
OUT/overlay.mp4 and OUT/overlays/*.png (ids and trails),
OUT/velocity_profile.png and OUT/diameter_vs_time.png.
A folder is read as frames in name order. --fps defaults to the video's
own frame rate (or frameRate in a MOTChallenge seqinfo.ini); Hz and um/s
need one. The score threshold is resolved as in tools/infer.py.
"""
import argparse
import sys


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='video file or folder of frames')
    p.add_argument('--out-dir', default='work_dirs/track')
    p.add_argument('--tracker', default='bytetrack',
                   choices=['bytetrack', 'sort', 'ocsort'])
    p.add_argument('--velocity', type=float, nargs=2, default=None,
                   metavar=('VX', 'VY'),
                   help='the flow in px/frame, if known (e.g. 20 0): needed '
                   'once droplets move half their spacing or more per '
                   'frame; otherwise estimated from the frames')
    p.add_argument('--px-size', type=float, default=None,
                   help='pixel size in micrometres (adds um and um/s)')
    p.add_argument('--fps', type=float, default=None,
                   help="frames per second (default: the video's own)")
    p.add_argument('--score-thr', type=float, default=None,
                   help='score that starts a track; default: the '
                   'calibrated threshold of the checkpoint, else the '
                   "config's count_score_thr, else 0.5")
    p.add_argument('--inlet-x', default='auto',
                   help="x (px) of the droplet inlet for the generation "
                   "frequency; 'auto' (where new tracks start) or 'none' "
                   '(count every new track)')
    p.add_argument('--gt', default=None,
                   help='MOTChallenge gt.txt: adds MOT scores to '
                   'summary.json')
    p.add_argument('--tile', type=int, default=1536,
                   help='largest tile; larger frames are sliced')
    p.add_argument('--overlap', type=int, default=64,
                   help='tile overlap; must exceed the largest droplet')
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-overlays', action='store_true')
    return p.parse_args()


def main():
    args = parse_args()
    inlet = args.inlet_x.lower()
    if inlet not in ('auto', 'none'):
        try:
            inlet = float(inlet)
        except ValueError:
            sys.exit(f"error: --inlet-x must be a number, 'auto' or "
                     f"'none', got {args.inlet_x!r}")
    inlet = None if inlet == 'none' else inlet
    from droplet_mmdet.apis.infer import iter_frames
    try:  # a missing or unreadable input fails before the model loads
        next(iter_frames(args.input))
    except (OSError, StopIteration) as e:
        sys.exit(f'error: {e}')
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.infer import resolve_score_thr
    from droplet_mmdet.apis.predictor import mmdet_predict_fn
    from droplet_mmdet.apis.track_report import run_tracking
    from droplet_mmdet.apis import load_config
    from mmdet.apis import init_detector
    cfg = load_config(args.config, args.checkpoint)
    if 'tracker' in cfg.model:
        sys.exit(f'error: {args.config} is an mmdet tracking config (model '
                 f'{cfg.model.type} with a tracker); this tool takes the '
                 f'detector config and picks the tracker with --tracker '
                 f'(mmdet\'s own video API runs tracking configs)')
    model = init_detector(cfg, args.checkpoint, device=args.device)
    score_thr, source = resolve_score_thr(args.score_thr, args.checkpoint,
                                          model.cfg)
    low = (f'; detections from {0.1:.1f} may continue (never start) a '
           f'track') if args.tracker == 'bytetrack' and score_thr > 0.1 \
        else ''
    print(f'tracking droplets at score >= {score_thr:.3f} ({source}) '
          f'with {args.tracker}{low}')
    try:
        s = run_tracking(mmdet_predict_fn(model), args.input, args.out_dir,
                         tracker=args.tracker, score_thr=score_thr,
                         px_size=args.px_size, fps=args.fps,
                         tile=args.tile, overlap=args.overlap,
                         inlet_x=inlet, gt=args.gt,
                         overlays=not args.no_overlays,
                         velocity=args.velocity)
    except (OSError, ValueError) as e:
        sys.exit(f'error: {e}')
    g = s['generation']
    rate = f"{g['per_frame']} droplets/frame" if g['per_frame'] is not None \
        else 'no rate (one frame)'
    if g['hz'] is not None:
        rate += f" = {g['hz']:.3g} Hz"
    print(f"{s['frames']} frame(s) at {s['fps'] or '?'} fps, "
          f"{s['detections']} detections in {s['tracks']} tracks; "
          f"generation {rate} ({g['method']}); "
          f"{s['events']['coalescence']} coalescence(s), "
          f"{s['events']['breakup']} break-up(s); results in "
          f"{args.out_dir}/")


if __name__ == '__main__':
    main()

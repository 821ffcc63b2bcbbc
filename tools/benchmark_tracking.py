"""Tracking benchmark on synthetic videos with ground truth: MOTA, IDF1,
ID switches, velocity error, generation-frequency error and frames/s.

    python tools/benchmark_tracking.py --train-detector
    python tools/benchmark_tracking.py --detector CONFIG CHECKPOINT --seeds 0 1
    python tools/benchmark_tracking.py --displacements 10 20 --spacings 2 --frames 30

Videos (seeded, rendered in memory): plug flow at every displacement
``--displacements`` (px/frame) x droplet spacing ``--spacings`` (in
diameters; frequency = u / (spacing x diameter) droplets/frame; cases
above one droplet per frame cannot be made and are listed as skipped),
plus the default Poiseuille video (``VideoSpec()``), each ``--frames``
frames of ``--height`` x ``--width``, once per seed.

Sources: ``truth`` (the truth masks as detections: the tracker alone)
always; ``detector`` with ``--detector CONFIG CHECKPOINT`` or
``--train-detector`` (the slim Mask R-CNN trained on synthetic videos of
other seeds under ``--work-dir``; a finished checkpoint is reused, an
interrupted training continues). Trackers: ``--trackers`` (ByteTrack by
default; ``NAME_prior``: the tracker given the true flow speed as its
velocity prior, which tools/track.py cannot do). The metrics are defined in droplet_mmdet/apis/track_bench.py.

Writes ``--out`` (default benchmarks/tracking.json: command, machine,
every case, and a summary of the targets IDF1 >= 0.95 and velocity error
<= 2 % at 20 px/frame and of where tracking breaks) after each video, and
a PNG beside it (IDF1 and velocity error against displacement).
``--resume`` keeps the cases already in ``--out``. Frames/s are wall
clock on this machine's CPU (cores may be shared with other jobs).
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SLIM = osp.join(ROOT, 'configs', 'droplet',
                'mask_rcnn_r18_fpn_slim_400it_synthetic.py')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--displacements', type=float, nargs='+',
                   default=[5, 10, 20, 30, 40],
                   help='plug-flow displacements u, px/frame')
    p.add_argument('--spacings', type=float, nargs='+', default=[1.5, 2, 3],
                   help='droplet spacings, in diameters')
    p.add_argument('--diameter', type=float, default=20.0,
                   help='droplet diameter, px')
    p.add_argument('--frames', type=int, default=60)
    p.add_argument('--height', type=int, default=256)
    p.add_argument('--width', type=int, default=512)
    p.add_argument('--no-poiseuille', action='store_true',
                   help='leave out the default Poiseuille video')
    p.add_argument('--seeds', type=int, nargs='+', default=[0])
    p.add_argument('--trackers', nargs='+', default=['bytetrack'],
                   choices=[t + s for s in ('', '_prior')
                            for t in ('bytetrack', 'ocsort', 'sort')],
                   help='NAME_prior: the tracker told the true flow speed '
                   '(u_max, 0) px/frame as its velocity prior')
    det = p.add_mutually_exclusive_group()
    det.add_argument('--detector', nargs=2,
                     metavar=('CONFIG', 'CHECKPOINT'),
                     help='a trained Mask R-CNN for the detector source')
    det.add_argument('--train-detector', action='store_true',
                     help='train the slim Mask R-CNN on synthetic videos '
                     '(or reuse its checkpoint in --work-dir)')
    p.add_argument('--train-iters', type=int, default=400)
    p.add_argument('--train-frames', type=int, default=20,
                   help='frames per training video (6 videos)')
    p.add_argument('--base-config', default=SLIM,
                   help='config trained by --train-detector')
    p.add_argument('--score-thr', type=float, default=None,
                   help="detector score threshold; default: the "
                   "checkpoint's calibrated one, else the config's, else "
                   '0.5')
    p.add_argument('--device', default='cpu')
    p.add_argument('--work-dir', default=osp.join(
        ROOT, 'work_dirs', 'benchmark_tracking'))
    p.add_argument('--out', default=osp.join(ROOT, 'benchmarks',
                                             'tracking.json'))
    p.add_argument('--png', default=None,
                   help='default: --out with .png')
    p.add_argument('--resume', action='store_true',
                   help='keep the cases already in --out')
    p.add_argument('--no-progress', action='store_true')
    args = p.parse_args(argv)
    if args.frames < 2:
        p.error(f'--frames must be >= 2, got {args.frames}')
    if args.train_iters < 1 or args.train_frames < 2:
        p.error('--train-iters must be >= 1 and --train-frames >= 2')
    if args.detector:
        for what, path in zip(('config', 'checkpoint'), args.detector):
            if not osp.isfile(path):
                p.error(f'--detector {what} not found: {path}')
    if args.train_detector and not osp.isfile(args.base_config):
        p.error(f'--base-config not found: {args.base_config}')
    if osp.isdir(args.out):
        p.error(f'--out is a folder: {args.out}')
    args.seeds = list(dict.fromkeys(args.seeds))
    args.trackers = list(dict.fromkeys(args.trackers))
    return p, args


def main(argv=None):
    p, args = parse_args(argv)
    from droplet_mmdet.apis.track_bench import (bench_grid, load_previous,
                                                results_table, run_benchmark)
    try:
        cases, skipped = bench_grid(
            args.displacements, args.spacings, args.height, args.width,
            args.frames, args.diameter, poiseuille=not args.no_poiseuille)
        if args.resume:
            load_previous(args.out)  # a bad file fails before any work
    except ValueError as e:
        p.error(str(e))
    for s in skipped:
        print(f"skipping {s['name']}: {s['reason']}")
    if not cases:
        p.error('no video left to run (see the skipped cases above)')
    detector = None
    if args.detector or args.train_detector:
        from droplet_mmdet.apis.track_bench import (detector_predict_fn,
                                                    train_detector)
        if args.train_detector:
            config, ckpt, info = train_detector(
                args.work_dir, args.base_config, ROOT, args.train_iters,
                args.train_frames, args.height, args.width)
        else:
            (config, ckpt), info = args.detector, {}
        fn, thr, where = detector_predict_fn(config, ckpt, args.device,
                                             args.score_thr)
        print(f'detector: {ckpt}, score >= {thr:.3f} ({where})')
        info.update(config=osp.abspath(config), checkpoint=osp.abspath(ckpt),
                    score_thr=thr, score_thr_source=where,
                    device=args.device)
        detector = dict(predict_fn=fn, score_thr=thr, info=info)
    words = sys.argv[1:] if argv is None else list(argv)
    setup = dict(
        command=' '.join(['python tools/benchmark_tracking.py'] + words),
        grid=dict(displacements=args.displacements, spacings=args.spacings,
                  diameter=args.diameter, frames=args.frames,
                  height=args.height, width=args.width,
                  poiseuille=not args.no_poiseuille),
        seeds=args.seeds, trackers=args.trackers,
        title=f'tracking on synthetic {args.width} x {args.height} videos, '
        f'{args.frames} frames, {args.diameter:g} px droplets, seeds '
        f'{args.seeds}')
    png = args.png or osp.splitext(args.out)[0] + '.png'
    data = run_benchmark(cases, skipped, args.seeds, args.trackers,
                         args.out, png, detector=detector,
                         resume=args.resume, setup=setup,
                         progress=not args.no_progress)
    print(results_table(data['cases']))
    u = data['summary']['targets']['u']
    for name, s in data['summary']['per_source'].items():
        met = {True: 'met', False: 'NOT met', None: 'not measured (no '
               'plug video at that u)'}[s['meets_targets_at_target_u']]
        where = '; '.join(f"spacing {b['spacing']:g} d: first failing u "
                          f"{b['first_failing_u']}" for b in s['breaks'])
        print(f'{name}: targets at u = {u:g} px/frame {met}; {where}')
    print(f'results: {args.out}, {png}')


if __name__ == '__main__':
    main()

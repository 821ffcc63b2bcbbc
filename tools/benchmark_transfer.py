"""Transfer benchmark: synthetic and cut-and-paste frames against real
labels, validated on a real set.

    python tools/benchmark_transfer.py --data bubbles --seeds 0 1 \
        --iters 1000 --val-interval 200 --resume
    python tools/benchmark_transfer.py --data zerog_bubbles --rows syn real2

Rows (``--rows``): ``syn`` (generator v2 frames only), ``synfit`` /
``synfitK`` (generator v2 frames with sizes fitted to the labels of all /
the first K real train frames), ``cpK`` (cut-and-paste frames from the
first K real train frames only), ``realK`` (the first K real train
frames), ``real_all``, ``syn+realK``, ``synfit+realK`` and ``cpK+realK``
(the real frames repeated to ``--real-share`` of the samples), and
``A-then-B`` (pretrain on row ``A``, then fine-tune on row ``B``'s data
from ``A``'s final checkpoint of the same seed; ``A`` is added to the rows
if missing, and trains first). ``--real-pick spread`` takes the K real
frames of every row that names K spread evenly over the train frames by
id instead of the first K (results in
benchmarks/transfer_<data>_<iters>it_spread.*, work root
work_dirs/transfer_<data>_<iters>it_spread). Every row
trains the slim Mask R-CNN with the set's fitted anchors (the ablation's
``+anchors`` row) for the same schedule and validates on the real val
split (droplet_mmdet/apis/transfer.py). ``real_all`` runs already in
benchmarks/ablation_<data>_<iters>it.json (row ``+anchors``, same
schedule) are taken from there instead of being trained again.

Writes benchmarks/transfer_<data>_<iters>it.json (every run, its learning
curve and the facts of its data), .md (mean ± half the seed spread) and
.png (mask AP against iterations), updated after each run; ``--resume``
keeps finished runs and continues an interrupted run from its checkpoint.
A row whose data are not what the results file recorded (synthetic frames
of another generator: ``generator`` is a digest of the whole FrameSpec,
defaults included) loses its runs and trains again.
"""
import argparse
import json
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED = osp.join(ROOT, '..', 'shared', 'datasets')
DEFAULT_ROWS = ['syn', 'cp5', 'real2', 'real5', 'syn+real2', 'syn+real5',
                'cp5+real5', 'real_all']


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', choices=['bubbles', 'zerog_bubbles'],
                   required=True)
    p.add_argument('--rows', nargs='+', default=DEFAULT_ROWS)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--iters', type=int, default=1000)
    p.add_argument('--val-interval', type=int, default=200)
    p.add_argument('--syn-frames', type=int, default=120,
                   help='generator v2 frames (made once per work root)')
    p.add_argument('--syn-size', type=int, default=512)
    p.add_argument('--cp-frames', type=int, default=120,
                   help='cut-and-paste frames per source count')
    p.add_argument('--real-share', type=float, default=0.4,
                   help='share of real samples in the mixed rows')
    p.add_argument('--real-pick', choices=['first', 'spread'],
                   default='first',
                   help='which K real train frames the rows that name K '
                   'use: the first K by image id, or K spread evenly over '
                   'them (results in transfer_<data>_<iters>it_spread.*)')
    p.add_argument('--bubbles-root', default=os.environ.get(
        'BUBBLES_ROOT', osp.join(SHARED, 'bubbles')))
    p.add_argument('--zerog-root', default=os.environ.get(
        'ZEROG_ROOT', osp.join(SHARED, 'zerog_bubbles')))
    p.add_argument('--work-root', default=None,
                   help='default: work_dirs/transfer_<data>_<iters>it')
    p.add_argument('--out', default=None,
                   help='default: benchmarks/transfer_<data>_<iters>it.json')
    p.add_argument('--resume', action='store_true',
                   help='keep the runs already recorded in --out')
    args = p.parse_args()
    if not 0 < args.real_share < 1:
        p.error(f'--real-share must be in (0, 1), got {args.real_share}')
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.ablation import (ablation_setup, markdown_table,
                                             resumable_runs, run_ablation)
    from droplet_mmdet.apis.transfer import (compose_rows, drop_stale_runs,
                                             finetune_options,
                                             merged_row_data,
                                             reuse_ablation_runs,
                                             split_finetune, stamp_run_dirs)
    rows = []
    for row in args.rows:
        try:
            pre, _ = split_finetune(row)
        except ValueError as err:
            p.error(str(err))
        if pre is not None and pre not in rows:
            if pre in args.rows:
                p.error(f'row {row!r} fine-tunes row {pre!r}: list {pre!r} '
                        'before it')
            print(f'row {row!r} fine-tunes row {pre!r}: {pre!r} added '
                  'before it')
            rows.append(pre)
        if row not in rows:
            rows.append(row)
    args.rows = rows
    tag = f'{args.data}_{args.iters}it'
    pick_tag = tag + ('' if args.real_pick == 'first'
                      else f'_{args.real_pick}')
    work_root = osp.abspath(args.work_root or
                            f'work_dirs/transfer_{pick_tag}')
    out = args.out or osp.join(ROOT, 'benchmarks',
                               f'transfer_{pick_tag}.json')
    from droplet_mmdet.apis.ablation import hold_results_lock, real_data_env
    try:
        env = real_data_env(args.data, args.bubbles_root, args.zerog_root)
        hold_results_lock(out)
    except (FileNotFoundError, RuntimeError) as err:
        p.error(str(err))
    trained = list(args.rows)
    base = osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py')
    # schedule, options and the digests of the real set's annotation files
    setup = ablation_setup(args.iters, {}, env,
                           args.val_interval or args.iters, [], base, ROOT)
    if args.resume and osp.isfile(out):
        # before anything below writes to it
        try:
            resumable_runs(out, setup)
        except ValueError as err:
            p.error(str(err))
    paths, facts = compose_rows(
        trained, base,
        env, work_root, syn_frames=args.syn_frames, syn_size=args.syn_size,
        cp_frames=args.cp_frames, real_share=args.real_share,
        real_pick=args.real_pick)
    for fact in facts:
        print('row data:', json.dumps(fact)[:300])
    # a row whose data changed (e.g. a new generator) trains again; before
    # real_all is taken from the ablation, which rewrites the file
    drop_stale_runs(out, facts, work_root)
    if 'real_all' in args.rows and args.resume:
        reuse_ablation_runs(
            out, osp.join(ROOT, 'benchmarks', f'ablation_{tag}.json'),
            setup, args.seeds, root=ROOT)
    stamp_run_dirs(out, facts, work_root, args.seeds)
    summary = run_ablation(
        paths, args.seeds, {}, args.iters, work_root, out, ROOT, env=env,
        resume=args.resume, val_interval=args.val_interval,
        base_config=base,
        extra=dict(row_data=merged_row_data(out, facts)),
        run_options=lambda row, seed: finetune_options(
            row, seed, args.iters, work_root),
        title=f'{args.data} transfer: slim Mask R-CNN + fitted anchors, '
        f'{args.iters} iterations' + (
            '' if args.real_pick == 'first' else
            f', K real frames: {args.real_pick}'))
    print(markdown_table(summary))


if __name__ == '__main__':
    main()

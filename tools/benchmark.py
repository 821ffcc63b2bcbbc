"""Accuracy ablation on the slim model: stock, each technique alone, the
recipe and the recipe without each technique, with learning curves.

    python tools/benchmark.py --data bubbles --iters 1000 --val-interval 200 [--resume]
    python tools/benchmark.py --data zerog_bubbles --rows stock +anchors recipe

Rows (``--rows``): ``stock`` (configs/droplet/ablation/slim_stock.py),
``+tech`` (stock + one technique), ``recipe`` (stock + ``--recipe``),
``recipe-tech`` (leave-one-out); techniques: anchors (one scale fitted at
IoU 0.5), anchors2 (two scales fitted at IoU 0.7), focal, size_weighted,
nwd, upsample2 (train and test at 2x), object_aware_crop, plain_crop
(synthetic only), blur_noise. Seed 0 of every row runs first. Each
run's composed config is written to its work dir (config.json). Data (``--data``):
``synthetic`` (320 x 320 renders, generated if missing), ``bubbles``
(``--bubbles-root``) or ``zerog_bubbles`` (``--zerog-root``, converted
from labelme on first use); real sets train on 384 px crops and validate
on full frames. Same schedule and seeds for every row.

Writes benchmarks/ablation_<data>_<iters>it.json (every run, with its
learning curve), .md (final figures, mean ± half the seed spread) and
.png (mask AP against iterations and against training time), updated
after each run. ``--resume`` keeps the finished runs and continues an
interrupted run from its last checkpoint; ``--status`` lists which runs
are done, partial or pending and the CPU time left, training nothing.
"""
import argparse
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED = osp.join(ROOT, '..', 'shared', 'datasets')
DEFAULT_RECIPE = ['anchors', 'focal', 'size_weighted', 'object_aware_crop',
                  'blur_noise']
SINGLES = ['anchors', 'anchors2', 'focal', 'size_weighted', 'nwd',
           'upsample2', 'object_aware_crop', 'blur_noise']


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', choices=['synthetic', 'bubbles',
                                      'zerog_bubbles'], default='synthetic')
    p.add_argument('--rows', nargs='+', default=None,
                   help='default: stock, every technique alone, recipe, '
                   'recipe without each of its techniques')
    p.add_argument('--recipe', nargs='+', default=DEFAULT_RECIPE)
    p.add_argument('--configs', nargs='+', default=None,
                   help='config files instead of --rows')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--iters', type=int, default=200)
    p.add_argument('--val-interval', type=int, default=None,
                   help='validate every N iterations (learning curve); '
                   'default: at the end only')
    p.add_argument('--data-root', default='data/ablation_droplets',
                   help='synthetic data folder (generated if missing)')
    p.add_argument('--bubbles-root', default=os.environ.get(
        'BUBBLES_ROOT', osp.join(SHARED, 'bubbles')))
    p.add_argument('--zerog-root', default=os.environ.get(
        'ZEROG_ROOT', osp.join(SHARED, 'zerog_bubbles')))
    p.add_argument('--work-root', default=None,
                   help='default: work_dirs/ablation_<data>_<iters>it')
    p.add_argument('--out', default=None,
                   help='default: benchmarks/ablation_<data>_<iters>it.json')
    p.add_argument('--resume', action='store_true',
                   help='keep the runs already recorded in --out')
    p.add_argument('--status', action='store_true',
                   help='train nothing: list which runs are done, partial '
                   '(and the iteration they resume from) or pending, and '
                   'the CPU time left; runs done on a GPU '
                   '(<out>_gpu.json) are named too')
    p.add_argument('--eval-only', action='store_true',
                   help='train nothing: re-evaluate the iter_<iters>.pth '
                   'checkpoints of an earlier run in --work-root')
    args = p.parse_args()
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.ablation import markdown_table, run_ablation
    from droplet_mmdet.apis.ablation_rows import row_techniques
    tag = f'{args.data}_{args.iters}it'
    work_root = args.work_root or f'work_dirs/ablation_{tag}'
    out = args.out or osp.join(ROOT, 'benchmarks', f'ablation_{tag}.json')
    rows = args.configs or args.rows or (
        ['stock'] + [f'+{t}' for t in SINGLES] + ['recipe'] +
        [f'recipe-{t}' for t in args.recipe])
    if not args.configs:
        for row in rows:
            try:
                row_techniques(row, args.recipe)
            except ValueError as err:
                p.error(str(err))
    if args.status:
        from droplet_mmdet.apis.ablation import ablation_status
        gpu = osp.splitext(out)[0] + '_gpu.json'
        status = ablation_status(rows, args.seeds, work_root, out,
                                 args.iters, others=[gpu])
        for s in status[:-1]:
            what = (f'mask AP {s["mask_ap"]:.3f} in {s["seconds"] / 60:.0f}'
                    ' min' if s['state'] == 'done' else
                    f'resumes at iteration {s["resumes_at"]}'
                    if s['state'] == 'partial' else '')
            for e in s.get('elsewhere', ()):
                what += (f' (done on {e["device"]}: mask AP '
                         f'{e["mask_ap"]:.3f}, {osp.relpath(e["file"])})')
            print(f'{s["row"]:>28s} seed {s["seed"]}  {s["state"]:8s} '
                  f'{what}')
        est = status[-1]
        print(f'{est["runs_left"]} run(s) left'
              + (f', ~{est["hours_left"]} h at the finished runs\' mean'
                 if est['hours_left'] is not None else ''))
        return
    from droplet_mmdet.apis.ablation import hold_results_lock
    try:
        hold_results_lock(out)
    except RuntimeError as err:
        p.error(str(err))
    env = dict(ABLATION_DATA=args.data)
    options = {}
    if args.data == 'synthetic':
        from droplet_mmdet.apis.demo import data_options, ensure_dataset
        ensure_dataset(args.data_root, 150, 16, 320, seed=11)
        options = data_options(args.data_root)
    else:
        from droplet_mmdet.apis.ablation import real_data_env
        try:
            env = real_data_env(args.data, args.bubbles_root,
                                args.zerog_root)
        except FileNotFoundError as err:
            p.error(str(err))
    try:
        summary = run_ablation(
            rows, args.seeds, options, args.iters, work_root, out, ROOT,
            env=env, resume=args.resume, eval_only=args.eval_only,
            val_interval=args.val_interval, recipe=args.recipe,
            base_config=osp.join(ROOT,
                                 'configs/droplet/ablation/slim_stock.py'),
            # the legend gives each row's seeds (earlier calls' included)
            title=f'{args.data}: slim Mask R-CNN, {args.iters} iterations')
    except ValueError as err:  # --out holds runs of another setup
        p.error(str(err))
    print(markdown_table(summary))


if __name__ == '__main__':
    main()

"""Accuracy ablation: stock baseline vs each technique alone vs all together.

    python tools/benchmark.py [--data synthetic|bubbles] [--iters 200] [--seeds 0 1]

Same schedule and seeds for every config of configs/droplet/ablation/
(slim_stock, one config per technique, slim_all). ``--data synthetic``
generates 320 x 320 synthetic frames if missing (``--data-root``);
``--data bubbles`` trains on 384 px crops of the real bubbles set
(``--bubbles-root``, default ``$BUBBLES_ROOT`` or ../shared/datasets/bubbles)
and validates on its 5 full val frames. Writes
benchmarks/ablation_<data>.json (every run) and .md (mean ± half spread),
updated after each run; ``--resume`` keeps the runs already in the json,
``--eval-only`` re-evaluates the checkpoints of an earlier run.
"""
import argparse
import glob
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data', choices=['synthetic', 'bubbles'],
                   default='synthetic')
    p.add_argument('--configs', nargs='+', default=None)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--iters', type=int, default=200)
    p.add_argument('--data-root', default='data/ablation_droplets',
                   help='synthetic data folder (generated if missing)')
    p.add_argument('--bubbles-root', default=os.environ.get(
        'BUBBLES_ROOT', osp.join(ROOT, '..', 'shared', 'datasets',
                                 'bubbles')))
    p.add_argument('--work-root', default=None,
                   help='default: work_dirs/ablation_<data>')
    p.add_argument('--out', default=None,
                   help='default: benchmarks/ablation_<data>.json')
    p.add_argument('--resume', action='store_true',
                   help='keep the runs already recorded in --out')
    p.add_argument('--eval-only', action='store_true',
                   help='train nothing: re-evaluate the iter_<iters>.pth '
                   'checkpoints of an earlier run in --work-root')
    args = p.parse_args()
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.ablation import markdown_table, run_ablation
    configs = args.configs or sorted(
        glob.glob(osp.join(ROOT, 'configs/droplet/ablation/*.py')))
    work_root = args.work_root or f'work_dirs/ablation_{args.data}'
    out = args.out or osp.join(ROOT, 'benchmarks',
                               f'ablation_{args.data}.json')
    env = dict(ABLATION_DATA=args.data)
    if args.data == 'synthetic':
        from droplet_mmdet.apis.demo import data_options, ensure_dataset
        ensure_dataset(args.data_root, 150, 16, 320, seed=11)
        options = data_options(args.data_root)
    else:
        root = args.bubbles_root.rstrip('/\\') + '/'
        ann = osp.join(root, 'annotations', 'instances_train.json')
        if not osp.isfile(ann):
            p.error(f'{ann}: bubbles annotations not found '
                    '(--bubbles-root or BUBBLES_ROOT)')
        env['BUBBLES_ROOT'] = root
        options = {}
    rows = run_ablation(configs, args.seeds, options, args.iters, work_root,
                        out, ROOT, env=env, resume=args.resume,
                        eval_only=args.eval_only)
    print(markdown_table(rows))


if __name__ == '__main__':
    main()

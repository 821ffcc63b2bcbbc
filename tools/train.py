# droplet_mmdet; modelled on mmdet 3.3 tools/train.py.
"""Train a detector: ``python tools/train.py CONFIG [--work-dir DIR] ...``"""
import argparse
import os

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(description='Train a detector')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training (fp16 on a GPU; '
        'fp32 with a warning on a CPU)')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='enable automatically scaling LR.')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='If specify checkpoint path, resume from it, while if not '
        'specify, try to auto resume from the latest checkpoint '
        'in the work directory.')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override some settings in the used config, the key-value pair '
        'in xxx=yyy format will be merged into config file.')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    import droplet_mmdet  # noqa: F401  (compat fixes + registries)
    from droplet_mmdet.apis import build_runner, setup_train_cfg
    from droplet_mmdet.apis.ablation import forked_children_end_with_process
    from mmdet.utils import setup_cache_size_limit_of_dynamo

    # DataLoader workers die with this process (killed benchmark: none
    # left asleep on a full result queue)
    forked_children_end_with_process()
    setup_cache_size_limit_of_dynamo()
    cfg = setup_train_cfg(
        args.config,
        work_dir=args.work_dir,
        amp=args.amp,
        auto_scale_lr=args.auto_scale_lr,
        resume=args.resume,
        cfg_options=args.cfg_options,
        launcher=args.launcher)
    runner = build_runner(cfg)
    runner.train()
    from mmengine.dist import get_dist_info
    rank, world = get_dist_info()
    print(f'droplet_mmdet: rank {rank}/{world} finished training', flush=True)


if __name__ == '__main__':
    main()

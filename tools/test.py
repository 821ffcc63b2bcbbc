# droplet_mmdet; modelled on mmdet 3.3 tools/test.py.
"""Test (and evaluate) a checkpoint: ``python tools/test.py CONFIG CKPT``"""
import argparse
import os

from mmengine.config import DictAction


def parse_args():
    parser = argparse.ArgumentParser(
        description='MMDet test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the file containing evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory where painted images will be saved. '
        'If specified, it will be automatically saved '
        'to the work_dir/timestamp/show_dir')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
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
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'--out {args.out}: the dump file must be a .pkl '
                         'or .pickle file')
    import droplet_mmdet  # noqa: F401  (compat fixes + registries)
    from droplet_mmdet.apis import build_runner, setup_test_cfg
    from droplet_mmdet.apis.ablation import forked_children_end_with_process
    from mmdet.evaluation import DumpDetResults
    from mmdet.utils import setup_cache_size_limit_of_dynamo

    # DataLoader workers die with this process (killed benchmark: none
    # left asleep on a full result queue)
    forked_children_end_with_process()
    setup_cache_size_limit_of_dynamo()
    cfg = setup_test_cfg(
        args.config,
        args.checkpoint,
        work_dir=args.work_dir,
        show_dir=args.show_dir,
        show=args.show,
        wait_time=args.wait_time,
        cfg_options=args.cfg_options,
        launcher=args.launcher)
    runner = build_runner(cfg)
    if args.out is not None:
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()

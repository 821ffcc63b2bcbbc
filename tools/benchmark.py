"""Accuracy ablation: stock baseline vs each technique alone vs all together.

    python tools/benchmark.py [--iters 300] [--seeds 0 1] [--data-root data/ablation_droplets]

Same schedule and seeds for every config of configs/droplet/ablation/ plus
the slim all-techniques config, on synthetic droplets (generated if missing;
320 x 320 frames so that 256 px crops matter). Writes
benchmarks/ablation.json and benchmarks/ablation.md.
"""
import argparse
import glob
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--configs', nargs='+', default=None)
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    p.add_argument('--iters', type=int, default=300)
    p.add_argument('--data-root', default='data/ablation_droplets')
    p.add_argument('--work-root', default='work_dirs/ablation')
    p.add_argument('--out', default='benchmarks/ablation.json')
    args = p.parse_args()
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.ablation import markdown_table, run_ablation
    from droplet_mmdet.apis.demo import ensure_dataset
    configs = args.configs or sorted(
        glob.glob(osp.join(ROOT, 'configs/droplet/ablation/*.py'))) + [
            osp.join(ROOT, 'configs/droplet/'
                     'mask_rcnn_r18_fpn_slim_600it_synthetic.py')]
    ensure_dataset(args.data_root, 150, 16, 320, seed=11)
    rows = run_ablation(configs, args.seeds, args.data_root, args.iters,
                        args.work_root, args.out, ROOT)
    print(markdown_table(rows))


if __name__ == '__main__':
    main()

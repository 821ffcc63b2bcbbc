"""Merge the runs of several ablation / transfer results files into one.

    python tools/merge_benchmark_runs.py benchmarks/ablation_bubbles_1000it_gpu.json gpu_out/A_*.json

Runs that were trained apart (in parallel on a GPU, each writing its own
file, or in another clone) join the target file: a run of the same row and
seed replaces the target's (with ``--keep-existing`` the target's stays, so
the inputs only fill the row-seed pairs it lacks), every other run is
added. All files must share
the schedule (iterations, validation interval, recipe); the target keeps
its own setup, and each merged run keeps where it came from (``source``);
the rows' data facts of transfer files (``row_data``) join the same way.
Writes the target's .json, .md table and .png curves.
"""
import argparse
import json
import os.path as osp
import sys

SETUP = ('iters', 'val_interval', 'recipe')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('target', help='results file to write (created from '
                   'the first input when it does not exist)')
    p.add_argument('inputs', nargs='+', help='results files to merge in')
    p.add_argument('--title', default=None, help='plot title')
    p.add_argument('--keep-existing', action='store_true',
                   help='a row and seed already in the target keeps the '
                   'target\'s run (default: the input\'s replaces it)')
    args = p.parse_args()
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    from droplet_mmdet.apis.ablation import summarize_runs, write_results

    def load(path):
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, json.JSONDecodeError) as err:
            p.error(f'{path}: cannot read results ({err})')
        if not isinstance(data, dict) or 'runs' not in data:
            p.error(f'{path}: no "runs" list: not a benchmark results file')
        return data

    inputs = [load(f) for f in args.inputs]
    out = load(args.target) if osp.isfile(args.target) else dict(
        inputs[0], runs=[])
    for path, data in zip(args.inputs, inputs):
        for key in SETUP:
            if data.get(key) != out.get(key):
                p.error(f'{path}: {key} {data.get(key)!r} differs from '
                        f'{args.target}\'s {out.get(key)!r}')
        have = {(r['config'], r['seed']) for r in out['runs']}
        for run in data['runs']:
            if args.keep_existing and (run['config'], run['seed']) in have:
                print(f'{path}: {run["config"]} s{run["seed"]} already in '
                      f'{args.target}: kept the target\'s run')
                continue
            run = dict(run, source=run.get('source', osp.basename(path)))
            out['runs'] = [r for r in out['runs'] if (r['config'], r['seed'])
                           != (run['config'], run['seed'])] + [run]
        # transfer files: what each row's data were (frames, droplets,
        # generator), one entry per row; an input's entry replaces the
        # target's for the same row
        for fact in data.get('row_data') or []:
            out['row_data'] = [f for f in out.get('row_data') or []
                               if f.get('row') != fact.get('row')] + [fact]
    out['summary'] = summarize_runs(out['runs'])
    write_results(args.target, out, args.title or osp.basename(
        osp.splitext(args.target)[0]))
    print(f'{args.target}: {len(out["runs"])} runs; ' + ', '.join(
        f'{r["config"]} s{r["seed"]}' for r in out['runs']))


if __name__ == '__main__':
    main()

"""Ablation bookkeeping: mean/spread over seeds, the table, and resuming
from the json an interrupted benchmark left behind."""
import glob
import json
import os
import os.path as osp
import re

import pytest

from droplet_mmdet.apis.ablation import (markdown_table, run_ablation,
                                         summarize_runs)
from conftest import ROOT, ablation_standin
from conftest import process_alive as _alive


def _run(cfg, seed, ap):
    return dict(config=cfg, seed=seed, seconds=1.0,
                metrics=dict(segm_mAP=ap, segm_mAP_50=ap + 0.1,
                             R50_target=1.0, count_mre=2.0 + seed,
                             diam_err_pct=1.0))


def test_summary_mean_and_spread():
    rows = summarize_runs([_run('a', 0, 0.5), _run('a', 1, 0.7),
                           _run('b', 0, 0.2)])
    assert [r['config'] for r in rows] == ['a', 'b']
    assert rows[0]['segm_mAP'] == pytest.approx(0.6)
    assert rows[0]['segm_mAP_spread'] == pytest.approx(0.2)
    assert rows[0]['count_mre'] == pytest.approx(2.5)
    table = markdown_table(rows)
    assert '| a | 0, 1 | 0.600 ± 0.100 |' in table
    assert '| b | 0 | 0.200 | 0.300 |' in table  # one seed: no spread


def _write(path, runs, iters=200, env=None):
    with open(path, 'w') as f:
        json.dump(dict(runs=runs, iters=iters, data_options={},
                       env=env or dict(ABLATION_DATA='bubbles')), f)


def test_resume_keeps_finished_runs_and_trains_the_rest(tmp_path):
    out = str(tmp_path / 'ablation.json')
    _write(out, [_run('slim_stock', 0, 0.4), _run('slim_stock', 1, 0.5)])
    rows = run_ablation(['configs/slim_stock.py'], [0, 1], {}, 200,
                        str(tmp_path / 'w'), out, ROOT,
                        env=dict(ABLATION_DATA='bubbles'), resume=True,
                        log=lambda *a: None)
    assert rows[0]['segm_mAP'] == pytest.approx(0.45)
    # a missing seed is trained: here the config does not exist, so the
    # training subprocess fails and says where to look
    with pytest.raises(RuntimeError, match='training failed'):
        run_ablation(['configs/slim_stock.py'], [0, 1, 2], {}, 200,
                     str(tmp_path / 'w'), out, ROOT,
                     env=dict(ABLATION_DATA='bubbles'), resume=True,
                     log=lambda *a: None)


def test_resume_refuses_a_file_of_another_schedule(tmp_path):
    # its runs are not this schedule's, and resuming would write over them:
    # an error naming the file and what differs, the file untouched
    out = tmp_path / 'ablation.json'
    _write(str(out), [_run('slim_stock', 0, 0.4)], iters=100)
    before = out.read_text()
    with pytest.raises(ValueError,
                       match=r'ablation\.json: its 1 runs .*iters: 100 '
                       r'there, 200 here'):
        run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                     str(tmp_path / 'w'), str(out), ROOT,
                     env=dict(ABLATION_DATA='bubbles'), resume=True,
                     log=lambda *a: None)
    assert out.read_text() == before
    assert not (tmp_path / 'w').exists()  # nothing trained


def test_resume_sees_the_same_data_through_another_path_spelling(tmp_path):
    # the data root spelled with '..' (tools/benchmark.py's default) is the
    # same data: its runs are kept; another folder is other data
    (tmp_path / 'data').mkdir()
    (tmp_path / 'repo').mkdir()
    (tmp_path / 'other').mkdir()
    out = str(tmp_path / 'ablation.json')
    _write(out, [_run('slim_stock', 0, 0.4)],
           env=dict(BUBBLES_ROOT=str(tmp_path / 'data') + '/'))
    rows = run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                        str(tmp_path / 'w'), out, ROOT,
                        env=dict(
                            BUBBLES_ROOT=str(tmp_path) + '/repo/../data/'),
                        resume=True, log=lambda *a: None)
    assert rows[0]['segm_mAP'] == pytest.approx(0.4)
    with pytest.raises(ValueError, match='BUBBLES_ROOT'):
        run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                     str(tmp_path / 'w'), out, ROOT,
                     env=dict(BUBBLES_ROOT=str(tmp_path / 'other') + '/'),
                     resume=True, log=lambda *a: None)
    # a '..' through a folder that is not there (the clone that made the
    # file is gone) still names the same data
    _write(out, [_run('slim_stock', 0, 0.4)],
           env=dict(BUBBLES_ROOT=str(tmp_path) + '/gone/../data/'))
    rows = run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                        str(tmp_path / 'w'), out, ROOT,
                        env=dict(BUBBLES_ROOT=str(tmp_path / 'data') + '/'),
                        resume=True, log=lambda *a: None)
    assert rows[0]['segm_mAP'] == pytest.approx(0.4)


STOCK = osp.join(ROOT, 'configs', 'droplet', 'ablation', 'slim_stock.py')


def _copy_data(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return str(dst)


def test_resume_knows_the_data_by_content_wherever_it_lay(tmp_path,
                                                         tiny_droplets):
    # A results file made in another clone or on another machine names
    # paths that are not here. Its annotation digests say whether the data
    # are the same: the same files elsewhere keep its runs, other files
    # under the same paths are refused.
    from droplet_mmdet.apis.ablation import annotation_digests
    from droplet_mmdet.apis.demo import data_options
    env = dict(ABLATION_DATA='synthetic')
    here = data_options(_copy_data(tiny_droplets, tmp_path / 'here'))
    there = {k: v.replace(str(tmp_path / 'here'), '/elsewhere/clone/data')
             for k, v in here.items()}
    assert there != here
    digests = annotation_digests(STOCK, env, here, ROOT)
    assert all(digests.values()) and digests['train'] != digests['val']
    out = tmp_path / 'ablation.json'

    def made_there(data):
        out.write_text(json.dumps(dict(
            runs=[_run('stock', 0, 0.4)], iters=200, val_interval=200,
            recipe=[], data_options=there,
            env=dict(env, BUBBLES_ROOT='/elsewhere/clone/../shared/b/'),
            data=data)))

    def resume():
        return run_ablation(['stock'], [0], here, 200, str(tmp_path / 'w'),
                            str(out), ROOT,
                            env=dict(env, BUBBLES_ROOT='/work/shared/b/'),
                            resume=True, log=lambda *a: None,
                            base_config=STOCK)

    made_there(digests)
    rows = resume()
    assert rows[0]['segm_mAP'] == pytest.approx(0.4)
    assert not (tmp_path / 'w').exists()  # nothing trained
    # the same paths with other labels: refused, named, file untouched
    made_there(dict(digests, val='0' * 40))
    before = out.read_text()
    with pytest.raises(ValueError, match=r"data: .*'val': '0000"):
        resume()
    assert out.read_text() == before
    # ... and the data's other setup entries still count
    made_there(digests)
    stored = json.loads(out.read_text())
    stored['env']['ABLATION_DATA'] = 'bubbles'
    out.write_text(json.dumps(stored))
    with pytest.raises(ValueError, match='ABLATION_DATA'):
        resume()


def test_digests_follow_the_annotation_files(tmp_path, tiny_droplets):
    from droplet_mmdet.apis.ablation import annotation_digests
    from droplet_mmdet.apis.demo import data_options
    root = _copy_data(tiny_droplets, tmp_path / 'd')
    env = dict(ABLATION_DATA='synthetic')
    first = annotation_digests(STOCK, env, data_options(root), ROOT)
    with open(osp.join(root, 'val.json')) as f:
        val = json.load(f)
    val['annotations'] = val['annotations'][1:]  # one label less
    with open(osp.join(root, 'val.json'), 'w') as f:
        json.dump(val, f)
    second = annotation_digests(STOCK, env, data_options(root), ROOT)
    assert second['train'] == first['train']
    assert second['val'] != first['val']
    os.remove(osp.join(root, 'train.json'))
    assert annotation_digests(STOCK, env, data_options(root),
                              ROOT)['train'] is None


def test_eval_only_names_the_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'slim_stock_s0.iter_200\.pth'):
        run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                     str(tmp_path / 'w'), str(tmp_path / 'a.json'), ROOT,
                     eval_only=True, log=lambda *a: None)


def test_read_curve_from_resumed_run(tmp_path):
    """Learning curve: every validation, with training seconds summed
    from the logged per-iteration times, across a resumed run's two
    scalars files."""
    from droplet_mmdet.apis.ablation import read_curve
    a = tmp_path / '20260101_000000' / 'vis_data'
    b = tmp_path / '20260101_010000' / 'vis_data'
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    rec = [dict(step=20, loss=1.0, time=0.5),
           dict(step=40, loss=0.9, time=1.0),
           {'step': 40, 'droplet/segm_mAP': 0.2, 'droplet/count_thr': 0.6}]
    a.joinpath('scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in rec))
    rec = [dict(step=60, loss=0.8, time=2.0),
           {'step': 60, 'droplet/segm_mAP': 0.3}]
    b.joinpath('scalars.json').write_text(
        '\n'.join(json.dumps(r) for r in rec))
    curve = read_curve(str(tmp_path))
    assert curve == [
        dict(iter=40, train_s=30.0, segm_mAP=0.2, count_thr=0.6),
        dict(iter=60, train_s=70.0, segm_mAP=0.3)]


def test_rows_name_their_techniques():
    from droplet_mmdet.apis.ablation_rows import row_techniques
    recipe = ['anchors', 'focal', 'blur_noise']
    assert row_techniques('stock', recipe) == []
    assert row_techniques('+focal', recipe) == ['focal']
    assert row_techniques('+blur_noise+anchors', recipe) == [
        'anchors', 'blur_noise']
    assert row_techniques('recipe', recipe) == recipe
    assert row_techniques('recipe-focal', recipe) == ['anchors',
                                                      'blur_noise']
    with pytest.raises(ValueError, match='not in the recipe'):
        row_techniques('recipe-nwd', recipe)
    with pytest.raises(ValueError, match='unknown technique'):
        row_techniques('+magic', recipe)


def _base(monkeypatch, data):
    from mmengine.config import Config
    monkeypatch.setenv('ABLATION_DATA', data)
    monkeypatch.setenv('BUBBLES_ROOT', '/data/bubbles/')
    return Config.fromfile(f'{ROOT}/configs/droplet/ablation/slim_stock.py')


def _types(cfg):
    return [t['type'] for t in cfg.train_dataloader.dataset.pipeline]


def test_compose_on_a_cropping_profile_keeps_equal_compute(monkeypatch):
    """On real data every row trains on the profile's 384 px crops; the
    object-aware crop replaces that crop at the same size."""
    from droplet_mmdet.apis.ablation_rows import compose
    base = _base(monkeypatch, 'bubbles')
    stock_types = _types(base)
    assert stock_types == ['LoadImageFromFile', 'LoadAnnotations',
                           'RecordDropletSize', 'RandomCrop', 'RandomFlip',
                           'PackDropletInputs']
    oa = compose(base, ['object_aware_crop', 'blur_noise'])
    pipe = oa.train_dataloader.dataset.pipeline
    assert _types(oa) == ['LoadImageFromFile', 'LoadAnnotations',
                          'RecordDropletSize', 'ObjectAwareRandomCrop',
                          'DropletGaussianBlur', 'DropletNoise',
                          'RandomFlip', 'PackDropletInputs']
    assert pipe[3]['crop_size'] == (384, 384)
    assert _types(base) == stock_types  # the base is not touched
    with pytest.raises(ValueError, match='plain_crop'):
        compose(base, ['plain_crop'])


def test_compose_model_techniques(monkeypatch):
    from droplet_mmdet.apis.ablation_rows import compose
    base = _base(monkeypatch, 'bubbles')
    cfg = compose(base, ['anchors', 'focal', 'size_weighted'])
    rpn = cfg.model.rpn_head
    assert rpn.anchor_generator.to_dict() == \
        base.bubble_anchors.anchor_generator.to_dict()
    assert rpn.type == 'SizeWeightedRPNHead'
    assert rpn.loss_cls.type == 'SizeWeightedFocalLoss'
    assert '_delete_' not in rpn.loss_cls
    assert cfg.model.train_cfg.rpn.sampler is None
    assert cfg.model.roi_head.type == 'SizeWeightedRoIHead'
    assert cfg.model.roi_head.mask_head.loss_mask.type == \
        'SizeWeightedMaskLoss'
    assert base.model.rpn_head.type == 'RPNHead'


def test_recipe_on_synthetic_is_the_demo_config(monkeypatch):
    """The demo config is the recipe on synthetic data (same model and
    train pipeline as composing the rows)."""
    from mmengine.config import Config
    from droplet_mmdet.apis.ablation_rows import compose
    base = _base(monkeypatch, 'synthetic')
    demo = Config.fromfile(f'{ROOT}/configs/droplet/'
                           'mask_rcnn_r18_fpn_slim_400it_synthetic.py')
    cfg = compose(base, ['anchors', 'focal', 'size_weighted',
                         'object_aware_crop', 'blur_noise'])
    assert cfg.model.to_dict() == demo.model.to_dict()
    assert (cfg.train_dataloader.dataset.pipeline ==
            demo.train_dataloader.dataset.pipeline)


def test_composed_config_file_holds_the_schedule_it_runs(tmp_path):
    """config.json of a row is what ran: techniques, schedule and seed,
    and it loads back (float('inf') bins included)."""
    from mmengine.config import Config
    from droplet_mmdet.apis.ablation import _compose_row
    opts = {'train_cfg.max_iters': 1000, 'param_scheduler.1.end': 1000,
            'param_scheduler.1.milestones': [800], 'randomness.seed': 1}
    path, techs = _compose_row(
        'recipe-focal', f'{ROOT}/configs/droplet/ablation/slim_stock.py',
        ['anchors', 'focal'], dict(ABLATION_DATA='bubbles'),
        str(tmp_path), opts)
    assert techs == ['anchors']
    cfg = Config.fromfile(path)
    assert cfg.train_cfg.max_iters == 1000
    assert cfg.param_scheduler[1].milestones == [800]
    assert cfg.randomness.seed == 1
    assert cfg.model.rpn_head.anchor_generator.scales == [3.0]
    assert cfg.model.rpn_head.loss_cls.type == 'CrossEntropyLoss'
    assert cfg.val_evaluator.diameter_bins[-1][1] == float('inf')


def test_status_of_a_long_ablation(tmp_path):
    """Done runs come from the results file, a run with a checkpoint
    resumes from it, the rest are pending; the time left counts the
    partial run's remaining share at the finished runs' mean."""
    from droplet_mmdet.apis.ablation import ablation_status
    out = tmp_path / 'ablation.json'
    out.write_text(json.dumps(dict(iters=1000, runs=[
        dict(config='stock', seed=0, seconds=3600.0,
             metrics=dict(segm_mAP=0.6))])))
    part = tmp_path / 'plus_focal_s0'
    part.mkdir()
    (part / 'last_checkpoint').write_text(str(part / 'iter_400.pth'))
    st = ablation_status(['stock', '+focal', 'recipe-focal'], [0],
                         str(tmp_path), str(out), 1000)
    assert [(s['row'], s['state']) for s in st[:-1]] == [
        ('stock', 'done'), ('+focal', 'partial'), ('recipe-focal',
                                                   'pending')]
    assert st[0]['mask_ap'] == 0.6 and st[1]['resumes_at'] == 400
    assert st[-1] == dict(runs_left=1.6, hours_left=1.6)
    # another schedule's results do not count as done
    st = ablation_status(['stock'], [0], str(tmp_path), str(out), 200)
    assert st[0]['state'] == 'pending'
    # runs of the same schedule done on a GPU are named, not counted
    gpu = tmp_path / 'ablation_gpu.json'
    gpu.write_text(json.dumps(dict(iters=1000, runs=[
        dict(config='recipe-focal', seed=0, seconds=300.0, device='H100',
             metrics=dict(segm_mAP=0.7)),
        dict(config='stock', seed=0, seconds=300.0, device='H100',
             metrics=dict(segm_mAP=0.61))])))
    st = ablation_status(['stock', '+focal', 'recipe-focal'], [0],
                         str(tmp_path), str(out), 1000, others=[str(gpu)])
    assert st[2]['state'] == 'pending'
    assert st[2]['elsewhere'] == [dict(file=str(gpu), device='H100',
                                       mask_ap=0.7)]
    assert 'elsewhere' not in st[0] and 'elsewhere' not in st[1]
    assert st[-1] == dict(runs_left=1.6, hours_left=1.6)


def test_each_run_records_the_device_it_trained_on(tmp_path, monkeypatch):
    # results files merge runs from several machines
    # (tools/merge_benchmark_runs.py): each run says where it trained.
    # The training subprocess is replaced by a fixed result; the device
    # comes from torch, as in a real run.
    import torch

    from droplet_mmdet.apis import ablation
    monkeypatch.setattr(ablation, 'run_one',
                        lambda *a, **k: dict(segm_mAP=0.5))
    out = str(tmp_path / 'ablation.json')
    # ... and a resumed run says where it resumed ("seconds" then counts
    # the resumed part alone)
    run_dir = tmp_path / 'w' / 'slim_stock_s1'
    run_dir.mkdir(parents=True)
    (run_dir / 'last_checkpoint').write_text(str(run_dir / 'iter_120.pth'))
    ablation.run_ablation(['configs/slim_stock.py'], [0, 1], {}, 200,
                          str(tmp_path / 'w'), out, ROOT,
                          log=lambda *a: None)
    with open(out) as f:
        run, resumed = json.load(f)['runs']
    want = (torch.cuda.get_device_name(0) if torch.cuda.is_available()
            else 'cpu')
    assert run['device'] == want and resumed['device'] == want
    assert 'resumed_from' not in run and resumed['resumed_from'] == 120


def test_a_second_writer_of_one_results_file_is_refused(tmp_path):
    from droplet_mmdet.apis.ablation import hold_results_lock
    out = str(tmp_path / 'bench' / 'results.json')
    first = hold_results_lock(out)
    with pytest.raises(RuntimeError, match=re.escape(out) +
                       r'.*another benchmark.*process \d+'):
        hold_results_lock(out)
    first.close()  # the first benchmark ends: the file is free again
    hold_results_lock(out).close()


@pytest.mark.skipif(not os.path.isdir('/proc/self'),
                    reason='PR_SET_PDEATHSIG and /proc are Linux')
@pytest.mark.parametrize('how', ['SIGTERM', 'SIGKILL'])
@pytest.mark.parametrize('start', ['run_child', 'captured'])
def test_a_killed_benchmark_takes_its_training_along(tmp_path, how, start):
    # ``pkill -f benchmark_transfer.py`` once left the tools/train.py it
    # had started training on, unrecorded, in a run folder that the next
    # --resume would have trained in too
    import signal
    import subprocess
    import sys
    import time
    pidfile = tmp_path / 'child.pid'
    child = (f'import os, time; open({str(pidfile)!r}, "w").write('
             'str(os.getpid())); time.sleep(300)')
    # the benchmark stand-in loads ablation.py alone: no mmdet import
    parent = ablation_standin(
        f'mod.run_child([sys.executable, "-c", {child!r}], '
        f'open({str(tmp_path / "log")!r}, "w"))'
        if start == 'run_child' else
        # how tools/benchmark_masks.py and apis/speed.py start theirs
        'import subprocess\n'
        f'subprocess.run([sys.executable, "-c", {child!r}], '
        'capture_output=True, text=True, **mod.child_kwargs())')
    proc = subprocess.Popen([sys.executable, '-c', parent])
    pid = None
    try:
        deadline = time.time() + 120
        while pid is None and time.time() < deadline:
            if pidfile.exists() and pidfile.read_text():
                pid = int(pidfile.read_text())
            else:
                assert proc.poll() is None, 'the stand-in ended early'
                time.sleep(0.2)
        assert pid is not None, 'the child never started'
        proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while _alive(pid) and time.time() < deadline:
            time.sleep(0.2)
        assert not _alive(pid), f'child {pid} outlived its parent ({how})'
    finally:
        if proc.poll() is None:
            proc.kill()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGKILL)


_LOADER_CHILD = """
import os, time
from torch.utils.data import DataLoader, Dataset
mod.forked_children_end_with_process()


class Big(Dataset):
    # 4 MB items that travel through the result queue's pipe itself (as
    # the masks of mmdet's data samples do; tensors would go through
    # shared memory): the workers' feeder threads block on a full pipe
    def __len__(self):
        return 64

    def __getitem__(self, i):
        return bytes([i]) * (4 << 20)


def note(worker_id):
    with open(os.path.join({tmp!r}, 'worker%d.pid' % worker_id), 'w') as f:
        f.write(str(os.getpid()))


it = iter(DataLoader(Big(), batch_size=1, num_workers=2,
                     worker_init_fn=note, persistent_workers=True))
next(it)  # the workers run and keep prefetching; nobody reads on
with open(os.path.join({tmp!r}, 'child.pid'), 'w') as f:
    f.write(str(os.getpid()))
time.sleep(300)
"""


@pytest.mark.skipif(not os.path.isdir('/proc/self'),
                    reason='PR_SET_PDEATHSIG and /proc are Linux')
@pytest.mark.parametrize('how', ['SIGTERM', 'SIGKILL'])
def test_a_killed_benchmark_takes_the_dataloader_workers_along(tmp_path,
                                                               how):
    # the training died with its benchmark, but its two DataLoader workers
    # stayed, asleep at exit on their full result queue (~430 MB each)
    import signal
    import subprocess
    import sys
    import time
    child = ablation_standin(_LOADER_CHILD.format(tmp=str(tmp_path)))
    parent = ablation_standin(
        f'mod.run_child([sys.executable, "-c", {child!r}], '
        f'open({str(tmp_path / "log")!r}, "w"))')
    proc = subprocess.Popen([sys.executable, '-c', parent])
    names = ['child.pid', 'worker0.pid', 'worker1.pid']
    pids = {}
    try:
        deadline = time.time() + 180
        while len(pids) < 3 and time.time() < deadline:
            for name in names:
                path = tmp_path / name
                if name not in pids and path.exists() and path.read_text():
                    pids[name] = int(path.read_text())
            if len(pids) < 3:
                assert proc.poll() is None, (
                    'the stand-in ended early: ' +
                    (tmp_path / 'log').read_text()[-2000:])
                time.sleep(0.2)
        assert len(pids) == 3, f'only {sorted(pids)} started'
        assert all(_alive(p) for p in pids.values())
        proc.send_signal(getattr(signal, how))
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while any(map(_alive, pids.values())) and time.time() < deadline:
            time.sleep(0.2)
        left = {n: p for n, p in pids.items() if _alive(p)}
        assert not left, f'{left} outlived the benchmark ({how})'
    finally:
        if proc.poll() is None:
            proc.kill()
        for p in pids.values():
            if _alive(p):
                os.kill(p, signal.SIGKILL)


def _run_tool_on_fake_bubbles(tmp_path, tool, args, out):
    """Run ``tools/<tool>`` for one iteration on a tiny fake bubbles set
    made under ``tmp_path``, writing ``out``."""
    import subprocess
    from conftest import PYTHON, tool_env
    from test_transfer import _fake_bubbles
    _fake_bubbles(tmp_path / 'bubbles')
    return subprocess.run(
        [PYTHON, osp.join(ROOT, 'tools', tool), *args, '--out', str(out),
         '--work-root', str(tmp_path / 'work'), '--iters', '1',
         '--bubbles-root', str(tmp_path / 'bubbles')],
        capture_output=True, text=True, env=tool_env(), timeout=300)


@pytest.mark.parametrize('tool,args', [
    ('benchmark.py', ['--data', 'synthetic', '--rows', 'stock']),
    ('benchmark_transfer.py', ['--data', 'bubbles', '--rows', 'real2'])])
def test_benchmark_tools_stop_before_touching_a_results_file_in_use(
        tmp_path, tool, args):
    from droplet_mmdet.apis.ablation import hold_results_lock
    out = tmp_path / 'results.json'
    out.write_text('{"runs": []}')
    held = hold_results_lock(str(out))
    proc = _run_tool_on_fake_bubbles(tmp_path, tool, args, out)
    held.close()
    assert proc.returncode == 2, proc.stderr
    assert 'another benchmark is writing this results file' in proc.stderr
    assert out.read_text() == '{"runs": []}'  # untouched
    assert not (tmp_path / 'work').exists()  # nothing trained or made


def _drop_logged(work, drop):
    """Remove the records ``drop(rec)`` picks from a run's scalars files
    (what a kill at that point would have left unwritten)."""
    for path in glob.glob(osp.join(work, '*', 'vis_data', 'scalars.json')):
        with open(path) as f:
            keep = [ln for ln in f if not drop(json.loads(ln))]
        with open(path, 'w') as f:
            f.writelines(keep)


def _is_val(rec, step):
    return rec['step'] == step and any(k.startswith('droplet/')
                                       for k in rec)


def _metrics(point):
    return {k: v for k, v in point.items() if k not in ('iter', 'train_s')}


def test_validations_lost_to_a_kill_are_made_up(tmp_path, tiny_droplets):
    # A run killed during a validation, after that iteration's checkpoint
    # was written, resumes past it: mmengine does not repeat it, and at
    # max_iters trains and validates nothing, so the run's result was its
    # previous validation (a GPU run reported iteration 800 as its
    # 1000-iteration result this way). Now the missed checkpoint is
    # evaluated before the run resumes.
    from conftest import SLIM_CONFIG, tiny_train_options
    from droplet_mmdet.apis.ablation import read_curve, run_one
    opts = dict(o.split('=', 1) for o in tiny_train_options(tiny_droplets, 2))
    opts.update({'train_cfg.val_interval': 1,
                 'default_hooks.checkpoint.interval': 1})
    work = str(tmp_path / 'run')
    env = dict(OMP_NUM_THREADS='1')
    run_one(SLIM_CONFIG, work, opts, ROOT, env)
    full = read_curve(work)
    assert [c['iter'] for c in full] == [1, 2]

    # killed during the validation at 1: iteration 1's checkpoint is the
    # last, nothing after it was logged
    os.remove(osp.join(work, 'iter_2.pth'))
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(osp.join(work, 'iter_1.pth'))
    _drop_logged(work, lambda r: r['step'] > 1 or _is_val(r, 1))
    assert read_curve(work) == []
    run_one(SLIM_CONFIG, work, opts, ROOT, env)
    curve = read_curve(work)
    assert [c['iter'] for c in curve] == [1, 2]
    assert _metrics(curve[0]) == pytest.approx(_metrics(full[0]),
                                               nan_ok=True)

    # killed during the final validation: resumed at max_iters
    before = _metrics(curve[1])
    _drop_logged(work, lambda r: _is_val(r, 2))
    assert [c['iter'] for c in read_curve(work)] == [1]
    again = run_one(SLIM_CONFIG, work, opts, ROOT, env)
    assert again == pytest.approx(before, nan_ok=True)
    assert [c['iter'] for c in read_curve(work)] == [1, 2]


@pytest.mark.parametrize('tool,args', [
    ('benchmark.py', ['--data', 'bubbles', '--rows', 'stock']),
    ('benchmark_transfer.py', ['--data', 'bubbles', '--rows', 'real2'])])
def test_benchmark_tools_refuse_to_resume_a_file_of_another_setup(
        tmp_path, tool, args):
    # --resume on results of another schedule: exit 2 with the file and
    # the difference named, before anything is trained, made or written
    out = tmp_path / 'results.json'
    out.write_text(json.dumps(dict(
        runs=[_run('stock', 0, 0.4)], iters=500, val_interval=500,
        data_options={}, recipe=[],
        env=dict(ABLATION_DATA='bubbles',
                 BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/'))))
    before = out.read_text()
    proc = _run_tool_on_fake_bubbles(tmp_path, tool, args + ['--resume'],
                                     out)
    assert proc.returncode == 2, proc.stderr
    assert 'results.json: its 1 runs were made with another setup' in \
        proc.stderr and 'iters: 500 there, 1 here' in proc.stderr
    assert out.read_text() == before
    assert not (tmp_path / 'work').exists()

"""Ablation bookkeeping: mean/spread over seeds, the table, and resuming
from the json an interrupted benchmark left behind."""
import json

import pytest

from droplet_mmdet.apis.ablation import (markdown_table, run_ablation,
                                         summarize_runs)
from conftest import ROOT


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
    assert '| a | 0.600 ± 0.100 |' in table
    assert '| b | 0.200 ± 0.000 |' in table


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


def test_resume_ignores_runs_of_another_schedule(tmp_path):
    out = str(tmp_path / 'ablation.json')
    _write(out, [_run('slim_stock', 0, 0.4)], iters=100)
    logs = []
    with pytest.raises(RuntimeError, match='training failed'):
        run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                     str(tmp_path / 'w'), out, ROOT,
                     env=dict(ABLATION_DATA='bubbles'), resume=True,
                     log=logs.append)
    assert any('not resuming' in m for m in logs)


def test_eval_only_names_the_missing_checkpoint(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'slim_stock_s0.iter_200\.pth'):
        run_ablation(['configs/slim_stock.py'], [0], {}, 200,
                     str(tmp_path / 'w'), str(tmp_path / 'a.json'), ROOT,
                     eval_only=True, log=lambda *a: None)

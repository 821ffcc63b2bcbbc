"""tools/merge_benchmark_runs.py: runs trained apart join one results
file; a run of the same row and seed replaces the old one; files of
another schedule are refused with the file named."""
import json
import subprocess

from conftest import PYTHON, ROOT, tool_env

TOOL = f'{ROOT}/tools/merge_benchmark_runs.py'


def _results(path, runs, iters=1000):
    curve = [dict(iter=iters, segm_mAP=0.5, train_s=10.0)]
    path.write_text(json.dumps(dict(
        iters=iters, val_interval=200, recipe=['anchors'], runs=[
            dict(config=c, seed=s, seconds=60.0, curve=curve,
                 metrics=dict(segm_mAP=ap)) for c, s, ap in runs])))
    return str(path)


def test_merge_replaces_and_adds(tmp_path):
    target = _results(tmp_path / 'all.json', [('stock', 0, 0.6),
                                              ('+anchors', 0, 0.5)])
    gpu_a = _results(tmp_path / 'A_1.json', [('+anchors', 0, 0.7)])
    gpu_b = _results(tmp_path / 'A_2.json', [('+focal', 1, 0.65)])
    res = subprocess.run([PYTHON, TOOL, target, gpu_a, gpu_b],
                         capture_output=True, text=True, env=tool_env())
    assert res.returncode == 0, res.stderr
    out = json.loads((tmp_path / 'all.json').read_text())
    got = {(r['config'], r['seed']): (r['metrics']['segm_mAP'],
                                      r.get('source')) for r in out['runs']}
    assert got == {('stock', 0): (0.6, None),
                   ('+anchors', 0): (0.7, 'A_1.json'),
                   ('+focal', 1): (0.65, 'A_2.json')}
    assert '| +anchors | 0 | 0.700 |' in (tmp_path / 'all.md').read_text()
    assert (tmp_path / 'all.png').stat().st_size > 0


def test_merge_joins_row_data(tmp_path):
    """Transfer files record what each row's data were; a merged-in row
    brings its facts, a row in both takes the input's, others stay."""
    def with_facts(name, runs, facts):
        path = tmp_path / name
        _results(path, runs)
        path.write_text(json.dumps(dict(json.loads(path.read_text()),
                                        row_data=facts)))
        return str(path)

    target = with_facts('all.json', [('real5', 0, 0.6), ('syn', 0, 0.3)],
                        [dict(row='real5', real_frames=5),
                         dict(row='syn', generator='old')])
    gpu = with_facts('T.json', [('cp5+real5', 1, 0.66), ('syn', 1, 0.31)],
                     [dict(row='cp5+real5', cut_paste_source_frames=5),
                      dict(row='syn', generator='new')])
    res = subprocess.run([PYTHON, TOOL, target, gpu], capture_output=True,
                         text=True, env=tool_env())
    assert res.returncode == 0, res.stderr
    facts = {f['row']: f for f in json.loads(
        (tmp_path / 'all.json').read_text())['row_data']}
    assert facts == {'real5': dict(row='real5', real_frames=5),
                     'syn': dict(row='syn', generator='new'),
                     'cp5+real5': dict(row='cp5+real5',
                                       cut_paste_source_frames=5)}


def test_merge_refuses_another_schedule(tmp_path):
    target = _results(tmp_path / 'all.json', [('stock', 0, 0.6)])
    short = _results(tmp_path / 'short.json', [('stock', 1, 0.3)], iters=2)
    res = subprocess.run([PYTHON, TOOL, target, short], capture_output=True,
                         text=True, env=tool_env())
    assert res.returncode != 0
    assert 'short.json: iters 2 differs' in res.stderr
    assert len(json.loads((tmp_path / 'all.json').read_text())['runs']) == 1


def test_merge_keep_existing_only_fills_missing_pairs(tmp_path):
    """--keep-existing: a row and seed the target has keeps the target's
    run (said on stdout); the input only adds the pairs it lacks."""
    target = _results(tmp_path / 'all.json', [('stock', 0, 0.6),
                                              ('+anchors', 1, 0.5)])
    gpu = _results(tmp_path / 'gpu.json', [('stock', 0, 0.9),
                                           ('+anchors', 0, 0.7)])
    res = subprocess.run([PYTHON, TOOL, '--keep-existing', target, gpu],
                         capture_output=True, text=True, env=tool_env())
    assert res.returncode == 0, res.stderr
    assert "stock s0 already in" in res.stdout
    out = json.loads((tmp_path / 'all.json').read_text())
    got = {(r['config'], r['seed']): (r['metrics']['segm_mAP'],
                                      r.get('source')) for r in out['runs']}
    assert got == {('stock', 0): (0.6, None), ('+anchors', 1): (0.5, None),
                   ('+anchors', 0): (0.7, 'gpu.json')}
    assert '| +anchors | 0, 1 | 0.600 ± 0.100 |' in (
        tmp_path / 'all.md').read_text()

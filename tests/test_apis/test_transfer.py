"""Transfer benchmark rows: names, real subsets, mixtures, and the datasets
the composed configs really build (on a tiny real-like set made here)."""
import json
import os.path as osp
import re

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from conftest import ROOT
from droplet_mmdet.apis.transfer import (compose_rows, finetune_options,
                                         generated_pipeline,
                                         merged_row_data, mix, parse_row,
                                         reuse_ablation_runs, split_finetune,
                                         subset_coco)


@pytest.mark.parametrize('row,parsed', [
    ('real_all', (None, None, -1)), ('real2', (None, None, 2)),
    ('syn', ('syn', None, None)), ('cp5', ('cp', 5, None)),
    ('syn+real5', ('syn', None, 5)), ('cp3+real2', ('cp', 3, 2)),
    ('cp5+real_all', ('cp', 5, -1)), ('synfit', ('synfit', None, None)),
    ('synfit+real5', ('synfit', None, 5)), ('synfit5', ('synfit', 5, None)),
    ('synfit2+real5', ('synfit', 2, 5))])
def test_parse_row(row, parsed):
    assert parse_row(row) == parsed


@pytest.mark.parametrize('row', ['', 'real', 'synreal2', 'syn+', 'cp',
                                 'cp0', 'real0', 'syn+real0', '+real2',
                                 'cp2+syn', 'stock', 'synfit0',
                                 'synfitreal2', 'synfit5real2', 'syn5',
                                 'synfit+', 'synfit5+'])
def test_unknown_rows_are_refused(row):
    with pytest.raises(ValueError, match=re.escape(f'row {row!r}')):
        parse_row(row)


@pytest.mark.parametrize('row,parsed', [
    ('real5', (None, 'real5')), ('synfit-then-real5', ('synfit', 'real5')),
    ('cp5-then-real2', ('cp5', 'real2')),
    ('syn+real5-then-real5', ('syn+real5', 'real5'))])
def test_split_finetune(row, parsed):
    assert split_finetune(row) == parsed


@pytest.mark.parametrize('row', ['-then-real5', 'synfit-then-',
                                 'syn-then-real5-then-real2',
                                 'synfit-then-stock', 'stock-then-real5',
                                 'syn-real5', 'syn then real5'])
def test_unknown_finetune_rows_are_refused(row):
    with pytest.raises(ValueError, match=re.escape(f'row {row!r}')):
        split_finetune(row)


def test_finetune_runs_start_from_the_pretrain_run_of_their_seed(tmp_path):
    work = tmp_path / 'w'
    assert finetune_options('real5', 0, 100, str(work)) == {}
    # no pretrain checkpoint: the error names the file and the remedy
    with pytest.raises(FileNotFoundError,
                       match=r'synfit_s1.iter_100\.pth.*train \'synfit\''):
        finetune_options('synfit-then-real5', 1, 100, str(work))
    for seed in (0, 1):
        (work / f'synfit_s{seed}').mkdir(parents=True)
        (work / f'synfit_s{seed}' / 'iter_100.pth').write_bytes(b'x')
    (work / 'synfit_s1' / 'iter_50.pth').write_bytes(b'x')
    assert finetune_options('synfit-then-real5', 1, 100, str(work)) == dict(
        load_from=str(work / 'synfit_s1' / 'iter_100.pth'))
    # an interrupted fine-tune resumes from its own checkpoint instead
    (work / 'synfit-then-real5_s0').mkdir()
    (work / 'synfit-then-real5_s0' / 'last_checkpoint').write_text('x')
    assert finetune_options('synfit-then-real5', 0, 100, str(work)) == {}


def _coco(n_images, ids=None):
    ids = ids or list(range(1, n_images + 1))
    return dict(
        images=[dict(id=i, file_name=f'{i}.png', height=8, width=8)
                for i in ids],
        annotations=[dict(id=10 * i + k, image_id=i, category_id=1,
                          bbox=[0, 0, 2, 2], area=4, iscrowd=0,
                          segmentation=[[0, 0, 2, 0, 2, 2, 0, 2]])
                     for i in ids for k in range(i)],
        categories=[dict(id=1, name='bubble')])


def test_subset_takes_the_first_frames_by_id_with_their_annotations(
        tmp_path):
    src = tmp_path / 'a.json'
    src.write_text(json.dumps(_coco(0, ids=[5, 2, 9, 1])))
    out = subset_coco(str(src), 2, str(tmp_path / 'sub' / 'b.json'))
    assert [im['id'] for im in out['images']] == [1, 2]
    assert sorted(a['image_id'] for a in out['annotations']) == [1, 2, 2]
    assert json.loads((tmp_path / 'sub' / 'b.json').read_text()) == out
    with pytest.raises(ValueError, match='fewer than the 5'):
        subset_coco(str(src), 5, str(tmp_path / 'c.json'))


def test_subset_spread_takes_first_last_and_evenly_between(tmp_path):
    src = tmp_path / 'a.json'
    src.write_text(json.dumps(_coco(0, ids=[5, 2, 9, 1, 7])))
    out = tmp_path / 'b.json'
    assert [im['id'] for im in subset_coco(
        str(src), 3, str(out), 'spread')['images']] == [1, 5, 9]
    assert sorted(a['image_id'] for a in json.loads(
        out.read_text())['annotations']) == [1] + [5] * 5 + [9] * 9
    assert [im['id'] for im in subset_coco(
        str(src), 2, str(out), 'spread')['images']] == [1, 9]
    assert [im['id'] for im in subset_coco(
        str(src), 5, str(out), 'spread')['images']] == [1, 2, 5, 7, 9]
    with pytest.raises(ValueError, match="pick 'random' unknown"):
        subset_coco(str(src), 2, str(out), 'random')


@pytest.mark.parametrize('n_gen,n_real,share',
                         [(120, 2, 0.4), (120, 5, 0.4), (100, 10, 0.5)])
def test_mix_gives_the_real_frames_their_share(n_gen, n_real, share):
    ds, times = mix(dict(type='G'), dict(type='R'), n_gen, n_real, share)
    real_samples = times * n_real
    assert real_samples / (real_samples + n_gen) == pytest.approx(share,
                                                                  abs=0.02)
    assert ds['datasets'][1] == dict(type='RepeatDataset', times=times,
                                     dataset=dict(type='R'))


def test_mix_does_not_repeat_when_real_frames_are_many():
    ds, times = mix(dict(type='G'), dict(type='R'), 10, 40, 0.4)
    assert times == 1 and ds['datasets'][1] == dict(type='R')


def test_generated_pipeline_swaps_only_the_annotation_step():
    real = [dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations', with_bbox=True, with_mask=True,
                 poly2mask=False),
            dict(type='RecordDropletSize'),
            dict(type='RandomCrop', crop_size=(384, 384))]
    out = generated_pipeline(real)
    assert out[1]['type'] == 'LoadDropletAnnotations'
    assert out[:1] + out[2:] == real[:1] + real[2:]
    assert real[1]['type'] == 'LoadAnnotations'  # input untouched
    with pytest.raises(ValueError, match='found 0'):
        generated_pipeline(real[:1])


def _fake_bubbles(root, n=3, size=160, seed=0):
    """A bubbles-layout set (annotations/instances_{train,val}.json,
    train/, val/) of dark discs with polygon labels."""
    rng = np.random.default_rng(seed)
    for split in ('train', 'val'):
        images, anns = [], []
        osp_dir = root / split
        osp_dir.mkdir(parents=True)
        for i in range(1, n + 1):
            img = np.full((size, size), 200, np.uint8)
            for k in range(6):
                cx, cy = rng.uniform(20, size - 20, 2)
                r = rng.uniform(6, 12)
                cv2.circle(img, (int(cx), int(cy)), int(r), 60, -1)
                t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
                poly = np.stack([cx + r * np.cos(t), cy + r * np.sin(t)],
                                1).ravel().round(1).tolist()
                anns.append(dict(id=len(anns) + 1, image_id=i,
                                 category_id=1, iscrowd=0,
                                 bbox=[cx - r, cy - r, 2 * r, 2 * r],
                                 area=float(np.pi * r * r),
                                 segmentation=[poly]))
            cv2.imwrite(str(osp_dir / f'{i}.png'), img)
            images.append(dict(id=i, file_name=f'{i}.png', height=size,
                               width=size))
        (root / 'annotations').mkdir(exist_ok=True)
        (root / 'annotations' / f'instances_{split}.json').write_text(
            json.dumps(dict(images=images, annotations=anns,
                            categories=[dict(id=1, name='bubble')])))


def test_composed_rows_build_the_datasets_they_name(tmp_path):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    _fake_bubbles(tmp_path / 'bubbles')
    env = dict(ABLATION_DATA='bubbles',
               BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/')
    rows = ['real2', 'syn', 'cp1', 'syn+real2', 'real_all']
    paths, facts = compose_rows(
        rows, osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py'), env,
        str(tmp_path / 'work'), log=lambda *a: None, syn_frames=4,
        syn_size=256, cp_frames=3)
    facts = dict(zip(rows, facts))
    sizes = {}
    for row, path in zip(rows, paths):
        cfg = Config.fromfile(path)
        # the +anchors row: the anchors fitted to bubbles
        assert cfg.model.rpn_head.anchor_generator.scales == [3.0]
        ds = DATASETS.build(cfg.train_dataloader.dataset)
        sizes[row] = len(ds)
        sample = ds[0]
        n = len(sample['data_samples'].gt_instances)
        assert n > 0, row
        assert sample['inputs'].shape[-2:] == (160, 160) or \
            sample['inputs'].shape[-2:] == (256, 256), row
        assert len(sample['data_samples'].gt_instances.masks) == n
    assert sizes == dict(real2=2, syn=4, cp1=3, real_all=3,
                         **{'syn+real2': 4 + 2 * facts['syn+real2'][
                             'real_repeat']})
    assert facts['real2']['real_images'] == ['1.png', '2.png']
    assert facts['real2']['real_droplets'] == 12
    assert facts['real_all']['real_frames'] == 3
    # cut-paste droplets come from frame 1 only, the class is the set's
    cp = json.loads((tmp_path / 'work' / 'data' / 'cp1' /
                     'train_renamed.json').read_text())
    assert cp['categories'][0]['name'] == 'bubble'
    assert len(cp['annotations']) > 0
    report = json.loads((tmp_path / 'work' / 'data' / 'cp1' /
                         'cut_paste_report.json').read_text())
    assert report['sources'] == ['1.png']
    assert report['harvest']['frames'] == 1


def test_spread_rows_use_the_spread_frames_everywhere(tmp_path):
    # real2, cp2 and synfit2 with --real-pick spread: frames 1 and 3 of 3
    from droplet_mmdet.datasets.synthetic.fit import size_overrides
    _fake_bubbles(tmp_path / 'bubbles')
    env = dict(ABLATION_DATA='bubbles',
               BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/')
    rows = ['real2', 'cp2', 'synfit2', 'syn']
    paths, facts = compose_rows(
        rows, osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py'), env,
        str(tmp_path / 'work'), log=lambda *a: None, syn_frames=2,
        syn_size=256, cp_frames=2, real_pick='spread')
    facts = dict(zip(rows, facts))
    assert facts['real2']['real_images'] == ['1.png', '3.png']
    assert [facts[r].get('real_pick') for r in rows] == [
        'spread', 'spread', 'spread', None]  # syn names no real frame
    data = tmp_path / 'work' / 'data'
    report = json.loads((data / 'cp2_spread' /
                         'cut_paste_report.json').read_text())
    assert report['sources'] == ['1.png', '3.png']
    ann = str(tmp_path / 'bubbles' / 'annotations' / 'instances_train.json')
    spread = str(data / 'real2_spread.json')
    assert facts['synfit2']['fitted'] == size_overrides(spread)
    assert facts['synfit2']['fitted'] != size_overrides(ann, max_frames=2)
    assert (data / 'syn_fit2_spread' / 'made_with.json').is_file()
    assert Config.fromfile(paths[0]).train_dataloader.dataset[
        'ann_file'] == spread


def test_a_finetune_row_trains_on_its_second_row_and_records_the_first(
        tmp_path):
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    _fake_bubbles(tmp_path / 'bubbles')
    env = dict(ABLATION_DATA='bubbles',
               BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/')
    rows = ['syn', 'syn-then-real2']
    paths, facts = compose_rows(
        rows, osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py'), env,
        str(tmp_path / 'work'), log=lambda *a: None, syn_frames=4,
        syn_size=256)
    assert osp.basename(paths[1]) == 'syn-then-real2.json'
    ds = DATASETS.build(Config.fromfile(paths[1]).train_dataloader.dataset)
    assert len(ds) == 2  # the two real frames, no synthetic frame
    assert ds[0]['inputs'].shape[-2:] == (160, 160)
    assert facts[1]['row'] == 'syn-then-real2'
    assert facts[1]['real_images'] == ['1.png', '2.png']
    assert facts[1]['init_from'] == facts[0]  # the pretrain row's data
    assert 'generated' not in facts[1]


def test_the_pretrain_checkpoint_reaches_the_training_run(tmp_path):
    # the run option is passed to tools/train.py: the runner loads (here:
    # refuses to load) exactly that file before the first iteration
    from droplet_mmdet.apis.ablation import run_ablation
    _fake_bubbles(tmp_path / 'bubbles')
    env = dict(ABLATION_DATA='bubbles',
               BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/')
    paths, _ = compose_rows(
        ['real2'], osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py'),
        env, str(tmp_path / 'work'), log=lambda *a: None)
    bogus = tmp_path / 'pretrained.pth'
    bogus.write_text('not a checkpoint')
    with pytest.raises(RuntimeError, match='training failed'):
        run_ablation(paths, [0], {}, 2, str(tmp_path / 'work'),
                     str(tmp_path / 'out.json'), ROOT, env=env,
                     log=lambda *a: None,
                     run_options=lambda row, seed: dict(load_from=bogus))
    log = (tmp_path / 'work' / 'real2_s0' / 'train_stdout.log').read_text()
    assert f"load_from = '{bogus}'" in log  # the run's config
    assert f'{bogus}: refused to load this checkpoint' in log  # its loader


def test_real_all_runs_are_taken_from_the_ablation(tmp_path):
    setup = dict(iters=100, data_options={}, env={}, val_interval=50,
                 recipe=[])
    run = dict(seed=0, metrics=dict(segm_mAP=0.5, segm_mAP_50=0.8),
               seconds=1.0)
    abl = tmp_path / 'abl.json'
    abl.write_text(json.dumps(dict(iters=100, val_interval=50, runs=[
        dict(run, config='+anchors'), dict(run, config='stock'),
        dict(run, config='+anchors', seed=3)])))
    out = tmp_path / 'out.json'
    assert reuse_ablation_runs(str(out), str(abl), setup, [0, 1],
                               root=str(tmp_path), log=lambda *a: None) == 1
    got = json.loads(out.read_text())
    assert [(r['config'], r['seed'], r['copied_from']) for r in got['runs']
            ] == [('real_all', 0, 'abl.json')]
    assert got['iters'] == 100 and got['summary'][0]['segm_mAP'] == 0.5
    # a second call copies nothing more; another schedule copies nothing
    assert reuse_ablation_runs(str(out), str(abl), setup, [0, 1],
                               log=lambda *a: None) == 0
    assert reuse_ablation_runs(str(tmp_path / 'o2.json'), str(abl),
                               dict(setup, iters=200), [0],
                               log=lambda *a: None) == 0


def test_real_all_is_not_taken_from_an_ablation_of_other_annotations(
        tmp_path):
    """real_all copies the ablation's +anchors runs only when both were
    made from the same annotation files (digests): an ablation of another
    set or another split would report its numbers as this set's."""
    data = dict(train='a' * 40, val='b' * 40)
    setup = dict(iters=100, data_options={}, env={}, val_interval=50,
                 recipe=[], data=data)
    run = dict(config='+anchors', seed=0, seconds=1.0,
               metrics=dict(segm_mAP=0.5))
    abl = tmp_path / 'abl.json'
    logged = []
    for other in (dict(data, val='c' * 40), None):
        abl.write_text(json.dumps(dict(iters=100, val_interval=50,
                                       data=other, runs=[run])))
        assert reuse_ablation_runs(str(tmp_path / 'o.json'), str(abl), setup,
                                   [0], log=logged.append) == 0
        assert not (tmp_path / 'o.json').exists()
        assert 'other annotation files' in logged[-1]
    abl.write_text(json.dumps(dict(iters=100, val_interval=50, data=data,
                                   runs=[run])))
    assert reuse_ablation_runs(str(tmp_path / 'o.json'), str(abl), setup,
                               [0], log=logged.append) == 1


def test_row_data_of_earlier_invocations_is_kept(tmp_path):
    out = tmp_path / 'out.json'
    assert merged_row_data(str(out), [dict(row='syn', n=1)]) == [
        dict(row='syn', n=1)]
    out.write_text(json.dumps(dict(runs=[], row_data=[
        dict(row='syn', n=1), dict(row='real2', n=2)])))
    got = merged_row_data(str(out), [dict(row='real2', n=3),
                                     dict(row='cp5', n=4)])
    assert got == [dict(row='syn', n=1), dict(row='real2', n=3),
                   dict(row='cp5', n=4)]


def test_generated_frames_are_remade_when_their_settings_change(tmp_path):
    """Rendered frames are reused only for the settings they were made
    with: a changed fit (overrides) renders them again, never trains on
    stale frames under new facts."""
    from droplet_mmdet.apis.transfer import make_synthetic
    out, said = str(tmp_path / 'syn'), []
    ann = make_synthetic(out, 2, 96, 0, ['bubble'], said.append,
                         dict(max_ellipticity=0.1))
    made = osp.getmtime(ann)
    assert make_synthetic(out, 2, 96, 0, ['bubble'], said.append,
                          dict(max_ellipticity=0.1)) == ann
    assert osp.getmtime(ann) == made and len(said) == 1  # reused
    make_synthetic(out, 2, 96, 0, ['bubble'], said.append,
                   dict(max_ellipticity=0.5))
    assert any('made with other settings' in s for s in said)
    with open(osp.join(out, 'made_with.json')) as f:
        assert json.load(f)['overrides'] == dict(max_ellipticity=0.5)
    with open(ann) as f:
        assert json.load(f)['categories'][0]['name'] == 'bubble'


def test_a_generator_default_change_remakes_frames(tmp_path, monkeypatch):
    """The digest covers the whole FrameSpec: a changed default (not an
    override) also makes the frames stale."""
    from droplet_mmdet.apis import transfer
    from droplet_mmdet.datasets.synthetic import spec as spec_mod
    before = transfer.spec_digest(96)
    assert transfer.spec_digest(96) == before
    assert transfer.spec_digest(128) != before
    out, said = str(tmp_path / 'syn'), []
    transfer.make_synthetic(out, 1, 96, 0, ['bubble'], said.append)
    fields = {f.name: f for f in spec_mod.dataclasses.fields(
        spec_mod.FrameSpec)}
    monkeypatch.setattr(fields['gas_bubbles'], 'default', 0.9)
    monkeypatch.setattr(spec_mod.FrameSpec.__init__, '__defaults__', tuple(
        0.9 if name == 'gas_bubbles' else v for name, v in zip(
            [f.name for f in spec_mod.dataclasses.fields(spec_mod.FrameSpec)
             if f.default is not spec_mod.dataclasses.MISSING],
            spec_mod.FrameSpec.__init__.__defaults__)))
    assert spec_mod.FrameSpec().gas_bubbles == 0.9
    assert transfer.spec_digest(96) != before
    transfer.make_synthetic(out, 1, 96, 0, ['bubble'], said.append)
    assert any('made with other settings' in s for s in said)


def _stamp(run_dir, fact):
    run_dir.mkdir(parents=True)
    (run_dir / 'data_facts.json').write_text(json.dumps(fact))


def test_runs_of_rows_whose_data_changed_are_dropped(tmp_path):
    from droplet_mmdet.apis.transfer import drop_stale_runs
    run = dict(metrics=dict(segm_mAP=0.3, segm_mAP_50=0.5), seconds=1.0)
    now = dict(syn=dict(row='syn', generated='syn', generator='new'),
               mix=dict(row='syn+real2', generated='syn', generator='new'),
               real2=dict(row='real2', real_frames=2),
               cp5=dict(row='cp5', x=1))
    out = tmp_path / 'out.json'
    out.write_text(json.dumps(dict(iters=10, runs=[
        dict(run, config='syn', seed=0), dict(run, config='syn', seed=1),
        dict(run, config='syn+real2', seed=0),
        dict(run, config='real2', seed=0), dict(run, config='cp5', seed=0)],
        row_data=[dict(row='syn', generated='syn'),  # another generator
                  dict(row='syn+real2', generated='syn', generator='old'),
                  now['real2']])))  # cp5: runs, but its data not recorded
    work = tmp_path / 'work'
    for name in ('syn_s0', 'syn_s1', 'syn+real2_s0', 'syn+real2_s1',
                 'real2_s0', 'synfit_s0', 'syn_sx'):
        (work / name).mkdir(parents=True)
    _stamp(work / 'real2_s1', now['real2'])  # interrupted, same data
    _stamp(work / 'real2_s2', dict(now['real2'], real_frames=3))
    (work / 'real2_s3').mkdir()  # interrupted, data not recorded
    said = []
    assert drop_stale_runs(str(out), list(now.values()), str(work),
                           said.append) == ['syn', 'syn+real2', 'cp5']
    got = json.loads(out.read_text())
    assert [(r['config'], r['seed']) for r in got['runs']] == [
        ('real2', 0)]
    assert [r['row'] for r in got['row_data']] == ['real2']
    assert sorted(p.name for p in work.iterdir()) == [
        'real2_s0', 'real2_s1', 'syn_sx', 'synfit_s0']
    assert sum('dropping its result (mask AP 0.3)' in s for s in said) == 4
    assert any('was not recorded' in s for s in said)
    assert '| syn |' not in (tmp_path / 'out.md').read_text()
    assert '| real2 |' in (tmp_path / 'out.md').read_text()
    # nothing changed: nothing dropped, the file untouched
    text = out.read_text()
    assert drop_stale_runs(str(out), [now['real2']], str(work),
                           said.append) == []
    assert out.read_text() == text


def test_interrupted_runs_are_stamped_and_checked_before_a_results_file(
        tmp_path):
    """A first run interrupted before any result: its folder's stamp says
    what it trained on, so new data remove it and the same data keep it."""
    from droplet_mmdet.apis.transfer import drop_stale_runs, stamp_run_dirs
    out, work = str(tmp_path / 'none.json'), tmp_path / 'work'
    fact = dict(row='syn', generator='a')
    stamp_run_dirs(out, [fact], str(work), [0, 1])
    assert json.loads((work / 'syn_s1' / 'data_facts.json').read_text()
                      ) == fact
    (work / 'syn_s0' / 'last_checkpoint').write_text('x')
    assert drop_stale_runs(out, [fact], str(work), lambda *a: None) == []
    assert (work / 'syn_s0' / 'last_checkpoint').is_file()
    drop_stale_runs(out, [dict(fact, generator='b')], str(work),
                    lambda *a: None)
    assert not (work / 'syn_s0').exists() and not (work / 'syn_s1').exists()
    # finished runs get no stamp folder
    (tmp_path / 'o.json').write_text(json.dumps(dict(runs=[
        dict(config='syn', seed=0)])))
    stamp_run_dirs(str(tmp_path / 'o.json'), [fact], str(work), [0, 1])
    assert sorted(p.name for p in work.iterdir()) == ['syn_s1']


def test_taking_real_all_from_the_ablation_keeps_the_row_data(tmp_path):
    setup = dict(iters=100, data_options={}, env={}, val_interval=50,
                 recipe=[])
    abl = tmp_path / 'abl.json'
    abl.write_text(json.dumps(dict(iters=100, val_interval=50, runs=[
        dict(config='+anchors', seed=0, seconds=1.0,
             metrics=dict(segm_mAP=0.5))])))
    out = tmp_path / 'out.json'
    out.write_text(json.dumps(dict(runs=[], row_data=[dict(row='syn', g=1)],
                                   title='t')))
    assert reuse_ablation_runs(str(out), str(abl), setup, [0],
                               log=lambda *a: None) == 1
    got = json.loads(out.read_text())
    assert got['row_data'] == [dict(row='syn', g=1)] and got['title'] == 't'


def test_synfit_k_fits_the_renders_to_the_first_k_frames_only(tmp_path):
    from droplet_mmdet.datasets.synthetic.fit import size_overrides
    _fake_bubbles(tmp_path / 'bubbles', n=3)
    ann = str(tmp_path / 'bubbles' / 'annotations' / 'instances_train.json')
    # frame 1 gets small bubbles only, so a fit to it differs from all three
    with open(ann) as f:
        data = json.load(f)
    for a in data['annotations']:
        if a['image_id'] == 1:
            a['area'] /= 4
            a['bbox'] = [a['bbox'][0], a['bbox'][1], a['bbox'][2] / 2,
                         a['bbox'][3] / 2]
    with open(ann, 'w') as f:
        json.dump(data, f)
    env = dict(ABLATION_DATA='bubbles',
               BUBBLES_ROOT=str(tmp_path / 'bubbles') + '/')
    rows = ['synfit1', 'synfit+real1', 'synfit']
    _, facts = compose_rows(
        rows, osp.join(ROOT, 'configs/droplet/ablation/slim_stock.py'), env,
        str(tmp_path / 'work'), log=lambda *a: None, syn_frames=2,
        syn_size=128)
    one, all_frames = size_overrides(ann, max_frames=1), size_overrides(ann)
    assert one != all_frames
    assert facts[0]['fitted'] == one and facts[0]['fitted_to_frames'] == 1
    assert 'real_frames' not in facts[0]  # renders only, no real frame
    assert facts[1]['fitted'] == one and facts[1]['real_frames'] == 1
    assert facts[2]['fitted'] == all_frames
    assert facts[2]['fitted_to_frames'] == 'all'
    # synfit1 and synfit+real1 train on the same renders
    assert facts[0]['generator'] == facts[1]['generator'] != \
        facts[2]['generator']
    made = json.loads((tmp_path / 'work' / 'data' / 'syn_fit1' /
                       'made_with.json').read_text())
    assert made['overrides'] == json.loads(json.dumps(one))

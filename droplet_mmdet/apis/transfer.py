"""Transfer benchmark: what synthetic frames buy on a real val set.

Every row trains the same model (the ablation's ``+anchors`` row: the slim
Mask R-CNN with the anchors fitted to the real set) with the same schedule
and validates on the real set's val split; only the training data differ:

- ``real_all``: every real train frame (the ablation's ``+anchors`` row);
- ``realK``: the first K real train frames (by image id);
- ``syn``: synthetic frames only (generator v2, default ``FrameSpec``:
  randomised sizes, looks and optics; nothing fitted to the real set);
- ``synfit``: synthetic frames whose sizes and coverage are fitted to the
  real train labels (:func:`~droplet_mmdet.datasets.synthetic.fit.
  size_overrides`: sizes only, no pixels; ``synfitK`` and ``synfit+realK``
  fitted to the first K frames' labels only); every look and optics knob
  keeps its default;
- ``cpK``: cut-and-paste frames composed from the first K real train
  frames only (:func:`~droplet_mmdet.datasets.synthetic.cutpaste_io.
  cut_paste_dataset`);
- ``syn+realK`` / ``synfit+realK`` / ``cpK+realK``: both, the K real
  frames repeated so that they make ``real_share`` (40 %) of the samples
  (DropTrack trains on 60 % synthetic data);
- ``A-then-B`` (e.g. ``synfit-then-real5``): pretrain, then fine-tune:
  row ``B``'s data and schedule, starting from the final checkpoint of
  row ``A``'s run of the same seed (``load_from``; row ``A`` trains first,
  in the same work root). Twice the training compute of a plain row.

Synthetic and cut-paste frames go through the real rows' training pipeline
(random 384 px crop, flips) with their RLE masks loaded per box
(``LoadDropletAnnotations``). The data are made once per work root and
reused by every seed.

"The first K frames" is the default pick; ``real_pick='spread'`` takes K
frames spread evenly over the train frames by id instead (the first and
the last included), for every row that names K.

Shorthand: K real train frames, S synthetic (or cut-paste) train frames.
"""
import copy
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROW_RE = re.compile(
    r'^(?:(synfit(\d+)?|syn|cp(\d+))(\+)?)?(real(\d+|_all))?$')


def parse_row(row: str) -> Tuple[Optional[str], Optional[int],
                                 Optional[int]]:
    """``row`` -> ``(synthetic kind, source frames, real frames)``; the kind
    is ``'syn'``, ``'synfit'``, ``'cp'`` or None; source frames are the
    real train frames the generated data come from (``cpK``: cut from the
    first K; ``synfitK``: sizes fitted to the first K frames' labels), None
    where the row names none; real frames -1 for all.

    Raises:
        ValueError: for a row this benchmark does not know.
    """
    m = ROW_RE.match(row)
    if not row or m is None or (m.group(1) and m.group(5) and
                                not m.group(4)) or (
                                    m.group(4) and not m.group(5)):
        raise ValueError(
            f'transfer row {row!r} unknown: use real_all, realK, syn, '
            'synfit, synfitK, cpK, syn+realK, synfit+realK or cpK+realK (K a '
            'number of frames)')
    kind = None if m.group(1) is None else (
        'cp' if m.group(3) else
        'synfit' if m.group(1).startswith('synfit') else 'syn')
    src_text = m.group(2) or m.group(3)
    src = int(src_text) if src_text else None
    real = None
    if m.group(5):
        real = -1 if m.group(6) == '_all' else int(m.group(6))
        if real == 0:
            raise ValueError(f'transfer row {row!r}: real0 is no real frame; '
                             'use syn or cpK')
    if src == 0:
        raise ValueError(f'transfer row {row!r}: {kind}0 has no source '
                         'frame; use at least one')
    return kind, src, real


THEN = '-then-'


def split_finetune(row: str) -> Tuple[Optional[str], str]:
    """``'synfit-then-real5'`` -> ``('synfit', 'real5')`` (pretrain row,
    fine-tune row); a plain row -> ``(None, row)``. Both parts are checked
    with :func:`parse_row`.

    Raises:
        ValueError: for a row this benchmark does not know.
    """
    if THEN not in row:
        parse_row(row)
        return None, row
    parts = row.split(THEN)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f'transfer row {row!r} unknown: a fine-tune row is '
                         f'<pretrain row>{THEN}<row>, e.g. '
                         f'synfit{THEN}real5')
    for part in parts:
        try:
            parse_row(part)
        except ValueError as err:
            raise ValueError(f'transfer row {row!r}: {err}') from None
    return parts[0], parts[1]


def finetune_options(row: str, seed: int, iters: int,
                     work_root: str) -> Dict[str, str]:
    """``--cfg-options`` of one run of ``row``: for ``A-then-B``,
    ``load_from`` = the final checkpoint of row ``A``'s run of the same
    seed (``<work_root>/A_s<seed>/iter_<iters>.pth``); nothing for a plain
    row, or for a run that resumes from its own checkpoint.

    Raises:
        FileNotFoundError: the pretrain checkpoint is missing (row ``A``
            not trained here, or its checkpoints were deleted).
    """
    from .ablation import has_checkpoint, run_dir_path
    pre, _ = split_finetune(row)
    if pre is None:
        return {}
    if has_checkpoint(run_dir_path(work_root, row, seed)):
        return {}  # resumes from its own checkpoint
    ckpt = osp.join(run_dir_path(work_root, pre, seed), f'iter_{iters}.pth')
    if not osp.isfile(ckpt):
        raise FileNotFoundError(
            f'{ckpt}: row {row!r} seed {seed} fine-tunes the final '
            f'checkpoint of row {pre!r}, which is not there; train {pre!r} '
            f'with the same seed, iterations and --work-root first (list it '
            f'before {row!r} in --rows; if the results file already holds '
            f'its run, its checkpoints were deleted: drop that run from the '
            'results file or use a new --out)')
    return dict(load_from=ckpt)


def real_train_source(cfg) -> Tuple[str, str]:
    """(annotation file, image folder) of ``cfg``'s real training set,
    absolute as the dataset resolves them."""
    ds = cfg.train_dataloader.dataset
    root = ds.get('data_root', '') or ''
    ann = osp.join(root, ds.ann_file)
    img = osp.join(root, (ds.get('data_prefix') or {}).get('img', ''))
    return osp.abspath(ann), osp.abspath(img)


REAL_PICKS = ('first', 'spread')


def subset_coco(ann_file: str, k: int, out_file: str,
                pick: str = 'first') -> Dict[str, Any]:
    """``k`` images of a COCO file and their annotations, written to
    ``out_file``: the first ``k`` by id (``pick='first'``), or ``k`` spread
    evenly over the images sorted by id, first and last included
    (``'spread'``; a set stored recording by recording, such as
    zerog_bubbles, then gives frames of every recording).

    Raises:
        ValueError: when the file has fewer than ``k`` images, or for an
            unknown ``pick``.
    """
    if pick not in REAL_PICKS:
        raise ValueError(f'pick {pick!r} unknown: use one of {REAL_PICKS}')
    with open(ann_file) as f:
        data = json.load(f)
    images = sorted(data['images'], key=lambda im: im['id'])
    if len(images) < k:
        raise ValueError(f'{ann_file}: {len(images)} images, fewer than the '
                         f'{k} asked for')
    if pick == 'first' or k == 1:
        keep = images[:k]
    else:
        n = len(images)
        keep = [images[round(i * (n - 1) / (k - 1))] for i in range(k)]
    ids = {im['id'] for im in keep}
    out = dict(data, images=keep, annotations=[
        a for a in data['annotations'] if a['image_id'] in ids])
    os.makedirs(osp.dirname(osp.abspath(out_file)), exist_ok=True)
    with open(out_file, 'w') as f:
        json.dump(out, f)
    return out


def rename_category(ann_file: str, name: str, out_file: str) -> None:
    """Copy of a one-class COCO file whose category is called ``name`` (the
    real set's class, so that the dataset's ``classes`` keep it)."""
    with open(ann_file) as f:
        data = json.load(f)
    if len(data['categories']) != 1:
        raise ValueError(f'{ann_file}: {len(data["categories"])} '
                         'categories, expected one')
    data['categories'][0]['name'] = name
    with open(out_file, 'w') as f:
        json.dump(data, f)


def _made_before(out_dir: str, ann: str, settings: Dict[str, Any],
                 log=print) -> bool:
    """Whether ``out_dir`` holds ``ann`` made with ``settings`` (recorded in
    ``made_with.json``); a folder made otherwise is removed."""
    stamp = osp.join(out_dir, 'made_with.json')
    want = json.loads(json.dumps(settings))
    if osp.isfile(ann) and osp.isfile(stamp):
        with open(stamp) as f:
            if json.load(f) == want:
                return True
    if osp.isdir(out_dir):
        log(f'{out_dir} was made with other settings (or before they were '
            'recorded): making it again')
        shutil.rmtree(out_dir)
    return False


def _record(out_dir: str, settings: Dict[str, Any]) -> None:
    with open(osp.join(out_dir, 'made_with.json'), 'w') as f:
        json.dump(settings, f, indent=1)


def spec_digest(size: int, overrides: Optional[Dict[str, Any]] = None
                ) -> str:
    """12 hex digits of the whole ``FrameSpec`` (defaults included) that
    :func:`make_synthetic` renders with, and of the renderer's
    ``GENERATOR_VERSION``: a changed generator default or renderer changes
    it, so frames and runs made before are known to be stale."""
    from droplet_mmdet.datasets.synthetic import FrameSpec
    from droplet_mmdet.datasets.synthetic.spec import GENERATOR_VERSION
    spec = FrameSpec(height=size, width=size, **(overrides or {}))
    text = json.dumps(dict(spec.to_dict(), _version=GENERATOR_VERSION),
                      sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def make_synthetic(out_dir: str, frames: int, size: int, seed: int,
                   classes: Sequence[str], log=print,
                   overrides: Optional[Dict[str, Any]] = None) -> str:
    """Generator-v2 train frames (made once for the same settings and
    generator, see :func:`spec_digest`), with ``overrides`` of the default
    ``FrameSpec``; returns their COCO file."""
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    ann = osp.join(out_dir, 'train_renamed.json')
    settings = dict(frames=frames, size=size, seed=seed,
                    classes=list(classes), overrides=overrides or {},
                    generator=spec_digest(size, overrides))
    if _made_before(out_dir, ann, settings, log):
        return ann
    log(f'rendering {frames} synthetic v2 frames ({size} px) -> {out_dir}'
        + (f' with {overrides}' if overrides else ''))
    generate_dataset(out_dir,
                     FrameSpec(height=size, width=size, **(overrides or {})),
                     dict(train=frames), seed=seed, progress=False)
    rename_category(osp.join(out_dir, 'train.json'), classes[0], ann)
    _record(out_dir, settings)
    return ann


def make_cut_paste(out_dir: str, src_ann: str, img_root: str, k: int,
                   frames: int, seed: int, classes: Sequence[str],
                   log=print) -> str:
    """Cut-and-paste train frames from the first ``k`` real frames (made
    once); returns their COCO file."""
    from droplet_mmdet.datasets.synthetic.cutpaste_io import cut_paste_dataset
    ann = osp.join(out_dir, 'train_renamed.json')
    settings = dict(source=osp.abspath(src_ann), k=k, frames=frames,
                    seed=seed, classes=list(classes))
    if _made_before(out_dir, ann, settings, log):
        return ann
    log(f'composing {frames} cut-and-paste frames from {k} real frames '
        f'-> {out_dir}')
    cut_paste_dataset(src_ann, img_root, out_dir, dict(train=frames),
                      num_source_frames=k, seed=seed, gallery=8,
                      progress=False)
    rename_category(osp.join(out_dir, 'train.json'), classes[0], ann)
    _record(out_dir, settings)
    return ann


def generated_pipeline(real_pipeline: List[dict]) -> List[dict]:
    """The real rows' training pipeline with the annotation step replaced
    by ``LoadDropletAnnotations`` (RLE masks decoded per box)."""
    steps = copy.deepcopy(list(real_pipeline))
    at = [i for i, s in enumerate(steps) if 'Annotations' in s['type']]
    if len(at) != 1:
        raise ValueError('the training pipeline needs exactly one '
                         f'annotation loading step, found {len(at)}')
    steps[at[0]] = dict(type='LoadDropletAnnotations', with_bbox=True,
                        with_mask=True)
    return steps


def mix(generated: dict, real: dict, n_generated: int, n_real: int,
        real_share: float) -> Tuple[dict, int]:
    """ConcatDataset of both, the real part repeated to ``real_share`` of
    the samples; returns (dataset, times the real frames repeat)."""
    times = max(1, int(round(real_share / (1 - real_share) * n_generated /
                             n_real)))
    real = dict(type='RepeatDataset', times=times, dataset=real) \
        if times > 1 else real
    return dict(type='ConcatDataset', datasets=[generated, real]), times


def row_dataset(row: str, cfg, data_dir: str, syn_frames: int = 120,
                syn_size: int = 512, cp_frames: int = 120,
                real_share: float = 0.4, data_seed: int = 0,
                real_pick: str = 'first',
                log=print) -> Tuple[dict, Dict[str, Any]]:
    """The training dataset of ``row`` over ``cfg``'s real set, making its
    data under ``data_dir`` if needed. ``real_pick`` says which K real
    train frames ``realK``, ``cpK`` and ``synfitK`` use (see
    :func:`subset_coco`); other than ``'first'`` it is in the facts and in
    the names of the files made.

    Returns:
        tuple: (train dataset config, facts for the results file).
    """
    pre, plain = split_finetune(row)
    if pre is not None:
        kw = dict(syn_frames=syn_frames, syn_size=syn_size,
                  cp_frames=cp_frames, real_share=real_share,
                  data_seed=data_seed, real_pick=real_pick, log=log)
        _, pre_facts = row_dataset(pre, cfg, data_dir, **kw)
        ds, facts = row_dataset(plain, cfg, data_dir, **kw)
        facts.update(row=row, init_from=pre_facts)
        return ds, facts
    kind, source, real = parse_row(row)
    real_ds = copy.deepcopy(cfg.train_dataloader.dataset.to_dict()
                            if hasattr(cfg.train_dataloader.dataset,
                                       'to_dict') else
                            cfg.train_dataloader.dataset)
    classes = real_ds['metainfo']['classes']
    ann, img_root = real_train_source(cfg)
    facts: Dict[str, Any] = dict(row=row)
    if real_pick not in REAL_PICKS:
        raise ValueError(f'real_pick {real_pick!r} unknown: use one of '
                         f'{REAL_PICKS}')
    tail = '' if real_pick == 'first' else f'_{real_pick}'
    if tail and ((real is not None and real > 0) or source):
        facts['real_pick'] = real_pick
    if real is not None and real > 0:
        sub = osp.join(data_dir, f'real{real}{tail}.json')
        data = subset_coco(ann, real, sub, real_pick)
        real_ds['ann_file'] = sub  # absolute: data_root does not apply
        facts.update(real_frames=real,
                     real_images=[im['file_name'] for im in data['images']],
                     real_droplets=len(data['annotations']))
    elif real == -1:
        with open(ann) as f:
            facts['real_frames'] = len(json.load(f)['images'])
    if kind is None:
        return real_ds, facts
    if kind == 'syn':
        gen_dir = osp.join(data_dir, 'syn_v2')
        gen_ann = make_synthetic(gen_dir, syn_frames, syn_size, data_seed,
                                 classes, log)
        n_gen = syn_frames
        facts['generator'] = spec_digest(syn_size)
    elif kind == 'synfit':
        from droplet_mmdet.datasets.synthetic.fit import size_overrides
        k = source or (real if real is not None and real > 0 else None)
        fit_ann = ann
        if k:  # fitted to the labels of the K picked frames only
            fit_ann = osp.join(data_dir, f'real{k}{tail}.json')
            subset_coco(ann, k, fit_ann, real_pick)
        overrides = size_overrides(fit_ann)
        gen_dir = osp.join(data_dir, f'syn_fit{k or ""}{tail if k else ""}')
        gen_ann = make_synthetic(gen_dir, syn_frames, syn_size, data_seed,
                                 classes, log, overrides)
        n_gen = syn_frames
        facts.update(fitted_to_frames=k or 'all', fitted=overrides,
                     generator=spec_digest(syn_size, overrides))
    else:
        gen_dir = osp.join(data_dir, f'cp{source}{tail}')
        # the realK frames
        src = osp.join(data_dir, f'real{source}{tail}.json')
        subset_coco(ann, source, src, real_pick)
        gen_ann = make_cut_paste(gen_dir, src, img_root, source, cp_frames,
                                 data_seed, classes, log)
        n_gen = cp_frames
        facts['cut_paste_source_frames'] = source
    gen_ds = dict(type=real_ds['type'], metainfo=real_ds['metainfo'],
                  data_root='', ann_file=gen_ann,
                  data_prefix=dict(img=osp.join(gen_dir, 'train') + '/'),
                  filter_cfg=dict(filter_empty_gt=True),
                  pipeline=generated_pipeline(real_ds['pipeline']))
    facts.update(generated=kind, generated_frames=n_gen)
    if real is None:
        return gen_ds, facts
    ds, times = mix(gen_ds, real_ds, n_gen, facts['real_frames'],
                    real_share)
    facts.update(real_repeat=times, real_share=round(
        times * facts['real_frames'] /
        (times * facts['real_frames'] + n_gen), 3))
    return ds, facts


def compose_rows(rows: Sequence[str], base_config: str, env: Dict[str, str],
                 work_root: str, log=print, **data_kwargs
                 ) -> Tuple[List[str], List[Dict[str, Any]]]:
    """Write ``<work_root>/configs/<row>.json`` for every row: the
    ``+anchors`` ablation row with the row's training data; returns the
    paths and the facts of each row's data."""
    from .ablation import config_with_env
    from .ablation_rows import compose
    base = config_with_env(base_config, env)
    cfg = compose(base, ['anchors'])
    cfg_dir = osp.join(work_root, 'configs')
    os.makedirs(cfg_dir, exist_ok=True)
    paths, facts = [], []
    for row in rows:
        split_finetune(row)  # every name checked before any data is made
    for row in rows:
        ds, fact = row_dataset(row, cfg, osp.join(work_root, 'data'),
                               log=log, **data_kwargs)
        row_cfg = copy.deepcopy(cfg)
        row_cfg.train_dataloader.dataset = ds
        path = osp.join(cfg_dir, f'{row}.json')
        row_cfg.dump(path)
        paths.append(path)
        facts.append(fact)
    return paths, facts


def reuse_ablation_runs(out: str, ablation: str, setup: Dict[str, Any],
                        seeds: Sequence[int], root: str = '.',
                        log=print) -> int:
    """Copy the ``+anchors`` runs of the ablation results ``ablation``
    (same schedule, and, when ``setup`` records them, the same annotation
    files: ``data``, :func:`~droplet_mmdet.apis.ablation.annotation_digests`)
    into the transfer results ``out`` as ``real_all`` (marked
    ``copied_from``); returns how many were copied."""
    if not osp.isfile(ablation):
        return 0
    with open(ablation) as f:
        abl = json.load(f)
    if abl.get('iters') != setup['iters'] or abl.get(
            'val_interval', abl.get('iters')) != setup['val_interval']:
        log(f'{ablation}: another schedule, real_all is trained here')
        return 0
    if setup.get('data') and abl.get('data') != setup['data']:
        log(f'{ablation}: made from other annotation files (data '
            f'{abl.get("data")} here {setup["data"]}), real_all is '
            'trained here')
        return 0
    res: Dict[str, Any] = dict(runs=[])
    if osp.isfile(out):
        with open(out) as f:
            res = json.load(f)
    runs = res['runs']
    have = {r['seed'] for r in runs if r['config'] == 'real_all'}
    new = [dict(r, config='real_all', copied_from=osp.relpath(ablation, root))
           for r in abl['runs'] if r['config'] == '+anchors' and
           r['seed'] in seeds and r['seed'] not in have]
    if new:
        from .ablation import summarize_runs
        runs += new
        res.update(setup, runs=runs, summary=summarize_runs(runs))
        with open(out, 'w') as f:
            json.dump(res, f, indent=2)
        log(f'real_all: {len(new)} run(s) taken from {ablation}')
    return len(new)


STAMP = 'data_facts.json'


def _row_dirs(work_root: str, row: str) -> List[str]:
    """``<work_root>/<row>_s<seed>`` folders of ``row`` (not of rows whose
    name merely starts with it)."""
    base = osp.join(work_root, row)
    return [d for d in sorted(glob.glob(glob.escape(base) + '_s*'))
            if osp.isdir(d) and re.fullmatch(r'_s\d+', d[len(base):])]


def drop_stale_runs(out: str, facts: Sequence[Dict[str, Any]],
                    work_root: str, log=print) -> List[str]:
    """Make sure no row trains or reports on data it no longer has.

    A row is stale when ``out`` holds runs of it but its recorded data
    (``row_data``) differ from ``facts`` (frames of another generator,
    other real frames, ...) or were never recorded: its runs leave ``out``
    (and its ``.md`` table), each logged with its mask AP. Any run folder
    (``<work_root>/<row>_s<seed>``; an interrupted run's checkpoints) of a
    stale row, or whose ``data_facts.json`` stamp is missing or differs
    from the row's facts, is removed (logged), unless ``out`` keeps a
    finished run of it (:func:`stamp_run_dirs` writes the stamps before
    training). Returns the stale rows.
    """
    want = {f['row']: json.loads(json.dumps(f)) for f in facts}
    res: Optional[Dict[str, Any]] = None
    if osp.isfile(out):
        with open(out) as f:
            res = json.load(f)
    stale: List[str] = []
    finished = set()
    if res is not None:
        old = {r['row']: r for r in res.get('row_data', [])}
        has_runs = {r['config'] for r in res['runs']}
        stale = [row for row in want if row in has_runs
                 and old.get(row) != want[row]]
        keep = []
        for run in res['runs']:
            if run['config'] in stale:
                was = old.get(run['config'], 'not recorded')
                log(f'{run["config"]} seed {run["seed"]}: its data changed '
                    f'(was {was}), dropping its result (mask AP '
                    f'{run["metrics"].get("segm_mAP")}) to train it again')
            else:
                keep.append(run)
                finished.add(f'{run["config"]}_s{run["seed"]}')
        if stale:
            from .ablation import summarize_runs, write_results
            res['runs'] = keep
            res['summary'] = summarize_runs(keep)
            res['row_data'] = [r for r in res.get('row_data', [])
                               if r['row'] not in stale]
            write_results(out, res)
    for row, fact in want.items():
        for run_dir in _row_dirs(work_root, row):
            if osp.basename(run_dir) in finished:
                continue
            stamp = osp.join(run_dir, STAMP)
            same = False
            if osp.isfile(stamp):
                with open(stamp) as f:
                    same = json.load(f) == fact
            if not same:
                log(f'removing {run_dir}: made on other data (or before '
                    'its data were recorded)')
                shutil.rmtree(run_dir)
    return stale


def stamp_run_dirs(out: str, facts: Sequence[Dict[str, Any]],
                   work_root: str, seeds: Sequence[int]) -> None:
    """Write each row's data facts into the run folder of every seed that
    ``out`` has no finished run of (``data_facts.json``), before training,
    so that :func:`drop_stale_runs` knows what an interrupted run was
    trained on."""
    from .ablation import run_dir_path
    done = set()
    if osp.isfile(out):
        with open(out) as f:
            done = {(r['config'], r['seed']) for r in json.load(f)['runs']}
    for fact in facts:
        for seed in seeds:
            if (fact['row'], seed) in done:
                continue
            run_dir = run_dir_path(work_root, fact['row'], seed)
            os.makedirs(run_dir, exist_ok=True)
            with open(osp.join(run_dir, STAMP), 'w') as f:
                json.dump(fact, f, indent=1)


def merged_row_data(out: str, facts: Sequence[Dict[str, Any]]
                    ) -> List[Dict[str, Any]]:
    """The ``row_data`` of the results file ``out`` (if any) with the rows
    of ``facts`` added or replaced, so that each invocation (one row at a
    time, say) keeps what earlier ones recorded."""
    rows: Dict[str, Dict[str, Any]] = {}
    if osp.isfile(out):
        with open(out) as f:
            rows = {r['row']: r for r in json.load(f).get('row_data', [])}
    rows.update({r['row']: r for r in facts})
    return list(rows.values())

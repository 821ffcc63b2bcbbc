"""The README's main job: synthetic droplets -> train -> test -> overlays.

``tools/demo.py`` is the command-line shell around :func:`run_demo`.
"""
import json
import os
import os.path as osp
import time
from typing import Dict, List, Optional

import cv2

DEMO_CONFIG = 'configs/droplet/mask_rcnn_r18_fpn_slim_400it_synthetic.py'


def ensure_dataset(data_root: str, n_train: int, n_val: int, size: int,
                   seed: int, log=print) -> bool:
    """Generate the synthetic set unless one with the same recipe exists.

    Returns:
        bool: True if it was (re)generated.
    """
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    spec = FrameSpec.v1(height=size, width=size)
    recipe = dict(spec=spec.to_dict(), train=n_train, val=n_val, seed=seed)
    marker = osp.join(data_root, 'recipe.json')
    if osp.isfile(marker):
        with open(marker) as f:
            if json.load(f) == json.loads(json.dumps(recipe)):
                log(f'synthetic data found in {data_root}')
                return False
    log(f'generating {n_train}+{n_val} synthetic {size}x{size} frames in '
        f'{data_root}')
    generate_dataset(data_root, spec, dict(train=n_train, val=n_val),
                     seed=seed)
    with open(marker, 'w') as f:
        json.dump(recipe, f)
    return True


def data_options(data_root: str) -> Dict[str, str]:
    """``--cfg-options`` that point a synthetic-data config at data_root."""
    root = data_root.rstrip('/') + '/'
    return {
        'train_dataloader.dataset.data_root': root,
        'val_dataloader.dataset.data_root': root,
        'test_dataloader.dataset.data_root': root,
        'val_evaluator.ann_file': root + 'val.json',
        'test_evaluator.ann_file': root + 'val.json',
    }


def draw_predictions(model, image_paths: List[str], out_dir: str,
                     score_thr: float = 0.5) -> List[str]:
    """Outline predicted masks (score >= ``score_thr``) on each image."""
    from mmdet.apis import inference_detector

    from droplet_mmdet.utils import to_numpy
    from droplet_mmdet.visualization import draw_outlines
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path in image_paths:
        result = inference_detector(model, path)
        inst = result.pred_instances
        keep = to_numpy(inst.scores) >= score_thr
        masks = to_numpy(inst.masks)[keep] if 'masks' in inst else []
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        out = draw_outlines(img, masks)
        cv2.putText(out, f'{int(keep.sum())} droplets (score>={score_thr})',
                    (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 255), 1,
                    cv2.LINE_AA)
        name = osp.join(out_dir, osp.splitext(osp.basename(path))[0] + '.png')
        cv2.imwrite(name, out)
        written.append(name)
    return written


def run_demo(config: str = DEMO_CONFIG,
             data_root: str = 'data/droplets_demo',
             work_dir: str = 'work_dirs/demo', max_iters: int = 400,
             n_train: int = 150, n_val: int = 12, size: int = 256,
             seed: int = 0, n_overlays: int = 4,
             extra_options: Optional[dict] = None) -> Dict[str, float]:
    """Generate data if missing, train, test the checkpoint, draw overlays.

    Returns:
        dict: the test metrics (``coco/segm_mAP`` etc.).
    """
    from mmdet.apis import init_detector

    from droplet_mmdet.apis import build_runner, setup_test_cfg
    from droplet_mmdet.apis import setup_train_cfg
    t0 = time.time()
    ensure_dataset(data_root, n_train, n_val, size, seed)
    options = data_options(data_root)
    options.update({
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters + 1,
        'param_scheduler.1.end': max_iters,
        'param_scheduler.1.milestones': [int(max_iters * 0.8)],
        'default_hooks.checkpoint.interval': max_iters,
    })
    options.update(extra_options or {})
    cfg = setup_train_cfg(config, work_dir=work_dir, cfg_options=options)
    build_runner(cfg).train()
    t_train = time.time() - t0
    ckpt = osp.join(work_dir, f'iter_{max_iters}.pth')

    test_cfg = setup_test_cfg(config, ckpt, work_dir=work_dir,
                              cfg_options=options)
    metrics = build_runner(test_cfg).test()

    model = init_detector(test_cfg, ckpt, device='cpu')
    with open(osp.join(data_root, 'val.json')) as f:
        names = [im['file_name'] for im in json.load(f)['images']]
    paths = [osp.join(data_root, 'val', n) for n in names[:n_overlays]]
    overlays = draw_predictions(model, paths, osp.join(work_dir, 'overlays'))
    metrics = {k: float(v) for k, v in metrics.items()}
    summary = dict(metrics=metrics, checkpoint=ckpt, overlays=overlays,
                   train_seconds=round(t_train, 1),
                   total_seconds=round(time.time() - t0, 1),
                   max_iters=max_iters)
    with open(osp.join(work_dir, 'demo_metrics.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary

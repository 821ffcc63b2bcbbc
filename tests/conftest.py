import os
import os.path as osp
import sys

import pytest

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SLIM_CONFIG = osp.join(ROOT, 'configs', 'droplet',
                       'mask_rcnn_r18_fpn_slim_400it_synthetic.py')


@pytest.fixture(scope='session')
def repo_root():
    return ROOT


@pytest.fixture(scope='session')
def tiny_droplets(tmp_path_factory):
    """6 train + 2 val synthetic 128 x 128 frames (COCO, RLE masks)."""
    from droplet_mmdet.datasets.synthetic import FrameSpec, generate_dataset
    out = str(tmp_path_factory.mktemp('tiny_droplets'))
    generate_dataset(out, FrameSpec.v1(height=128, width=128),
                     dict(train=6, val=2), seed=1, gallery=2,
                     progress=False)
    return out


def tiny_train_options(data_root, max_iters, extra=()):
    """--cfg-options for a 2-3 iteration CPU run on ``tiny_droplets``."""
    from droplet_mmdet.apis.demo import data_options
    opts = data_options(data_root)
    opts.update({
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': 1000,
        'default_hooks.checkpoint.interval': 2,
        'default_hooks.logger.interval': 1,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
    })
    opts.update(dict(extra))
    return [f'{k}={v}' for k, v in opts.items()]


def tool_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


PYTHON = sys.executable


def _proc_stat(pid):
    """The fields of ``/proc/<pid>/stat`` after the command name (state,
    parent pid, ...), or None for a process that is gone (Linux)."""
    try:
        with open(f'/proc/{pid}/stat') as f:
            return f.read().rsplit(')', 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def process_alive(pid):
    """Whether process ``pid`` runs (a zombie waiting to be reaped does
    not; Linux /proc)."""
    fields = _proc_stat(pid)
    return fields is not None and fields[0] != 'Z'


def child_pids(pid):
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    kids = []
    for d in os.listdir('/proc'):
        fields = _proc_stat(d) if d.isdigit() else None
        if fields is not None and int(fields[1]) == pid and fields[0] != 'Z':
            kids.append(int(d))
    return kids


def ablation_standin(call):
    """Python source of a benchmark stand-in: it loads
    ``droplet_mmdet/apis/ablation.py`` alone (no mmdet import) as ``mod``
    and runs the statement ``call``."""
    ablation = osp.join(ROOT, 'droplet_mmdet', 'apis', 'ablation.py')
    return ('import importlib.util, sys\n'
            f'spec = importlib.util.spec_from_file_location("ablation", '
            f'{ablation!r})\n'
            'mod = importlib.util.module_from_spec(spec)\n'
            'spec.loader.exec_module(mod)\n'
            f'{call}\n')


def random_checkpoint(config, path):
    """A seeded, randomly initialised model of ``config`` whose box
    classifier is biased towards the droplet class (so that it finds
    droplets; nothing to download), saved as a checkpoint at ``path``.

    Returns:
        the model (CPU, eval-ready).
    """
    import torch
    from mmdet.apis import init_detector
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = init_detector(config, None, device='cpu')
    model.roi_head.bbox_head.fc_cls.bias.data = torch.tensor([3.0, -3.0])
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(dataset_meta=dict(classes=('droplet', )))),
               path)
    return model

"""Speed benchmark: its config handling (every benchmarked config can be set
to each precision and crop; the GPU fp16/fp32 comparison relies on it; the
timing itself is not a unit test) and the thin CLI's flags."""
import os.path as osp
import subprocess

import pytest
from mmengine.config import Config

from conftest import PYTHON, ROOT, tool_env
from droplet_mmdet import compat
from droplet_mmdet.apis import speed


@pytest.mark.parametrize('config', [m[1] for m in speed.MODELS])
def test_precision_and_crop_switch(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'droplet', config))
    assert speed.set_crop(cfg.train_dataloader.dataset.pipeline, 512) >= 1
    crops = [s['crop_size'] for s in cfg.train_dataloader.dataset.pipeline
             if 'crop_size' in s]
    assert crops and all(c == (512, 512) for c in crops)
    speed.set_precision(cfg, 'fp16')
    assert compat.resolve_amp(cfg, cuda_available=True) == 'fp16'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    speed.set_precision(cfg, 'fp32')
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert compat.resolve_amp(cfg, cuda_available=True) == 'fp32'


def test_cli_flags():
    """tools/benchmark_speed.py keeps its flags (the logic moved into
    droplet_mmdet.apis.speed)."""
    out = subprocess.run([PYTHON, osp.join(ROOT, 'tools',
                                           'benchmark_speed.py'), '--help'],
                         capture_output=True, text=True, env=tool_env(),
                         check=True).stdout
    for flag in ('--out', '--data-root', '--device', '--batch-size',
                 '--crop', '--frames-1024'):
        assert flag in out
    assert '{auto,cpu,cuda}' in out

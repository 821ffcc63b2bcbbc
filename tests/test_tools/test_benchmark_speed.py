"""tools/benchmark_speed.py's config handling: every benchmarked config can
be set to each precision and crop (the GPU fp16/fp32 comparison relies on
it; the timing itself is not a unit test)."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from conftest import ROOT
from droplet_mmdet import compat


def _tool():
    spec = importlib.util.spec_from_file_location(
        'benchmark_speed', osp.join(ROOT, 'tools', 'benchmark_speed.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TOOL = _tool()


@pytest.mark.parametrize('config', [m[1] for m in TOOL.MODELS])
def test_precision_and_crop_switch(config):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'droplet', config))
    assert TOOL.set_crop(cfg.train_dataloader.dataset.pipeline, 512) >= 1
    crops = [s['crop_size'] for s in cfg.train_dataloader.dataset.pipeline
             if 'crop_size' in s]
    assert crops and all(c == (512, 512) for c in crops)
    TOOL.set_precision(cfg, 'fp16')
    assert compat.resolve_amp(cfg, cuda_available=True) == 'fp16'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    TOOL.set_precision(cfg, 'fp32')
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert compat.resolve_amp(cfg, cuda_available=True) == 'fp32'

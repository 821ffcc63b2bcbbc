"""Config set-up shared by ``tools/train.py`` and ``tools/test.py``.

Same behaviour as mmdet 3.3's tools (work_dir priority CLI > config >
``./work_dirs/<config name>``, ``--amp``, ``--auto-scale-lr``, ``--resume``),
plus droplet_mmdet's compat fixes: AMP falls back to fp32 on a CPU, and a
distributed run without CUDA uses gloo.
"""
import os.path as osp
from typing import Optional

from mmengine.config import Config

from droplet_mmdet import compat


def _load(config: str, cfg_options: Optional[dict], launcher: str,
          work_dir: Optional[str]) -> Config:
    if not osp.isfile(config):
        raise FileNotFoundError(f'{config}: config file not found')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    compat.resolve_device(cfg)
    return cfg


def setup_train_cfg(config: str, work_dir: Optional[str] = None,
                    amp: bool = False, auto_scale_lr: bool = False,
                    resume: Optional[str] = None,
                    cfg_options: Optional[dict] = None,
                    launcher: str = 'none') -> Config:
    """Load a training config and apply the command-line options.

    Args:
        resume: ``'auto'`` (latest checkpoint in ``work_dir``), a checkpoint
            path, or None.
    """
    cfg = _load(config, cfg_options, launcher, work_dir)
    if amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'
    compat.resolve_amp(cfg)
    if auto_scale_lr:
        scale = cfg.get('auto_scale_lr', None)
        if not scale or 'base_batch_size' not in scale:
            raise RuntimeError(
                f'{config}: --auto-scale-lr needs auto_scale_lr = dict('
                'enable=False, base_batch_size=...) in the config')
        cfg.auto_scale_lr.enable = True
    if resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif resume is not None:
        if not osp.isfile(resume):
            raise FileNotFoundError(f'{resume}: checkpoint to resume from '
                                    'not found')
        cfg.resume = True
        cfg.load_from = resume
    return cfg


def setup_test_cfg(config: str, checkpoint: str,
                   work_dir: Optional[str] = None,
                   show_dir: Optional[str] = None, show: bool = False,
                   wait_time: float = 2, cfg_options: Optional[dict] = None,
                   launcher: str = 'none') -> Config:
    """Load a config for testing ``checkpoint`` (mmdet ``tools/test.py``)."""
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'{checkpoint}: checkpoint not found')
    cfg = _load(config, cfg_options, launcher, work_dir)
    cfg.load_from = checkpoint
    if show or show_dir:
        from argparse import Namespace

        from mmdet.engine.hooks.utils import trigger_visualization_hook
        cfg = trigger_visualization_hook(
            cfg, Namespace(show=show, show_dir=show_dir,
                           wait_time=wait_time))
    return cfg


def build_runner(cfg: Config):
    """``Runner.from_cfg``, or the registry runner named by ``runner_type``."""
    from mmengine.runner import Runner

    from mmdet.registry import RUNNERS
    if 'runner_type' not in cfg:
        return Runner.from_cfg(cfg)
    return RUNNERS.build(cfg)

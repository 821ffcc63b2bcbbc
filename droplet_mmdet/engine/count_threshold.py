"""The calibrated count threshold, kept beside the checkpoints.

``DropletMetric`` reports ``count_thr``: the score threshold whose counts
best match the validation set's true counts. :class:`CountThresholdHook`
writes it after every validation to ``<work_dir>/count_threshold.json``,
one entry per checkpoint name (``iter_600.pth``, ``epoch_12.pth``), and
``tools/infer.py`` counts with the entry of the checkpoint it is given.
"""
import json
import os.path as osp
from typing import Optional, Tuple

from mmengine.dist import master_only
from mmengine.hooks import Hook
from mmdet.registry import HOOKS

COUNT_THR_FILE = 'count_threshold.json'


@HOOKS.register_module()
class CountThresholdHook(Hook):
    """Store the calibrated count threshold of each validation.

    Args:
        prefix (str): prefix of the metric keys (DropletMetric's).
    """
    priority = 'LOW'

    def __init__(self, prefix: str = 'droplet') -> None:
        self.prefix = prefix

    @master_only  # one writer: every rank has the same metrics
    def after_val_epoch(self, runner, metrics=None) -> None:
        key = f'{self.prefix}/count_thr'
        if not metrics or key not in metrics:
            return
        loop = getattr(runner, '_train_loop', None)
        by_epoch = loop is not None and 'Epoch' in type(loop).__name__
        name = f'epoch_{runner.epoch}.pth' if by_epoch else \
            f'iter_{runner.iter}.pth'
        path = osp.join(runner.work_dir, COUNT_THR_FILE)
        table = {}
        if osp.isfile(path):
            with open(path) as f:
                table = json.load(f)
        entry = {k.split('/', 1)[1]: float(v) for k, v in metrics.items()
                 if k.startswith(f'{self.prefix}/count_')}
        table[name] = entry
        with open(path, 'w') as f:
            json.dump(table, f, indent=2)
        runner.logger.info(
            f'count threshold {entry["count_thr"]:.3f} (count error '
            f'{entry.get("count_mre_cal", float("nan")):.1f} % there, '
            f'{entry.get("count_mre_heldout", float("nan")):.1f} % on '
            'frames it was not chosen on, '
            f'{entry.get("count_mre", float("nan")):.1f} % at the fixed '
            f'threshold) -> {path} [{name}]')


def load_count_threshold(checkpoint: str) -> Optional[Tuple[float, str]]:
    """Calibrated threshold stored beside ``checkpoint``, or None.

    Returns:
        tuple: ``(threshold, description)``; the description names the
        file and the checkpoint entry used (the newest one, with a remark,
        when the checkpoint itself has none).
    """
    path = osp.join(osp.dirname(osp.abspath(checkpoint)), COUNT_THR_FILE)
    if not osp.isfile(path):
        return None
    try:
        with open(path) as f:
            table = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f'{path}: unreadable count threshold file ({err})')
    name = osp.basename(checkpoint)
    if name in table:
        return float(table[name]['count_thr']), f'{path} [{name}]'
    if not table:
        return None

    def _num(k):
        digits = ''.join(c for c in k if c.isdigit())
        return int(digits) if digits else -1

    newest = max(table, key=_num)
    return (float(table[newest]['count_thr']),
            f'{path} [{newest}; no entry for {name}]')

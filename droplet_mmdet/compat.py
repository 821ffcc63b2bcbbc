"""Fixes for the upstream stack droplet_mmdet runs on, all in one place.

``import droplet_mmdet`` calls :func:`apply` once. Every fix here is
narrow, documented and covered by ``tests/test_compat.py``:

1. **Checkpoints under torch >= 2.6.** ``torch.load`` defaults to
   ``weights_only=True`` since torch 2.6, and mmengine 0.10.7 calls it without
   the argument, so its own checkpoints fail with ``UnpicklingError: Weights
   only load failed`` (the message hub stores ``HistoryBuffer`` objects, and
   ``meta`` holds numpy scalars and arrays). Safe loading stays **on**: we
   allow-list exactly the globals that mmengine/mmdet checkpoints contain
   (:data:`CHECKPOINT_SAFE_GLOBALS`) and re-register mmengine's local-file
   loader so that a refused file raises an error naming the file. A pickle
   that would run code is still refused.
2. **Mixed precision without a GPU.** ``AmpOptimWrapper`` asserts a CUDA/NPU/
   MLU device. :func:`resolve_amp` turns a config that asks for AMP into fp32
   ``OptimWrapper`` on a CPU-only machine (one warning), and on a GPU keeps
   AMP in float16: mmcv 2.1's RoIAlign kernels dispatch float/double/half
   only, so bfloat16 is switched to float16 with a warning.
3. **numpy 2.x / opencv 5.x.** mmcv 2.1 / mmdet 3.3 / mmengine 0.10.7 call
   none of the aliases numpy 2 removed; numpy-2 pickles of checkpoints are
   handled by item 1. One breakage found: pycocotools 2.0.11's
   ``mask.area(list)`` builds ``np.array((n,), dtype=np.uint8)`` before
   filling it, which numpy 2 refuses for n > 255 (``OverflowError: Python
   integer 256 out of bounds for uint8``): any frame with more than 255
   droplets. :func:`_patch_rle_area` makes ``area`` work through such lists
   in chunks of 255 (same values, same dtype).
4. **Distributed training without a GPU.** mmengine's
   ``_init_dist_pytorch`` calls ``torch.cuda.set_device`` unconditionally
   (an ``AttributeError`` on a CPU build of torch) and wraps the model in
   DDP with ``device_ids=[local_rank]``, which DDP rejects for CPU modules.
   On a machine without CUDA, :func:`resolve_device` selects the gloo backend
   and ``device_ids=None``, and the init function skips ``set_device``.
5. **Python 3.12.** mmengine's ``collect_env`` imports ``distutils`` and its
   ``package_utils`` imports ``pkg_resources``; both come from the pinned
   ``setuptools<82`` that ``tools/setup_env.sh`` installs into the venv, so no
   code patch is needed (checked by a test).
6. **fp16 inference with many boxes.** mmcv 2.1's ``batched_nms`` splits
   inputs of more than ``split_thr`` (10,000) boxes into per-class NMS
   calls and writes each call's kept scores into ``scores.new_zeros(...)``.
   Under autocast the RPN's boxes are float32 and its scores float16; ``nms``
   returns its ``dets`` in the promoted dtype (float32), and the index put
   fails: ``Index put requires the source and destination dtypes match, got
   Half for the destination and Float for the source``. Our dense test
   settings (6,000 RPN candidates per level, 30,000 per image) always take
   that branch, so every fp16 test step failed (found on an H200: AMP
   validation and ``tools/benchmark_speed.py`` fp16). :func:`_patch_nms_dtype`
   makes the ``nms`` that ``batched_nms`` looks up return ``dets`` in the
   scores' dtype when the two differ (``batched_nms`` only reads their score
   column; the boxes it returns are the caller's own). Functions that
   imported ``nms`` directly are untouched.
7. **A 2 s pause at every epoch end of iteration-based training.**
   mmengine's ``_InfiniteDataloaderIterator`` (``IterBasedTrainLoop``,
   every config here) calls ``time.sleep(2)`` before it restarts the
   loader, a workaround carried over from mmcv for a deadlock when the old
   iterator's worker processes shut down while new ones start (mmcv#306;
   its maintainers could not reproduce it and call the line safe to drop,
   mmcv#1640, #1912). Real droplet sets are a few dozen frames: an epoch
   ends every 13-23 iterations at batch 2 (bubbles, zerog_bubbles), every
   1-3 for a handful of labelled frames, and on a resume the loop replays
   every epoch end again. Measured here: data time 0.11 (bubbles) and
   0.13-0.25 s (zerog_bubbles) of ~2 s an iteration, 0.73 s with 5 frames,
   and ~9 min (6.7 of them asleep) to skip 600 iterations of a five-frame
   run on a resume; on a GPU, where a step takes a fraction of a second,
   the pause is a larger share (estimated, ~90 s of a 310-395 s 1000-
   iteration bubbles run on an H100).
   :func:`_patch_epoch_pause` skips the pause only where no worker is shut
   down at the epoch end (``persistent_workers=True``, as in every config
   here, or ``num_workers=0``); the sampler, ``set_epoch`` and the order
   of the data are mmengine's own, so training draws exactly the same
   batches. A loader with non-persistent workers keeps the pause.
"""
import pickle
import time
import warnings
from typing import Any, List, Tuple

import numpy as np
import torch

_APPLIED = False


def _numpy_checkpoint_globals() -> List[Tuple[Any, str]]:
    """numpy objects that pickled arrays and scalars reference.

    Checkpoints written under numpy 1.x name ``numpy.core.multiarray.*``,
    those written under numpy 2.x name ``numpy._core.multiarray.*``; both
    names map to the same objects.
    """
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray
    entries: List[Tuple[Any, str]] = []
    for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
        entries.append((multiarray._reconstruct, f'{module}._reconstruct'))
        entries.append((multiarray.scalar, f'{module}.scalar'))
    entries.append((np.ndarray, 'numpy.ndarray'))
    entries.append((np.dtype, 'numpy.dtype'))
    # numpy >= 1.25 pickles dtypes by class (numpy.dtypes.Float64DType)
    dtypes_mod = getattr(np, 'dtypes', None)
    if dtypes_mod is not None:
        for name in ('Float64DType', 'Float32DType', 'Float16DType',
                     'Int64DType', 'Int32DType', 'Int16DType', 'Int8DType',
                     'UInt64DType', 'UInt32DType', 'UInt16DType',
                     'UInt8DType', 'BoolDType'):
            cls = getattr(dtypes_mod, name, None)
            if cls is not None:
                entries.append((cls, f'numpy.dtypes.{name}'))
    return entries


def checkpoint_safe_globals() -> List[Tuple[Any, str]]:
    """Every non-tensor global that mmengine 0.10 / mmdet 3.3 checkpoints use.

    Returns:
        list[tuple[object, str]]: ``(object, 'module.qualname')`` pairs for
        :func:`torch.serialization.add_safe_globals`.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    return [(HistoryBuffer, 'mmengine.logging.history_buffer.HistoryBuffer'),
            (_history_buffer_getattr, 'builtins.getattr')
            ] + _numpy_checkpoint_globals()


# HistoryBuffer.__getstate__ stores its statistics methods, which pickle as
# ``getattr(HistoryBuffer, 'min')``. The name ``builtins.getattr`` in a
# checkpoint is mapped to this restricted version, never to getattr itself.
_HISTORY_BUFFER_METHODS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    from mmengine.logging.history_buffer import HistoryBuffer
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_METHODS:
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'refused getattr({obj!r}, {name!r}) in a checkpoint: only '
        f'HistoryBuffer.{{{",".join(_HISTORY_BUFFER_METHODS)}}} is allowed')


def _reason(err: Exception) -> str:
    """The line of torch's long weights-only message that names the
    refused global (or the first line)."""
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in lines:
        if 'Unsupported global' in ln or 'refused getattr' in ln:
            return ln
    return lines[0] if lines else repr(err)


def _load_from_local_safely(filename: str, map_location=None) -> Any:
    """mmengine's local checkpoint loader with weights-only loading kept on.

    Raises:
        FileNotFoundError: if ``filename`` does not exist.
        pickle.UnpicklingError: if the file holds a global that is not on the
            allow-list; the message names the file and the global.
    """
    import os.path as osp
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location,
                          weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'{filename}: refused to load this checkpoint with safe '
            '(weights-only) unpickling because it references an object that '
            'is not on droplet_mmdet\'s allow-list of checkpoint globals. '
            'A checkpoint written by mmengine/mmdet never does; only load it '
            'unsafely if you trust its source. Details: '
            f'{_reason(err)}') from err


def _patch_checkpoint_loading() -> None:
    from mmengine.runner.checkpoint import CheckpointLoader
    torch.serialization.add_safe_globals(checkpoint_safe_globals())
    CheckpointLoader.register_scheme(prefixes='', force=True)(
        _load_from_local_safely)


def use_fp32(wrapper) -> None:
    """Turn an ``optim_wrapper`` config into plain fp32 ``OptimWrapper``
    (drops the AMP-only keys). Modified in place."""
    wrapper['type'] = 'OptimWrapper'
    for key in ('loss_scale', 'dtype', 'use_fsdp'):
        wrapper.pop(key, None)


def resolve_amp(cfg, cuda_available: bool = None):
    """Make an AMP request in ``cfg.optim_wrapper`` fit this machine.

    Args:
        cfg (Config | dict): a full config with an ``optim_wrapper`` entry.
            Modified in place.
        cuda_available (bool, optional): override detection (for tests).

    Returns:
        str: ``'fp32'`` (no AMP asked or none possible) or ``'fp16'``.
    """
    wrapper = cfg.get('optim_wrapper', None)
    if wrapper is None or wrapper.get('type') != 'AmpOptimWrapper':
        return 'fp32'
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if not cuda_available:
        warnings.warn(
            'droplet_mmdet: the config asks for mixed precision '
            '(AmpOptimWrapper) but no GPU is available; training in fp32 '
            'with OptimWrapper instead.', UserWarning, stacklevel=2)
        use_fp32(wrapper)
        return 'fp32'
    if str(wrapper.get('dtype', 'float16')).replace('torch.', '') in (
            'bfloat16', 'bf16'):
        warnings.warn(
            'droplet_mmdet: bfloat16 AMP breaks mmcv 2.1 RoIAlign (its '
            'kernels dispatch float/double/half only); using float16.',
            UserWarning, stacklevel=2)
    wrapper['dtype'] = 'float16'
    wrapper.setdefault('loss_scale', 'dynamic')
    return 'fp16'


def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
    """mmengine's ``_init_dist_pytorch``, without ``cuda.set_device`` on a
    machine that has no CUDA."""
    if torch.cuda.is_available() or init_backend != 'torch':
        return _UPSTREAM_INIT_DIST_PYTORCH(backend, init_backend, **kwargs)
    import torch.distributed as torch_dist
    torch_dist.init_process_group(backend=backend, **kwargs)


_UPSTREAM_INIT_DIST_PYTORCH = None


def _patch_dist_init() -> None:
    global _UPSTREAM_INIT_DIST_PYTORCH
    from mmengine.dist import utils as dist_utils
    _UPSTREAM_INIT_DIST_PYTORCH = dist_utils._init_dist_pytorch
    dist_utils._init_dist_pytorch = _init_dist_pytorch


_RLE_AREA_CHUNK = 255


def _patch_rle_area() -> None:
    import pycocotools.mask as mask_utils
    upstream = mask_utils.area
    if getattr(upstream, '_droplet_mmdet_chunked', False):
        return

    def area(rle_objs):
        if isinstance(rle_objs, list) and len(rle_objs) > _RLE_AREA_CHUNK:
            return np.concatenate([
                upstream(rle_objs[i:i + _RLE_AREA_CHUNK])
                for i in range(0, len(rle_objs), _RLE_AREA_CHUNK)
            ])
        return upstream(rle_objs)

    area.__doc__ = upstream.__doc__
    area._droplet_mmdet_chunked = True
    mask_utils.area = area


def resolve_device(cfg, cuda_available: bool = None) -> str:
    """Make a distributed config runnable on this machine.

    With a launcher other than ``'none'`` and no CUDA, use the gloo backend
    and build DDP with ``device_ids=None`` (CPU modules). Modifies ``cfg`` in
    place.

    Returns:
        str: ``'cuda'`` or ``'cpu'``.
    """
    if cuda_available is None:
        cuda_available = torch.cuda.is_available()
    if cuda_available:
        return 'cuda'
    if cfg.get('launcher', 'none') != 'none':
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        wrapper = cfg.get('model_wrapper_cfg') or dict(
            type='MMDistributedDataParallel', broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
        wrapper['device_ids'] = None
        cfg['model_wrapper_cfg'] = wrapper
    return 'cpu'


def _patch_nms_dtype() -> None:
    import sys

    import mmcv.ops  # noqa: F401 (loads mmcv.ops.nms)
    module = sys.modules['mmcv.ops.nms']
    upstream = module.nms
    if getattr(upstream, '_droplet_mmdet_dtype', False):
        return

    def nms(boxes, scores, *args, **kwargs):
        dets, inds = upstream(boxes, scores, *args, **kwargs)
        if isinstance(scores, torch.Tensor) and dets.dtype != scores.dtype:
            dets = dets.to(scores.dtype)
        return dets, inds

    nms.__doc__ = upstream.__doc__
    nms._droplet_mmdet_dtype = True
    module.nms = nms


class _NoSleep:
    """``time`` for mmengine's loop module while an epoch end is crossed
    without workers to shut down: everything but ``sleep``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        pass


_NO_SLEEP = _NoSleep()


def _patch_epoch_pause() -> None:
    from mmengine.runner import loops
    cls = loops._InfiniteDataloaderIterator
    upstream = cls.__next__
    if getattr(upstream, '_droplet_mmdet_no_pause', False):
        return

    def __next__(self):
        loader = self._dataloader
        if getattr(loader, 'num_workers', 1) and not getattr(
                loader, 'persistent_workers', False):
            return upstream(self)  # workers restart: keep the pause
        saved = loops.time
        loops.time = _NO_SLEEP
        try:
            return upstream(self)
        finally:
            loops.time = saved

    __next__.__doc__ = upstream.__doc__
    __next__._droplet_mmdet_no_pause = True
    cls.__next__ = __next__


def apply() -> None:
    """Apply every fix once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    _patch_checkpoint_loading()
    _patch_dist_init()
    _patch_rle_area()
    _patch_nms_dtype()
    _patch_epoch_pause()
    _APPLIED = True

"""droplet_mmdet.compat: each fix, and that safe loading stays safe."""
import pickle
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config

import droplet_mmdet  # noqa: F401  (applies the fixes)
from droplet_mmdet import compat


class _RunsCodeOnLoad:
    """Unpickling this would create a file (stand-in for any payload)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))


def _mmengine_like_checkpoint():
    from mmengine.logging import HistoryBuffer, MessageHub
    hub = MessageHub.get_instance('compat_test_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('iter', 3)
    return dict(
        meta=dict(epoch=0, iter=3, seed=np.int64(7),
                  dataset_meta=dict(classes=('droplet', )),
                  scores=np.arange(4, dtype=np.float32),
                  flags=np.array([True, False]),
                  history=HistoryBuffer([1.0, 2.0], [1, 1])),
        state_dict=dict(w=torch.ones(2, 2)),
        message_hub=hub.state_dict(),
        optimizer=dict(state={}, param_groups=[dict(lr=0.001)]))


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = str(tmp_path / 'ckpt.pth')
    torch.save(_mmengine_like_checkpoint(), path)
    # Without droplet_mmdet (a clean interpreter) torch refuses the file.
    import subprocess
    import sys
    probe = subprocess.run(
        [sys.executable, '-c', 'import sys, torch; torch.load(sys.argv[1])',
         path], capture_output=True, text=True)
    assert probe.returncode != 0 and 'Weights only load failed' in \
        probe.stderr, probe.stderr[-2000:]
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['seed'] == 7
    assert ckpt['meta']['scores'].dtype == np.float32
    assert ckpt['message_hub']['log_scalars']['train/loss'].current() == 0.25
    assert torch.equal(ckpt['state_dict']['w'], torch.ones(2, 2))


def test_code_running_pickle_is_refused_with_file_name(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    victim = tmp_path / 'pwned'
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, payload=_RunsCodeOnLoad(str(victim))),
               path)
    with pytest.raises(pickle.UnpicklingError) as err:
        _load_checkpoint(path, map_location='cpu')
    assert path in str(err.value)
    assert 'allow-list' in str(err.value)
    assert not victim.exists()


class _GetattrOnAllowedClass:
    """getattr is only resolved for HistoryBuffer's statistics methods."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return (getattr, (HistoryBuffer, '__subclasses__'))


def test_getattr_only_for_history_buffer_statistics(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    path = str(tmp_path / 'getattr.pth')
    torch.save(dict(x=_GetattrOnAllowedClass()), path)
    with pytest.raises(pickle.UnpicklingError, match='__subclasses__'):
        _load_checkpoint(path, map_location='cpu')


def test_allow_list_is_exact():
    names = sorted(name for _, name in compat.checkpoint_safe_globals())
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in names
    assert not any(n.startswith(('os', 'posix', 'subprocess', 'builtins.e'))
                   for n in names)
    assert all(n.startswith(('numpy', 'mmengine')) or n == 'builtins.getattr'
               for n in names)
    getattr_impl = dict((n, o) for o, n in compat.checkpoint_safe_globals()
                        )['builtins.getattr']
    assert getattr_impl is not getattr


def test_missing_checkpoint_names_file(tmp_path):
    from mmengine.runner.checkpoint import _load_checkpoint
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        _load_checkpoint(str(tmp_path / 'nope.pth'))


def _amp_cfg(**kw):
    return Config(dict(optim_wrapper=dict(
        type='AmpOptimWrapper', optimizer=dict(type='SGD', lr=0.1), **kw)))


def test_amp_falls_back_to_fp32_without_gpu():
    cfg = _amp_cfg(loss_scale='dynamic')
    with pytest.warns(UserWarning, match='no GPU'):
        assert compat.resolve_amp(cfg, cuda_available=False) == 'fp32'
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    # and the resulting wrapper really builds and steps on this CPU
    from mmengine.optim import build_optim_wrapper
    model = torch.nn.Linear(2, 1)
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    wrapper.update_params(model(torch.ones(1, 2)).sum())


def test_amp_on_gpu_uses_float16_even_if_bf16_asked():
    cfg = _amp_cfg(dtype='bfloat16')
    with pytest.warns(UserWarning, match='RoIAlign'):
        assert compat.resolve_amp(cfg, cuda_available=True) == 'fp16'
    assert cfg.optim_wrapper.dtype == 'float16'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    cfg = _amp_cfg()
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert compat.resolve_amp(cfg, cuda_available=True) == 'fp16'


def test_plain_optim_wrapper_untouched():
    cfg = Config(dict(optim_wrapper=dict(type='OptimWrapper')))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert compat.resolve_amp(cfg, cuda_available=False) == 'fp32'
    assert cfg.optim_wrapper.type == 'OptimWrapper'


def test_distributed_cpu_uses_gloo_and_no_device_ids():
    cfg = Config(dict(launcher='pytorch',
                      env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert compat.resolve_device(cfg, cuda_available=False) == 'cpu'
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg.device_ids is None
    cfg = Config(dict(launcher='pytorch',
                      env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert compat.resolve_device(cfg, cuda_available=True) == 'cuda'
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'


def test_dist_init_skips_cuda_set_device_on_cpu(monkeypatch):
    from mmengine.dist import utils as dist_utils
    assert dist_utils._init_dist_pytorch is compat._init_dist_pytorch
    if torch.cuda.is_available():
        pytest.skip('checks the CPU path')
    calls = []
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda **kw: calls.append(kw))
    monkeypatch.setenv('RANK', '0')
    monkeypatch.setenv('LOCAL_RANK', '1')
    dist_utils._init_dist_pytorch('gloo')
    assert calls == [dict(backend='gloo')]


def test_mmengine_env_helpers_run():
    """distutils / pkg_resources users in mmengine (gone from Python 3.12
    unless setuptools<82 is installed) work in this environment."""
    from mmengine.utils import is_installed
    from mmengine.utils.dl_utils import collect_env
    env = collect_env()
    assert 'PyTorch' in env
    assert is_installed('mmdet')
    assert not is_installed('surely-not-a-package-xyz')


def test_rle_area_of_more_than_255_masks():
    """pycocotools 2.0.11 + numpy 2: ``mask.area`` of a list of more than
    255 RLEs raised OverflowError (a frame with 256+ droplets)."""
    from pycocotools import mask as mask_utils
    rng = np.random.default_rng(0)
    rles, expected = [], []
    for k in range(600):
        m = np.zeros((16, 16), np.uint8)
        n = int(rng.integers(1, 16))
        m[:n, :k % 16 + 1] = 1
        rles.append(mask_utils.encode(np.asfortranarray(m)))
        expected.append(int(m.sum()))
    areas = mask_utils.area(rles)
    assert areas.dtype == np.uint32 and areas.shape == (600, )
    assert areas.tolist() == expected
    assert mask_utils.area(rles[:1]).tolist() == expected[:1]
    assert int(mask_utils.area(rles[3])) == expected[3]


def test_batched_nms_split_path_with_half_scores():
    """Under autocast the RPN hands mmcv's ``batched_nms`` float32 boxes and
    float16 scores; above ``split_thr`` boxes (our dense test settings) it
    failed with "Index put requires the source and destination dtypes
    match". It now keeps the same boxes as the unsplit path, in the same
    order, with the scores' values."""
    from mmcv.ops import batched_nms
    g = torch.Generator().manual_seed(0)
    boxes = torch.rand(300, 4, generator=g) * 200
    boxes[:, 2:] += boxes[:, :2] + 5
    scores = torch.rand(300, generator=g).half()
    idxs = torch.randint(0, 3, (300, ), generator=g)
    cfg = dict(type='nms', iou_threshold=0.5)
    dets_split, keep_split = batched_nms(boxes, scores, idxs,
                                         dict(cfg, split_thr=10))
    dets, keep = batched_nms(boxes, scores, idxs, cfg)
    dets_ref, keep_ref = batched_nms(boxes, scores.float(), idxs,
                                     dict(cfg, split_thr=10))
    assert 0 < len(keep_split) < 300
    assert torch.equal(keep_split, keep_ref)
    assert set(keep.tolist()) == set(keep_split.tolist())
    assert torch.equal(dets_split[:, :4], boxes[keep_split])
    assert torch.allclose(dets_split[:, 4].float(),
                          scores[keep_split].float())


class _Items(torch.utils.data.Dataset):

    def __len__(self):
        return 5

    def __getitem__(self, i):
        return i


def _epoch_ends(loader, batches, monkeypatch):
    """Batches of mmengine's iteration loop iterator over ``loader`` and the
    seconds it slept (``time.sleep`` recorded, not slept)."""
    import time

    from mmengine.runner.loops import _InfiniteDataloaderIterator
    slept = []
    monkeypatch.setattr(time, 'sleep', slept.append)
    it = _InfiniteDataloaderIterator(loader)
    return [next(it).tolist() for _ in range(batches)], slept


def _loader(**kwargs):
    from mmengine.dataset import DefaultSampler
    return torch.utils.data.DataLoader(
        _Items(), batch_size=2,
        sampler=DefaultSampler(_Items(), shuffle=True, seed=0), **kwargs)


@pytest.mark.parametrize('workers', [
    dict(num_workers=0),
    dict(num_workers=1, persistent_workers=True)])
def test_no_epoch_end_pause_without_workers_to_restart(workers, monkeypatch):
    """mmengine's iteration loop slept 2 s at every epoch end (every 3
    batches here). Where no worker shuts down, it no longer does, and the
    batches are those of mmengine's sampler, epoch after epoch."""
    got, slept = _epoch_ends(_loader(**workers), 9, monkeypatch)
    assert slept == []
    want, sampler = [], _loader().sampler
    for epoch in range(3):
        sampler.set_epoch(epoch)
        order = list(sampler)
        want += [order[i:i + 2] for i in range(0, 5, 2)]
    assert got == want
    assert want[:3] != want[3:6]  # the epochs are shuffled anew


def test_epoch_end_pause_kept_when_workers_restart(monkeypatch):
    got, slept = _epoch_ends(_loader(num_workers=1), 7, monkeypatch)
    assert slept == [2, 2]  # mmengine's own guard, two epoch ends
    assert sorted(sum(got[:3], [])) == list(range(5))

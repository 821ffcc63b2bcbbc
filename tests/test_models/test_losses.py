"""Size weights and size-weighted losses, against hand-computed values and
against mmdet's own losses with the weighting off."""
import math

import pytest
import torch
from mmdet.models.losses import CrossEntropyLoss, FocalLoss, L1Loss

import droplet_mmdet  # noqa: F401
from droplet_mmdet.models.losses import (SizeWeightedFocalLoss,
                                         SizeWeightedL1Loss,
                                         SizeWeightedMaskLoss, box_sizes,
                                         size_weights)


def test_size_weights_hand_computed():
    s = torch.tensor([12.0, 24.0, 48.0, 3.0])
    w = size_weights(s, s_ref=24, gamma=1, w_max=4, normalize=False)
    assert w.tolist() == [2.0, 1.0, 1.0, 4.0]  # 24/3 = 8 clamped to 4
    w = size_weights(s, s_ref=24, gamma=2, w_max=10, normalize=False)
    assert w.tolist() == [4.0, 1.0, 1.0, 10.0]
    w = size_weights(s[:3], s_ref=24, gamma=1, w_max=4, normalize=True)
    torch.testing.assert_close(w, torch.tensor([1.5, 0.75, 0.75]))
    assert w.mean().item() == pytest.approx(1.0)
    assert size_weights(torch.zeros(0)).numel() == 0
    assert size_weights(s, gamma=0).tolist() == [1.0] * 4


def test_box_sizes():
    boxes = torch.tensor([[0., 0., 4., 9.], [10., 10., 10., 20.]])
    assert box_sizes(boxes).tolist() == [6.0, 0.0]


def test_focal_known_value():
    loss = SizeWeightedFocalLoss(use_sigmoid=True, gamma=2.0, alpha=0.25)
    pred = torch.zeros(1, 1)
    # label 0 = the droplet class (positive); p = 0.5
    expected = 0.25 * 0.5**2 * math.log(2)
    assert loss(pred, torch.tensor([0])).item() == pytest.approx(expected)
    # label 1 = background (negative): (1 - alpha) * p^2 * -log(1 - p)
    expected_neg = 0.75 * 0.5**2 * math.log(2)
    assert loss(pred, torch.tensor([1])).item() == pytest.approx(expected_neg)


@pytest.mark.parametrize('reduction', [None, 'none', 'sum', 'mean'])
def test_focal_equals_mmdet_when_size_weight_off(reduction):
    torch.manual_seed(0)
    pred = torch.randn(50, 1)
    target = torch.randint(0, 2, (50, ))
    weight = torch.rand(50)
    ours = SizeWeightedFocalLoss(size_weight=None, loss_weight=2.0)
    ref = FocalLoss(loss_weight=2.0)
    for kwargs in (dict(), dict(weight=weight), dict(avg_factor=7.0),
                   dict(weight=weight, avg_factor=7.0)):
        if reduction in ('none', 'sum') and 'avg_factor' in kwargs:
            continue  # mmdet forbids avg_factor with sum; none ignores it
        torch.testing.assert_close(
            ours(pred, target, reduction_override=reduction, **kwargs),
            ref(pred, target, reduction_override=reduction, **kwargs))


@pytest.mark.parametrize('device', [
    'cpu',
    pytest.param('cuda', marks=pytest.mark.skipif(
        not torch.cuda.is_available(), reason='mmcv CUDA kernel path'))
])
def test_focal_computes_in_float32_for_fp16_logits(device):
    """Under fp16 AMP the RPN's logits reach the loss in float16; mmcv's CUDA
    focal kernel then takes log(0) for confident logits (> ~7.6) and the
    loss is infinite (open-mmlab/mmcv#1488, 29 of 105 fp16 iterations on an
    H200). The loss works on float32 logits: finite, float32 and equal to
    the float32 loss of the same (float16-rounded) logits, with the gradient
    handed back to the float16 tensor."""
    pred32 = torch.tensor([[9.3906], [-4.2344], [12.0], [-15.0], [0.3]],
                          device=device)
    pred = pred32.half().requires_grad_()
    target = torch.tensor([1, 1, 1, 0, 0], device=device)  # 1 = background
    loss = SizeWeightedFocalLoss(size_weight=None)
    out = loss(pred, target)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    torch.testing.assert_close(out, loss(pred.detach().float(), target))
    out.backward()
    assert pred.grad.dtype == torch.float16
    assert torch.isfinite(pred.grad).all()


def test_focal_zero_weight_and_empty():
    loss = SizeWeightedFocalLoss(size_weight=dict(s_ref=24, gamma=1))
    loss.mark_fed('test')  # as a size-passing head does
    pred = torch.randn(5, 1, requires_grad=True)
    out = loss(pred, torch.zeros(5, dtype=torch.long),
               weight=torch.zeros(5))
    assert out.item() == 0
    empty = loss(torch.zeros(0, 1, requires_grad=True),
                 torch.zeros(0, dtype=torch.long), reduction_override='sum')
    assert empty.item() == 0
    empty.backward()


def test_object_weights_come_from_config():
    loss = SizeWeightedL1Loss(
        size_weight=dict(s_ref=24, gamma=1, w_max=4, normalize=False))
    sizes = torch.tensor([12., 48.])
    assert loss.object_weights(sizes).tolist() == [2.0, 1.0]
    assert SizeWeightedL1Loss().object_weights(sizes).tolist() == [1.0, 1.0]
    pred, target = torch.randn(4, 4), torch.randn(4, 4)
    torch.testing.assert_close(SizeWeightedL1Loss()(pred, target),
                               L1Loss()(pred, target))


def test_mask_loss_hand_computed():
    loss = SizeWeightedMaskLoss()
    pred = torch.zeros(2, 3, 4, 4)  # 2 RoIs, 3 classes, 4x4 masks
    target = torch.ones(2, 4, 4)
    label = torch.tensor([0, 2])
    assert loss(pred, target, label).item() == pytest.approx(math.log(2))
    w = torch.tensor([2.0, 0.0])
    # mean over RoIs of w * log 2
    assert loss(pred, target, label, weight=w).item() == pytest.approx(
        math.log(2))
    assert loss(pred, target, label, weight=w,
                avg_factor=4.0).item() == pytest.approx(2 * math.log(2) / 4)
    per_roi = loss(pred, target, label, weight=w, reduction_override='none')
    torch.testing.assert_close(per_roi, torch.tensor([2 * math.log(2), 0.]))
    # the selected channel matters: a confident right answer on class 2
    pred[1, 2] = 20.0
    assert loss(pred, target, label,
                reduction_override='none')[1].item() < 1e-6


def test_mask_loss_equals_mmdet_without_weights():
    torch.manual_seed(0)
    pred = torch.randn(6, 2, 28, 28)
    target = (torch.rand(6, 28, 28) > 0.5).float()
    label = torch.randint(0, 2, (6, ))
    ref = CrossEntropyLoss(use_mask=True, loss_weight=1.5)
    torch.testing.assert_close(
        SizeWeightedMaskLoss(loss_weight=1.5)(pred, target, label),
        ref(pred, target, label).squeeze(0))


def test_mask_loss_empty():
    loss = SizeWeightedMaskLoss()
    pred = torch.zeros(0, 1, 28, 28, requires_grad=True)
    out = loss(pred, torch.zeros(0, 28, 28), torch.zeros(0,
                                                         dtype=torch.long))
    assert out.item() == 0
    out.backward()


@pytest.mark.parametrize('build,args', [
    (lambda sw: SizeWeightedFocalLoss(size_weight=sw),
     (torch.zeros(2, 1), torch.tensor([0, 1]))),
    (lambda sw: SizeWeightedL1Loss(size_weight=sw),
     (torch.zeros(2, 4), torch.ones(2, 4))),
    (lambda sw: SizeWeightedMaskLoss(size_weight=sw),
     (torch.zeros(2, 1, 4, 4), torch.ones(2, 4, 4), torch.tensor([0, 0]))),
])
def test_size_weighted_loss_without_sizes_is_an_error(build, args):
    """With the weighting on, a loss that no size ever reached refuses to
    run (it would act as the plain loss); off, it runs as the plain
    loss; asking it for weights (what a size-passing head does) lets it
    run."""
    on = build(dict(s_ref=24, gamma=1))
    with pytest.raises(RuntimeError, match=r'Size.*Loss with size_weight='
                       r".*'gamma': 1.*nothing gave it droplet sizes"):
        on(*args)
    for off in (build(None), build(dict(s_ref=24, gamma=0))):
        assert off(*args).item() >= 0
    on.object_weights(torch.tensor([12., 48.]))
    assert on.size_source == 'object_weights'
    torch.testing.assert_close(on(*args), build(None)(*args))

"""The predictor behind ``tools/infer.py`` against mmdet's own test path.

Four small models, randomly initialised from a fixed seed (nothing is
downloaded; see ``predictor_models.py``): the slim Mask R-CNN, the same with
a 2x test ``Resize``, a Cascade Mask R-CNN and an RTMDet-Ins, the last two
with their mmdet configs' own test pipelines (resize + pad, shrunk to this
frame size). On the same frames, mmdet's test path (the config's test
dataloader + ``model.test_step``: what ``tools/test.py`` runs) and
``mmdet_predict_fn`` must give the same droplets: boxes, scores, labels, and
masks pixel for pixel, in original-image coordinates.
"""
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from predictor_models import (MODEL_NAMES, build_model, make_frames,
                              mmdet_test_batches)

from conftest import ROOT
from droplet_mmdet.apis.predictor import (BoxPatches, crop_full_masks,
                                          instances_to_detections,
                                          mmdet_predict_fn,
                                          paste_into_boxes,
                                          paste_masks_in_boxes)


@pytest.fixture(scope='module')
def model_frames(tmp_path_factory):
    return make_frames(str(tmp_path_factory.mktemp('frames')))


def full_mask(det, hw):
    m = np.zeros(hw, bool)
    x0, y0, x1, y1 = det.box
    m[y0:y1, x0:x1] = det.mask
    return m


def assert_same_droplets(dets, pred, hw, box_tol=1e-4):
    """Detections of our predictor == mmdet's pred_instances, in order."""
    assert len(dets) == len(pred)
    np.testing.assert_allclose(np.array([d.bbox for d in dets]).reshape(
        -1, 4), pred.bboxes.numpy(), atol=box_tol)
    np.testing.assert_allclose([d.score for d in dets], pred.scores.numpy(),
                               atol=1e-6)
    assert [d.label for d in dets] == pred.labels.tolist()
    for d, m in zip(dets, pred.masks.numpy()):
        assert d.area == m.sum()
        assert (full_mask(d, hw) == m).all()
        if d.area:  # box = tight extent of the mask
            ys, xs = np.nonzero(m)
            assert d.box == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_predictor_matches_mmdet_test_path(name, model_frames):
    model = build_model(name, model_frames)
    predict = mmdet_predict_fn(model, nhwc=False)
    n_masks = 0
    for batch in mmdet_test_batches(model.cfg):
        with torch.no_grad():
            ref = model.test_step(batch)
        for sample in ref:
            meta = sample.metainfo
            if name != 'slim':  # the test pipeline really resizes
                assert meta['img_shape'] != meta['ori_shape']
            img = cv2.imread(sample.img_path, cv2.IMREAD_COLOR)
            assert img.shape[:2] == meta['ori_shape']
            dets = predict([img])[0]
            pred = sample.pred_instances
            assert_same_droplets(dets, pred, img.shape[:2])
            n_masks += sum(d.area > 0 for d in dets)
            # everything in the original frame
            boxes = np.array([d.box for d in dets if d.area])
            assert boxes[:, 2].max() <= img.shape[1]
            assert boxes[:, 3].max() <= img.shape[0]
    assert n_masks >= 10
    # the memory win: R-CNN masks never exist at full frame size
    with paste_into_boxes(model) as n_heads, torch.no_grad():
        masks = model.test_step(batch)[0].pred_instances.masks
    if name == 'rtmdet_ins':  # no FCNMaskHead: full-frame, cut afterwards
        assert n_heads == 0 and isinstance(masks, torch.Tensor)
    else:
        assert n_heads == (3 if name == 'cascade' else 1)  # one per stage
        assert isinstance(masks, BoxPatches)


@pytest.mark.parametrize('name', MODEL_NAMES)
def test_channels_last_gives_the_same_droplets(name, model_frames):
    """NHWC backbone and neck: the same droplets up to float rounding."""
    model = build_model(name, model_frames)
    img = cv2.imread(osp.join(model_frames, 'val', '000000.png'))
    a = mmdet_predict_fn(model, nhwc=False)([img])[0]
    b = mmdet_predict_fn(model, nhwc=True)([img])[0]
    assert len(a) == len(b) > 5
    np.testing.assert_allclose([d.score for d in a], [d.score for d in b],
                               atol=1e-4)
    np.testing.assert_allclose([d.bbox for d in a], [d.bbox for d in b],
                               atol=0.05)
    for da, db in zip(a, b):
        ma, mb = full_mask(da, img.shape[:2]), full_mask(db, img.shape[:2])
        assert (ma != mb).sum() <= 2
    # the model comes back in NCHW, extract_feat its own again
    assert 'extract_feat' not in vars(model)
    assert all(p.is_contiguous() for p in model.parameters())


def test_empty_predictions(model_frames):
    """No detection at all: an empty list, for box-pasted masks (Mask R-CNN)
    and full-frame masks (RTMDet-Ins)."""
    img = cv2.imread(osp.join(model_frames, 'val', '000000.png'))
    for name, key in (('slim', 'rcnn'), ('rtmdet_ins', None)):
        model = build_model(name, model_frames)
        test_cfg = model.roi_head.test_cfg if key else model.bbox_head.test_cfg
        old = test_cfg.score_thr
        test_cfg.score_thr = 1.01
        try:
            assert mmdet_predict_fn(model)([img, img]) == [[], []]
        finally:
            test_cfg.score_thr = old


def test_box_paste_equals_mmdet_paste():
    """FCNMaskHead with masks pasted into boxes == mmdet's full-image paste
    (rescaled boxes, class channel, threshold), pixel for pixel."""
    from mmdet.models.roi_heads.mask_heads import FCNMaskHead
    from mmengine.config import ConfigDict
    torch.manual_seed(0)
    head = FCNMaskHead(num_convs=0, in_channels=4, num_classes=3)
    n, H, W = 40, 90, 130
    logits = torch.randn(n, 3, 7, 7)
    logits = torch.nn.functional.interpolate(logits, size=(28, 28),
                                             mode='bilinear') * 4
    # boxes in the resized input (208 x 112), clipped to it as mmdet's box
    # heads do; some cut by its border
    x0, y0 = torch.rand(n) * 200 - 10, torch.rand(n) * 110 - 10
    wh = torch.rand(n, 2) * 60 + 0.2
    boxes = torch.stack([x0, y0, x0 + wh[:, 0], y0 + wh[:, 1]], 1)
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, 208)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, 112)
    boxes[0] = torch.tensor([10., 10., 10., 30.])  # zero width
    boxes[1] = torch.tensor([5., 5., 5.5, 5.5])  # under a pixel
    labels = torch.randint(0, 3, (n, ))
    meta = dict(ori_shape=(H, W), scale_factor=(1.6, 1.25))
    cfg = ConfigDict(mask_thr_binary=0.5)
    for rescale in (True, False):
        ref_boxes, our_boxes = boxes.clone(), boxes.clone()
        ref = head._predict_by_feat_single(logits, ref_boxes, labels, meta,
                                           cfg, rescale=rescale)
        with paste_into_boxes(head) as n_heads:
            ours = head._predict_by_feat_single(logits, our_boxes, labels,
                                                meta, cfg, rescale=rescale)
        assert n_heads == 1 and '_predict_by_feat_single' not in vars(head)
        assert torch.equal(ref_boxes, our_boxes)  # rescaled in place alike
        hw = ref.shape[1:]
        assert hw == ((H, W) if rescale else (112, 208))
        assert len(ours) == n
        for (ox, oy, patch), m in zip(ours, ref.numpy()):
            full = np.zeros(hw, bool)
            full[oy:oy + patch.shape[0], ox:ox + patch.shape[1]] = patch
            assert (full == m).all()
        assert ref.any((1, 2)).sum() > n // 2


@pytest.mark.parametrize('budget', [1 << 22, 300])
def test_paste_masks_in_boxes_any_batching(budget, monkeypatch):
    """Pasting in batches of similar size (forced small here) == pasting
    each box alone with mmdet's ``_do_paste_mask``."""
    from mmdet.models.roi_heads.mask_heads.fcn_mask_head import \
        _do_paste_mask

    from droplet_mmdet.apis import predictor
    monkeypatch.setattr(predictor, '_PASTE_BUDGET', budget)
    g = torch.Generator().manual_seed(1)
    n = 30
    probs = torch.rand(n, 28, 28, generator=g)
    x0, y0 = torch.rand(n, generator=g) * 60, torch.rand(n, generator=g) * 60
    wh = torch.rand(n, 2, generator=g) ** 3 * 50 + 1
    boxes = torch.stack([x0, y0, x0 + wh[:, 0], y0 + wh[:, 1]], 1)
    ours = paste_masks_in_boxes(probs, boxes, 80, 70, 0.6)
    for (ox, oy, patch), p, b in zip(ours, probs, boxes):
        ref, (sy, sx) = _do_paste_mask(p[None, None], b[None], 80, 70,
                                       skip_empty=True)
        assert (ox, oy) == (sx.start, sy.start)
        assert np.array_equal(patch, ref[0].numpy() >= 0.6)


def test_crop_full_masks():
    g = torch.Generator().manual_seed(2)
    masks = torch.rand(6, 40, 50, generator=g) > 0.97
    masks[2] = False  # empty
    masks[3] = True  # the whole frame
    masks[4] = False
    masks[4, 39, 49] = True  # one corner pixel
    out = crop_full_masks(masks)
    assert crop_full_masks(masks[:0]) == []
    for (x0, y0, patch), m in zip(out, masks.numpy()):
        full = np.zeros(m.shape, bool)
        full[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]] = patch
        assert (full == m).all()
        if m.any():  # tight
            assert patch[0].any() and patch[-1].any()
            assert patch[:, 0].any() and patch[:, -1].any()
    assert out[2][2].shape == (0, 0) and out[3][2].shape == (40, 50)
    assert out[4][:2] == (49, 39)


def test_predictions_without_masks_are_refused():
    pred = InstanceData(bboxes=torch.zeros(1, 4), scores=torch.ones(1),
                        labels=torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match='no masks'):
        instances_to_detections(pred)


def test_tensors_leave_the_device_through_to_numpy():
    """By design, no ``.numpy()`` call on a tensor that may live on a GPU:
    the inference code and tools go through ``droplet_mmdet.utils.to_numpy``
    (``.detach().cpu().numpy()``)."""
    files = ['droplet_mmdet/utils.py'] + [
        osp.join('droplet_mmdet/apis', f) for f in
        ('predictor.py', 'slicing.py', 'measure.py', 'infer.py', 'demo.py',
         'speed.py')] + [osp.join('tools', f) for f in
                         ('infer.py', 'benchmark_inference.py',
                          'benchmark_speed.py')]
    calls = {}
    for f in files:
        with open(osp.join(ROOT, f)) as fh:
            found = re.findall(r'\w[\w.()\[\]]*\.numpy\(\)', fh.read())
        if found:
            calls[f] = found
    assert calls == {'droplet_mmdet/utils.py': ['t.detach().cpu().numpy()']}


class OffCPU(torch.Tensor):
    """A tensor that behaves like one on a GPU where it matters here:
    ``.numpy()`` raises as it does for a CUDA tensor, until ``.cpu()``
    brings it back (every op on it keeps the subclass)."""

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. "
                        'Use Tensor.cpu() first.')

    def cpu(self, *args, **kwargs):
        return torch.Tensor.cpu(self, *args, **kwargs).as_subclass(
            torch.Tensor)


def test_predictor_output_path_runs_with_device_tensors():
    """What the model returns on a GPU (scores, boxes, mask probabilities
    or full masks on the device) goes through pasting, cropping and
    conversion with the same result as CPU tensors."""
    g = torch.Generator().manual_seed(3)
    n = 12
    probs = torch.rand(n, 28, 28, generator=g)
    x0, y0 = torch.rand(n, generator=g) * 60, torch.rand(n, generator=g) * 60
    boxes = torch.stack([x0, y0, x0 + 20, y0 + 15], 1)
    with pytest.raises(TypeError, match='cuda'):
        probs.as_subclass(OffCPU).numpy()  # the switch is on
    ref = paste_masks_in_boxes(probs, boxes, 80, 90, 0.5)
    dev = paste_masks_in_boxes(probs.as_subclass(OffCPU),
                               boxes.as_subclass(OffCPU), 80, 90, 0.5)
    for (ax, ay, a), (bx, by, b) in zip(ref, dev):
        assert (ax, ay) == (bx, by) and np.array_equal(a, b)
    full = torch.rand(5, 40, 50, generator=g) > 0.9
    for masks in (BoxPatches(ref[:5]), full):
        fields = dict(bboxes=boxes[:5], scores=torch.rand(5, generator=g),
                      labels=torch.zeros(5, dtype=torch.long))
        cpu = instances_to_detections(InstanceData(masks=masks, **fields))
        on_dev = instances_to_detections(InstanceData(
            masks=masks if isinstance(masks, BoxPatches) else
            masks.as_subclass(OffCPU),
            **{k: v.as_subclass(OffCPU) for k, v in fields.items()}))
        assert [(d.box, d.bbox, d.score, d.label) for d in cpu] == [
            (d.box, d.bbox, d.score, d.label) for d in on_dev]
        assert all(np.array_equal(a.mask, b.mask)
                   for a, b in zip(cpu, on_dev))

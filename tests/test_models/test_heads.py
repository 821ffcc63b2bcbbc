"""Thin head subclasses: positives are weighted by their matched GT size,
everything else is mmdet's."""
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS
from mmdet.structures.bbox import bbox_overlaps, get_box_tensor

import droplet_mmdet  # noqa: F401

SW = dict(s_ref=24.0, gamma=1.0, w_max=4.0, normalize=True)
GT = torch.tensor([[8., 8., 20., 20.], [40., 40., 88., 88.]])  # 12, 48 px


def _raw(sizes):
    return torch.clamp(24.0 / sizes, 1, 4)


def _rpn(type_, **losses):
    cfg = dict(
        type=type_, in_channels=4, feat_channels=4,
        anchor_generator=dict(type='AnchorGenerator', scales=[3, 6],
                              ratios=[1.0], strides=[4, 8]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[1.] * 4),
        train_cfg=ConfigDict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=None, allowed_border=-1, pos_weight=-1, debug=False),
        **losses)
    return MODELS.build(cfg)


def test_rpn_positive_weights_follow_matched_size():
    ours = _rpn('SizeWeightedRPNHead',
                loss_cls=dict(type='SizeWeightedFocalLoss', use_sigmoid=True,
                              size_weight=SW),
                loss_bbox=dict(type='SizeWeightedL1Loss', size_weight=SW))
    stock = _rpn('RPNHead', loss_cls=dict(type='FocalLoss', use_sigmoid=True),
                 loss_bbox=dict(type='L1Loss'))
    anchors = torch.cat(ours.prior_generator.grid_priors(
        [(32, 32), (16, 16)], device='cpu'))
    valid = torch.ones(len(anchors), dtype=torch.bool)
    gt = InstanceData(bboxes=GT, labels=torch.zeros(2, dtype=torch.long))
    meta = dict(img_shape=(128, 128))
    o = ours._get_targets_single(anchors, valid, gt, meta)
    s = stock._get_targets_single(anchors, valid, gt, meta)
    torch.testing.assert_close(o[0], s[0])  # labels unchanged
    pos = o[4]
    assigned = o[6].pos_assigned_gt_inds
    raw = _raw(torch.tensor([12.0, 48.0]))[assigned]
    expected = raw / raw.mean()
    assert {0, 1} <= set(assigned.tolist())
    torch.testing.assert_close(o[1][pos], expected)
    torch.testing.assert_close(o[3][pos], expected[:, None].expand(-1, 4))
    neg = o[5]
    torch.testing.assert_close(o[1][neg], s[1][neg])  # negatives stay 1
    # the small droplet's anchors weigh more than the big one's
    assert o[1][pos][assigned == 0].min() > o[1][pos][assigned == 1].max()


def _sampling_results():
    from mmdet.testing import demo_mm_sampling_results
    proposals = InstanceData(bboxes=torch.cat(
        [GT, GT + 1.0, torch.tensor([[100., 100., 120., 120.]])]))
    gt = InstanceData(bboxes=GT, labels=torch.zeros(2, dtype=torch.long))
    torch.manual_seed(0)
    return demo_mm_sampling_results([proposals], [gt]), gt


def test_bbox_head_weights_positive_rois():
    def build(type_, loss_bbox):
        return MODELS.build(
            dict(type=type_, in_channels=4, fc_out_channels=8,
                 roi_feat_size=7, num_classes=1, loss_bbox=loss_bbox))
    ours = build('SizeWeightedShared2FCBBoxHead',
                 dict(type='SizeWeightedL1Loss', size_weight=SW))
    stock = build('Shared2FCBBoxHead', dict(type='L1Loss'))
    res, _ = _sampling_results()
    cfg = ConfigDict(pos_weight=-1)
    o = ours.get_targets(res, cfg, concat=True)
    s = stock.get_targets(res, cfg, concat=True)
    torch.testing.assert_close(o[0], s[0])
    torch.testing.assert_close(o[1], s[1])  # CE cls loss: not size-weighted
    n = res[0].pos_bboxes.shape[0]
    sizes = torch.sqrt((get_box_tensor(res[0].pos_gt_bboxes)[:, 2:] -
                        get_box_tensor(res[0].pos_gt_bboxes)[:, :2]).prod(1))
    raw = _raw(sizes)
    torch.testing.assert_close(o[3][:n], (raw / raw.mean())[:, None].expand(
        -1, 4))
    torch.testing.assert_close(o[3][n:], s[3][n:])


def test_mask_head_passes_weights_and_matches_stock_when_off():
    def build(type_, loss_mask):
        return MODELS.build(
            dict(type=type_, num_convs=1, in_channels=4, conv_out_channels=4,
                 num_classes=1, loss_mask=loss_mask))
    res, gt = _sampling_results()
    gt.masks = __import__('mmdet.structures.mask', fromlist=['BitmapMasks']
                          ).BitmapMasks(
        torch.zeros(2, 128, 128, dtype=torch.uint8).numpy(), 128, 128)
    gt.masks.masks[0, 8:20, 8:20] = 1
    gt.masks.masks[1, 40:88, 40:88] = 1
    n = res[0].pos_bboxes.shape[0]
    torch.manual_seed(1)
    preds = torch.randn(n, 1, 28, 28)
    cfg = ConfigDict(mask_size=28)
    stock = build('FCNMaskHead', dict(type='CrossEntropyLoss',
                                      use_mask=True))
    off = build('SizeWeightedFCNMaskHead', dict(type='SizeWeightedMaskLoss'))
    on = build('SizeWeightedFCNMaskHead',
               dict(type='SizeWeightedMaskLoss', size_weight=SW))
    ref = stock.loss_and_target(preds, res, [gt], cfg)['loss_mask']
    torch.testing.assert_close(
        off.loss_and_target(preds, res, [gt], cfg)['loss_mask']['loss_mask'],
        ref['loss_mask'].squeeze(0))
    out = on.loss_and_target(preds, res, [gt], cfg)
    sizes = torch.sqrt((get_box_tensor(res[0].pos_gt_bboxes)[:, 2:] -
                        get_box_tensor(res[0].pos_gt_bboxes)[:, :2]).prod(1))
    raw = _raw(sizes)
    per_roi = torch.nn.functional.binary_cross_entropy_with_logits(
        preds[:, 0], out['mask_targets'], reduction='none').mean((1, 2))
    torch.testing.assert_close(out['loss_mask']['loss_mask'],
                               (per_roi * raw / raw.mean()).mean())


def test_dense_frame_returns_all_detections(repo_root):
    """350 separate droplets in one frame all come out (mmdet's stock
    test_cfg caps at 100)."""
    import os.path as osp

    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmdet.structures import DetDataSample
    cfg = Config.fromfile(
        osp.join(repo_root, 'configs', 'droplet',
                 'mask_rcnn_r18_fpn_slim_400it_synthetic.py'))
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model).eval()
    ys, xs = torch.meshgrid(torch.arange(18), torch.arange(20),
                            indexing='ij')
    x0 = (xs.flatten() * 30 + 4).float()[:350]
    y0 = (ys.flatten() * 30 + 4).float()[:350]
    boxes = torch.stack([x0, y0, x0 + 22, y0 + 22], 1)
    sample = DetDataSample(metainfo=dict(img_shape=(600, 600),
                                         ori_shape=(600, 600),
                                         scale_factor=(1.0, 1.0)))
    feats = model.extract_feat(torch.zeros(1, 3, 608, 608))
    props = InstanceData(bboxes=boxes, scores=torch.ones(350))
    # make every RoI a confident droplet: bias the classifier
    cls = model.roi_head.bbox_head.fc_cls
    torch.nn.init.zeros_(cls.weight)
    cls.bias.data = torch.tensor([5.0, -5.0])
    torch.nn.init.zeros_(model.roi_head.bbox_head.fc_reg.weight)
    torch.nn.init.zeros_(model.roi_head.bbox_head.fc_reg.bias)
    with torch.no_grad():
        out = model.roi_head.predict(feats, [props], [sample], rescale=True)
    assert len(out[0].bboxes) == 350
    assert out[0].masks.shape[0] == 350
    model.roi_head.test_cfg.max_per_img = 100  # mmdet's stock setting
    with torch.no_grad():
        capped = model.roi_head.predict(feats, [props], [sample],
                                        rescale=True)
    assert len(capped[0].bboxes) == 100


META = dict(img_shape=(128, 128))


def test_rpn_weights_follow_true_size_not_cropped_box():
    """A droplet cut by a crop keeps the weight of the whole droplet: the
    RPN takes gt_instances.droplet_sizes, not the visible boxes."""
    ours = _rpn('SizeWeightedRPNHead',
                loss_cls=dict(type='SizeWeightedFocalLoss', use_sigmoid=True,
                              size_weight=SW),
                loss_bbox=dict(type='SizeWeightedL1Loss', size_weight=SW))
    anchors = torch.cat(ours.prior_generator.grid_priors(
        [(32, 32), (16, 16)], device='cpu'))
    valid = torch.ones(len(anchors), dtype=torch.bool)
    # box 0 is the 12 px remnant of a 48 px droplet; box 1 a whole 48 px
    gt = InstanceData(bboxes=GT, labels=torch.zeros(2, dtype=torch.long),
                      droplet_sizes=torch.tensor([48., 48.]))
    o = ours._get_targets_single(anchors, valid, gt, META)
    pos = o[4]
    assert len(pos) > 0
    # equal true sizes: every positive weighs 1 (box sizes would give the
    # remnant's anchors 2 and the whole droplet's 1, normalised)
    torch.testing.assert_close(o[1][pos], torch.ones(len(pos)))
    torch.testing.assert_close(o[3][pos], torch.ones(len(pos), 4))
    # and swapped true sizes swap the weights
    gt.droplet_sizes = torch.tensor([48., 12.])
    o = ours._get_targets_single(anchors, valid, gt, META)
    raw = _raw(torch.tensor([48., 12.]))[o[6].pos_assigned_gt_inds]
    torch.testing.assert_close(o[1][o[4]], raw / raw.mean())


def _roi_head():
    from mmdet.models.task_modules import AssignResult  # noqa: F401
    return MODELS.build(dict(
        type='SizeWeightedRoIHead',
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=4, featmap_strides=[4]),
        bbox_head=dict(type='SizeWeightedShared2FCBBoxHead', in_channels=4,
                       fc_out_channels=8, roi_feat_size=7, num_classes=1,
                       loss_bbox=dict(type='SizeWeightedL1Loss',
                                      size_weight=SW)),
        train_cfg=ConfigDict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.5, min_pos_iou=0.5,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=16, pos_fraction=0.5,
                         neg_pos_ub=-1, add_gt_as_proposals=True),
            mask_size=28, pos_weight=-1, debug=False)))


def test_roi_head_passes_true_sizes_to_bbox_head():
    head = _roi_head()
    proposals = InstanceData(priors=torch.cat(
        [GT + 1.0, torch.tensor([[100., 100., 120., 120.]])]))
    gt = InstanceData(bboxes=GT, labels=torch.zeros(2, dtype=torch.long),
                      droplet_sizes=torch.tensor([48., 12.]))
    assign = head.bbox_assigner.assign(proposals, gt)
    torch.manual_seed(0)
    res = head.bbox_sampler.sample(assign, proposals, gt)
    idx = res.pos_assigned_gt_inds
    torch.testing.assert_close(res.pos_gt_sizes,
                               torch.tensor([48., 12.])[idx])
    o = head.bbox_head.get_targets([res], ConfigDict(pos_weight=-1))
    raw = _raw(torch.tensor([48., 12.]))[idx]
    n = len(idx)
    torch.testing.assert_close(o[3][:n], (raw / raw.mean())[:, None].expand(
        -1, 4))
    # the 12 px box of droplet 0 weighs less than droplet 1's 48 px box
    assert o[3][:n][idx == 0].max() < o[3][:n][idx == 1].min()


def _dense(type_, allowed_border=-1, **losses):
    """A tiny anchor head (RPN or RetinaNet) on a 2-level anchor grid."""
    extra = dict(num_classes=1, stacked_convs=1) if 'Retina' in type_ \
        else {}
    return MODELS.build(dict(
        type=type_, in_channels=4, feat_channels=4,
        anchor_generator=dict(type='AnchorGenerator', scales=[3, 6],
                              ratios=[1.0], strides=[4, 8]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0.] * 4,
                        target_stds=[1.] * 4),
        train_cfg=ConfigDict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                          neg_iou_thr=0.3, min_pos_iou=0.3,
                          match_low_quality=True, ignore_iof_thr=-1),
            sampler=None, allowed_border=allowed_border, pos_weight=-1,
            debug=False),
        **extra, **losses))


SW_LOSSES = dict(
    loss_cls=dict(type='SizeWeightedFocalLoss', use_sigmoid=True,
                  size_weight=SW),
    loss_bbox=dict(type='SizeWeightedL1Loss', size_weight=SW))
STOCK_LOSSES = dict(loss_cls=dict(type='FocalLoss', use_sigmoid=True),
                    loss_bbox=dict(type='L1Loss'))


@pytest.mark.parametrize('stock', ['RPNHead', 'RetinaHead'])
@pytest.mark.parametrize('allowed_border', [-1, 0, 2])
@pytest.mark.parametrize('unmap', [True, False])
def test_anchor_heads_weights_land_on_the_positive_anchors(
        stock, allowed_border, unmap):
    """With allowed_border >= 0 the anchors crossing the image border are
    left out of the assignment, so mmdet's pos_inds index the anchors
    inside the image, not the full anchor list that the (unmapped) weights
    cover. Every positive anchor of the full list must get the weight of
    the droplet it overlaps, and every other anchor the stock weight."""
    ours = _dense('SizeWeighted' + stock, allowed_border, **SW_LOSSES)
    ref = _dense(stock, allowed_border, **STOCK_LOSSES)
    anchors = torch.cat(ours.prior_generator.grid_priors(
        [(32, 32), (16, 16)], device='cpu'))
    valid = torch.ones(len(anchors), dtype=torch.bool)
    valid[::7] = False  # padding-invalid anchors shift the indices too
    # a 12 px droplet at the top-left border, a 48 px one further in;
    # the image (100 x 110) is smaller than the 128 px anchor grid
    gt = InstanceData(bboxes=torch.tensor([[1., 2., 13., 14.],
                                           [40., 40., 88., 88.]]),
                      labels=torch.zeros(2, dtype=torch.long),
                      droplet_sizes=torch.tensor([12., 48.]))
    meta = dict(img_shape=(100, 110))
    o = ours._get_targets_single(anchors, valid, gt, meta,
                                 unmap_outputs=unmap)
    s = ref._get_targets_single(anchors, valid, gt, meta,
                                unmap_outputs=unmap)
    inside = anchor_inside_flags(anchors, valid, (100, 110), allowed_border)
    if allowed_border >= 0:
        assert inside.sum() < valid.sum()  # the case this test is about
    torch.testing.assert_close(o[0], s[0])  # labels
    torch.testing.assert_close(o[2], s[2])  # box targets
    laid_out = anchors if unmap else anchors[inside]
    pos = torch.nonzero(o[0] == 0).squeeze(1)  # positives, as laid out
    assert len(pos) == len(o[4]) > 2
    which = bbox_overlaps(laid_out[pos], gt.bboxes).argmax(1)
    assert set(which.tolist()) == {0, 1}
    raw = _raw(gt.droplet_sizes)[which]
    torch.testing.assert_close(o[1][pos], raw / raw.mean())
    torch.testing.assert_close(o[3][pos], (raw / raw.mean())[:, None]
                               .expand(-1, 4))
    rest = torch.ones(len(o[0]), dtype=torch.bool)
    rest[pos] = False
    torch.testing.assert_close(o[1][rest], s[1][rest])
    torch.testing.assert_close(o[3][rest], s[3][rest])


def _loss_of(head, img=64):
    from mmdet.structures import DetDataSample
    sample = DetDataSample(metainfo=dict(
        img_shape=(img, img), pad_shape=(img, img),
        batch_input_shape=(img, img)))
    sample.gt_instances = InstanceData(
        bboxes=torch.tensor([[8., 8., 20., 20.], [30., 30., 54., 54.]]),
        labels=torch.zeros(2, dtype=torch.long))
    torch.manual_seed(0)
    feats = tuple(torch.randn(1, 4, img // s, img // s)
                  for s in (8, 16))
    return head.loss(feats, [sample])


DENSE = {
    'RetinaHead': dict(
        num_classes=1, stacked_convs=1, in_channels=4, feat_channels=4,
        anchor_generator=dict(type='AnchorGenerator', scales=[3],
                              ratios=[1.0], strides=[8, 16]),
        train_cfg=dict(assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.5,
                                     neg_iou_thr=0.4, min_pos_iou=0),
                       sampler=dict(type='PseudoSampler'), allowed_border=-1,
                       pos_weight=-1, debug=False)),
    'FCOSHead': dict(num_classes=1, stacked_convs=1, in_channels=4,
                     feat_channels=4, strides=[8, 16],
                     regress_ranges=((-1, 32), (32, 1e8)), norm_cfg=None),
}


@pytest.mark.parametrize('head_type', sorted(DENSE))
@pytest.mark.parametrize('loss_key', ['loss_cls', 'loss_bbox'])
def test_stock_dense_head_refuses_size_weighted_loss(head_type, loss_key):
    """mmdet's own dense heads pass no sizes: a size-weighted loss in them
    would silently be the plain loss. Its first call is an error naming
    the head and the loss; with the weighting off it trains as usual."""
    loss = dict(
        loss_cls=dict(type='SizeWeightedFocalLoss', use_sigmoid=True),
        loss_bbox=dict(type='SizeWeightedL1Loss'))[loss_key]
    if head_type == 'FCOSHead' and loss_key == 'loss_bbox':
        pytest.skip('FCOS regresses decoded boxes with an IoU loss')
    on = MODELS.build(dict(DENSE[head_type], type=head_type,
                           **{loss_key: dict(loss, size_weight=SW)}))
    with pytest.raises(RuntimeError,
                       match=rf'{head_type}\.{loss_key} is a SizeWeighted'
                       r'.*gives it no droplet sizes'):
        _loss_of(on)
    off = MODELS.build(dict(DENSE[head_type], type=head_type,
                            **{loss_key: loss}))
    out = _loss_of(off)
    assert all(torch.isfinite(torch.stack(v) if isinstance(v, list) else v)
               .all() for v in out.values())


def test_size_weighted_retina_head_trains_with_the_weighting_on():
    head = MODELS.build(dict(DENSE['RetinaHead'],
                             type='SizeWeightedRetinaHead', **SW_LOSSES))
    out = _loss_of(head)
    assert head.loss_cls.size_source == 'SizeWeightedRetinaHead'
    assert torch.stack(out['loss_cls']).sum() > 0


def test_mixin_refuses_heads_with_their_own_targets():
    """ATSS (and RTMDet, GFL, ... built on it) computes targets its own
    way: the mixin would weigh nothing, so building is an error."""
    from mmdet.models.dense_heads import ATSSHead

    from droplet_mmdet.models.heads import SizeWeightedAnchorHeadMixin

    class SizeWeightedATSSHead(SizeWeightedAnchorHeadMixin, ATSSHead):
        pass

    with pytest.raises(TypeError, match='SizeWeightedATSSHead: .*ATSSHead '
                       'computes them'):
        SizeWeightedATSSHead(num_classes=1, in_channels=4)

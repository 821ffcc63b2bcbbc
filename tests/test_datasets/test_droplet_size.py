"""True droplet sizes survive crops and follow resizes (RecordDropletSize
-> mmdet transforms -> PackDropletInputs)."""
import numpy as np
import pytest
import torch
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes
from mmdet.structures.mask import BitmapMasks

import droplet_mmdet  # noqa: F401


def _results(boxes, hw=(64, 64)):
    boxes = np.asarray(boxes, np.float32)
    masks = np.zeros((len(boxes), *hw), np.uint8)
    for m, (x0, y0, x1, y1) in zip(masks, boxes.astype(int)):
        m[y0:y1, x0:x1] = 1
    return dict(img=np.zeros((*hw, 3), np.uint8), img_shape=hw, ori_shape=hw,
                img_path='frame.png', img_id=0,
                gt_bboxes=HorizontalBoxes(torch.from_numpy(boxes)),
                gt_bboxes_labels=np.zeros(len(boxes), np.int64),
                gt_ignore_flags=np.zeros(len(boxes), bool),
                gt_masks=BitmapMasks(masks, *hw))


def _run(pipeline, results):
    for t in pipeline:
        results = TRANSFORMS.build(t)(results)
    return results['data_samples']


class _FixedCrop:
    """mmdet's RandomCrop at a fixed offset (its randomness lives in
    ``_rand_offset``)."""

    def __init__(self, offset, size, cls='RandomCrop'):
        self.crop = TRANSFORMS.build(dict(type=cls, crop_size=size))
        self.crop._rand_offset = lambda margin: offset

    def __call__(self, results):
        return self.crop(results)


def test_crop_remnant_keeps_whole_droplet_size():
    # droplet 0: 24 x 24 at x 4..28; a crop from x = 24 leaves a 4 px
    # sliver of it. droplet 1: 12 x 12, whole inside.
    res = _results([[4, 20, 28, 44], [40, 10, 52, 22]])
    res = TRANSFORMS.build(dict(type='RecordDropletSize'))(res)
    res = _FixedCrop((0, 24), (40, 64))(res)  # (oy, ox); crop w 40, h 64
    sample = TRANSFORMS.build(dict(type='PackDropletInputs'))(res)[
        'data_samples']
    boxes = sample.gt_instances.bboxes.tensor
    torch.testing.assert_close(boxes[0], torch.tensor([0., 20., 4., 44.]))
    # the visible box says 9.8 px, the droplet is 24 px
    torch.testing.assert_close(sample.gt_instances.droplet_sizes,
                               torch.tensor([24., 12.]))


def test_crop_drops_instances_in_step_and_resize_scales():
    res = _results([[0, 0, 10, 10], [30, 30, 50, 50], [52, 0, 60, 8]])
    pipeline = [
        dict(type='RecordDropletSize'),
        dict(type='Resize', scale_factor=2.0, keep_ratio=True),
    ]
    for t in pipeline:
        res = TRANSFORMS.build(t)(res)
    res = _FixedCrop((40, 40), (80, 80))(res)  # keeps only droplet 1
    sample = TRANSFORMS.build(dict(type='PackDropletInputs'))(res)[
        'data_samples']
    assert len(sample.gt_instances) == 1
    torch.testing.assert_close(sample.gt_instances.droplet_sizes,
                               torch.tensor([40.]))


def test_object_aware_crop_keeps_sizes_in_step():
    res = _results([[0, 0, 10, 10], [30, 30, 50, 50], [52, 0, 60, 8]])
    res = TRANSFORMS.build(dict(type='RecordDropletSize'))(res)
    crop = TRANSFORMS.build(dict(type='ObjectAwareRandomCrop',
                                 crop_size=(32, 32), min_objects=1,
                                 min_visible_area=16))
    crop._rand_offset = lambda margin: (24, 24)
    res = crop(res)
    sample = TRANSFORMS.build(dict(type='PackDropletInputs'))(res)[
        'data_samples']
    torch.testing.assert_close(sample.gt_instances.droplet_sizes,
                               torch.tensor([20.]))


def test_ignored_instances_get_their_sizes():
    res = _results([[0, 0, 10, 10], [30, 30, 50, 50]])
    res['gt_ignore_flags'] = np.array([True, False])
    res = TRANSFORMS.build(dict(type='RecordDropletSize'))(res)
    sample = TRANSFORMS.build(dict(type='PackDropletInputs'))(res)[
        'data_samples']
    torch.testing.assert_close(sample.gt_instances.droplet_sizes,
                               torch.tensor([20.]))
    torch.testing.assert_close(sample.ignored_instances.droplet_sizes,
                               torch.tensor([10.]))


def test_out_of_step_transform_is_an_error():
    res = _results([[0, 0, 10, 10], [30, 30, 50, 50]])
    res = TRANSFORMS.build(dict(type='RecordDropletSize'))(res)
    # FilterAnnotations drops the small box but not its instance id
    res = TRANSFORMS.build(dict(type='FilterAnnotations',
                                min_gt_bbox_wh=(15, 15)))(res)
    with pytest.raises(ValueError, match='frame.png.*RecordDropletSize'):
        TRANSFORMS.build(dict(type='PackDropletInputs'))(res)


def test_without_record_pack_equals_pack_det_inputs():
    res = _results([[0, 0, 10, 10]])
    ours = TRANSFORMS.build(dict(type='PackDropletInputs'))(dict(res))
    assert 'droplet_sizes' not in ours['data_samples'].gt_instances
    stock = TRANSFORMS.build(dict(type='PackDetInputs'))(_results(
        [[0, 0, 10, 10]]))
    torch.testing.assert_close(ours['inputs'], stock['inputs'])
    torch.testing.assert_close(
        ours['data_samples'].gt_instances.bboxes.tensor,
        stock['data_samples'].gt_instances.bboxes.tensor)


def test_tracking_ids_are_kept():
    res = _results([[0, 0, 10, 10], [30, 30, 50, 50]])
    res['gt_instances_ids'] = np.array([7, 3], np.int32)
    res = TRANSFORMS.build(dict(type='RecordDropletSize'))(res)
    assert res['gt_instances_ids'].tolist() == [7, 3]
    res = _FixedCrop((25, 25), (30, 30))(res)
    assert res['gt_instances_ids'].tolist() == [3]
    sample = TRANSFORMS.build(dict(type='PackDropletInputs'))(res)[
        'data_samples']
    torch.testing.assert_close(sample.gt_instances.droplet_sizes,
                               torch.tensor([20.]))

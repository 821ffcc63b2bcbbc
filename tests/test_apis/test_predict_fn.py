"""The fast mmdet adapter gives the same droplets as mmdet's own
inference_detector (same model, same tile), in either memory format."""
import numpy as np
import torch

from conftest import SLIM_CONFIG


def test_fast_predict_matches_inference_detector(tiny_droplets):
    import cv2
    from mmdet.apis import inference_detector, init_detector
    from mmengine.config import Config

    from droplet_mmdet.apis.slicing import mmdet_predict_fn
    cfg = Config.fromfile(SLIM_CONFIG)
    torch.manual_seed(0)
    model = init_detector(cfg, None, device='cpu')
    # a random model: make the classifier confident so boxes survive
    model.roi_head.bbox_head.fc_cls.bias.data = torch.tensor([3.0, -3.0])
    img = cv2.imread(tiny_droplets + '/val/000000.png')
    ref = inference_detector(model, img).pred_instances
    keep = ref.scores >= 0.3
    ref_boxes = ref.bboxes[keep].numpy()
    ref_areas = ref.masks[keep].sum((1, 2)).numpy()
    assert keep.sum() > 5
    for channels_last in (False, True):
        dets = [d for d in mmdet_predict_fn(model, channels_last)([img])[0]
                if d.score >= 0.3]
        assert len(dets) == len(ref_boxes)
        order = np.argsort([-d.score for d in dets])
        scores = np.array([dets[k].score for k in order])
        np.testing.assert_allclose(scores, ref.scores[keep].numpy(),
                                   rtol=1e-3, atol=1e-4)
        areas = np.array([dets[k].area for k in order])
        # same masks up to the bilinear resampling at the threshold
        assert np.abs(areas - ref_areas).max() <= 0.1 * ref_areas.max() + 3

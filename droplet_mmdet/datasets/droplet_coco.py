"""CocoDataset for real-world droplet COCO files."""
import os.path as osp

from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from droplet_mmdet.evaluation.coco_utils import normalize_file_name


@DATASETS.register_module()
class DropletCocoDataset(CocoDataset):
    """``CocoDataset`` that accepts Windows-style ``file_name`` values
    (``.\\\\JPEGImages\\\\x.jpg``) and checks that every image exists, naming
    the annotation file and the image when one is missing.

    Ids starting at 0 and category ids that do not start at 1 need nothing
    here (mmdet maps categories by name); evaluate such files with
    :class:`DropletMetric`, which renumbers ids for pycocotools.

    When the pipeline keeps masks as polygons (``LoadAnnotations`` with
    ``poly2mask=False``), an RLE mask is an error naming the file and the
    annotation: mmdet would mark such an object "ignore" without a word.
    """

    def load_data_list(self):
        from mmdet.datasets.transforms import LoadAnnotations
        self._polygon_masks_only = any(
            isinstance(t, LoadAnnotations) and t.with_mask
            and not t.poly2mask for t in self.pipeline.transforms)
        return super().load_data_list()

    def parse_data_info(self, raw_data_info: dict):
        img_info = raw_data_info['raw_img_info']
        if self._polygon_masks_only:
            for ann in raw_data_info['raw_ann_info']:
                if isinstance(ann.get('segmentation'), dict):
                    raise ValueError(
                        f'{self.ann_file}: annotation {ann.get("id")} of '
                        f'image {img_info["file_name"]!r} is an RLE mask, '
                        'but the pipeline loads masks as polygons '
                        '(LoadAnnotations poly2mask=False), which would '
                        'ignore it; set poly2mask=True for this file')
        img_info['file_name'] = normalize_file_name(img_info['file_name'])
        data_info = super().parse_data_info(raw_data_info)
        if not osp.isfile(data_info['img_path']):
            raise FileNotFoundError(
                f'{self.ann_file}: image {img_info["file_name"]!r} (id '
                f'{img_info["img_id"]}) not found at {data_info["img_path"]}')
        return data_info

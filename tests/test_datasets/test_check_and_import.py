"""Dataset check/repair and the labelme importer."""
import json
import math
import subprocess

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from conftest import PYTHON, ROOT, tool_env
from droplet_mmdet.datasets.check import check_coco, repair_coco
from droplet_mmdet.datasets.converters import (labelme_to_coco,
                                               shape_to_polygon)


def _messy(tmp_path):
    (tmp_path / 'imgs').mkdir()
    cv2.imwrite(str(tmp_path / 'imgs' / 'a.png'),
                np.zeros((50, 60), np.uint8))
    cv2.imwrite(str(tmp_path / 'imgs' / 'b.png'), np.zeros((40, 40), np.uint8))
    (tmp_path / 'imgs' / 'broken.png').write_bytes(b'not a png')
    sq = [10, 10, 20, 10, 20, 20, 10, 20]
    return dict(
        images=[
            dict(id=0, file_name='.\\a.png', height=50, width=60),
            dict(id=1, file_name='b.png', height=50, width=50),  # wrong size
            dict(id=2, file_name='missing.png', height=10, width=10),
            dict(id=3, file_name='broken.png', height=10, width=10),
        ],
        categories=[dict(id=0, name='droplet')],
        annotations=[
            dict(id=0, image_id=0, category_id=0, segmentation=[sq],
                 area=100.0, bbox=[10, 10, 10, 10], iscrowd=0),
            dict(id=1, image_id=0, category_id=0,
                 segmentation=[sq, [1, 1, 2, 2]], area=100.0,
                 bbox=[55, 45, 10, 10], iscrowd=0),   # short part + outside
            dict(id=1, image_id=0, category_id=0, segmentation=[sq],
                 area=0.0, bbox=[10, 10, 10, 10], iscrowd=0),  # dup, zero
            dict(id=3, image_id=0, category_id=7, segmentation=[sq],
                 area=100.0, bbox=[10, 10, 10, 10], iscrowd=0),
            dict(id=4, image_id=9, category_id=0, segmentation=[sq],
                 area=100.0, bbox=[10, 10, 10, 10], iscrowd=0),
        ])


def test_check_finds_every_kind(tmp_path):
    problems = check_coco(_messy(tmp_path), str(tmp_path / 'imgs'), 'x.json')
    kinds = sorted({p.kind for p in problems})
    assert kinds == sorted([
        'box_outside_image', 'duplicate_id', 'id_zero', 'missing_image',
        'short_polygon', 'size_mismatch', 'unknown_category',
        'unknown_image', 'unreadable_image', 'windows_path', 'zero_area'])
    text = '\n'.join(map(str, problems))
    assert 'x.json image 2 (missing.png): missing_image' in text
    assert 'x.json annotation 3 (image 0): unknown_category' in text


def test_repair_fixes_only_safe_and_counts(tmp_path):
    data = _messy(tmp_path)
    fixed, changes, notes = repair_coco(data)
    # ids in use go up to 9 (an annotation's unknown image): image 0 -> 10
    assert changes == dict(windows_path=1, image_id_zero=1, short_polygon=1,
                           box_outside_image=1, area_recomputed=1,
                           annotation_id_renumbered=5)
    assert notes == ['image 0 (a.png): now 10, with its annotations']
    assert len(fixed['annotations']) == len(data['annotations'])  # lossless
    ids = [a['id'] for a in fixed['annotations']]
    assert ids == list(range(1, len(ids) + 1))
    assert [im['id'] for im in fixed['images']] == [10, 1, 2, 3]
    assert [a['image_id'] for a in fixed['annotations']] == [10] * 4 + [9]
    assert fixed['annotations'][1]['bbox'] == [55, 45, 5, 5]
    assert fixed['annotations'][1]['segmentation'] == [
        [10, 10, 20, 10, 20, 20, 10, 20]]
    assert fixed['annotations'][2]['area'] == 100.0  # was 0: recomputed
    left = {p.kind for p in check_coco(fixed, str(tmp_path / 'imgs'))
            if not p.safe}
    assert left == {'missing_image', 'unreadable_image', 'size_mismatch',
                    'unknown_category', 'unknown_image'}
    assert data['images'][0]['file_name'] == '.\\a.png'  # input untouched


def test_exact_copies_dropped_and_mismatched_rle_left_alone():
    """A droplet labelled twice (everything but the id equal) is one
    droplet: reported, and the repair keeps the first. An RLE whose size
    is not its image's is reported and left as it is."""
    sq = [10, 10, 20, 10, 20, 20, 10, 20]
    rle = mask_utils.encode(np.asfortranarray(np.ones((30, 40), np.uint8)))
    rle['counts'] = rle['counts'].decode()

    def ann(i, **kw):
        return dict(dict(id=i, image_id=1, category_id=1, segmentation=[sq],
                         area=100.0, bbox=[10, 10, 10, 10], iscrowd=0), **kw)

    data = dict(
        images=[dict(id=1, file_name='a.png', height=50, width=60)],
        categories=[dict(id=1, name='droplet')],
        annotations=[ann(1), ann(2), ann(3, bbox=[10, 10, 10, 11]), ann(4),
                     ann(5, segmentation=rle, bbox=[0, 0, 40, 30],
                         area=1200.0)])
    problems = check_coco(data, ann_file='x.json')
    assert sorted((p.kind, p.where) for p in problems) == [
        ('duplicate_annotation', 'x.json annotation 2 (image 1)'),
        ('duplicate_annotation', 'x.json annotation 4 (image 1)'),
        ('rle_size_mismatch', 'x.json annotation 5 (image 1)')]
    assert 'RLE size 40x30 vs image 60x50' in str(problems[-1])
    fixed, changes, notes = repair_coco(data)
    assert changes == dict(dropped_duplicate=2)  # ids 1, 3, 5 stay
    assert len(fixed['annotations']) == 3  # 5 - 2 dropped
    assert fixed['annotations'][1]['bbox'] == [10, 10, 10, 11]  # not a copy
    assert fixed['annotations'][2]['segmentation'] == rle  # untouched
    assert sum('dropped_duplicate (an exact copy of annotation 1)' in n
               for n in notes) == 2
    assert any('rle_size_mismatch' in n for n in notes)
    assert [p.kind for p in check_coco(fixed)] == ['rle_size_mismatch']


def test_check_tool_strict_and_repair(tmp_path):
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps(_messy(tmp_path)))
    tool = f'{ROOT}/tools/check_dataset.py'
    strict = subprocess.run([PYTHON, tool, str(ann), '--img-dir',
                             str(tmp_path / 'imgs'), '--strict'],
                            capture_output=True, text=True, env=tool_env())
    assert strict.returncode == 1
    assert 'missing_image' in strict.stdout
    out = tmp_path / 'fixed.json'
    rep = subprocess.run([PYTHON, tool, str(ann), '--img-dir',
                          str(tmp_path / 'imgs'), '--repair', str(out)],
                         capture_output=True, text=True, env=tool_env())
    assert rep.returncode == 1  # what needs a person is left
    assert 'windows_path 1' in rep.stdout and \
        'annotations 5 -> 5 (0 dropped)' in rep.stdout
    assert json.loads(out.read_text())['images'][0]['file_name'] == 'a.png'


def test_circle_polygon_rectangle():
    circle = shape_to_polygon(dict(shape_type='circle',
                                   points=[[30, 30], [30, 40]]), 64)
    rle = mask_utils.merge(mask_utils.frPyObjects([circle], 80, 80))
    assert mask_utils.area(rle) == pytest.approx(math.pi * 100, rel=0.03)
    rect = shape_to_polygon(dict(shape_type='rectangle',
                                 points=[[5, 8], [1, 2]]))
    assert rect == [1, 2, 5, 2, 5, 8, 1, 8]
    assert shape_to_polygon(dict(shape_type='line',
                                 points=[[0, 0], [1, 1]])) is None
    with pytest.raises(ValueError):
        shape_to_polygon(dict(shape_type='polygon', points=[[0, 0], [1, 1]]))


def test_labelme_folder_to_coco_reports_what_it_skips(tmp_path):
    doc = dict(imagePath='..\\imgs\\a.png', imageHeight=50, imageWidth=60,
               shapes=[
                   dict(label='droplet', shape_type='circle',
                        points=[[20, 20], [20, 30]]),
                   dict(label='droplet', shape_type='polygon',
                        points=[[40, 10], [50, 10], [50, 20]]),
                   dict(label='droplet', shape_type='rectangle',
                        points=[[1, 1], [5, 5]]),
                   dict(label='droplet', shape_type='line',
                        points=[[0, 0], [9, 9]]),
                   dict(label='dust', shape_type='circle',
                        points=[[5, 5], [5, 7]]),
               ])
    (tmp_path / 'lm').mkdir()
    (tmp_path / 'imgs').mkdir()  # a missing image would be reported too
    cv2.imwrite(str(tmp_path / 'imgs' / 'a.png'),
                np.zeros((50, 60), np.uint8))
    (tmp_path / 'lm' / 'a.json').write_text(json.dumps(doc))
    (tmp_path / 'lm' / 'bad.json').write_text('{oops')
    coco, report = labelme_to_coco(
        [str(tmp_path / 'lm' / 'a.json'), str(tmp_path / 'lm' / 'bad.json')],
        labels=['droplet'])
    assert len(coco['annotations']) == 3
    assert coco['categories'] == [dict(id=1, name='droplet')]
    assert coco['images'][0]['file_name'].endswith('imgs/a.png')
    assert len(report) == 3
    assert any('bad.json: not read' in r for r in report)
    assert any("'droplet', line" in r and 'not supported' in r
               for r in report)
    assert any("'dust'" in r for r in report)
    tool = subprocess.run(
        [PYTHON, f'{ROOT}/tools/dataset_converters/labelme2coco.py',
         str(tmp_path / 'lm'), str(tmp_path / 'out' / 'coco.json'),
         '--labels', 'droplet'], capture_output=True, text=True,
        env=tool_env())
    assert tool.returncode == 0, tool.stderr
    assert '3 annotations' in tool.stdout and '3 not converted' in tool.stdout
    out = json.loads((tmp_path / 'out' / 'coco.json').read_text())
    assert out['images'][0]['file_name'] == '../imgs/a.png'


@pytest.mark.parametrize('poly2mask', [True, False])
def test_droplet_coco_rle_with_polygon_pipeline_is_an_error(
        tiny_droplets, poly2mask):
    """mmdet's LoadAnnotations(poly2mask=False) marks RLE masks "ignore"
    silently; DropletCocoDataset names the file and annotation instead."""
    from mmengine.registry import init_default_scope

    import droplet_mmdet  # noqa: F401
    from mmdet.registry import DATASETS
    init_default_scope('mmdet')
    cfg = dict(type='DropletCocoDataset', data_root=tiny_droplets,
               ann_file='train.json', data_prefix=dict(img='train/'),
               metainfo=dict(classes=('droplet', )),
               pipeline=[dict(type='LoadImageFromFile'),
                         dict(type='LoadAnnotations', with_bbox=True,
                              with_mask=True, poly2mask=poly2mask)])
    if not poly2mask:
        with pytest.raises(ValueError, match=r'train\.json: annotation \d+ '
                           r'.* is an RLE mask.*poly2mask=True'):
            DATASETS.build(cfg)
        return
    ds = DATASETS.build(cfg)
    sample = ds[0]
    assert len(sample['gt_masks']) > 0
    assert not sample['gt_ignore_flags'].any()

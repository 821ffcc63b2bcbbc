"""labelme import of a real-world layout (zerog_bubbles): images in their own
folder, mixed shapes, split by recording, and the zerog_bubbles configs."""
import json
import os
import os.path as osp
import subprocess

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from conftest import PYTHON, ROOT, tool_env
from droplet_mmdet.datasets.converters import (convert_labelme_folder,
                                               prepare_labelme_split,
                                               split_by_pattern)

TOOL = f'{ROOT}/tools/dataset_converters/labelme2coco.py'
RECT = dict(label='bubble', shape_type='polygon',
            points=[[10, 10], [30, 10], [30, 20], [10, 20]])  # area 200
CIRCLE = dict(label='bubble', shape_type='circle',
              points=[[40, 40], [40, 46]])  # r 6: 114 px rasterised
TRIANGLE = dict(label='bubble', shape_type='polygon',
                points=[[5, 40], [25, 40], [15, 60]])  # area 200
LINESTRIP = dict(label='bubble', shape_type='linestrip',
                 points=[[50, 5], [55, 9], [60, 5]])


def _doc(image_path, shapes):
    return dict(version='5.4.1', flags={}, shapes=shapes,
                imagePath=image_path, imageData=None, imageHeight=64,
                imageWidth=64)


def _labelme_set(tmp_path):
    """Two recordings, S01 (2 frames) and S02 (1 frame); images in imgs/,
    labels in lm/ with imagePath as a bare name, a Windows path and a path
    relative to the json."""
    imgs, lm = tmp_path / 'imgs', tmp_path / 'lm'
    imgs.mkdir()
    lm.mkdir()
    for name in ('rec_S01_1', 'rec_S01_2', 'rec_S02_1'):
        cv2.imwrite(str(imgs / f'{name}.png'), np.zeros((64, 64), np.uint8))
    docs = {
        'rec_S01_1': _doc('rec_S01_1.png', [RECT, LINESTRIP, CIRCLE]),
        'rec_S01_2': _doc('C:\\labelling\\rec_S01_2.png', [TRIANGLE]),
        'rec_S02_1': _doc('../imgs/rec_S02_1.png', [CIRCLE, RECT]),
    }
    for name, doc in docs.items():
        (lm / f'{name}.json').write_text(json.dumps(doc))
    return str(lm), str(imgs)


def test_split_by_pattern_matches_file_names_only():
    files = ['d/C1S0024/x_C1S0004_1.json', 'd/x_C1S0024_1.json',
             'd/x_C1S0010_1.json', 'd/x_C1S0024_2.json']
    train, val = split_by_pattern(files, 'C1S0024')
    assert train == ['d/C1S0024/x_C1S0004_1.json', 'd/x_C1S0010_1.json']
    assert val == ['d/x_C1S0024_1.json', 'd/x_C1S0024_2.json']
    assert split_by_pattern(files, r'C1S00(04|10)')[1] == [
        'd/C1S0024/x_C1S0004_1.json', 'd/x_C1S0010_1.json']


def test_split_conversion_reports_linestrip(tmp_path):
    lm, imgs = _labelme_set(tmp_path)
    conv = convert_labelme_folder(lm, 'S02', labels=['bubble'],
                                  image_dir=imgs)
    train, val = conv.cocos['train'], conv.cocos['val']
    assert [osp.basename(im['file_name']) for im in train['images']] == [
        'rec_S01_1.png', 'rec_S01_2.png']
    assert [im['id'] for im in train['images']] == [1, 2]
    assert [osp.basename(im['file_name']) for im in val['images']] == [
        'rec_S02_1.png']
    assert all(osp.isfile(im['file_name'])
               for im in train['images'] + val['images'])
    assert [(a['id'], a['image_id'], a['area'])
            for a in train['annotations']] == [(1, 1, 200.0), (2, 1, 114.0),
                                               (3, 2, 200.0)]
    assert [(a['id'], a['image_id'], a['area'])
            for a in val['annotations']] == [(1, 1, 114.0), (2, 1, 200.0)]
    assert train['annotations'][0]['bbox'] == [10.0, 10.0, 20.0, 10.0]
    assert train['categories'] == val['categories'] == [
        dict(id=1, name='bubble')]
    assert conv.report == [
        f"{osp.join(lm, 'rec_S01_1.json')}: shape 1 ('bubble', linestrip): "
        'shape type not supported'
    ]
    assert conv.missing_images == []


def test_missing_image_is_reported_never_dropped(tmp_path):
    lm, imgs = _labelme_set(tmp_path)
    doc = _doc('rec_S02_2.png', [RECT, CIRCLE])
    (tmp_path / 'lm' / 'rec_S02_2.json').write_text(json.dumps(doc))
    conv = convert_labelme_folder(lm, 'S02', image_dir=imgs)
    assert len(conv.cocos['val']['images']) == 1
    assert conv.missing_images == [
        f"{osp.join(lm, 'rec_S02_2.json')}: image not found: "
        f"{osp.join(lm, 'rec_S02_2.png')} nor "
        f"{osp.join(imgs, 'rec_S02_2.png')} nor "
        f"{tmp_path / 'images' / 'rec_S02_2.png'} (image and its 2 shapes "
        'not converted)'
    ]
    assert len(conv.report) == 2  # + the linestrip
    # without --image-dir the bare and the Windows names are not found
    conv = convert_labelme_folder(lm)
    assert len(conv.missing_images) == 3
    assert [osp.basename(im['file_name'])
            for im in conv.cocos['all']['images']] == ['rec_S02_1.png']
    tool = subprocess.run(
        [PYTHON, TOOL, lm, str(tmp_path / 'out'), '--val-pattern', 'S02',
         '--image-dir', imgs], capture_output=True, text=True,
        env=tool_env())
    assert tool.returncode == 1
    assert 'rec_S02_2.json: image not found' in tool.stderr
    assert '1 images not found, nothing written' in tool.stderr
    assert not (tmp_path / 'out').exists()
    with pytest.raises(FileNotFoundError, match='rec_S02_2.json: image not'):
        prepare_labelme_split(lm, str(tmp_path / 'prep'), 'S02',
                              image_dir=imgs, verbose=False)
    assert not osp.exists(tmp_path / 'prep' / 'train.json')


def _sibling_layout(tmp_path):
    """The labelme / X-AnyLabeling layout: root/labels/*.json beside
    root/images/*.png, imagePath = the bare file name."""
    root = tmp_path / 'set'
    (root / 'labels').mkdir(parents=True)
    (root / 'images').mkdir()
    cv2.imwrite(str(root / 'images' / 'a.png'), np.zeros((64, 64), np.uint8))
    (root / 'labels' / 'a.json').write_text(json.dumps(
        _doc('a.png', [RECT, CIRCLE])))
    return root


def test_sibling_images_folder_is_found(tmp_path):
    root = _sibling_layout(tmp_path)
    conv = convert_labelme_folder(str(root / 'labels'))
    assert conv.missing_images == []
    assert [im['file_name'] for im in conv.cocos['all']['images']] == [
        str(root / 'images' / 'a.png')]
    out = tmp_path / 'coco' / 'train.json'
    tool = subprocess.run([PYTHON, TOOL, str(root / 'labels'), str(out)],
                          capture_output=True, text=True, env=tool_env())
    assert tool.returncode == 0, tool.stderr
    coco = json.loads(out.read_text())
    assert len(coco['annotations']) == 2
    assert [osp.isfile(osp.join(out.parent, im['file_name']))
            for im in coco['images']] == [True]


def test_missing_image_is_an_error_or_a_listed_skip(tmp_path):
    root = _sibling_layout(tmp_path)
    (root / 'labels' / 'b.json').write_text(json.dumps(
        _doc('b.png', [RECT])))
    out = tmp_path / 'coco' / 'train.json'
    tool = subprocess.run([PYTHON, TOOL, str(root / 'labels'), str(out)],
                          capture_output=True, text=True, env=tool_env())
    assert tool.returncode == 1
    assert f"{root / 'labels' / 'b.json'}: image not found" in tool.stderr
    assert str(root / 'images' / 'b.png') in tool.stderr  # paths tried
    assert not out.exists()
    tool = subprocess.run([PYTHON, TOOL, str(root / 'labels'), str(out),
                           '--skip-missing'],
                          capture_output=True, text=True, env=tool_env())
    assert tool.returncode == 0, tool.stderr
    assert '1 frames left out (--skip-missing)' in tool.stdout
    assert f"{root / 'labels' / 'b.json'}: image not found" in tool.stdout
    coco = json.loads(out.read_text())
    assert [im['file_name'] for im in coco['images']] == ['../set/images/'
                                                          'a.png']


def test_img_dir_flag(tmp_path):
    lm, imgs = _labelme_set(tmp_path)
    out = tmp_path / 'all.json'
    tool = subprocess.run([PYTHON, TOOL, lm, str(out), '--img-dir', imgs,
                           '--labels', 'bubble'],
                          capture_output=True, text=True, env=tool_env())
    assert tool.returncode == 0, tool.stderr
    coco = json.loads(out.read_text())
    assert sorted(osp.basename(im['file_name']) for im in coco['images']) \
        == ['rec_S01_1.png', 'rec_S01_2.png', 'rec_S02_1.png']
    assert all(osp.isfile(osp.join(tmp_path, im['file_name']))
               for im in coco['images'])


def test_tool_writes_train_and_val(tmp_path):
    lm, imgs = _labelme_set(tmp_path)
    out = tmp_path / 'ann'
    tool = subprocess.run(
        [PYTHON, TOOL, lm, str(out), '--val-pattern', 'S02', '--image-dir',
         imgs, '--file-root', imgs, '--labels', 'bubble'],
        capture_output=True, text=True, env=tool_env())
    assert tool.returncode == 0, tool.stderr
    assert '2 files -> ' in tool.stdout and '3 annotations' in tool.stdout
    assert '1 not converted' in tool.stdout
    assert "rec_S01_1.json: shape 1 ('bubble', linestrip)" in tool.stdout
    train = json.loads((out / 'train.json').read_text())
    val = json.loads((out / 'val.json').read_text())
    assert [im['file_name'] for im in train['images']] == [
        'rec_S01_1.png', 'rec_S01_2.png']
    assert [im['file_name'] for im in val['images']] == ['rec_S02_1.png']
    assert [a['id'] for a in val['annotations']] == [1, 2]
    # a pattern that leaves a split empty is an error
    bad = subprocess.run([PYTHON, TOOL, lm, str(out), '--val-pattern', 'S0'],
                         capture_output=True, text=True, env=tool_env())
    assert bad.returncode == 1 and 'matches 3 of 3 files' in bad.stderr


def test_prepare_split_is_idempotent(tmp_path, capsys):
    lm, imgs = _labelme_set(tmp_path)
    out = str(tmp_path / 'ann')
    first = prepare_labelme_split(lm, out, 'S02', image_dir=imgs)
    assert not first['skipped']
    assert first['summary'] == dict(
        train=dict(images=2, annotations=3,
                   diameter_p10_50_90=[12.8, 16.0, 16.0]),
        val=dict(images=1, annotations=2,
                 diameter_p10_50_90=[12.4, 14.0, 15.6]))
    mtime = os.stat(first['train']).st_mtime_ns
    capsys.readouterr()
    again = prepare_labelme_split(lm, out, 'S02', image_dir=imgs)
    assert again['skipped'] and again['summary'] == first['summary']
    assert os.stat(first['train']).st_mtime_ns == mtime
    text = capsys.readouterr().out
    assert '(up to date)' in text and '1 not converted' in text
    assert 'linestrip' in text
    # a changed label file is converted again
    doc = _doc('rec_S02_1.png', [CIRCLE])
    path = osp.join(lm, 'rec_S02_1.json')
    with open(path, 'w') as f:
        json.dump(doc, f)
    os.utime(path, ns=(mtime + 10**9, mtime + 10**9))
    third = prepare_labelme_split(lm, out, 'S02', image_dir=imgs,
                                  verbose=False)
    assert not third['skipped'] and third['summary']['val']['annotations'] == 1
    val = json.loads(open(third['val']).read())
    assert val['images'][0]['file_name'] == 'rec_S02_1.png'  # image_dir


@pytest.fixture
def zerog_env(tmp_path, monkeypatch):
    """A tiny zerog-like set: ZEROG_ROOT with images/ + labels/, converted
    into ZEROG_ANN, and ABLATION_DATA=zerog_bubbles."""
    from droplet_mmdet.datasets.converters import prepare_zerog_bubbles
    root = tmp_path / 'zerog'
    root.mkdir()
    lm, imgs = _labelme_set(root)
    os.rename(lm, root / 'labels')
    os.rename(imgs, root / 'images')
    for f in (root / 'labels').iterdir():  # the bare imagePath everywhere
        doc = json.loads(f.read_text())
        doc['imagePath'] = f.stem + '.png'
        f.write_text(json.dumps(doc))
    for f in (root / 'labels').iterdir():
        f.rename(f.with_name(f.name.replace('S02', 'C1S0024')))
    ann = tmp_path / 'ann'
    env = prepare_zerog_bubbles(str(root), str(ann), verbose=False,
                                exclude={})
    assert env == dict(ZEROG_ROOT=f'{root}/', ZEROG_ANN=f'{ann}/')
    val = json.loads((ann / 'val.json').read_text())
    assert [im['file_name'] for im in val['images']] == ['rec_S02_1.png']
    for k, v in dict(env, ABLATION_DATA='zerog_bubbles').items():
        monkeypatch.setenv(k, v)
    return root, ann


def test_zerog_ablation_profile(zerog_env):
    """ABLATION_DATA=zerog_bubbles: the stock row and the rows that touch
    the data (anchors, crops, blur/noise) build, and their train datasets
    give a sample with polygon masks."""
    from mmdet.registry import DATASETS
    from mmengine.registry import init_default_scope

    from droplet_mmdet.apis.ablation_rows import compose
    root, ann = zerog_env
    stock = Config.fromfile(
        osp.join(ROOT, 'configs', 'droplet', 'ablation', 'slim_stock.py'))
    ds = stock.train_dataloader.dataset
    assert ds.type == 'DropletCocoDataset'
    assert ds.ann_file == f'{ann}/train.json'
    assert ds.data_prefix.img == f'{root}/images/'
    assert stock.val_evaluator.ann_file == f'{ann}/val.json'
    assert (0, 12) in [tuple(b) for b in stock.val_evaluator.diameter_bins]
    crop = [t for t in ds.pipeline if t['type'] == 'RandomCrop']
    assert [t['crop_size'] for t in crop] == [(384, 384)]
    anchors = compose(stock, ['anchors'])
    assert anchors.model.rpn_head.anchor_generator.to_dict() == (
        stock.zerog_anchors.anchor_generator.to_dict())
    init_default_scope('mmdet')
    data_rows = ['anchors', 'object_aware_crop', 'blur_noise']
    rows = [[]] + [[t] for t in data_rows] + [data_rows]
    for techniques in rows:
        cfg = compose(stock, techniques)
        train = DATASETS.build(cfg.train_dataloader.dataset)
        assert len(train) == 2, techniques
        inst = train[0]['data_samples'].gt_instances
        assert type(inst.masks).__name__ == 'PolygonMasks', techniques
    val = DATASETS.build(stock.val_dataloader.dataset)
    assert len(val) == 1
    assert val[0]['inputs'].shape == (3, 64, 64)


def test_excluded_files_are_reported_with_their_reason(tmp_path):
    from droplet_mmdet.datasets.converters.labelme import \
        convert_labelme_folder
    lm, imgs = _labelme_set(tmp_path)
    conv = convert_labelme_folder(lm, image_dir=imgs, exclude={
        'rec_S01_2.json': 'labels of another frame'})
    assert [osp.basename(im['file_name'])
            for im in conv.cocos['all']['images']] == ['rec_S01_1.png',
                                                       'rec_S02_1.png']
    assert osp.join(lm, 'rec_S01_2.json') + \
        ': excluded (labels of another frame)' in conv.report
    with pytest.raises(ValueError, match='nope.json to exclude not found'):
        convert_labelme_folder(lm, image_dir=imgs, exclude={'nope.json': 'x'})

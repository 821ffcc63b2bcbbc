# mmdet's own tracking path for droplets: the ``ByteTrack`` model wrapping
# the slim Mask R-CNN of mask_rcnn_r18_fpn_slim_400it_synthetic.py (train
# the detector with that config; load its checkpoint here) and mmdet's
# ByteTracker with droplet settings (droplet_mmdet/apis/track.py:
# DropletKalmanFilter, scores as tools/track.py at 0.5). Reads a
# MOTChallenge/CocoVID sequence as written by
# tools/dataset_converters/generate_droplet_video.py (annotations.json).
# mmdet's ByteTrack keeps boxes and ids, not masks, and does not predict
# tentative tracks: tools/track.py (masks, sizes, velocities, events) is
# the droplet tool; this config is for mmdet's tools/test.py-style runs.
# Scoring needs TrackEval (MOTChallengeMetric), which is not pinned here.
_base_ = './mask_rcnn_r18_fpn_slim_400it_synthetic.py'

custom_imports = dict(
    imports=['droplet_mmdet', 'droplet_mmdet.apis.track_motion'],
    allow_failed_imports=False)

score_thr = 0.5
detector = _base_.model
det_preprocessor = detector.pop('data_preprocessor')
detector.test_cfg.rcnn.score_thr = 0.1  # ByteTrack's second stage

model = dict(
    _delete_=True,
    type='ByteTrack',
    data_preprocessor=dict(
        type='TrackDataPreprocessor',
        mean=det_preprocessor.mean,
        std=det_preprocessor.std,
        bgr_to_rgb=det_preprocessor.bgr_to_rgb,
        pad_size_divisor=det_preprocessor.pad_size_divisor,
        pad_mask=det_preprocessor.pad_mask,
        use_det_processor=True),  # trains on the detector's image batches
    detector=detector,
    tracker=dict(
        type='ByteTracker',
        motion=dict(type='DropletKalmanFilter'),
        obj_score_thrs=dict(high=score_thr, low=0.1),
        init_track_thr=score_thr,
        weight_iou_with_det_scores=False,
        match_iou_thrs=dict(high=0.1, low=0.5, tentative=0.3),
        num_tentatives=3,
        num_frames_retain=5))

video_root = 'data/droplet_video/'
test_pipeline = [
    dict(
        type='TransformBroadcaster',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale_factor=1.0, keep_ratio=True),
            dict(type='LoadTrackAnnotations'),
        ]),
    dict(type='PackTrackInputs')
]
test_dataloader = dict(
    _delete_=True,
    batch_size=1,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='TrackImgSampler'),
    dataset=dict(
        type='MOTChallengeDataset',
        data_root=video_root,
        ann_file='annotations.json',
        data_prefix=dict(img_path=''),
        metainfo=dict(classes=('droplet', )),
        test_mode=True,
        pipeline=test_pipeline))
test_evaluator = dict(
    _delete_=True, type='MOTChallengeMetric', metric=['CLEAR', 'Identity'])
val_dataloader = test_dataloader
val_evaluator = test_evaluator

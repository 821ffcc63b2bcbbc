# The small-droplet techniques as named config pieces. Configs import this
# file as a base and switch a technique on with one line each, e.g.
#   model = dict(rpn_head=small_anchors)
# Numbers are named once here.
droplet_px = (18, 30)  # droplet sizes the anchors must cover, px
size_weight = dict(s_ref=24.0, gamma=1.0, w_max=4.0, normalize=True)
train_crop = (256, 256)
# Dense frames: no cap at mmdet's 100 detections; 6000 RPN candidates per
# level so that hundreds of droplets each keep their proposals.
dense_test_cfg = dict(
    rpn=dict(nms_pre=6000, max_per_img=2000), rcnn=dict(max_per_img=2000))

# Small anchors: 24 px (scale 6 x stride 4) on P2, ratios for slightly
# elliptic droplets; tools/analysis_tools/fit_anchors.py fits them to data.
small_anchors = dict(
    anchor_generator=dict(
        type='AnchorGenerator',
        scales=[6],
        ratios=[0.8, 1.0, 1.25],
        strides=[4, 8, 16, 32, 64]))

# Anchors fitted to the training boxes when the model is built (one scale
# per level maximising the boxes matched at IoU 0.5: the `anchors` row of
# the ablation, which gave the whole gain over stock mmdet on both real
# sets). droplet_mmdet's tools fit them to train_dataloader's annotations
# and log the result; see droplet_mmdet/models/task_modules/fitted_anchors.py.
fitted_anchors = dict(
    anchor_generator=dict(
        _delete_=True,
        type='FittedAnchorGenerator',
        strides=[4, 8, 16, 32, 64],
        iou=0.5,
        num_scales=1))

# Normalized Wasserstein Distance in the RPN assigner (Wang et al. 2021,
# arXiv:2110.13389): boxes as Gaussians, NWD = exp(-W2 / C), with C the
# mean sqrt(w*h) of the training boxes (fit_anchors.py prints it; data
# profiles set their own). 0.84 / 0.58 are the NWD of a C x C box shifted
# along one axis to IoU 0.7 / 0.3, mmdet's RPN thresholds (the reference
# code's 0.7 / 0.3 gave 34-55 positives per droplet, measured).
rpn_nwd_assigner = dict(
    type='MaxIoUAssigner', pos_iou_thr=0.84, neg_iou_thr=0.58,
    min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1,
    iou_calculator=dict(type='BboxOverlaps2DNWD', mode='nwd', constant=22.5))

# Focal loss for RPN objectness (all anchors, no sampling: the background
# swamps the droplets, focal loss down-weights the easy background). As in
# RetinaNet, the objectness bias starts at a 1 % prior, else the ~10^5
# background anchors dominate the first iterations.
rpn_focal = dict(
    init_cfg=dict(
        type='Normal',
        layer='Conv2d',
        std=0.01,
        override=dict(type='Normal', name='rpn_cls', std=0.01,
                      bias_prob=0.01)),
    loss_cls=dict(
        _delete_=True,
        type='SizeWeightedFocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0))
rpn_focal_train_cfg = dict(sampler=None)

# Size-weighted RPN box, RoI box and mask losses (smaller droplets weigh
# more: clamp((s_ref / s) ** gamma, 1, w_max), normalised to mean 1). The
# size s is the droplet's true size, recorded before crops by the train
# pipeline's RecordDropletSize / PackDropletInputs.
rpn_size_weighted = dict(
    type='SizeWeightedRPNHead',
    loss_bbox=dict(
        _delete_=True,
        type='SizeWeightedL1Loss',
        loss_weight=1.0,
        size_weight=size_weight))
roi_size_weighted = dict(
    type='SizeWeightedRoIHead',
    bbox_head=dict(
        type='SizeWeightedShared2FCBBoxHead',
        loss_bbox=dict(
            _delete_=True,
            type='SizeWeightedL1Loss',
            loss_weight=1.0,
            size_weight=size_weight)),
    mask_head=dict(
        type='SizeWeightedFCNMaskHead',
        loss_mask=dict(
            _delete_=True,
            type='SizeWeightedMaskLoss',
            loss_weight=1.0,
            size_weight=size_weight)))

# Object-aware crop and controlled blur/noise for the train pipeline.
object_aware_crop = dict(
    type='ObjectAwareRandomCrop',
    crop_size=train_crop,
    min_objects=3,
    min_visible=0.7,
    min_visible_area=16)
plain_crop = dict(type='RandomCrop', crop_size=train_crop)
blur = dict(type='DropletGaussianBlur', sigma_ratio=(0.0, 0.15), prob=0.5)
noise = dict(type='DropletNoise', snr_range=(4.0, 20.0), prob=0.5)


# Every technique at once (the slim demo config, the
# bubbles config): the model parts, to which a config adds the anchors of
# its data set, and the augmentations that go between loading and flipping.
all_techniques = dict(
    rpn_head=dict(**rpn_focal, **rpn_size_weighted),
    roi_head=roi_size_weighted,
    train_cfg=dict(rpn=rpn_focal_train_cfg))
all_augment = [object_aware_crop, blur, noise]

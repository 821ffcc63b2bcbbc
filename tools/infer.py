"""Count and measure droplets in an image, a folder or a video.

    python tools/infer.py CONFIG CHECKPOINT INPUT --out-dir OUT [--px-size 0.65]

Writes OUT/droplets.csv (image, frame, id, centroid, area, equivalent
diameter in px and um, circularity, score), OUT/summary.csv (count, mean
diameter, CV per image), OUT/size_histogram.png and OUT/overlays/*.png.
A frame without droplets gets a summary row with count 0 and empty mean
and CV cells; every output is written however many frames are empty.
Frames larger than --tile are predicted in overlapping tiles and merged.
Each tile runs through the config's own test pipeline and the model's own
test_step, as tools/test.py does, so any mmdet instance-segmentation model
works and droplets are measured in the frame's pixels whatever the test
pipeline resizes (droplet_mmdet/apis/predictor.py).
Droplets are counted at the calibrated count threshold stored beside the
checkpoint by training (count_threshold.json), else at the config's
``count_score_thr``, else 0.5; ``--score-thr`` overrides all of them. The
threshold used and where it came from are printed.
"""
import argparse


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('input', help='image, folder of images, or video')
    p.add_argument('--out-dir', default='work_dirs/infer')
    p.add_argument('--px-size', type=float, default=None,
                   help='pixel size in micrometres (adds diameter_um)')
    p.add_argument('--tile', type=int, default=1536,
                   help='largest tile; larger frames are sliced (1536 keeps '
                   'a 2048 px frame of 2,000 droplets under 10 s here)')
    p.add_argument('--overlap', type=int, default=64,
                   help='tile overlap; must exceed the largest droplet')
    p.add_argument('--score-thr', type=float, default=None,
                   help='default: the calibrated threshold of the '
                   'checkpoint (count_threshold.json beside it), else the '
                   "config's count_score_thr, else 0.5")
    p.add_argument('--device', default='cpu')
    p.add_argument('--no-overlays', action='store_true')
    return p.parse_args()


def main():
    args = parse_args()
    import droplet_mmdet  # noqa: F401
    from droplet_mmdet.apis.infer import resolve_score_thr, run_inference
    from droplet_mmdet.apis.predictor import mmdet_predict_fn
    from droplet_mmdet.apis import load_config
    from mmdet.apis import init_detector
    model = init_detector(load_config(args.config, args.checkpoint),
                          args.checkpoint, device=args.device)
    score_thr, source = resolve_score_thr(args.score_thr, args.checkpoint,
                                          model.cfg)
    print(f'counting at score >= {score_thr:.3f} ({source})')
    rows = run_inference(mmdet_predict_fn(model), args.input, args.out_dir,
                         px_size=args.px_size, tile=args.tile,
                         overlap=args.overlap, score_thr=score_thr,
                         overlays=not args.no_overlays)
    total = sum(r['count'] for r in rows)
    print(f'{len(rows)} frame(s), {total} droplets; results in '
          f'{args.out_dir}/ (droplets.csv, summary.csv, size_histogram.png)')


if __name__ == '__main__':
    main()

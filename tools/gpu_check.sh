#!/usr/bin/env bash
# The GPU checks in one bounded run, for a machine that cannot reach a
# package index (how benchmarks/gpu_h200_check.json and speed_gpu.json were
# made). It uses the machine's own python3 with its CUDA torch, numpy and
# opencv, installs the carried wheels into /tmp/site and builds mmcv 2.1.0
# with CUDA ops for the card (as tools/setup_env.sh builds it), or installs
# an already built wheel; then, each bounded by DEADLINE:
#   mmcv ops on the GPU vs the CPU; tools/benchmark_speed.py fp32 + fp16;
#   100+ iterations on the real bubbles set of the flagship in AMP and fp32
#   and of stock R-101 in AMP, next to the test suite (pytest -n 6) and a
#   1-process NCCL tools/dist_train.sh; tools/infer.py --device cuda on a
#   val frame and on a 2048 px 2 x 2 tiling of it.
# Results go to $OUT (log.txt, speed_gpu.json, results.tar.gz, the mmcv
# wheel split into 15 MB parts).
#   WHEELS      folder of wheels (mmengine, mmdet, pycocotools, shapely,
#               addict, yapf, termcolor, terminaltables, platformdirs) and
#               mmcv-2.1.0.tar.gz                      (default .gpu/whl)
#   MMCV_CACHE  folder holding <key>/mmcv-*.whl built earlier
#                                                    (default .gpu/mmcv_cache)
#   BUBBLES_ROOT  the bubbles set                     (default .gpu/bubbles/)
#   DEADLINE    seconds from the start by which everything must be done
#   DRY=1       CPU dry run with the repository's .venv (no build, tiny sizes)
set -u
source "$(dirname "$0")/gpu_env.sh" || exit 1
export BUBBLES_ROOT=${BUBBLES_ROOT:-$ROOT/.gpu/bubbles/} ABLATION_DATA=bubbles
setup_python

say "3. smoke: mmcv ops on $DEV vs CPU"
$PY - <<EOF
import torch, mmcv, mmdet, mmengine, numpy
from mmcv.ops import RoIAlign, nms
print('mmcv', mmcv.__version__, 'mmdet', mmdet.__version__, 'mmengine', mmengine.__version__, 'numpy', numpy.__version__)
g = torch.Generator().manual_seed(0)
b = torch.rand(500, 4, generator=g) * 200; b[:, 2:] += b[:, :2] + 5
s = torch.rand(500, generator=g)
k_cpu = nms(b, s, 0.5)[1]; k_dev = nms(b.to('$DEV'), s.to('$DEV'), 0.5)[1].cpu()
print('nms keeps', len(k_cpu), len(k_dev), 'same:', torch.equal(k_cpu, k_dev))
f = torch.rand(2, 16, 64, 64, generator=g)
r = torch.tensor([[0, 3, 4, 40, 50], [1, 10.5, 2, 60, 30]])
ra = RoIAlign((7, 7), 0.5, 2)
d = (ra(f, r) - ra(f.to('$DEV'), r.to('$DEV')).cpu()).abs().max().item()
print('roi_align max |cpu - dev|', d)
EOF

say "4. speed benchmark"
if [[ $DRY == 1 ]]; then SPEED_ARGS=(--device cpu --batch-size 1 --crop 128 --frames-1024 1 --models 'slim R-18')
else SPEED_ARGS=(--device cuda --batch-size 8 --crop 512 --models 'slim R-18' R-101 'R-101 stock'); fi
# the speed benchmark gets 40 % of what is left (100-240 s), the rest after it
t=$(( $(left) * 4 / 10 )); (( t > 240 )) && t=240; (( t < 100 )) && t=100
timeout $t $PY tools/benchmark_speed.py "${SPEED_ARGS[@]}" --data-root /tmp/bench_droplets --out "$OUT/speed_gpu.json"
say "speed rc=$?"

say "5. real-data training (bubbles) AMP / fp32 / stock AMP, test suite, all at once"
avail=$(( $(left) - 100 ))
if [[ $DRY != 1 ]]; then N=$(( avail * 3 / 10 / 50 * 50 )); (( N > 1500 )) && N=1500; (( N < 100 )) && N=100; fi
say "$N iterations each, ~$avail s available"
sched=(train_cfg.max_iters=$N train_cfg.val_interval=$N default_hooks.checkpoint.interval=$N
       param_scheduler.1.end=$N "param_scheduler.1.milestones=[$(( N * 8 / 10 ))]")
[[ $DRY == 1 ]] && sched+=(model.backbone.depth=50 train_dataloader.num_workers=1 val_dataloader.num_workers=1 val_dataloader.dataset.indices=2)
cat > /tmp/r101_real_fp32.py <<EOF
_base_ = '$ROOT/configs/droplet/mask_rcnn_r101_fpn_small_real.py'
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05),
    clip_grad=dict(max_norm=10, norm_type=2))
EOF
T=$(( $(left) - 70 ))
for run in amp:configs/droplet/mask_rcnn_r101_fpn_small_real.py fp32:/tmp/r101_real_fp32.py stock:configs/droplet/mask_rcnn_r101_fpn_stock_real.py; do
    name=${run%%:*} cfg=${run#*:}
    timeout $T $PY tools/train.py $cfg --work-dir /tmp/w_$name --cfg-options "${sched[@]}" > /tmp/res/train_$name.log 2>&1 &
    eval "pid_$name=$!"
done
if [[ $DRY != 1 ]]; then
    timeout $T env OMP_NUM_THREADS=1 $PY -m pytest tests -v -p no:cacheprovider -n 6 --junitxml=/tmp/res/junit.xml > /tmp/res/pytest.log 2>&1 &
    pid_tests=$!
    # NCCL + DDP on the one GPU through tools/dist_train.sh (1 process)
    timeout $T env PYTHON=$PY PORT=29533 bash tools/dist_train.sh configs/droplet/mask_rcnn_r101_fpn_small_real.py 1 --work-dir /tmp/w_dist --cfg-options train_cfg.max_iters=20 train_cfg.val_interval=1000 > /tmp/res/dist_train.log 2>&1 &
    pid_dist=$!
fi
wait $pid_amp; say "train amp rc=$?"
say "6. infer.py --device $DEV: one val frame (1024) and the same frame tiled 2 x 2 (2048), sliced"
CKPT=$(ls /tmp/w_amp/iter_*.pth 2>/dev/null | tail -n 1)
IMG=$(ls "$BUBBLES_ROOT"val/JPEGImages/* | head -n 1)
$PY - "$IMG" <<'EOF'
import sys, cv2, numpy as np
im = cv2.imread(sys.argv[1])
cv2.imwrite('/tmp/frame2048.png', np.block([[im, im], [im, im]]) if im.ndim == 2 else np.concatenate([np.concatenate([im, im], 1)] * 2, 0))
print('2048 frame', cv2.imread('/tmp/frame2048.png').shape)
EOF
if [[ -n "$CKPT" ]]; then
    for inp in "$IMG" /tmp/frame2048.png; do
        s=$(date +%s%N)
        timeout 90 $PY tools/infer.py configs/droplet/mask_rcnn_r101_fpn_small_real.py "$CKPT" "$inp" --device $DEV --tile 1024 --out-dir /tmp/res/infer_$(basename "$inp" | cut -c1-12) 2>&1 | tail -n 4
        say "infer rc=${PIPESTATUS[0]} $(basename "$inp") wall $(( ($(date +%s%N) - s) / 1000000 )) ms"
    done
else say "no checkpoint from the AMP run: infer skipped"; fi
for p in fp32 stock; do eval "wait \$pid_$p"; say "train $p rc=$?"; done
if [[ $DRY != 1 ]]; then
    wait $pid_dist; say "dist_train rc=$?"; tail -n 5 /tmp/res/dist_train.log
    wait $pid_tests; say "pytest rc=$?"; grep -E "FAILED|ERROR" /tmp/res/pytest.log | head -n 20; tail -n 3 /tmp/res/pytest.log
fi
for name in amp fp32 stock; do
    mkdir -p /tmp/res/w_$name
    find /tmp/w_$name -name "scalars.json" -exec cp {} /tmp/res/w_$name/ \; 2>/dev/null
    cp /tmp/w_$name/count_threshold.json /tmp/res/w_$name/ 2>/dev/null
    say "$name: $(grep -h '"droplet/segm_mAP"' /tmp/res/w_$name/scalars.json 2>/dev/null | tail -n 1 | cut -c1-400)"
    grep -hE "Iter\(train\) \[ *$N/" /tmp/res/train_$name.log | cut -c1-300
    grep -cE "loss: nan|loss: inf" /tmp/res/train_$name.log | sed "s/^/$name nonfinite-loss log lines: /"
done
nvidia-smi --query-gpu=memory.used --format=csv 2>/dev/null
tar czf "$OUT/results.tar.gz" -C /tmp res --exclude=mmcv_build.log 2>/dev/null
ls -la "$OUT"
say "done"

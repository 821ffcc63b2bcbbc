#!/usr/bin/env bash
# Packs what tools/gpu_ablation.sh and tools/gpu_check.sh carry to a lent
# GPU machine that cannot reach a package index, into .gpu/ (ignored by
# git; pass these paths as the device tool's `carry`):
#   .gpu/whl             mmdet, mmengine, pycocotools, shapely, addict, yapf,
#                        termcolor, terminaltables, platformdirs, six, tqdm
#                        as wheels for the GPU image's Python (PY_VER, default
#                        3.12), and mmcv-2.1.0.tar.gz to build there  (~6 MB)
#   .gpu/bubbles         the bubbles set                              (~8 MB)
#   .gpu/zerog_bubbles   images/ and the labelme files as labels.tar.xz
#                        (0.6 MB instead of 18)                      (~20 MB)
#
#   bash tools/gpu_pack.sh [SHARED_DATASETS]    # default ../shared/datasets
#
# Needs a package index here (pip download). mmcv's CUDA wheel cannot be made
# here (no CUDA): the GPU machine builds it (188 s on an H200, 280 s on an
# H100) and gpu_env.sh splits it into $OUT/mmcvwhl.part.*; bring those back
# and join them into .gpu/mmcv_cache/<key>/ (see tools/gpu_env.sh) to skip
# the build next time.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/datasets}
PY_VER=${PY_VER:-3.12}
PY=${PYTHON:-python3}
say() { printf '[gpu_pack] %s\n' "$*"; }
pin() { sed -n "s/^$1==\([^ #]*\).*/\1/p" requirements/pinned.txt | head -n 1; }

mkdir -p .gpu/whl
say "wheels for Python $PY_VER -> .gpu/whl"
"$PY" -m pip download -q --no-deps --only-binary=:all: \
    --python-version "$PY_VER" --platform manylinux2014_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
    -d .gpu/whl "mmdet==$(pin mmdet)" "mmengine==$(pin mmengine)" \
    "pycocotools==$(pin pycocotools)" "shapely==$(pin shapely)" \
    "tqdm==$(pin tqdm)" addict yapf termcolor terminaltables platformdirs six
mmcv=mmcv-$(pin mmcv).tar.gz
if [[ ! -f .gpu/whl/$mmcv ]]; then
    # pip download of an sdist runs its setup.py (which needs torch):
    # fetch the file itself, by the index's JSON API
    url=$("$PY" - "$(pin mmcv)" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request('https://pypi.org/simple/mmcv/', headers={
    'Accept': 'application/vnd.pypi.simple.v1+json'})
files = json.load(urllib.request.urlopen(req, timeout=60))['files']
print(next(f['url'] for f in files
           if f['filename'] == f'mmcv-{sys.argv[1]}.tar.gz'))
EOF
)
    say "$mmcv <- $url"
    curl -fsSL -o ".gpu/whl/$mmcv" "$url"
fi

if [[ -d $DATA/bubbles ]]; then
    say "bubbles -> .gpu/bubbles"
    rm -rf .gpu/bubbles && cp -r "$DATA/bubbles" .gpu/bubbles
else
    say "no $DATA/bubbles: skipped"
fi
if [[ -d $DATA/zerog_bubbles ]]; then
    say "zerog_bubbles -> .gpu/zerog_bubbles (labels as labels.tar.xz)"
    rm -rf .gpu/zerog_bubbles && mkdir -p .gpu/zerog_bubbles
    cp -r "$DATA/zerog_bubbles/images" .gpu/zerog_bubbles/
    tar -cf - -C "$DATA/zerog_bubbles" labels | xz -6 > .gpu/zerog_bubbles/labels.tar.xz
else
    say "no $DATA/zerog_bubbles: skipped"
fi
du -sh .gpu/* | sed 's/^/[gpu_pack] /'

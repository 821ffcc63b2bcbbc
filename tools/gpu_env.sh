# Sourced first by tools/gpu_check.sh and tools/gpu_ablation.sh (run from
# the repository root): the clock (el, left, say against DEADLINE), OUT
# with log.txt, and setup_python: the machine's own python3 with its CUDA
# torch, numpy and opencv, the carried wheels (WHEELS) installed into
# /tmp/site, and mmcv 2.1.0 with CUDA ops (the cached wheel in
# MMCV_CACHE/<key>/ when carried, as mmcv-*.whl or unpacked in
# mmcv-wheel.tar.xz, else built as tools/setup_env.sh builds it);
# it sets PY, DEV, N, NPROC. DRY=1: the repository's .venv on the CPU,
# nothing installed.
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
left() { echo $(( DEADLINE - $(el) )); }
say() { echo "[gpu $(el)s] $*"; }
DEADLINE=${DEADLINE:-560}
DRY=${DRY:-0}
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT" /tmp/res
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
ROOT=$(pwd)
WHEELS=${WHEELS:-.gpu/whl} MMCV_CACHE=${MMCV_CACHE:-.gpu/mmcv_cache}

setup_python() {
    if [[ $DRY == 1 ]]; then
        PY=$ROOT/.venv/bin/python DEV=cpu N=4 NPROC=2
    else
        DEV=cuda NPROC=$(nproc)
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
        python3 -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"
        command -v nvcc && nvcc --version | tail -2; gcc --version | head -1
        python3 -m pip list 2>/dev/null | grep -iE "^(numpy|opencv|setuptools|pytest|scipy|matplotlib|torchvision) "
        say "1. the image's python3 (torch, numpy, opencv ...) + carried wheels in /tmp/site"
        PY=python3
        $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$WHEELS"/*.whl || say "wheel install FAILED"
        export PYTHONPATH=/tmp/site:$ROOT
        read -r TV CV <<<"$($PY -c 'import torch; print(torch.__version__.split("+")[0], torch.version.cuda)')"
        KEY=mmcv-2.1.0-py312-torch$TV-cu$CV-sm90
        say "2. mmcv ($KEY)"
        if ls "$MMCV_CACHE/$KEY"/mmcv-*.whl >/dev/null 2>&1; then
            say "cached wheel carried"
            WHEEL=$(ls "$MMCV_CACHE/$KEY"/mmcv-*.whl | head -n 1)
        elif [[ -f "$MMCV_CACHE/$KEY/mmcv-wheel.tar.xz" ]]; then
            # the wheel's contents re-packed with xz: 18 MB instead of the
            # wheel's 37, so that a real set fits the device's 64 MiB too
            # (make it with: unzip the wheel, tar -cf - . | xz -6)
            say "cached wheel carried unpacked (xz)"
            tar -xJf "$MMCV_CACHE/$KEY/mmcv-wheel.tar.xz" -C /tmp/site \
                && WHEEL=unpacked || say "mmcv unpack FAILED"
        else
            [[ -z "${CUDA_HOME:-}" ]] && export CUDA_HOME=$(dirname "$(dirname "$(command -v nvcc)")")
            env MMCV_WITH_OPS=1 FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=$NPROC \
                $PY -m pip wheel -v --no-deps --no-build-isolation --no-index \
                "$WHEELS"/mmcv-2.1.0.tar.gz -w /tmp/mmcvwheel > /tmp/res/mmcv_build.log 2>&1
            rc=$?
            say "mmcv build rc=$rc"
            grep -E "error|Error" /tmp/res/mmcv_build.log | grep -v "Werror\|error_\|_error\|errors\.h\|-Wno" | head -30
            gzip -c /tmp/res/mmcv_build.log > "$OUT/mmcv_build.log.gz"
            WHEEL=$(ls /tmp/mmcvwheel/mmcv-*.whl 2>/dev/null | head -n 1)
            if [[ -n "$WHEEL" ]]; then
                ls -la "$WHEEL"
                (cd "$(dirname "$WHEEL")" && sha256sum "$(basename "$WHEEL")") > "$OUT/mmcv_wheel.sha256"
                split -b 15M "$WHEEL" "$OUT/mmcvwhl.part."
            fi
        fi
        [[ -z "$WHEEL" ]] && { say "no mmcv wheel: stop"; exit 1; }
        [[ $WHEEL == unpacked ]] || $PY -m pip install -q --no-index --no-deps --target /tmp/site "$WHEEL" || say "mmcv install FAILED"
    fi
}

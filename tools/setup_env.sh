#!/usr/bin/env bash
# Idempotent environment set-up for droplet_mmdet, used by both README commands.
#
# Creates .venv in the repository root and installs the versions pinned in
# requirements/pinned.txt:
#   * torch: the pinned CPU wheel, or, on a machine whose python3 already has a
#     CUDA build of torch, that one (the venv then sees the system packages);
#   * mmcv 2.1.0 compiled with its ops (MMCV_WITH_OPS=1, --no-build-isolation,
#     setuptools<82). On a CUDA machine with a GPU the ops are built for that
#     card's architecture only (FORCE_CUDA=1). The wheel is built once and
#     cached outside the repository, keyed by Python, torch and CUDA versions:
#       ${DROPLET_MMDET_CACHE:-~/.cache/droplet_mmdet}/wheels/<key>/
#   * mmengine, mmdet, pycocotools, numpy and the rest, then this package
#     (editable).
# A second run on the same machine only checks the stamp and the imports.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${DROPLET_MMDET_VENV:-$ROOT/.venv}"
PINS="$ROOT/requirements/pinned.txt"
CACHE="${DROPLET_MMDET_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/droplet_mmdet}"
BASE_PY="${PYTHON:-python3}"
STAMP="$VENV/.droplet_mmdet_setup"

pin() { sed -n "s/^$1==\([^ #]*\).*/\1/p" "$PINS" | head -n 1; }
log() { printf '[setup_env] %s\n' "$*"; }
now() { date +%s; }

t_start=$(now)
want="$(cat "$PINS" "$ROOT/tools/setup_env.sh" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
    "$VENV/bin/python" -c 'import mmcv.ops, mmdet, mmengine, pycocotools, droplet_mmdet' 2>/dev/null; then
    log "environment up to date ($VENV, checked in $(( $(now) - t_start ))s)"
    exit 0
fi

# --- 1. the virtual environment ------------------------------------------
system_cuda_torch=$("$BASE_PY" - <<'EOF' 2>/dev/null || true
import torch
print(torch.version.cuda or '')
EOF
)
t=$(now)
if [[ ! -x "$VENV/bin/python" ]]; then
    if [[ -n "$system_cuda_torch" ]]; then
        log "python3 has torch with CUDA $system_cuda_torch: creating $VENV with system site-packages"
        "$BASE_PY" -m venv --system-site-packages "$VENV"
        # A python3 that is itself a venv (e.g. /opt/torch/.venv on the GPU
        # image) lends its *base* interpreter's site-packages, without its
        # torch: point the new venv at the parent venv's site-packages too.
        parent=$("$BASE_PY" -c 'import site, sys; print(site.getsitepackages()[0] if sys.prefix != sys.base_prefix else "")')
        if [[ -n "$parent" ]]; then
            child=$("$VENV/bin/python" -c 'import site; print(site.getsitepackages()[0])')
            echo "$parent" > "$child/_droplet_mmdet_parent_venv.pth"
            log "python3 is a venv: its site-packages ($parent) added to $VENV"
        fi
    else
        log "creating $VENV"
        "$BASE_PY" -m venv "$VENV"
    fi
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)
"${PIP[@]}" install "setuptools==$(pin setuptools)" "wheel==$(pin wheel)" "ninja==$(pin ninja)"

# --- 2. torch ---------------------------------------------------------------
if [[ -z "$system_cuda_torch" ]]; then
    if ! "$PY" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$(pin torch)')" 2>/dev/null; then
        log "installing torch==$(pin torch)"
        "${PIP[@]}" install "torch==$(pin torch)"
    fi
fi
read -r py_ver torch_ver cuda_ver gpu_arch < <("$PY" - <<'EOF'
import sys
import torch
cuda = torch.version.cuda or 'cpu'
arch = 'none'
if torch.version.cuda and torch.cuda.is_available():
    major, minor = torch.cuda.get_device_capability(0)
    arch = f'{major}.{minor}'
print(f'{sys.version_info[0]}{sys.version_info[1]}', torch.__version__.split('+')[0], cuda, arch)
EOF
)
log "python $py_ver, torch $torch_ver, cuda $cuda_ver, gpu arch $gpu_arch ($(( $(now) - t ))s)"

# --- 3. the other pinned packages -----------------------------------------
t=$(now)
reqs=$(mktemp)
grep -vE '^(torch|mmcv|setuptools|ninja|wheel)==|^#|^$' "$PINS" > "$reqs"
"${PIP[@]}" install -r "$reqs"
rm -f "$reqs"
log "pinned packages installed ($(( $(now) - t ))s)"

# --- 4. mmcv with ops, built once and cached --------------------------------
mmcv_ver=$(pin mmcv)
if [[ "$cuda_ver" == cpu ]]; then
    key="mmcv-${mmcv_ver}-py${py_ver}-torch${torch_ver}-cpu"
else
    key="mmcv-${mmcv_ver}-py${py_ver}-torch${torch_ver}-cu${cuda_ver}-sm${gpu_arch/./}"
fi
wheel_dir="$CACHE/wheels/$key"
t=$(now)
if ! "$PY" -c "import mmcv, mmcv.ops, sys; sys.exit(mmcv.__version__ != '$mmcv_ver')" 2>/dev/null; then
    wheel=$(ls "$wheel_dir"/mmcv-*.whl 2>/dev/null | head -n 1 || true)
    if [[ -z "$wheel" ]]; then
        build_env=(MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}")
        if [[ "$cuda_ver" != cpu && "$gpu_arch" != none ]]; then
            build_env+=(FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST="$gpu_arch")
            log "building mmcv $mmcv_ver with CUDA ops for sm_${gpu_arch/./} (once per machine; cached in $wheel_dir)"
        else
            log "building mmcv $mmcv_ver with CPU ops from source: 10-25 minutes on a 2-core machine, done once and cached in $wheel_dir"
        fi
        tmp=$(mktemp -d)
        env "${build_env[@]}" "${PIP[@]}" wheel --no-deps --no-build-isolation \
            --no-binary mmcv "mmcv==$mmcv_ver" -w "$tmp"
        mkdir -p "$wheel_dir"
        mv "$tmp"/mmcv-*.whl "$wheel_dir/"
        rm -rf "$tmp"
        wheel=$(ls "$wheel_dir"/mmcv-*.whl | head -n 1)
        log "mmcv wheel built in $(( $(now) - t ))s: $wheel"
    fi
    "${PIP[@]}" install --force-reinstall --no-deps "$wheel"
    "${PIP[@]}" install "$wheel"  # its own requirements (addict, yapf, ...)
fi
log "mmcv $mmcv_ver with ops ready ($(( $(now) - t ))s)"

# --- 5. this package ---------------------------------------------------------
t=$(now)
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT"
"$PY" -c 'import mmcv.ops, mmdet, droplet_mmdet' >/dev/null
echo "$want" > "$STAMP"
log "droplet_mmdet installed ($(( $(now) - t ))s); set-up took $(( $(now) - t_start ))s"

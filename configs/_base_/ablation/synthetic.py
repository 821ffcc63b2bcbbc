# Ablation data profile "synthetic": synthetic droplet frames (320 x 320 in
# tools/benchmark.py), full frames in training, stock pipeline. Chosen by
# configs/droplet/ablation/slim_stock.py unless ABLATION_DATA says otherwise.
_base_ = ['../datasets/synthetic_droplets.py', '../droplet_techniques.py']

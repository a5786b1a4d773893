#!/bin/bash
# The GPU checks of the data path and the published protocol, in one command (about 10 min on
# one H100/H200-class GPU): the CUDA-only tests (pinned memory, no host sync in the step),
# `gradseg bench` of every method at the protocol's scale (224 px, 64 channels, batch 8, bf16,
# channels-last), with 1 and 6 workers and with --compile, and a 400-iteration
# pipelines/paper.py run of every method with --jobs auto, on a synthetic 224 px cache.
# Results land in $OUT (default runs/gpu_check). Wheels in .whl/ (packages the machine lacks:
# zarr, zarrs, numcodecs, donfig, google-crc32c) are installed first when present.
#
#   bash pipelines/gpu_check.sh            # from the project root, with a CUDA PyTorch
set -u
export OUT=${OUT:-runs/gpu_check}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
T0=$(date +%s)
el() { echo $(( $(date +%s) - T0 )); }
log() { echo "[$(el)s] $*" | tee -a $OUT/log.txt; }
test -f gradseg/bench.py || { echo "not the hc worktree:"; git log -1 --oneline; ls; exit 3; }
if [ -d .whl ]; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 4
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee -a $OUT/log.txt
$PY -c "import torch, zarr, zarrs, os; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'zarr', zarr.__version__, 'cpus', os.cpu_count())" | tee -a $OUT/log.txt
log "make data"
$PY - <<'PYEOF' 2>&1 | tee -a $OUT/log.txt
import os
import numpy as np
from pathlib import Path
from PIL import Image
from gradseg.toydata import make_sample, write_toy_cache
out = os.environ["OUT"]
write_toy_cache(f"{out}/c224.zarr", n=256, size=224, levels=4, seed=0, shard=32)
rng = np.random.default_rng(5)
for sub in ("images", "masks"):
    Path(out, "test", sub).mkdir(parents=True, exist_ok=True)
for k in range(24):
    s = make_sample(rng, 96, 4)
    Image.fromarray(s["image"].transpose(1, 2, 0)).resize((360, 300)).save(f"{out}/test/images/t{k}.png")
    Image.fromarray(s["mask"][0] * 255).resize((360, 300), Image.NEAREST).save(f"{out}/test/masks/t{k}.png")
print("data ok")
PYEOF
log "cuda tests"
timeout 240 $PY -m pytest -q -p no:cacheprovider -rs tests/gradseg/train/test_train_gpu_paths.py -k "cuda or sync" 2>&1 | tail -15 | tee -a $OUT/log.txt
timeout 60 $PY -m pytest -q -p no:cacheprovider -rs tests/gradseg/methods/fgi/test_fgi_darm.py -k cuda 2>&1 | tail -3 | tee -a $OUT/log.txt
for m in gradtrack fgi gazesup full; do
  bc=64; [ $m = fgi ] && bc=32
  log "bench $m"
  timeout 120 $PY -m gradseg.cli bench --cache $OUT/c224.zarr --method $m --base-channels $bc --steps 50 --warmup 10 --workers 6 --json > $OUT/bench_$m.json 2>> $OUT/log.txt
  cat $OUT/bench_$m.json | tee -a $OUT/log.txt
done
log "bench gradtrack, 1 worker"
timeout 90 $PY -m gradseg.cli bench --cache $OUT/c224.zarr --steps 50 --warmup 10 --workers 1 --json > $OUT/bench_w1.json 2>> $OUT/log.txt; cat $OUT/bench_w1.json | tee -a $OUT/log.txt
if [ $(el) -lt 330 ]; then
  log "paper.py 400 iterations, jobs auto"
  timeout 200 $PY pipelines/paper.py --cache $OUT/c224.zarr --test-images $OUT/test/images --test-masks $OUT/test/masks --iterations 400 --seeds 0 --eval-every 200 --jobs auto --out $OUT/paper 2>&1 | tail -14 | tee -a $OUT/log.txt
  cp $OUT/paper/paper.json $OUT/ 2>/dev/null
fi
if [ $(el) -lt 470 ]; then
  log "bench gradtrack --compile"
  timeout $(( 570 - $(el) )) $PY -m gradseg.cli bench --cache $OUT/c224.zarr --steps 50 --warmup 10 --workers 6 --compile --json > $OUT/bench_compile.json 2>> $OUT/log.txt; cat $OUT/bench_compile.json | tee -a $OUT/log.txt
fi
log "done"

#!/usr/bin/env bash
# Every method on the real-data benchmarks beside the project (UTD-MHAD and NW-UCLA, three splits
# each, ZSL and GZSL), all on the same encoder per split: SA-DVAE's preset run trains the split's
# encoders and extracts features (stages 1-2), every other method trains on those features
# (zsar train --preset P --method M --features RUN/features). Finished runs are kept, so the script
# can be stopped and run again. Then the Markdown table of docs/results.md.
#   usage: bash scripts/compare_methods.sh [RUNS_DIR]   (default runs/compare; about 45 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/compare}"
zsar=".venv/bin/zsar"
methods="${METHODS:-sa_dvae_fd naive_alignment cada_vae fs_vae pgfa scale contrastive}"
for preset in utd_mhad_split1 utd_mhad_split2 utd_mhad_split3 nw_ucla_split1 nw_ucla_split2 nw_ucla_split3; do
  base="$out/$preset/sa_dvae"
  [ -f "$base/results.json" ] || "$zsar" train --preset "$preset" --method sa_dvae --out "$base" --resume
  for method in $methods; do
    run="$out/$preset/$method"
    [ -f "$run/results.json" ] || "$zsar" train --preset "$preset" --method "$method" \
        --features "$base/features" --out "$run" --resume
  done
done
"$zsar" evaluate "$out" --group-by split --markdown

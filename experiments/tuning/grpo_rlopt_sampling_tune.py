"""Step 1 of experiments/tuning/grpo_rlopt_sampling.json: GRPO quick preset with rlopt sampling on the data of
runs/tuning-compare (made by ``python -m experiments.tuning.compare``). Run from the repository root."""
import json
import time

from rlopt.tuning.api import tune_generator

out = "runs/tuning-compare"
t = time.time()
r = tune_generator("grpo", logs=f"{out}/train_items.parquet", catalog=f"{out}/sim/catalog.parquet",
                   out=f"{out}/tuned-grpo-rlopt-sampling", reward_model=f"{out}/reward_model", preset="quick",
                   generator="default", seed=0)
print(json.dumps({"wall": time.time() - t, "steps": r["steps"], "sampled": r["data"].get("rlopt_sampled_batches")}))

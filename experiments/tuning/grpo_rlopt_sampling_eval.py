"""Step 2 of experiments/tuning/grpo_rlopt_sampling.json: held-out copies of the step-1 generator, evaluated
next to runs/tuning-compare's base and GRPO copies (prints the JSON the results file was written from)."""
import json
from pathlib import Path

from experiments.tuning.compare import Args, eval_contexts, split_items
from reward_models import RewardModel
from rlopt.data import read_catalog, read_placements, read_table
from rlopt.generation.inputs import find_segments
from rlopt.generation.models import resolve_generator
from rlopt.generation.sample import generate_copies
from rlopt.market import Marketplace
from rlopt.market.oracle import Oracle
from rlopt.tuning.evaluate import evaluate_copies, paired_ratio

out = Path("runs/tuning-compare")
args = Args(out=str(out))
sim = out / "sim"
catalog = read_catalog(sim / "catalog.parquet")
placements = read_placements(sim / "placements.json")
market = Marketplace.from_toml(sim / "market.toml")
held = split_items(catalog, args.holdout_items, args.seed)
ctx = eval_contexts(catalog, find_segments(sim / "catalog.parquet"), placements, held, args.eval_contexts, args.seed)
oracle = Oracle.from_dir(sim)
rm = RewardModel.from_pretrained(out / "reward_model")
model, tok = resolve_generator(str(out / "tuned-grpo-rlopt-sampling"))
fast = generate_copies(model, tok, ctx, catalog, placements, market.segments, num=args.num, seed=args.seed,
                       generator_name="grpo-rlopt-sampling")
frames, res = {}, {}
for name, copies in (("base", read_table(out / "copies-base.jsonl")), ("grpo", read_table(out / "copies-grpo.jsonl")),
                     ("grpo-rlopt-sampling", fast)):
    ev = evaluate_copies(copies, oracle, rm, catalog, placements)
    frames[name] = ev.pop("frame")
    res[name] = {k: ev[k] for k in ("ctr", "purchase_rate", "proxy_reward", "misleading_rate_raw", "repetitive_rate", "mean_chars")}
for name in ("grpo", "grpo-rlopt-sampling"):
    res[name]["ratio_vs_base"] = {c: paired_ratio(frames["base"], frames[name], c, seed=0) for c in ("p_click", "p_purchase", "proxy_reward")}
print(json.dumps(res, indent=1))

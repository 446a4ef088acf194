"""GRPO / RLOO trainers that sample their completions with rlopt's decoder.

TRL's trainers sample with ``transformers.generate``, which encodes a prompt once per completion
and keeps finished rows in every forward pass. :func:`rlopt.generation.decode.sample_tokens`
encodes each prompt once for its group of ``num_generations`` completions (the cache repeated) and
drops finished rows, with the same temperature / top-k / top-p filtering and the same stop ids, so
the completions follow the same distribution. TRL still computes the log-probabilities of what
was sampled with its own forward pass, so the loss is untouched.

The override applies only where it is exact: one process, no vLLM / paged generation, text-only
prompts, no ``min_p``, ``repetition_penalty`` or extra ``generation_kwargs``; anywhere else TRL's own
sampling runs (a GPU cluster under ``accelerate launch`` with DeepSpeed, say).
"""

from __future__ import annotations

from typing import Any

from rlopt.generation.decode import sample_tokens


def rlopt_sampling_applies(trainer) -> bool:
    """Whether ``trainer``'s configuration is one :func:`sample_completions` reproduces exactly."""
    args = trainer.args
    return (not getattr(trainer, "use_vllm", False) and not getattr(args, "use_transformers_paged", False)
            and trainer.accelerator.num_processes == 1 and not getattr(trainer, "_is_vlm", False)
            and getattr(trainer, "min_p", None) is None and float(trainer.repetition_penalty) == 1.0
            and not getattr(args, "generation_kwargs", None))


def group_runs(prompt_ids: list[list[int]]) -> tuple[list[list[int]], int]:
    """``(distinct prompts, K)`` when the list is each prompt repeated K times in a row, else ``(prompt_ids, 1)``.

    >>> group_runs([[1, 2], [1, 2], [3], [3]])
    ([[1, 2], [3]], 2)
    >>> group_runs([[1], [1], [2]])
    ([[1], [1], [2]], 1)
    """
    runs: list[list[int]] = []
    counts: list[int] = []
    for ids in prompt_ids:
        if runs and list(ids) == runs[-1]:
            counts[-1] += 1
        else:
            runs.append(list(ids))
            counts.append(1)
    if counts and len(set(counts)) == 1:
        return runs, counts[0]
    return [list(ids) for ids in prompt_ids], 1


def sample_completions(trainer, prompt_ids: list[list[int]]) -> list[list[int]]:
    """Completion token ids, one list per prompt row, each ending at its first stop id (kept) if any."""
    import torch

    model = trainer.accelerator.unwrap_model(trainer.model)
    model = model.get_base_model() if hasattr(model, "get_base_model") else model  # LoRA layers stay in it
    prompts, num = group_runs(prompt_ids)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return sample_tokens(model, prompts, trainer._tokenizer.pad_token_id, num=num,
                                 max_new_tokens=trainer.max_completion_length,
                                 temperature=trainer.temperature, top_k=int(trainer.top_k or 0),
                                 top_p=float(trainer.top_p if trainer.top_p is not None else 1.0),
                                 stop_ids=list(trainer.eos_token_ids))
    finally:
        model.train(was_training)


def with_rlopt_sampling(trainer_cls: type) -> type:
    """A subclass of TRL's ``GRPOTrainer`` or ``RLOOTrainer`` whose plain-text sampling uses rlopt's decoder.

    GRPO's ``_generate_single_turn`` returns ``(completion_ids, logprobs)``, RLOO's the ids alone;
    both take ``(prompt_ids, images, multimodal_fields, ...)``.
    """
    returns_pair = trainer_cls.__name__.startswith("GRPO")

    def _generate_single_turn(self, prompt_ids, images, multimodal_fields, *args: Any, **kwargs: Any):
        if images or multimodal_fields or not rlopt_sampling_applies(self):
            return super(cls, self)._generate_single_turn(prompt_ids, images, multimodal_fields, *args, **kwargs)
        self.rlopt_sampled_batches = getattr(self, "rlopt_sampled_batches", 0) + 1
        completions = sample_completions(self, prompt_ids)
        return (completions, None) if returns_pair else completions

    cls = type(f"Rlopt{trainer_cls.__name__}", (trainer_cls,), {"_generate_single_turn": _generate_single_turn,
                                                                "__module__": __name__})
    return cls

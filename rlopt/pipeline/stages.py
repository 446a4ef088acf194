"""The pipeline's stages and what each depends on.

::

    data -> validate -> reward ----------.
                   \\-> tuning -> generation -> ab -.
                   \\-> ope --------------------------> report
    bandit ------------------------------------------/

Each stage's fingerprint covers only the config keys it reads (listed below), so changing
``[bandit] steps`` reruns ``bandit`` and ``report`` and nothing else; changing ``[reward]``
reruns ``reward`` and, for GRPO/RLOO (whose reward is the reward model), ``tuning`` and all
that follows (and for DPO with ``reward_pairs``, which ranks samples with it).
"""

from __future__ import annotations

from rlopt.pipeline.config import ExperimentConfig
from rlopt.pipeline.report_stage import stage_report
from rlopt.pipeline.runner import Stage
from rlopt.pipeline.stages_data import data_inputs, stage_data, stage_reward, stage_validate
from rlopt.pipeline.stages_eval import bandit_inputs, stage_ab, stage_bandit, stage_ope
from rlopt.pipeline.stages_model import stage_generation, stage_tuning

STAGE_NAMES = ("data", "validate", "reward", "tuning", "generation", "ab", "bandit", "ope", "report")


def build_stages(config: ExperimentConfig) -> list[Stage]:
    """The stage list for ``config`` (tuning's dependencies depend on the method)."""
    online = config.tuning.needs_reward_model
    return [
        Stage("data", stage_data, inputs=data_inputs,
              sections=("data.market", "data.impressions", "data.logs", "data.catalog", "data.placements",
                        "data.contexts")),
        Stage("validate", stage_validate, sections=("data.on_error", "data.holdout_fraction"), deps=("data",)),
        Stage("reward", stage_reward, sections=("reward",), deps=("validate",)),
        Stage("tuning", stage_tuning, sections=("tuning",), resumable=True,
              deps=("data", "validate", "reward") if online else ("data", "validate")),
        Stage("generation", stage_generation, sections=("generation", "tuning.generator"),
              deps=("data", "validate", "tuning"), optional_deps=("reward",)),
        Stage("ab", stage_ab, sections=("ab.impressions", "ab.alpha"), deps=("data", "generation")),
        # with [data] logs the bandits are replayed over the validated logs (never the packaged market)
        Stage("bandit", stage_bandit, sections=("bandit", "data.market", "data.logs"), inputs=bandit_inputs,
              optional_deps=("validate",) if config.data.logs else ()),
        Stage("ope", stage_ope, sections=("ope",), deps=("data", "validate"), optional_deps=("reward",)),
        Stage("report", stage_report, sections=("report", "ab", "run.name"),
              optional_deps=("data", "validate", "reward", "tuning", "generation", "ab", "bandit", "ope")),
    ]

"""Gymnasium environments for copy placement; importing this package registers them.

* ``rlopt/PlacementBandit-v0`` — pick one copy variant per shopper (contextual bandit);
  vectorized via ``gym.make_vec(..., vectorization_mode="vector_entry_point")``.
* ``rlopt/PlacementSlate-v0`` — assign copy variants to the slots of a placement (position bias).

Replay over logged data lives in :mod:`envs.replay` (not registered: it needs the log arrays).
"""

from gymnasium.envs.registration import register, registry

_ENVS = {
    "rlopt/PlacementBandit-v0": dict(
        entry_point="envs.placement_bandit:PlacementBandit",
        vector_entry_point="envs.vector:PlacementBanditVector",
        max_episode_steps=1000,
    ),
    "rlopt/PlacementSlate-v0": dict(entry_point="envs.slate:PlacementSlate", max_episode_steps=1000),
}

for _id, _kwargs in _ENVS.items():
    if _id not in registry:
        register(id=_id, **_kwargs)

ENV_IDS = tuple(_ENVS)

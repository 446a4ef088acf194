"""``RewardModel``: encoder + heads + feature space + calibration, saved as safetensors + JSON.

A checkpoint directory holds exactly two files:

- ``model.safetensors``: the heads and slot bias (``net.*``), after LoRA (merged) or full
  fine-tuning the encoder weights (``encoder.*``), and the hashed n-gram baseline's non-zero
  coefficients (``baseline.*``);
- ``reward_config.json``: the encoder spec and precision, training mode, feature vocabularies and
  scalers, calibration parameters, the baseline's hashing settings and vocabularies, which model
  scores (``combiner``: encoder, baseline or blend, see :mod:`reward_models.stacking`), revenue
  scale, default reward weights, metrics, the health check and seed.

No pickle anywhere. The frozen default stores only the heads (~1 MB); the encoder is rebuilt from
its spec (``default`` = the packaged MiniLM).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from scipy.special import expit

from reward_models.baseline import HashedNgramBaseline
from reward_models.calibration import Calibrator, click_prob
from reward_models.encoder import TextEncoder
from reward_models.exposure import WINDOW, exposure_of
from reward_models.features import FeatureSpace, item_text, surface_features
from reward_models.inputs import check_columns, check_copy_text, join_items
from reward_models.net import RewardNet
from reward_models.stacking import Combiner
from reward_models.weights import RewardWeights
from rlopt.errors import InputError
from rlopt.io_utils import atomic_path, write_json_atomic
from rlopt.model_dirs import explains_load_errors

CONFIG_NAME = "reward_config.json"
WEIGHTS_NAME = "model.safetensors"
FORMAT_VERSION = 1  # unchanged by exposure inputs: a config without n_surface > 8 / exposure_window loads as before
EXPOSURE_CAP = 3  # exposure counts reach the network as min(count, 3) / 3


@dataclass
class Prepared:
    """A frame turned into model inputs: per-row indices into distinct copy / item texts."""

    joined: pd.DataFrame
    copy_texts: list[str]
    copy_index: np.ndarray  # (n,) into copy_texts
    item_texts: list[str]
    item_index: np.ndarray  # (n,) into item_texts
    ctx: Any  # features.ContextFeatures
    surface: np.ndarray  # (n, n_surface): 8 surface statistics (+ 2 exposure counts, min(count, 3) / 3)


def _codes(values: pd.Series) -> tuple[list[str], np.ndarray]:
    codes, uniques = pd.factorize(values.astype(str), sort=False)
    return list(uniques), codes.astype(np.int64)


class RewardModel:
    """Click / purchase reward model over marketing copy in context.

    Use :func:`reward_models.train.train_reward_model` to build one and
    :meth:`from_pretrained` to load one. :meth:`score` returns ``p_click, p_purchase,
    expected_revenue, reward`` per row, without slot bias.
    """

    def __init__(self, net: RewardNet, encoder: TextEncoder, features: FeatureSpace, calibrator: Calibrator,
                 config: dict[str, Any], baseline: HashedNgramBaseline | None = None,
                 combiner: Combiner | None = None):
        self.net = net
        self.encoder = encoder
        self.features = features
        self.calibrator = calibrator
        self.config = config
        self.baseline = baseline
        self.combiner = combiner or Combiner("encoder")
        self.net.eval()

    @property
    def weights(self) -> RewardWeights:
        return RewardWeights(**self.config.get("weights", {}))

    # ---------------------------------------------------------------- inputs
    def prepare(self, frame: pd.DataFrame, catalog: pd.DataFrame, source: str | None = None) -> Prepared:
        """Validate and featurize a frame with ``copy_text, item_id, placement`` (+ segment...)."""
        check_columns(frame, ("copy_text", "item_id", "placement"), source, "the frame")
        check_copy_text(frame, source)
        joined = join_items(frame, catalog, source)
        copy_texts, copy_index = _codes(joined["copy_text"])
        items = [item_text(r) for r in joined[["title", "attributes"]].to_dict("records")]
        item_texts, item_index = _codes(pd.Series(items))
        surface = surface_features(joined["copy_text"], joined["title"], joined["brand"], joined["category"])
        if int(self.config.get("n_surface", 8)) > surface.shape[1]:  # saved with exposure inputs
            seen = exposure_of(joined, int(self.config.get("exposure_window") or WINDOW))
            surface = np.hstack([surface, np.minimum(seen, EXPOSURE_CAP) / EXPOSURE_CAP]).astype(np.float32)
        return Prepared(joined, copy_texts, copy_index, item_texts, item_index,
                        self.features.transform(joined), surface)

    def tensors(self, prep: Prepared, rows: np.ndarray, copy_emb: torch.Tensor | None,
                item_emb: torch.Tensor | None) -> dict[str, torch.Tensor | None]:
        """Network inputs for ``rows``; ``copy_emb`` / ``item_emb`` are tables over ALL distinct texts.

        Only the texts used by ``rows`` are passed on (with per-row indices into them). A table
        of None leaves the embeddings to the caller (``copy_rows`` / ``item_rows`` say which).
        """
        ctx = prep.ctx
        idx = torch.as_tensor(rows)
        copy_u, copy_inv = np.unique(prep.copy_index[rows], return_inverse=True)
        item_u, item_inv = np.unique(prep.item_index[rows], return_inverse=True)
        use_item = self.net.use_item_text
        return dict(
            copy_emb=None if copy_emb is None else copy_emb[torch.as_tensor(copy_u)],
            copy_idx=torch.as_tensor(copy_inv.reshape(-1)),
            item_emb=None if (item_emb is None or not use_item) else item_emb[torch.as_tensor(item_u)],
            item_idx=torch.as_tensor(item_inv.reshape(-1)) if use_item else None,
            segment=torch.as_tensor(ctx.segment)[idx],
            placement=torch.as_tensor(ctx.placement)[idx],
            category=torch.as_tensor(ctx.category)[idx],
            numeric=torch.as_tensor(ctx.numeric)[idx],
            surface=torch.as_tensor(prep.surface)[idx],
        ), copy_u, item_u

    def raw_outputs(self, prep: Prepared, batch_size: int = 8192) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uncalibrated ``(z_click, z_cvr, slot_log_ratio)``, each (n,), with no gradients."""
        copy_emb = torch.from_numpy(self.encoder.encode(prep.copy_texts))
        item_emb = torch.from_numpy(self.encoder.encode(prep.item_texts)) if self.net.use_item_text else None
        n = len(prep.joined)
        zc, zv = np.empty(n, np.float64), np.empty(n, np.float64)
        self.net.eval()
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                rows = np.arange(start, min(start + batch_size, n))
                a, b = self.net(**self.tensors(prep, rows, copy_emb, item_emb)[0])
                zc[rows], zv[rows] = a.double().numpy(), b.double().numpy()
            slot_b = self.net.slot_log_ratio(torch.as_tensor(prep.ctx.slot)).double().numpy()
        return zc, zv, slot_b

    # ---------------------------------------------------------------- predictions
    def predict(self, frame: pd.DataFrame, catalog: pd.DataFrame, *, with_slot: bool = False,
                source: str | None = None, component: str | None = None) -> tuple[np.ndarray, np.ndarray, Prepared]:
        """Calibrated ``(p_click, p_purchase_given_click, prepared)``.

        ``with_slot=True`` includes the slot term of each row's ``(placement, position)``: use it
        for evaluation on logged rows, which happened in a slot. Scoring uses ``False``.
        ``component`` picks ``encoder``, ``baseline`` or ``blend``; by default the one training
        chose (``self.combiner.choice``), so scoring and the TRL reward use it too.
        """
        component = component or self.combiner.choice
        if component != "encoder" and self.baseline is None:
            raise InputError(f"this reward model has no baseline, so it cannot score with {component!r}",
                             rule="a model trained before the baseline existed scores with its encoder")
        prep = self.prepare(frame, catalog, source)
        if component == "baseline":
            p_click, p_purchase = self.baseline.predict(prep.joined, catalog, with_slot=with_slot)
            return p_click, _cvr(p_click, p_purchase), prep
        zc, zv, slot_b = self.raw_outputs(prep)
        slot_b = slot_b if with_slot else 0.0
        if component == "encoder":
            p_click, p_cvr = self.calibrator.transform(zc, slot_b, zv)
            return p_click, p_cvr, prep
        combiner = self.combiner
        if combiner.choice != "blend":
            if not self.config.get("combiner_blend"):
                raise InputError("this reward model has no fitted blend (too few clicks or purchases on its "
                                 "calibration slice)", rule="component blend needs a fitted blend")
            combiner = Combiner.from_dict(self.config["combiner_blend"])
        raw_click = click_prob(zc, np.broadcast_to(slot_b, zc.shape))
        p_click, p_purchase = combiner.blend((raw_click, raw_click * expit(zv)),
                                             self.baseline.predict(prep.joined, catalog, with_slot=with_slot))
        return p_click, _cvr(p_click, p_purchase), prep

    def score(self, frame: pd.DataFrame, catalog: pd.DataFrame, weights: RewardWeights | None = None,
              source: str | None = None) -> pd.DataFrame:
        """Score copy in context, without slot bias (``position`` is ignored if present).

        Parameters
        ----------
        frame : DataFrame, n rows
            ``copy_text, item_id, placement`` and optionally ``segment, user_features``.
        catalog : DataFrame
            The contract catalog (``item_id, title, category, brand, price, discount_pct``).
        weights : RewardWeights, optional
            Defaults to the weights saved with the model.

        Returns
        -------
        DataFrame, n rows, same index as ``frame``
            ``p_click`` = P(click | first slot of the placement), ``p_purchase`` = p_click *
            P(purchase | click) (so ``p_purchase <= p_click``), ``expected_revenue`` = p_purchase
            * price * (1 - discount_pct/100) * revenue_factor, and
            ``reward = w_click p_click + w_purchase p_purchase + w_revenue expected_revenue / price_scale``.
        """
        weights = weights or self.weights
        p_click, p_cvr, prep = self.predict(frame.drop(columns=["position"], errors="ignore"), catalog,
                                            source=source)
        p_purchase = p_click * p_cvr
        eff_price = prep.joined["price"].to_numpy(float) * (1 - prep.joined["discount_pct"].to_numpy(float) / 100)
        revenue = p_purchase * eff_price * float(self.config.get("revenue_factor", 1.0))
        reward = weights.combine(p_click, p_purchase, revenue, float(self.config.get("price_scale", 1.0)))
        return pd.DataFrame({"p_click": p_click, "p_purchase": p_purchase, "expected_revenue": revenue,
                             "reward": reward}, index=frame.index)

    # ---------------------------------------------------------------- persistence
    def save_pretrained(self, out_dir: str | Path) -> Path:
        """Write ``model.safetensors`` and ``reward_config.json`` (atomically) to ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        if self.config.get("mode", "frozen") != "frozen":
            enc = self.encoder.model.state_dict()
            tensors.update({f"encoder.{k}": v.detach().cpu().contiguous().clone() for k, v in enc.items()})
        baseline = None
        if self.baseline is not None:
            base_tensors, baseline = self.baseline.state()
            tensors.update({f"baseline.{k}": v for k, v in base_tensors.items()})
        with atomic_path(out / WEIGHTS_NAME) as tmp:
            save_file(tensors, str(tmp))
        config = dict(self.config, format_version=FORMAT_VERSION, features=self.features.to_dict(),
                      calibration=self.calibrator.to_dict(), baseline=baseline, combiner=self.combiner.to_dict())
        write_json_atomic(out / CONFIG_NAME, config)
        return out

    @classmethod
    @explains_load_errors("reward model", CONFIG_NAME)  # corrupt weights, missing keys, shapes: one paragraph
    def from_pretrained(cls, model_dir: str | Path, precision: str | None = None,
                        runtime: str | None = None) -> RewardModel:
        """Load a directory written by :meth:`save_pretrained`; a missing file is an InputError.

        ``precision`` overrides the saved encoder precision (``auto | fp32 | bf16``); by default the
        saved one is used, and a checkpoint saved before the option existed loads as ``fp32``.
        ``runtime`` likewise overrides the saved encoder runtime (``torch | onnx | onnx-int8``;
        ``torch`` for checkpoints saved before the option existed).
        """
        root = Path(model_dir)
        if not root.is_dir():
            raise InputError(f"the reward model directory {root} does not exist", file=str(root))
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            if not (root / name).is_file():
                raise InputError(f"the reward model directory is missing {name}", file=str(root / name),
                                 rule=f"a reward model directory holds {CONFIG_NAME} and {WEIGHTS_NAME}")
        try:
            config = json.loads((root / CONFIG_NAME).read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise InputError(f"{CONFIG_NAME} is not valid JSON: {err}", file=str(root / CONFIG_NAME)) from err
        features = FeatureSpace.from_dict(config.pop("features"))
        calibrator = Calibrator.from_dict(config.pop("calibration"))
        combiner = Combiner.from_dict(config.pop("combiner", None) or {"choice": "encoder"})
        base_config = config.pop("baseline", None)
        state = load_file(str(root / WEIGHTS_NAME))
        baseline = None
        if base_config is not None:
            baseline = HashedNgramBaseline.from_state(
                {k[len("baseline."):]: v for k, v in state.items() if k.startswith("baseline.")}, base_config)
        if precision is not None:
            config["precision"] = precision
        if runtime is not None:
            config["runtime"] = runtime
        encoder = TextEncoder(config["encoder"], max_length=config.get("max_length", 64),
                              precision=config.setdefault("precision", "fp32"),
                              runtime=config.setdefault("runtime", "torch"))
        enc_state = {k[len("encoder."):]: v for k, v in state.items() if k.startswith("encoder.")}
        if enc_state:
            encoder.model.load_state_dict(enc_state, strict=True)
        net = build_net(config, features, encoder.dim)
        net.load_state_dict({k[len("net."):]: v for k, v in state.items() if k.startswith("net.")}, strict=True)
        return cls(net, encoder, features, calibrator, config, baseline, combiner)


def _cvr(p_click: np.ndarray, p_purchase: np.ndarray) -> np.ndarray:
    """``P(purchase | click) = p_purchase / p_click``, kept in [0, 1]."""
    return np.clip(p_purchase / np.maximum(p_click, 1e-12), 0.0, 1.0)


def build_net(config: dict[str, Any], features: FeatureSpace, text_dim: int) -> RewardNet:
    """The network described by a config and fitted feature space."""
    return RewardNet(
        text_dim, len(features.segments), len(features.placements), len(features.categories),
        len(features.slots), features.n_numeric, int(config.get("n_surface", 8)),
        use_item_text=bool(config.get("use_item_text", True)), hidden=int(config.get("hidden", 256)),
        emb_dim=int(config.get("emb_dim", 16)), dropout=float(config.get("dropout", 0.1)),
    )

"""Training: ESMM loss over all impressions, optional clipped IPW, early stopping, calibration.

For a logged impression with slot log-ratio ``b``, click ``c`` and conversion ``v``:

    p_click = sigmoid(z_click) * exp(b),    p_ctcvr = p_click * sigmoid(z_cvr)
    loss    = w * [ BCE(c, p_click) + BCE(v, p_ctcvr) ]

so P(purchase | click) is learned over the whole impression space, not only over clicks (Ma et
al., "Entire Space Multi-Task Model", SIGIR 2018). With ``ipw_clip`` set and a ``propensity``
column, ``w = 1 / max(propensity, ipw_clip)`` normalized to mean 1; otherwise ``w = 1``.

Modes: ``frozen`` (default) encodes each distinct text once and trains only the heads on the cached
embeddings -- minutes on a CPU for 200k impressions; ``lora`` trains LoRA adapters on the encoder
(peft; merged into the encoder when saved); ``full`` fine-tunes every encoder weight.

The training logs are split by time into three disjoint parts:

    | fit (heads / encoder) | valid: early stopping on log-loss | calib: calibration |
      1 - v - c               valid_fraction v                    calibration_fraction c

Calibration gets its own latest slice so that it is not fitted on the rows that also chose the
epoch, and sits closest in time to the data the model will score. ``calibration="auto"`` (the
default) picks none / temperature / Platt / isotonic by cross-validated log-loss on that slice
(:func:`reward_models.calibration.select_calibrator`). A separate ``holdout`` frame, if given, is
only evaluated.

Beside the encoder model, the hashed n-gram baseline (:mod:`reward_models.baseline`) is fitted on
the fit and validation slices; on the calibration slice :func:`reward_models.stacking.select_combiner`
chooses which one scores (encoder, baseline or a logistic blend of both) by cross-validated
log-loss with the one-standard-error rule (``selection_se``: a more complex scorer must win by more
than the slice's noise), so the saved model is never worse there than the baseline. Both models are
recalibrated out of fold on that slice before they compete (the encoder by ``calibration``, the
baseline by per-head Platt scaling, saved with it). On small logs the calibration
slice grows to ``min_selection_rows`` rows (at most a quarter of the logs) so that the choice rests
on enough clicks. :func:`reward_models.health.model_health` then checks the result (``health`` in
the saved config).

With ``exposure_window`` > 0 and logs that carry ``user_id`` and ``timestamp``, both models also read
each impression's exposure counts (:mod:`reward_models.exposure`: how often the shopper saw the same
copy / template in their previous impressions), counted once over the whole log in time order before
the split (a ``holdout`` is counted with the training logs as its history). Scores of new copy use
counts of 0, a fresh shopper.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.special import expit
from tqdm.auto import tqdm

from reward_models.baseline import HashedNgramBaseline
from reward_models.calibration import AUTO_CANDIDATES, CHOICES, Calibrator, click_prob, select_calibrator
from reward_models.encoder import TextEncoder, resolve_precision
from reward_models.evaluate import evaluate_reward_model, prediction_metrics
from reward_models.exposure import add_exposure
from reward_models.features import FeatureSpace
from reward_models.health import model_health
from reward_models.inputs import check_trainable, join_items
from reward_models.model import Prepared, RewardModel, build_net
from reward_models.onnx_runtime import check_runtime
from reward_models.stacking import select_combiner
from reward_models.weights import RewardWeights
from rlopt.data.split import split_logs
from rlopt.errors import InputError
from rlopt.seeding import seed_everything

MODES = ("frozen", "lora", "full")
BASELINE_BLOCKS = ("crosses", "item", "length", "surface")
MAX_SELECTION_FRACTION = 0.25  # cap of the calibration / scorer-selection slice on small logs
LOG_EPS = math.log1p(-1e-6)


def _f(default: Any, help: str) -> Any:
    """A field with its ``help`` (the option's text in ``rlopt reward train --help`` and the ``[reward]``
    key's in the experiment docs; HfArgumentParser passes metadata to argparse, so nothing else goes there)."""
    return field(default=default, metadata={"help": help})


@dataclass
class TrainConfig:
    """Reward-model training settings (all saved in ``reward_config.json``).

    One config: every field is an option of ``rlopt reward train`` (``--max-epochs`` and
    ``--max_epochs``) and a key of an experiment's ``[reward]`` table.
    """

    encoder: str = _f("default", "Text encoder: 'default' (the packaged MiniLM), a local directory or a Hugging Face id.")
    mode: str = _f("frozen", "'frozen' trains only the heads on cached embeddings (fast on a CPU); 'lora' / 'full' also tune the encoder.")
    use_item_text: bool = _f(True, "Also encode the item's text ('title | key attribute') beside the copy.")
    max_length: int = _f(64, "Encoder token limit per text.")
    precision: str = _f("auto", "Encoder precision without gradients: auto (bf16 where the CPU/GPU does bf16 natively, else fp32) | fp32 | bf16. Saved with the model.")
    runtime: str = _f("torch", "Encoder runtime without gradients: torch | onnx (ONNX Runtime on the CPU, fp32) | onnx-int8 (dynamic int8 MatMuls); exported once per encoder and cached. Saved with the model; lora/full train with torch.")
    hidden: int = _f(256, "Width of the MLP heads.")
    emb_dim: int = _f(16, "Size of the segment / placement / category embeddings.")
    dropout: float = _f(0.1, "Dropout in the heads.")
    lr: float = _f(2e-3, "Learning rate of the heads.")
    encoder_lr: float | None = _f(None, "Learning rate of the encoder in lora/full mode; unset: 5e-4 for lora, 3e-5 for full.")
    weight_decay: float = _f(1e-4, "AdamW weight decay.")
    batch_size: int | None = _f(None, "Training batch size; unset: 1024 for frozen, 32 for lora/full.")
    max_epochs: int = _f(30, "Most training epochs (early stopping on the validation slice's log-loss may stop sooner).")
    patience: int = _f(3, "Epochs without validation log-loss improvement before stopping.")
    valid_fraction: float = _f(0.1, "Share of the training logs (by time, before the calibration slice) used for early stopping.")
    calibration_fraction: float = _f(0.1, "Latest share of the training logs, used only to calibrate and choose the scorer.")
    ipw_clip: float | None = _f(None, "Clipped IPW: weight 1/max(propensity, CLIP), e.g. 0.05; unset: no IPW.")
    calibration: str = _f("auto", "auto (chosen by cross-validated log-loss on the calibration slice) | platt | temperature | isotonic | none.")
    calibration_folds: int = _f(5, "Folds for calibration='auto' and the scorer selection.")
    exposure_window: int = _f(8, "Exposure inputs: per impression, how often the shopper saw the same copy / template in their previous N impressions (needs user_id and timestamp; 0 when scoring fresh copy); 0 = off.")
    baseline_blocks: str = _f("crosses,item,length,surface", "Extra blocks of the hashed n-gram baseline, comma-separated: crosses (segment / placement x n-gram), item (item one-hot), length (placement x copy-length bucket), surface (copy-vs-item statistics: brand / title words named, the item's real discount stated or another one; alone and x segment); '' = words and context one-hots only. Exposure joins when exposure_window > 0.")
    selection_se: float = _f(1.0, "Scorer selection: a more complex scorer (encoder, then blend) is kept only when its cross-validated log-loss beats the simpler ones' by more than this many paired standard errors on the calibration slice; 0 = the lowest loss wins.")
    min_selection_rows: int = _f(1000, "On small logs the calibration slice grows to this many rows (at most a quarter of the logs).")
    lora_r: int = _f(8, "LoRA rank (mode lora).")
    lora_alpha: int = _f(16, "LoRA alpha (mode lora).")
    seed: int = _f(0, "Random seed (same seed and inputs -> identical weights).")
    progress: bool = _f(True, "Show a progress bar while training.")
    train_threads: int | None = _f(1, "torch threads for the head updates (small ops; 1 avoids thread thrash); unset: torch's default.")
    weights: dict[str, float] = field(default_factory=lambda: RewardWeights().to_dict(), metadata={
        "help": "Reward weights saved with the model, a table {click, purchase, revenue} (on the command line as JSON, "
                "e.g. '{\"click\": 0.2, \"purchase\": 1.0, \"revenue\": 0.0}')."})

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"training mode must be one of {', '.join(MODES)}", key="mode", value=self.mode,
                             rule="choice")
        resolve_precision(self.precision)  # InputError naming the valid values
        check_runtime(self.runtime, self.precision)  # also refuses bf16 with an ONNX runtime
        if self.calibration not in CHOICES:
            raise InputError(f"calibration must be one of {', '.join(CHOICES)}, got {self.calibration!r}",
                             key="calibration")
        for name in ("valid_fraction", "calibration_fraction"):
            if not 0.0 < getattr(self, name) < 0.5:
                raise InputError(f"{name} must be in (0, 0.5), got {getattr(self, name)}", key=name)
        if self.valid_fraction + self.calibration_fraction >= 0.5:
            raise InputError("valid_fraction + calibration_fraction must be < 0.5, got "
                             f"{self.valid_fraction + self.calibration_fraction}", key="calibration_fraction")
        unknown = sorted(set(baseline_blocks(self.baseline_blocks)) - set(BASELINE_BLOCKS))
        if unknown:
            raise InputError(f"baseline_blocks: unknown block(s) {', '.join(unknown)}; valid: {', '.join(BASELINE_BLOCKS)}",
                             key="baseline_blocks", value=self.baseline_blocks, rule="choice")
        if not self.selection_se >= 0:
            raise InputError(f"selection_se must be >= 0, got {self.selection_se}", key="selection_se")
        if self.exposure_window < 0:
            raise InputError(f"exposure_window must be >= 0, got {self.exposure_window}", key="exposure_window")
        if self.min_selection_rows < 0:
            raise InputError(f"min_selection_rows must be >= 0, got {self.min_selection_rows}",
                             key="min_selection_rows")
        for name, low in (("max_epochs", 1), ("patience", 0), ("batch_size", 1), ("max_length", 1), ("hidden", 1),
                          ("emb_dim", 1), ("calibration_folds", 2), ("lora_r", 1), ("train_threads", 1)):
            if getattr(self, name) is not None and getattr(self, name) < low:
                raise InputError(f"{name} must be >= {low}", key=name, value=getattr(self, name), rule="range")
        if not self.lr > 0:
            raise InputError("lr must be > 0", key="lr", value=self.lr, rule="range")
        if self.encoder_lr is not None and not self.encoder_lr >= 0:  # 0.0 is what frozen mode stores
            raise InputError("encoder_lr must be >= 0", key="encoder_lr", value=self.encoder_lr, rule="range")
        if self.ipw_clip is not None and not 0.0 < self.ipw_clip <= 1.0:
            raise InputError(f"ipw_clip must be in (0, 1], got {self.ipw_clip}", key="ipw_clip")
        if self.batch_size is None:
            self.batch_size = 1024 if self.mode == "frozen" else 32
        if self.encoder_lr is None:
            self.encoder_lr = {"frozen": 0.0, "lora": 5e-4, "full": 3e-5}[self.mode]
        RewardWeights(**self.weights)


def baseline_blocks(spec: str) -> list[str]:
    """``"crosses, item"`` -> ``["crosses", "item"]`` (empty names dropped)."""
    return [b.strip() for b in str(spec).split(",") if b.strip()]


def time_split(logs: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The earlier rows by ``timestamp`` and the latest ``fraction``, each in time order (row order if
    there is no timestamp).

    The cut is :func:`rlopt.data.split.split_logs`'s: rows that share the boundary timestamp all go to
    one side, so the later slice never holds a row as old as one the earlier slice trains on.

    >>> early, late = time_split(pd.DataFrame({"timestamp": [4, 1, 2, 2, 3]}), 0.5)
    >>> early["timestamp"].tolist(), late["timestamp"].tolist()
    ([1, 2, 2], [3, 4])
    """
    if "timestamp" not in logs:
        cut = int(round(len(logs) * (1 - fraction)))
        return logs.iloc[:cut], logs.iloc[cut:]
    ts = logs["timestamp"]
    key = (ts if pd.api.types.is_numeric_dtype(ts) else pd.to_datetime(ts, utc=True).astype("int64")).to_numpy()
    order = np.argsort(key, kind="stable")
    early, late = split_logs(pd.DataFrame({"timestamp": key[order]}), fraction)  # index = position in order
    return logs.iloc[order[early.index]], logs.iloc[order[late.index]]


def selection_fraction(n: int, calibration_fraction: float, min_rows: int) -> float:
    """The calibration slice's share: ``calibration_fraction``, raised on small logs so that the
    slice has ``min_rows`` rows, at most ``MAX_SELECTION_FRACTION`` of the logs.

    >>> selection_fraction(100_000, 0.1, 1000), selection_fraction(3000, 0.1, 1000)
    (0.1, 0.25)
    """
    return max(calibration_fraction, min(MAX_SELECTION_FRACTION, min_rows / max(n, 1)))


def split_training_logs(logs: pd.DataFrame, valid_fraction: float,
                        calibration_fraction: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(fit, valid, calib)``: disjoint slices of ``logs`` in time order (see the module docstring).

    >>> logs = pd.DataFrame({"timestamp": range(100, 0, -1)})
    >>> [len(part) for part in split_training_logs(logs, 0.1, 0.2)]
    [70, 10, 20]
    >>> int(split_training_logs(logs, 0.1, 0.2)[2]["timestamp"].min())   # the latest rows calibrate
    81
    """
    held_fraction = valid_fraction + calibration_fraction
    fit, held = time_split(logs, held_fraction)
    valid, calib = time_split(held, calibration_fraction / held_fraction)
    return fit, valid, calib


def esmm_loss(zc: torch.Tensor, zv: torch.Tensor, slot_b: torch.Tensor, clicked: torch.Tensor,
              converted: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``w * [BCE(c, p_click) + BCE(v, p_click * p_cvr)]`` computed in log space."""
    log_pc = torch.clamp(torch.nn.functional.logsigmoid(zc) + slot_b, max=LOG_EPS)
    log_pv = torch.clamp(log_pc + torch.nn.functional.logsigmoid(zv), max=LOG_EPS)
    loss_c = -(clicked * log_pc + (1 - clicked) * torch.log1p(-torch.exp(log_pc)))
    loss_v = -(converted * log_pv + (1 - converted) * torch.log1p(-torch.exp(log_pv)))
    loss = loss_c + loss_v
    return (loss * weight).mean() if weight is not None else loss.mean()


def _ipw_weights(logs: pd.DataFrame, clip: float | None) -> np.ndarray | None:
    if clip is None:
        return None
    if "propensity" not in logs:
        raise InputError("ipw_clip is set but the logs have no 'propensity' column", column="propensity")
    w = 1.0 / np.maximum(logs["propensity"].to_numpy(dtype=np.float64), clip)
    return (w / w.mean()).astype(np.float32)


def _attach_lora(encoder: TextEncoder, cfg: TrainConfig) -> None:
    from peft import LoraConfig, get_peft_model

    names = {name.rsplit(".", 1)[-1] for name, _ in encoder.model.named_modules()}
    targets = ["query", "value"] if {"query", "value"} <= names else "all-linear"
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=0.0, target_modules=targets)
    encoder.model = get_peft_model(encoder.model, lora)


class _Embedder:
    """Text embeddings for a batch: cached table (frozen) or a fresh forward (lora/full)."""

    def __init__(self, model: RewardModel, trainable: bool):
        self.model = model
        self.trainable = trainable
        self.tables: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}

    def frozen_tables(self, prep: Prepared) -> tuple[torch.Tensor, torch.Tensor | None]:
        key = id(prep)
        if key not in self.tables:
            enc = self.model.encoder
            items = torch.from_numpy(enc.encode(prep.item_texts)) if self.model.net.use_item_text else None
            self.tables[key] = (torch.from_numpy(enc.encode(prep.copy_texts)), items)
        return self.tables[key]

    def inputs(self, prep: Prepared, rows: np.ndarray) -> dict[str, Any]:
        if not self.trainable:
            return self.model.tensors(prep, rows, *self.frozen_tables(prep))[0]
        enc = self.model.encoder
        inputs, copy_u, item_u = self.model.tensors(prep, rows, None, None)
        inputs["copy_emb"] = enc.forward([prep.copy_texts[i] for i in copy_u])
        if self.model.net.use_item_text:
            inputs["item_emb"] = enc.forward([prep.item_texts[i] for i in item_u])
        return inputs


def train_reward_model(logs: pd.DataFrame, catalog: pd.DataFrame, *, holdout: pd.DataFrame | None = None,
                       config: TrainConfig | None = None, source: str | None = None,
                       **overrides: Any) -> RewardModel:
    """Train a reward model on validated impression logs (``rlopt.data.read_logs`` output).

    Parameters
    ----------
    logs : DataFrame
        Impression log in the data contract's columns.
    catalog : DataFrame
        Contract catalog covering every ``item_id`` in ``logs`` (and ``holdout``).
    holdout : DataFrame, optional
        Evaluated after training (metrics stored under ``metrics.holdout``); never trained on.
    config : TrainConfig, optional
        Settings; keyword ``overrides`` replace its fields (e.g. ``mode="lora", seed=1``).
    source : str, optional
        File name used in error messages.

    Returns
    -------
    RewardModel
        Calibrated on the calibration slice; ``model.config["metrics"]`` holds validation,
        calibration (and holdout) metrics and, with ``calibration="auto"``, the cross-validated
        losses of each candidate. Same seed and inputs -> identical weights.
    """
    cfg = TrainConfig(**{**(asdict(config) if config else {}), **overrides})
    check_trainable(logs, source)
    seed_everything(cfg.seed)
    logs = logs.reset_index(drop=True)
    # Exposure counts need each shopper's history: counted once over the whole log in time order (each row
    # sees only earlier rows), before the split, so the later slices keep the past the fit slice holds.
    window = cfg.exposure_window if {"user_id", "timestamp"} <= set(logs.columns) else 0
    if window:
        logs = add_exposure(logs, catalog, window=window)
        if holdout is not None:  # the holdout's first impressions per shopper get their training history
            holdout = add_exposure(holdout.reset_index(drop=True), catalog, history=logs, window=window)
    calib_fraction = selection_fraction(len(logs), cfg.calibration_fraction, cfg.min_selection_rows)
    fit_logs, valid_logs, calib_logs = split_training_logs(logs, cfg.valid_fraction, calib_fraction)
    check_trainable(fit_logs, f"{source or 'logs'} (training part, before the validation and calibration slices)")
    joined_fit = join_items(fit_logs, catalog, source)

    # Frozen mode embeds with the configured runtime (the heads and calibration see the embeddings
    # scoring will see); lora/full change the encoder every step, so they train with torch and switch
    # to the runtime once the weights are final (one export of the tuned encoder).
    encoder = TextEncoder(cfg.encoder, max_length=cfg.max_length, precision=cfg.precision,
                          runtime=cfg.runtime if cfg.mode == "frozen" else "torch")
    features = FeatureSpace.fit(joined_fit)
    eff_price = joined_fit["price"].to_numpy(float) * (1 - joined_fit["discount_pct"].to_numpy(float) / 100)
    conv = joined_fit["converted"].to_numpy() > 0
    revenue_factor = 1.0
    if "revenue" in joined_fit and conv.any():
        revenue_factor = float(joined_fit["revenue"].to_numpy(float)[conv].sum() / eff_price[conv].sum())
    model_config = {k: v for k, v in asdict(cfg).items() if k not in ("progress", "train_threads")}
    model_config.update(n_surface=8 + (2 if window else 0), exposure_window=window, revenue_factor=revenue_factor, price_scale=float(np.median(eff_price)),
                        encoder_precision=encoder.compute_precision)
    net = build_net(model_config, features, encoder.dim)
    model = RewardModel(net, encoder, features, Calibrator("none" if cfg.calibration == "auto" else cfg.calibration),
                        model_config)

    trainable = cfg.mode != "frozen"
    if cfg.mode == "lora":
        _attach_lora(encoder, cfg)
    if cfg.mode == "full":
        encoder.model.requires_grad_(True)
    elif cfg.mode == "frozen":
        encoder.model.requires_grad_(False)
    prep_fit = model.prepare(fit_logs, catalog, source)
    prep_valid = model.prepare(valid_logs, catalog, source)
    prep_calib = model.prepare(calib_logs, catalog, source)
    embedder = _Embedder(model, trainable)

    groups = [{"params": list(net.parameters()), "lr": cfg.lr}]
    enc_params = [p for p in encoder.model.parameters() if p.requires_grad]
    if trainable:
        groups.append({"params": enc_params, "lr": cfg.encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)

    threads_before = torch.get_num_threads()
    if cfg.train_threads and not trainable:
        # Encode every distinct text first (all threads), then update the small heads single-threaded.
        embedder.frozen_tables(prep_fit)
        embedder.frozen_tables(prep_valid)
        model.encoder.encode(prep_calib.copy_texts)  # cached now, with all threads
        torch.set_num_threads(cfg.train_threads)
    try:
        best, history = _fit(model, cfg, embedder, prep_fit, prep_valid, fit_logs, valid_logs, optimizer)
    finally:
        torch.set_num_threads(threads_before)
    net.load_state_dict(best[1])
    if trainable:
        encoder.model.load_state_dict(best[2])
        if cfg.mode == "lora":
            encoder.model = encoder.model.merge_and_unload()
        encoder.model.requires_grad_(False)
        encoder.clear_cache()
        encoder.runtime = cfg.runtime
        model.config["encoder_precision"] = encoder.compute_precision
    net.eval()
    encoder.model.eval()

    raw_calib = model.raw_outputs(prep_calib)
    outcomes = calib_logs["clicked"].to_numpy(), calib_logs["converted"].to_numpy()
    candidates = AUTO_CANDIDATES if cfg.calibration == "auto" else (cfg.calibration,)
    model.calibrator, selection, (oof_click, oof_cvr) = select_calibrator(
        raw_calib[0], raw_calib[2], raw_calib[1], *outcomes, candidates=candidates, folds=cfg.calibration_folds,
        seed=cfg.seed, return_oof=True)
    model.config["calibration_method"] = model.calibrator.method

    # The baseline beside the encoder model; the latest slice decides which one scores (or a blend).
    blocks = {b: True for b in baseline_blocks(cfg.baseline_blocks)}
    model.baseline, baseline_c = HashedNgramBaseline.fit_tuned(fit_logs, valid_logs, catalog, seed=cfg.seed,
                                                               exposure_window=window, **blocks)
    raw_click = click_prob(raw_calib[0], raw_calib[2])
    model.combiner, choice, comb_oof = select_combiner(
        (oof_click, oof_click * oof_cvr), (raw_click, raw_click * expit(raw_calib[1])),
        model.baseline.predict(calib_logs, catalog), *outcomes, folds=cfg.calibration_folds, seed=cfg.seed,
        se_rule=cfg.selection_se)
    model.baseline.recalibration = choice["baseline_recalibration"]  # as the selection evaluated it
    model.config["combiner_blend"] = choice["blend"]
    metrics: dict[str, Any] = {
        "best_epoch": best[3], "epochs_run": len(history), "history": history,
        "n_train": int(len(fit_logs)), "n_valid": int(len(valid_logs)), "n_calib": int(len(calib_logs)),
        "calibration_method": model.calibrator.method, "calibration_rejected": selection["rejected"],
        "scorer": model.combiner.choice, "scorer_selection": choice,
        "baseline_C": model.baseline.C, "baseline_valid_logloss": baseline_c,
    }
    for name, prep, part in (("valid", prep_valid, valid_logs), ("calib", prep_calib, calib_logs)):
        zc, zv, slot_b = raw_calib if name == "calib" else model.raw_outputs(prep)
        p_click, p_cvr = model.calibrator.transform(zc, slot_b, zv)
        metrics[name] = prediction_metrics(part["clicked"].to_numpy(), part["converted"].to_numpy(),
                                           p_click, p_click * p_cvr)
    if cfg.calibration == "auto":
        metrics["calibration_selection"] = selection
    if holdout is not None:
        metrics["holdout"], preds = evaluate_reward_model(model, holdout, catalog, source="holdout")
        for component in components(model):
            metrics[f"holdout_{component}"], _ = evaluate_reward_model(model, holdout, catalog, source="holdout",
                                                                       component=component)
        eval_rows, p_click = holdout, preds["p_click"].to_numpy()
        p_base = model.predict(holdout, catalog, with_slot=True, component="baseline")[0]
        encoder_auc = metrics["holdout_encoder"]["click_auc"]
        rows = f"the holdout ({len(holdout)} rows)"
    else:
        eval_rows, p_click, p_base = calib_logs, comb_oof[model.combiner.choice][0], comb_oof["baseline"][0]
        encoder_auc = prediction_metrics(outcomes[0], outcomes[1], *comb_oof["encoder"])["click_auc"]
        rows = f"out-of-fold predictions on the latest {len(calib_logs)} training rows"
    model.config["metrics"] = metrics
    model.config["health"] = model_health(model, logs, eval_rows, catalog, p_click, p_base, rows=rows,
                                          encoder_auc=encoder_auc, seed=cfg.seed)
    return model


def components(model: RewardModel) -> list[str]:
    """The scorers a trained model can evaluate: ``encoder``, ``baseline`` and (if fitted) ``blend``."""
    names = ["encoder"]
    if model.baseline is not None:
        names.append("baseline")
        if model.config.get("combiner_blend"):
            names.append("blend")
    return names


def _fit(model: RewardModel, cfg: TrainConfig, embedder: _Embedder, prep_fit: Prepared, prep_valid: Prepared,
         fit_logs: pd.DataFrame, valid_logs: pd.DataFrame, optimizer: torch.optim.Optimizer):
    """The epoch loop with early stopping; returns ``((val_loss, net_state, enc_state, epoch), history)``."""
    net, encoder, trainable = model.net, model.encoder, embedder.trainable
    y_click = torch.as_tensor(fit_logs["clicked"].to_numpy(np.float32))
    y_conv = torch.as_tensor(fit_logs["converted"].to_numpy(np.float32))
    slots = torch.as_tensor(prep_fit.ctx.slot)
    ipw = _ipw_weights(fit_logs, cfg.ipw_clip)
    weight = None if ipw is None else torch.as_tensor(ipw)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(fit_logs)

    best = (math.inf, None, None, -1)
    history = []
    bar = tqdm(range(cfg.max_epochs), desc=f"reward train ({cfg.mode})", disable=not cfg.progress)
    for epoch in bar:
        net.train()
        encoder.model.train(trainable)
        perm = torch.randperm(n, generator=gen).numpy()
        total = 0.0
        for start in range(0, n, cfg.batch_size):
            rows = perm[start:start + cfg.batch_size]
            zc, zv = net(**embedder.inputs(prep_fit, rows))
            idx = torch.as_tensor(rows)
            loss = esmm_loss(zc, zv, net.slot_log_ratio(slots[idx]), y_click[idx], y_conv[idx],
                             None if weight is None else weight[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        if trainable:
            encoder.clear_cache()
        val = _valid_loss(model, prep_valid, valid_logs)
        history.append({"epoch": epoch + 1, "train_loss": total / n, "valid_loss": val})
        bar.set_postfix(train=f"{total / n:.4f}", valid=f"{val:.4f}")
        if val < best[0] - 1e-5:
            enc_state = copy.deepcopy(encoder.model.state_dict()) if trainable else None
            best = (val, copy.deepcopy(net.state_dict()), enc_state, epoch + 1)
        elif epoch + 1 - best[3] >= cfg.patience:
            break
    bar.close()
    return best, history


def _valid_loss(model: RewardModel, prep: Prepared, logs: pd.DataFrame) -> float:
    zc, zv, slot_b = model.raw_outputs(prep)
    with torch.no_grad():
        loss = esmm_loss(torch.as_tensor(zc), torch.as_tensor(zv), torch.as_tensor(slot_b),
                         torch.as_tensor(logs["clicked"].to_numpy(np.float64)),
                         torch.as_tensor(logs["converted"].to_numpy(np.float64)))
    return float(loss)

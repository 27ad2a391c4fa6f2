"""Export a model to the file a runtime deploys: ``.tflite`` (LiteRT) or ``.onnx`` (ONNX Runtime).

What is exported. The model is built as every other command builds it (zoo name, timm name,
``file.py:factory`` or an ``nn.Module``; MobileOne/FastViT re-parameterised as deployed), on the
CPU with real, deterministic weights: a named model is initialised exactly as
``roofline measure`` initialises it (seeded N(0, 1/fan_in) weights, then one data-dependent pass
that scales every conv/linear to unit output and sets BatchNorm statistics), an ``nn.Module``
with weights keeps them (a copy is exported; the module itself is never changed). Nothing is
downloaded.

Targets and dtypes.

- ``tflite``: litert-torch. ``fp32`` converts the float model. ``int8`` is PT2E static
  quantisation: int8 weights (per-channel symmetric), int8 activations (per-tensor, static),
  calibrated on :data:`CALIBRATION_BATCHES` batches of seeded N(0, 1) noise at the export's
  input shape. The quantizer is litert-torch's with its gaps closed (``quantize.py``: residual
  adds, hard-swish, SiLU, SE blocks quantised; attention cores and norms deliberately float,
  where XNNPACK runs them). ``fp16``: float16 weights (dequantised to float at load time),
  litert-torch's fp16 recipe.
- ``onnx``: ``torch.onnx.export(dynamo=True)``. ``fp32`` as exported; ``int8``: ONNX Runtime's
  ``quant_pre_process`` then ``quantize_static`` (QDQ format, per-channel int8 weights, uint8
  activations: the x86 kernels' preferred U8S8 form), calibrated on the same batches.

Exports are cached under ``<cache dir>/exports`` (see ``cache.py``), keyed by the model's
identity, target, dtype, input shape, the initialisation seed, and the versions of roofline,
torch, timm and the converter packages plus a fingerprint of this code. Files are written
atomically (temporary file + rename); ``path=`` receives an atomic copy.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roofline import __version__
from roofline import cache as trace_cache
from roofline.calibration.real_model import calibrate_scale, materialise
from roofline.dtypes import canonical_dtype
from roofline.errors import (
    ExportError,
    InputError,
    MissingExtraError,
    NoInputShapeError,
    OutputError,
    RooflineError,
)
from roofline.models.zoo import resolve
from roofline.runtimes.quiet import quiet

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "CALIBRATION_BATCHES",
    "SEED",
    "TARGETS",
    "check_target",
    "export",
    "export_key",
    "exports_dir",
    "real_inputs",
    "require",
]

#: dtypes each target can be exported in
TARGETS: dict[str, tuple[str, ...]] = {"tflite": ("int8", "fp16", "fp32"),
                                       "onnx": ("int8", "fp32")}
#: batches of seeded N(0, 1) noise that calibrate static int8 activations
CALIBRATION_BATCHES = 4
#: seed of the weights (as ``roofline measure``) and of the calibration/measurement inputs
SEED = 0
#: import name -> distribution, per target
_PACKAGES = {"tflite": {"litert_torch": "litert-torch", "ai_edge_litert": "ai-edge-litert",
                        "torchao": "torchao"},
             "onnx": {"onnx": "onnx", "onnxruntime": "onnxruntime", "onnxscript": "onnxscript"}}
_EXTRA = "pip install 'roofline[runtimes]'"
#: code that decides an export's content (model init, conversion), relative to the package
_CODE = ("runtimes/export.py", "runtimes/quantize.py", "calibration/real_model.py")

Progress = Callable[[str], None]


def _quiet_progress(_: str) -> None:
    pass


# ------------------------------------------------------------------------------ checks


def check_target(to: str, dtype: str) -> tuple[str, str]:
    """(target, canonical dtype); InputError for a target or dtype that cannot be exported."""
    t = str(to).strip().lower().lstrip(".")
    if t not in TARGETS:
        raise InputError(f"cannot export to {to!r}; expected one of {', '.join(TARGETS)}")
    d = canonical_dtype(dtype)
    if d not in TARGETS[t]:
        why = (" (ONNX Runtime's CPU provider lacks fp16 kernels for most ops)"
               if t == "onnx" and d == "fp16" else "")
        raise InputError(f"cannot export {t} in {d}{why}; expected one of "
                         f"{', '.join(TARGETS[t])}")
    return t, d


def require(target: str) -> None:
    """MissingExtraError (one line, naming the extra) unless the packages of ``target``
    (``tflite`` or ``onnx``) are importable; checked without importing them."""
    missing = [dist for mod, dist in _PACKAGES[target].items()
               if importlib.util.find_spec(mod) is None]
    if missing:
        raise MissingExtraError(f"{target} needs {', '.join(missing)}, which is not installed; "
                                f"{_EXTRA}")


def exports_dir() -> Path:
    """Where exported files are cached."""
    return trace_cache.cache_dir() / "exports"


# ------------------------------------------------------------------------------ identity


@lru_cache(maxsize=2)
def _versions(target: str) -> dict[str, str]:
    here = Path(__file__).parent.parent
    code = hashlib.sha256(b"".join((here / n).read_bytes() for n in _CODE)).hexdigest()[:16]
    out = {"roofline": __version__, "code": code}
    for dist in ("torch", "timm", *_PACKAGES[target].values()):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "none"
    return out


def _module_identity(module: nn.Module) -> str:
    """A digest of a module's class, structure and weights (its identity for the cache)."""
    h = hashlib.sha256()
    h.update(f"{type(module).__module__}.{type(module).__qualname__}\n{module!r}".encode())
    for name, t in sorted({**dict(module.named_parameters()),
                           **dict(module.named_buffers())}.items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode() + str(t.dtype).encode())
        if t.device.type != "meta":
            h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def export_key(identity: str, target: str, dtype: str, shape: Sequence[int]) -> str:
    """Cache key of an export."""
    blob = json.dumps({"model": identity, "to": target, "dtype": dtype, "shape": list(shape),
                       "seed": SEED, "calibration": CALIBRATION_BATCHES,
                       "versions": _versions(target)}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:40]


# ------------------------------------------------------------------------------ models


def _input_shape(model: Any, resolution: int | None, input_shape: Any,
                 batch: int) -> tuple[int, ...]:
    """The one input's shape, by the input resolver every command uses
    (``roofline.analysis.model_input``): an explicit shape, a resolution, what the model
    declares (a factory's ``(model, input_shape)``, an ``input_shape`` attribute), the
    source's default resolution."""
    import torch  # deferred: heavy import

    from roofline.analysis import _is_shape_list, model_input  # deferred: pandas

    src = resolve(model) if isinstance(model, str) else None
    if src is None and not isinstance(model, torch.nn.Module):
        raise InputError(f"cannot export a {type(model).__name__}; expected a model name or an "
                         "nn.Module")
    label = src.label if src is not None else type(model).__name__
    kw = {"label": label, "resolution": resolution, "batch": batch, "input_shape": input_shape}
    try:
        shape, _ = model_input(src, None if src is not None else model, **kw)
    except NoInputShapeError:
        if src is None:
            raise
        # a file factory declares its input when it runs: build it once to ask
        shape, _ = model_input(src, src.build("inference"), **kw)
    if _is_shape_list(shape):
        raise InputError(f"{label}: export takes a model with one input; it declares "
                         f"{len(shape)} input shapes")
    return tuple(int(s) for s in shape)


def _identity(model: Any) -> tuple[str, str]:
    """(label, identity) of a model spec or module, without building a named model."""
    if isinstance(model, str):
        label = resolve(model).label
        spec = trace_cache.canonical_spec(model)
        ident = spec
        if ":" in spec and spec.split(":", 1)[0].endswith(".py"):
            path = Path(spec.rsplit(":", 1)[0])
            ident += ":" + hashlib.sha256(path.read_bytes()).hexdigest()
        return label, ident
    return type(model).__name__, "module:" + _module_identity(model)


def real_inputs(shape: Sequence[int], n: int, *, seed: int = SEED + 1) -> list[torch.Tensor]:
    """``n`` batches of seeded N(0, 1) noise; the first is the example input."""
    import torch  # deferred: heavy import

    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(tuple(shape), generator=gen) for _ in range(n)]


def _finite_batches(module: nn.Module, batches: list[torch.Tensor], label: str
                    ) -> list[torch.Tensor]:
    """The calibration batches on which the model computes finite outputs. A model at random
    initialisation can overflow on some inputs (EfficientViT-B3's linear attention divides by
    sums near zero): one NaN makes every quantisation range NaN, so such batches are left out
    rather than failing the conversion."""
    import torch  # deferred: heavy import
    from torch.utils._pytree import tree_leaves  # deferred: with torch

    def finite(out: Any) -> bool:
        return all(bool(torch.isfinite(t).all()) for t in tree_leaves(out)
                   if isinstance(t, torch.Tensor) and t.is_floating_point())

    with torch.no_grad():
        keep = [b for b in batches if finite(module(b))]
    if not keep:
        raise ExportError(f"{label} computes inf/NaN on every calibration batch (random "
                          "weights overflow), so int8 ranges cannot be calibrated; export it "
                          "in fp32 or fp16")
    return keep


def _real_module(model: Any, x: torch.Tensor) -> nn.Module:
    """The module to export: a named model built and initialised as ``roofline measure``
    does; a user's module copied (materialised when it lives on meta)."""
    if isinstance(model, str):
        module = materialise(resolve(model).build("inference"), seed=SEED)
        calibrate_scale(module, x)
        return module.eval()
    module = copy.deepcopy(model)  # a module: _input_shape refused anything else
    if any(t.device.type == "meta" for t in [*module.parameters(), *module.buffers()]):
        module = materialise(module, seed=SEED)
        calibrate_scale(module, x)
    return module.float().eval()


# ------------------------------------------------------------------------------ convert


def _to_tflite(module: nn.Module, batches: list[torch.Tensor], dtype: str, out: Path) -> None:
    import litert_torch  # deferred: heavy import
    import torch  # deferred: heavy import

    x = batches[0]
    if dtype == "int8":
        from litert_torch.quantize.quant_config import (
            QuantConfig,  # deferred: heavy import
        )
        from torchao.quantization.pt2e.quantize_pt2e import (  # deferred: heavy import
            convert_pt2e,
            prepare_pt2e,
        )

        from roofline.runtimes.quantize import make_quantizer  # deferred: heavy import

        quantizer = make_quantizer()
        graph = torch.export.export(module, (x,)).module()
        prepared = prepare_pt2e(graph, quantizer)
        with torch.no_grad():
            for b in batches:
                prepared(b)
        converted = convert_pt2e(prepared, fold_quantize=False)
        edge = litert_torch.convert(converted, (x,),
                                    quant_config=QuantConfig(pt2e_quantizer=quantizer))
    elif dtype == "fp16":
        from litert_torch.generative.quantize import (
            quant_recipes,  # deferred: heavy import
        )

        edge = litert_torch.convert(module, (x,), quant_config=quant_recipes.full_fp16_recipe())
    else:
        edge = litert_torch.convert(module, (x,))
    edge.export(str(out))


def _to_onnx(module: nn.Module, batches: list[torch.Tensor], dtype: str, out: Path) -> None:
    import torch  # deferred: heavy import

    x = batches[0]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".onnx-") as tmp:
        fp32 = Path(tmp) / "model.onnx"
        program = torch.onnx.export(module, (x,), dynamo=True, input_names=["input"],
                                    verbose=False)
        program.save(str(fp32))
        if dtype == "fp32":
            os.replace(fp32, out)
            return
        from onnxruntime.quantization import (  # deferred: heavy import
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
        from onnxruntime.quantization.shape_inference import (  # deferred: heavy import
            quant_pre_process,
        )

        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre))

        class _Reader(CalibrationDataReader):
            def __init__(self) -> None:
                self._it = iter([{"input": b.numpy()} for b in batches])

            def get_next(self) -> dict[str, Any] | None:
                return next(self._it, None)

        quantize_static(str(pre), str(out), _Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)


_OP_PATTERNS = (
    r"aten\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?",
    r"torch\.ops\.[A-Za-z0-9_.]+",
    r"'tfl\.[A-Za-z0-9_]+'",
    r"'stablehlo\.[A-Za-z0-9_]+'",
    r"<built-in (?:function|method) [A-Za-z0-9_]+",
)


def _failed_op(exc: BaseException) -> str | None:
    """The op a converter error names, if any (aten.*, tfl.*, stablehlo.*)."""
    text = f"{exc}"
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        text += f" {cause}"
    for pat in _OP_PATTERNS:
        m = re.search(pat, text)
        if m:
            return m.group(0).strip("'").replace("<built-in function ", "").replace(
                "<built-in method ", "")
    return None


def _rejected(label: str, target: str, exc: BaseException) -> ExportError:
    op = _failed_op(exc)
    first = " ".join(str(exc).split())[:160] or type(exc).__name__
    tool = "litert-torch" if target == "tflite" else "torch.onnx"
    if op:
        return ExportError(f"{tool} cannot convert {label}: op {op}; export a model without "
                           "this op, or analyse the PyTorch model instead")
    return ExportError(f"{tool} cannot convert {label} ({type(exc).__name__}: {first}); "
                       "analyse the PyTorch model instead")


# ------------------------------------------------------------------------------ export


def export(model: str | nn.Module, to: str, dtype: str = "int8", *,
           resolution: int | None = None, input_shape: Sequence[int] | None = None,
           batch: int = 1, path: str | os.PathLike[str] | None = None, use_cache: bool = True,
           verbose: bool = False, progress: Progress = _quiet_progress) -> Path:
    """Export ``model`` to ``to`` ('tflite' or 'onnx') in ``dtype`` and return the file's path.

    Without ``path`` the path is the cached file (do not modify it); with ``path`` the file is
    copied there atomically. ``use_cache=False`` converts afresh (and refreshes the cache);
    with the cache turned off (``ROOFLINE_NO_CACHE=1``) a ``path`` is written directly.
    Converter output is swallowed unless ``verbose``. Raises InputError (bad target, dtype or
    shape), MissingExtraError (packages not installed), ExportError (the converter rejected
    the model, naming the op), OutputError (``path`` cannot be written).
    """
    target, d = check_target(to, dtype)
    require(target)
    if path is not None:
        _check_output(Path(path), target)
    shape = _input_shape(model, resolution, input_shape, batch)
    label, identity = _identity(model)
    k = export_key(identity, target, d, shape)
    cached = exports_dir() / f"{k}.{target}"
    # with the cache turned off (ROOFLINE_NO_CACHE) a file asked for is written straight there
    dest = Path(path) if path is not None and not trace_cache.enabled() else cached
    if dest != cached or not (use_cache and trace_cache.enabled() and _valid(cached)):
        progress(f"exporting {label} {tuple(shape)} to {target} {d}")
        batches = real_inputs(shape, CALIBRATION_BATCHES)
        with quiet(verbose):
            module = _real_module(model, batches[0])
        if d == "int8":
            batches = _finite_batches(module, batches, label)
        _convert(module, batches, target, d, dest, label, verbose)
    if path is None or dest != cached:
        return dest
    dest = Path(path)
    _atomic_copy(cached, dest)
    return dest


def _convert(module: nn.Module, batches: list[torch.Tensor], target: str, dtype: str,
             dest: Path, label: str, verbose: bool) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the export cache {dest.parent}: "
                          f"{e.strerror or e}") from e
    fd, tmp_s = tempfile.mkstemp(dir=dest.parent, prefix=".tmp-", suffix=f".{target}")
    os.close(fd)
    tmp = Path(tmp_s)
    try:
        try:
            with quiet(verbose):
                (_to_tflite if target == "tflite" else _to_onnx)(module, batches, dtype, tmp)
        except RooflineError:
            raise
        except MemoryError:
            raise
        except Exception as e:  # any converter failure: one line naming the op
            raise _rejected(label, target, e) from e
        if tmp.stat().st_size == 0:
            raise ExportError(f"the {target} converter wrote an empty file for {label}")
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _valid(p: Path) -> bool:
    try:
        return p.is_file() and p.stat().st_size > 0
    except OSError:
        return False


def _check_output(p: Path, target: str) -> None:
    parent = p.parent if str(p.parent) else Path(".")
    if p.exists() and not p.is_file():
        raise OutputError(f"cannot write {p}: it exists and is not a regular file")
    if not parent.is_dir():
        raise OutputError(f"cannot write {p}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write {p}: directory {parent} is not writable")
    if p.suffix.lower() != f".{target}":
        raise OutputError(f"cannot write {target} to {p}: expected a file ending in .{target}")


def _atomic_copy(src: Path, dest: Path) -> None:
    parent = dest.parent if str(dest.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{dest.name}.")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, dest)
    except OSError as e:
        raise OutputError(f"cannot write {dest}: {e.strerror or e}") from e
    finally:
        Path(tmp).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

"""Analysis dtypes and the bytes each element occupies.

The analysis dtype is what the deployed model stores and computes in (int8 on a phone CPU,
fp16 on a mobile GPU), not the dtype the model was traced in. Floating-point tensors of the
trace take the analysis dtype's size; integer and boolean tensors (indices, masks) keep their
own size, since quantising a model does not shrink its index tensors.
"""

from __future__ import annotations

from roofline.errors import InputError, did_you_mean

__all__ = ["DTYPE_BYTES", "TORCH_ITEMSIZE", "FLOATING", "canonical_dtype", "dtype_bytes"]

#: bytes per element of each analysis dtype
DTYPE_BYTES: dict[str, float] = {
    "int4": 0.5,
    "int8": 1.0,
    "fp8": 1.0,
    "fp16": 2.0,
    "bf16": 2.0,
    "tf32": 4.0,
    "fp32": 4.0,
}

_ALIASES = {
    "float32": "fp32", "float": "fp32", "f32": "fp32", "single": "fp32",
    "float16": "fp16", "half": "fp16", "f16": "fp16",
    "bfloat16": "bf16",
    "float8": "fp8", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "float8_e4m3fn": "fp8",
    "i8": "int8", "qint8": "int8", "uint8": "int8", "quint8": "int8",
    "i4": "int4", "uint4": "int4",
}

#: itemsize of the torch dtypes a trace records (by their name without the "torch." prefix)
TORCH_ITEMSIZE: dict[str, int] = {
    "float64": 8, "float32": 4, "float16": 2, "bfloat16": 2,
    "float8_e4m3fn": 1, "float8_e5m2": 1, "float8_e4m3fnuz": 1, "float8_e5m2fnuz": 1,
    "complex128": 16, "complex64": 8, "complex32": 4,
    "int64": 8, "int32": 4, "int16": 2, "int8": 1, "uint8": 1,
    "uint16": 2, "uint32": 4, "uint64": 8, "bool": 1,
    "qint8": 1, "quint8": 1, "qint32": 4,
}

FLOATING = frozenset(
    n for n in TORCH_ITEMSIZE if n.startswith(("float", "bfloat", "complex"))
)


def canonical_dtype(name: str) -> str:
    """Map a dtype name a user may type ('float16', 'half', 'INT8') to its canonical form."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in DTYPE_BYTES:
        raise InputError(
            f"unknown dtype {name!r}{did_you_mean(str(name), DTYPE_BYTES)}; "
            f"expected one of {', '.join(DTYPE_BYTES)}"
        )
    return key


def dtype_bytes(name: str) -> float:
    """Bytes per element of an analysis dtype."""
    return DTYPE_BYTES[canonical_dtype(name)]

"""The model sets of the MobileNetV4 paper's figures, and what each figure kind draws when no
models are named. Names only; missing ones (not in the zoo yet) degrade gracefully.
"""

from __future__ import annotations

from collections.abc import Iterable

from roofline.models.zoo import lookup

__all__ = ["FIG2_MODELS", "FIG3_MODELS", "RIDGE_MODELS", "ONE_MODEL", "FIGURE_MODELS",
           "available", "default_models"]

#: the paper's Fig. 2 models: MobileNetV4 and its MobileNet baselines (width multipliers)
FIG2_MODELS = (
    "mnv4_conv_small", "mnv4_conv_medium", "mnv4_conv_large",
    "mobilenetv3_large_050", "mobilenetv3_large_100", "mobilenetv3_large_150",
    "mobilenetv2_050", "mobilenetv2_100", "mobilenetv2_150", "mobilenetv2_200",
    "mobilenetv1_100", "mobilenetv1_150",
)
#: the paper's Fig. 3 columns: V1-1.5x, V2-1.5x, V3-L-1.5x, MNv4-Conv-M
FIG3_MODELS = ("mobilenetv1_150", "mobilenetv2_150", "mobilenetv3_large_150", "mnv4_conv_medium")
#: the ridge-point sweep's curves: Fig. 3's models
RIDGE_MODELS = FIG3_MODELS
#: the one model of the roofline and devices charts
ONE_MODEL = "mnv4_conv_medium"
#: figure kind -> the models it draws when none are named
FIGURE_MODELS: dict[str, tuple[str, ...]] = {
    "ridge": RIDGE_MODELS, "pareto": FIG2_MODELS, "opcost": FIG3_MODELS,
    "roofline": (ONE_MODEL,), "devices": (ONE_MODEL,)}


def available(models: Iterable[str]) -> tuple[list[str], list[str]]:
    """(models in the zoo, models not in it yet): default model sets degrade gracefully."""
    names = list(models)
    return [m for m in names if lookup(m)], [m for m in names if not lookup(m)]


def default_models(kind: str) -> tuple[list[str], list[str]]:
    """The models a figure of ``kind`` draws when none are named: (those in the zoo, those
    not in it yet)."""
    return available(FIGURE_MODELS[kind])

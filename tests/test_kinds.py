"""The op registry: kinds defined once, MAC formulas registered on aten op objects."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from torch import nn

from roofline.errors import TraceError
from roofline.graph import formulas, kinds
from roofline.graph.formulas import FORMULAS, aten, formula
from roofline.graph.torch_trace import trace


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the formula registry, so test registrations do not leak."""
    monkeypatch.setattr(formulas, "FORMULAS", dict(FORMULAS))
    return formulas.FORMULAS


@pytest.mark.slow
def test_kinds_and_the_analysis_side_import_without_torch():
    code = ("import sys; import roofline.graph.kinds, roofline.graph.layers, "
            "roofline.graph.records, roofline.latency.presets; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_a_name_instead_of_an_aten_op_fails(registry):
    with pytest.raises(TypeError, match="aten op objects"):
        formula("mm", kind="linear")
    with pytest.raises(AttributeError):   # a typo fails where it is written
        formula(aten.mmm, kind="linear")   # noqa: B018
    lib = torch.library.Library("roofline_test", "FRAGMENT")
    lib.define("myop(Tensor x) -> Tensor")
    with pytest.raises(TypeError, match="not an aten op"):
        formula(torch.ops.roofline_test.myop, kind="linear")


def test_registering_twice_fails(registry):
    with pytest.raises(ValueError, match="already has a MAC formula"):
        formula(aten.mm, kind="matmul")(lambda a, k, o: 0)
    with pytest.raises(ValueError, match="one definition"):   # listed as zero-MAC in kinds.py
        formula(aten.relu, kind="matmul")(lambda a, k, o: 0)
    with pytest.raises(ValueError, match="must be one of"):   # a formula's kind performs MACs
        formula(aten.addr, kind="elementwise")


def test_every_listed_name_is_an_aten_op_and_each_op_has_one_kind():
    formulas.check_aten_names(list(kinds.OP_KINDS))
    with pytest.raises(ValueError, match="not aten ops"):
        formulas.check_aten_names(["gelu_tanh", "relu"])
    assert not set(kinds.OP_KINDS) & set(FORMULAS)
    # the five names of torch 2.14 that were registered but are not aten ops
    for gone in ("gelu_tanh", "lp_pool2d", "_cat", "constant_pad_nd_copy", "unique"):
        assert gone not in kinds.OP_KINDS and gone not in FORMULAS


def test_kinds_say_what_they_imply():
    assert kinds.MAC_KINDS == kinds.ANCHOR_KINDS
    assert {"conv2d", "dwconv1d", "convtranspose3d", "linear", "matmul",
            "attention"} <= kinds.MAC_KINDS
    assert kinds.BN_FOLD_TARGETS == kinds.MAC_KINDS - {"matmul", "attention"}
    assert kinds.EPILOGUE_KINDS == {"elementwise", "activation", "norm"}
    assert kinds.op_class("dwconv2d") == "DW-Conv2D" and kinds.op_class("linear") == "FC"
    assert kinds.op_class("attention") == "attention" and kinds.op_class("pool") == "other"
    assert kinds.KINDS["view"].role == "view" and kinds.KINDS["fill"].role == "compute"
    for name, k in kinds.OP_KINDS.items():
        assert not kinds.KINDS[k].macs, name


class _Outer(nn.Module):
    """torch.addr: bias + outer(x, v), an aten op with no formula in the registry."""

    def __init__(self) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.empty(32, device="meta"))

    def forward(self, x):
        return torch.addr(torch.zeros(16, 32, device="meta"), x, self.v)


def test_a_new_matmul_like_op_is_labelled_by_its_registered_kind(registry):
    (op,) = [o for o in trace(_Outer(), (16,)).ops if o.aten == "addr"]
    assert (op.kind, op.macs, op.known) == ("unknown", 0, False)

    @formula(aten.addr, kind="matmul")
    def _addr_macs(args, kwargs, out):
        assert all(isinstance(a, torch.Size) for a in args[:3])  # shapes, not tensors
        return args[1][0] * args[2][0]   # outer product: 16 x 32 multiplies

    (op,) = [o for o in trace(_Outer(), (16,)).ops if o.aten == "addr"]
    assert (op.kind, op.macs, op.known) == ("matmul", 16 * 32, True)


def test_a_failing_formula_is_a_trace_error_naming_the_op(registry):
    def broken(args, kwargs, out):
        raise IndexError("tuple index out of range")

    registry["addmm"] = formulas.Formula("addmm", broken, "linear")
    with pytest.raises(TraceError, match=r"aten\.addmm.*IndexError.*'fc'"):
        trace(_Named(), (2, 8))


class _Named(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 4, device="meta")

    def forward(self, x):
        return self.fc(x)


def test_formulas_see_shapes_only():
    # the survey calls formulas on recorded shapes: no tensors, no stand-in class
    assert formulas.macs_of("mm", ((4, 8), (8, 16)), {}, (4, 16)) == 4 * 16 * 8
    assert formulas.macs_of("convolution", ((1, 3, 8, 8), (16, 3, 3, 3)), {},
                            (1, 16, 6, 6)) == 16 * 36 * 27
    assert formulas.macs_of("relu", ((4,),), {}, (4,)) == 0

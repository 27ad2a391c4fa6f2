"""Counting cases of the hostile-input round (issue 12: constants, the model left unchanged,
bytes that follow the real access pattern, counts beyond int64), each with its hand count."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import prune

import roofline
from roofline.errors import InputError, TraceError
from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace


def _macs(tr) -> int:
    return sum(o.macs for o in tr.ops)


# --------------------------------------------------------------------------- constants


class PadIntoBuffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(8, 64, 1, bias=False)

    def forward(self, x):
        buf = torch.zeros(x.shape[0], 8, 64, 64, device=x.device)
        buf[:, :3] = x
        return self.conv(buf)


def test_a_buffer_made_in_forward_that_the_input_flows_into_is_not_a_constant():
    # 1x1 conv 8 -> 64 on 64x64: 64*64 outputs x 64 channels x 8 inputs = 2,097,152 MACs
    tr = trace(PadIntoBuffer(), (1, 3, 64, 64))
    assert _macs(tr) == 2_097_152
    assert not [o for o in tr.ops if o.role == "const"]
    df = layer_table(tr, "none")
    conv = df[df.op == "conv2d"].iloc[0]
    # it reads the whole buffer (1x8x64x64 fp32 = 131,072 B) and its 64x8 weight (2,048 B)
    assert conv.input_bytes == 131_072 and conv.weight_bytes == 2_048
    # the zeros fill writes the buffer, the copy reads x (49,152 B) and writes its slice
    fill = df[df.op == "fill"].iloc[0]
    assert fill.output_bytes == 131_072 and fill.input_bytes == 0
    copy = df[df.ops == "copy"].iloc[0]
    assert copy.input_bytes == 49_152 and copy.output_bytes == 49_152


class RandomLatent(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(1024, 256)
        self.fc2 = nn.Linear(256, 64)

    def forward(self, x):
        z = torch.randn(64, 1024, device=x.device)
        return self.fc2(self.fc1(z)) + x


def test_random_tensors_are_activations_not_weights():
    # fc1: 64 x 1024 x 256 = 16,777,216; fc2: 64 x 256 x 64 = 1,048,576; sum 17,825,792
    tr = trace(RandomLatent(), (64, 64))
    assert _macs(tr) == 17_825_792
    df = layer_table(tr, "none")
    fc1 = df[df.name == "fc1"].iloc[0]
    # z is read as an activation (64 x 1024 x 4 B), weights are 1024x256 + 256 (x 4 B)
    assert fc1.input_bytes == 262_144 and fc1.weight_bytes == (1024 * 256 + 256) * 4


@pytest.mark.parametrize(("make", "shape", "hand"), [
    # no initial state: the first step's recurrent product is counted, as every other step's.
    # LSTMCell(32, 64), batch 4: input 4 x 32 x 256 = 32,768 + recurrent 4 x 64 x 256 = 65,536
    (lambda: nn.LSTMCell(32, 64), (4, 32), 98_304),
    # RNN(8, 16), 5 steps: per step 8 x 16 + 16 x 16 = 384
    (lambda: nn.RNN(8, 16, batch_first=True), (1, 5, 8), 5 * 384),
    # GRU(8, 16): 3 gates, per step 8 x 48 + 16 x 48 = 1,152
    (lambda: nn.GRU(8, 16, batch_first=True), (1, 5, 8), 5 * 1152),
    # LSTM(8, 16): 4 gates, per step 8 x 64 + 16 x 64 = 1,536
    (lambda: nn.LSTM(8, 16, batch_first=True), (1, 5, 8), 5 * 1536),
])
def test_recurrent_layers_without_initial_state_count_every_step(make, shape, hand):
    with torch.device("meta"):
        m = make()
    tr = trace(m, shape)
    assert tr.unsupported() == {}
    assert _macs(tr) == hand


def test_weight_only_products_still_fold():
    # a product of two buffers is computed once at deployment: 0 MACs, no layer
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("a", torch.ones(4, 8))
            self.register_buffer("b", torch.ones(8, 4))

        def forward(self, x):
            return x + self.a @ self.b

    tr = trace(M(), (4, 4))
    assert _macs(tr) == 0
    assert [o.role for o in tr.ops if o.aten == "mm"] == ["const"]


# --------------------------------------------------------------------------- the model


def _weight_norm(m):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return nn.utils.weight_norm(m)


@pytest.mark.parametrize("wrap", [
    _weight_norm,
    nn.utils.spectral_norm,
    lambda m: prune.l1_unstructured(m, "weight", amount=0.5),
], ids=["weight_norm", "spectral_norm", "prune"])
def test_analyze_leaves_a_reparametrised_model_unchanged(wrap):
    torch.manual_seed(0)
    m = wrap(nn.Conv2d(3, 8, 3))
    before_weight = m.weight.clone()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    attrs = set(vars(m))
    a = roofline.analyze(m, input_shape=(1, 3, 16, 16))
    assert a.totals["macs"] == 14 * 14 * 8 * 27
    assert m.weight.device.type == "cpu" and torch.equal(m.weight, before_weight)
    after = m.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert set(vars(m)) == attrs


# --------------------------------------------------------------------------- access patterns


def test_embedding_reads_the_rows_it_gathers():
    # 16 ids from a 50257 x 768 table read 16 rows: 16 x 768 x 2 B (fp16) = 24,576 B, not
    # the 77 MB of the table; the ids are 16 int64 (128 B)
    with torch.device("meta"):
        emb = nn.Embedding(50257, 768)
    tr = trace(emb, inputs=torch.zeros(1, 16, dtype=torch.long))
    row = layer_table(tr, "none", dtype="fp16").iloc[0]
    assert (row.weight_bytes, row.input_bytes, row.output_bytes) == (24_576, 128, 24_576)
    assert row.params == 50257 * 768   # the parameters are still the whole table


def test_embedding_bag_reads_the_rows_of_its_ids():
    # 40 ids in 8 bags from a 1000 x 32 table: 40 rows x 32 x 4 B = 5,120 B
    class Bag(nn.Module):
        def __init__(self):
            super().__init__()
            self.bag = nn.EmbeddingBag(1000, 32, mode="sum")

        def forward(self, ids):
            return self.bag(ids)

    tr = trace(Bag(), inputs=torch.zeros(8, 5, dtype=torch.long))
    assert tr.unsupported() == {}
    assert {o.aten for o in tr.ops if o.role == "compute"} >= {"_embedding_bag_forward_only"}
    df = layer_table(tr, "none")
    assert df[df.ops == "_embedding_bag_forward_only"].weight_bytes.item() == 5_120


class KVCache:
    """A cache object as Hugging Face passes one: not a pytree, updated in place."""

    def __init__(self, k: torch.Tensor, v: torch.Tensor) -> None:
        self.layers = [{"k": k, "v": v}]

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = self.layers[0]
        d["k"], d["v"] = torch.cat([d["k"], k], 1), torch.cat([d["v"], v], 1)
        return d["k"], d["v"]


class CachedAttention(nn.Module):
    def __init__(self):
        super().__init__()
        self.kv = nn.Linear(64, 128, bias=False)

    def forward(self, x, past=None):
        k, v = self.kv(x).chunk(2, -1)
        k, v = past.update(k, v)
        return F.scaled_dot_product_attention(x, k, v)


def test_a_cache_object_in_kwargs_is_an_input_and_is_left_unchanged():
    k0, v0 = torch.randn(1, 100, 64), torch.randn(1, 100, 64)
    cache = KVCache(k0, v0)
    tr = trace(CachedAttention(), (1, 1, 64), kwargs={"past": cache})
    # the cache's tensors are inputs, not weights
    assert [r.shape for r in tr.inputs] == [(1, 1, 64), (1, 100, 64), (1, 100, 64)]
    df = layer_table(tr, "none")
    assert df.weight_bytes.sum() == 64 * 128 * 4   # only the kv projection
    cat = df[df.op == "concat"]
    assert list(cat.input_bytes) == [(100 + 1) * 64 * 4] * 2   # cache + new entry, each
    # the caller's cache still holds its own tensors (not grown, not meta)
    assert cache.layers[0]["k"] is k0 and cache.layers[0]["v"] is v0


def test_one_tensor_passed_as_several_inputs_stays_one_tensor():
    # mha(x, x, x) is self-attention: one packed in-projection (3E x E) reading x once
    x = torch.randn(2, 10, 32)
    with torch.device("meta"):
        mha = nn.MultiheadAttention(32, 4, batch_first=True)
    tr = trace(mha, inputs=(x, x, x))
    (x_value,) = {r.value for r in tr.inputs}
    readers = [o for o in tr.ops if o.role == "compute"
               and any(r.value == x_value for r in o.inputs)]
    assert len(readers) == 1   # read once (a layout copy for batch_first, then the projection)
    weights = [max(r.numel for r in o.inputs if r.weight) for o in tr.ops if o.kind == "linear"]
    assert weights == [96 * 32, 32 * 32]   # the packed in-projection, then the out-projection
    df = layer_table(tr, "none")
    # x (2 x 10 x 32 fp32 = 2,560 B) is read once from the model input: by the first layer
    assert df.iloc[0].input_bytes == 2_560 and df.iloc[0].input_shape == "10x2x32"


def test_views_of_one_tensor_passed_as_inputs_stay_one_tensor():
    # a @ a.mT with a real 6 x 4 tensor: one region read once (96 B), 6 x 6 out (144 B)
    class Gram(nn.Module):
        def forward(self, a, b):
            return a @ b

    a = torch.randn(6, 4)
    tr = trace(Gram(), inputs=(a, a.mT))
    assert len({r.value for r in tr.inputs}) == 1
    row = layer_table(tr, "none").iloc[0]
    assert (row.input_bytes, row.output_bytes) == (96, 144)


class CacheWrite(nn.Module):
    def __init__(self, how):
        super().__init__()
        self.how = how
        self.register_buffer("k", torch.zeros(1, 8, 100, 16))

    def forward(self, x, pos):
        if self.how == "index_copy":
            self.k.index_copy_(2, pos, x)
        elif self.how == "index_put":
            self.k[:, :, pos] = x
        else:
            self.k.index_add_(2, pos, x)
        return self.k.sum()


@pytest.mark.parametrize("how", ["index_copy", "index_put", "index_add"])
def test_an_in_place_cache_write_touches_the_new_rows_only(how):
    # one position of a 1 x 8 x 100 x 16 fp32 cache (51,200 B): the write moves 8 x 16 x 4 B
    # = 512 B (index_add_ also reads those 512 B of the buffer: weight bytes, as the buffer
    # is still model state), then the sum reads the whole cache
    tr = trace(CacheWrite(how), inputs=(torch.zeros(1, 8, 1, 16), torch.tensor([7])))
    df = layer_table(tr, "none")
    write, total = df.iloc[0], df.iloc[1]
    assert write.output_bytes == 512
    assert write.input_bytes == 512 + 8   # x, pos (int64)
    assert write.weight_bytes == (512 if how == "index_add" else 0)
    assert total.input_bytes == 51_200


def test_complex_tensors_are_two_real_elements():
    class Spectrum(nn.Module):
        def forward(self, x):
            return torch.fft.irfft(torch.fft.rfft(x, dim=-1) * 2, n=64, dim=-1)

    tr = trace(Spectrum(), (2, 64))
    assert tr.unsupported() == {}
    df = layer_table(tr, "none")
    r2c = df[df.ops == "_fft_r2c"].iloc[0]
    # rfft of 2 x 64 fp32 (512 B) is 2 x 33 complex: 66 x 2 x 4 B = 528 B
    assert (r2c.op, r2c.input_bytes, r2c.output_bytes) == ("fft", 512, 528)
    assert df[df.ops == "_fft_c2r"].iloc[0].input_bytes == 528


def test_masked_fill_and_floor_divide_in_place_are_supported():
    class M(nn.Module):
        def forward(self, x):
            y = x.clone()
            y.masked_fill_(x > 0, 0.0)
            y.floor_divide_(2)
            return y

    tr = trace(M(), (4, 8))
    assert tr.unsupported() == {} and tr.coverage() == 1.0
    kinds = {o.aten: o.kind for o in tr.ops}
    assert kinds["masked_fill"] == "elementwise" and kinds["floor_divide"] == "elementwise"


# --------------------------------------------------------------------------- beyond int64


def test_counts_beyond_int64_never_wrap():
    # Linear(4096, 8192) on 300,000,000,000 rows: 3e11 x 4096 x 8192 = 1.0066e19 MACs,
    # more than int64 holds (9.22e18)
    with torch.device("meta"):
        lin = nn.Linear(4096, 8192, bias=False)
    a = roofline.analyze(lin, input_shape=(300_000_000_000, 4096))
    exact = 300_000_000_000 * 4096 * 8192
    assert a.layers.macs.iloc[0] == pytest.approx(exact, rel=1e-15)
    assert a.totals["macs"] == pytest.approx(exact, rel=1e-15)
    # bytes: input 3e11 x 4096 x 4 + output 3e11 x 8192 x 4 + weight 4096 x 8192 x 4
    assert a.totals["bytes"] == pytest.approx(300_000_000_000 * (4096 + 8192) * 4
                                              + 4096 * 8192 * 4, rel=1e-12)


@pytest.mark.slow
def test_a_zoo_model_at_an_absurd_batch_stays_positive():
    # mnv4_conv_small: 186,005,568 MACs per image x 6e10 images = 1.116e19 > int64
    a = roofline.analyze("mnv4_conv_small", batch=60_000_000_000, cache=False)
    assert a.totals["macs"] == pytest.approx(186_005_568 * 60_000_000_000, rel=1e-12)
    assert (a.layers.macs >= 0).all() and (a.layers.bytes > 0).all()


def test_an_input_beyond_what_a_tensor_can_address_is_a_clear_error():
    # 3e16 x 4096 fp32 elements are 4.9e20 bytes, more than 2^63: refused before tracing
    with torch.device("meta"):
        lin = nn.Linear(4096, 8)
    with pytest.raises(InputError, match=r"more than a tensor can address"):
        trace(lin, (30_000_000_000_000_000, 4096))
    # an input that fits whose activations do not: one line naming the module and the sizes
    with torch.device("meta"):
        wide = nn.Sequential(nn.Linear(4096, 4096), nn.Linear(4096, 1 << 20))
    with pytest.raises(TraceError, match=r"too large.*'1'.*2\^63 bytes"):
        trace(wide, (1 << 41, 4096))   # 2^41 x 2^20 x 4 B = 2^63 B

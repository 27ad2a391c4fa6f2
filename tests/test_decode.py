"""An LLM decode step: GPT-2 small, a 1,024-token KV cache, one new token (issue 12).

Built from its config on the meta device (no download, no weights allocated). The bytes must
be those a careful engineer counts: every weight once, the KV cache read once, the embedding
rows gathered, not the tables.
"""

from __future__ import annotations

import warnings

import pytest
import torch

import roofline
from roofline.graph.layers import layer_table
from roofline.graph.torch_trace import trace

transformers = pytest.importorskip("transformers")

pytestmark = pytest.mark.slow   # importing transformers alone takes a few seconds

LAYERS, D, HEADS, FF, VOCAB, CACHED = 12, 768, 12, 3072, 50257, 1024

# Hand count, fp16 (2 bytes per element), GPT-2 small (d = 768, 12 layers, 12 heads, MLP 3072,
# vocabulary 50,257, LM head tied to the token embedding):
#   per layer: c_attn 768 x 2304 + 2304, attn c_proj 768 x 768 + 768, c_fc 768 x 3072 + 3072,
#              mlp c_proj 3072 x 768 + 768, ln_1 and ln_2 2 x 768 each      = 7,087,872 params
#   12 layers                                                            = 85,054,464
#   ln_f 2 x 768                                                         =      1,536
#   LM head: the whole 50,257 x 768 table (every logit needs every row)  = 38,597,376
#   token and position embeddings: one gathered row each, 2 x 768        =      1,536
#   weights read: 123,654,912 elements x 2 B                             = 247,309,824 B
#   KV cache read once by attention: 12 layers x (K + V) x 1,025 positions (1,024 cached and
#   the new one written in place) x 768 x 2 B                            =  37,785,600 B
#   activations of one token (a few KB per layer) and the logits (100 KB): < 2 MB
#   total                                                                ~ 285,095,424 B
HAND_WEIGHT_BYTES = 247_309_824
HAND_KV_BYTES = LAYERS * 2 * (CACHED + 1) * D * 2
HAND_BYTES = HAND_WEIGHT_BYTES + HAND_KV_BYTES
# MACs: 12 x (768 x 2304 + 768 x 768 + 2 x 768 x 3072) = 84,934,656 in the projections,
# 38,597,376 in the LM head, attention 12 layers x 12 heads x 1 x 1,025 x (64 + 64)
# = 18,892,800; total 142,424,832
HAND_MACS = 84_934_656 + 38_597_376 + 18_892_800


def _model_and_cache(cache_cls):
    cfg = transformers.GPT2Config(n_positions=2048)   # room for position 1,024
    with torch.device("meta"):
        model = transformers.GPT2LMHeadModel(cfg).eval()
    kv = torch.empty(1, HEADS, CACHED, D // HEADS, device="meta")
    if cache_cls is transformers.StaticCache:
        cache = cache_cls(config=cfg, max_cache_len=CACHED + 1)
        extra = {"cache_position": torch.arange(CACHED, device="meta")}
    else:
        cache = cache_cls(config=cfg)
        extra = {}
    for i in range(LAYERS):
        cache.update(kv, kv, i, cache_kwargs=extra)
    return model, cache


def _decode(model, cache, tracer):
    kwargs = {"past_key_values": cache, "use_cache": True,
              "cache_position": torch.tensor([CACHED])}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)   # past_key_values renamed in 5.x
        return tracer(model, inputs=(torch.zeros(1, 1, dtype=torch.long),), kwargs=kwargs)


def test_gpt2_decode_step_bytes_are_what_an_engineer_counts():
    model, cache = _model_and_cache(transformers.StaticCache)
    keys = [layer.keys for layer in cache.layers]
    a = _decode(model, cache, lambda m, **kw: roofline.analyze(m, "h100_sxm", dtype="fp16", **kw))
    t = a.totals
    assert a.unsupported == {}
    assert t["macs"] == HAND_MACS
    assert t["weight_bytes"] == HAND_WEIGHT_BYTES   # every weight once, embedding rows gathered
    assert abs(t["bytes"] - HAND_BYTES) / HAND_BYTES < 0.05
    attn = a.layers[a.layers.op == "attention"]
    # each attention reads its layer's K and V once (plus q and a 1,025-entry mask)
    assert (attn.input_bytes >= 2 * (CACHED + 1) * D * 2).all()
    assert attn.input_bytes.sum() < 1.01 * HAND_KV_BYTES
    # 0.5 MACs/byte against a ridge point of 148: memory-bound throughout
    assert t["intensity"] < 1 and t["memory_bound_fraction"] == 1.0
    # the caller's cache is not written: same tensors, still 1,025 slots, still meta
    assert [layer.keys for layer in cache.layers] == keys


def test_a_cache_grown_by_concatenation_reads_and_writes_it_again():
    # Hugging Face's DynamicCache appends with torch.cat: each step reads the 1,024 cached
    # entries and writes 1,025 new ones before attention reads them: 3 passes over the cache
    # (37.7 MB each at fp16), so the step costs ~75 MB more than with a cache written in place
    model, cache = _model_and_cache(transformers.DynamicCache)
    tr = _decode(model, cache, trace)
    df = layer_table(tr, "none", dtype="fp16")
    assert df.weight_bytes.sum() == HAND_WEIGHT_BYTES   # the cache object holds inputs, not weights
    cat = df[df.op == "concat"]
    assert len(cat) == 2 * LAYERS
    per_pass = LAYERS * 2 * CACHED * D * 2
    assert cat.input_bytes.sum() == pytest.approx(per_pass, rel=0.002)
    assert cat.output_bytes.sum() == pytest.approx(per_pass, rel=0.002)
    assert [layer.keys.shape[2] for layer in cache.layers] == [CACHED] * LAYERS   # not grown

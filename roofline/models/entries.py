"""The zoo's entries: MobileNetV4 and the baselines of its paper, at the paper's resolutions,
each with its published top-1, params and MACs and their sources. Data only; importing this
module registers every entry (:func:`roofline.models.registry.register` checks each).
"""

from __future__ import annotations

from roofline.models.published import FIGURES, Published, Source, cite
from roofline.models.registry import ZooEntry, register

__all__ = ["MNV4_TABLE6", "MNV4_TEXT", "MNV3_TABLE3", "EFFNET_TABLE2", "ENTRIES"]

_ARXIV_MNV4 = "https://arxiv.org/abs/2404.10518"
MNV4_TABLE6 = Source(
    "MNv4 Table 6",
    "Qin et al. 2024, MobileNetV4: Universal Models for the Mobile Ecosystem, arXiv 2404.10518, "
    "Table 6 (v2; Table 5 in v1)", _ARXIV_MNV4)
MNV4_TEXT = Source(
    "MNv4 text",
    "Qin et al. 2024, MobileNetV4, arXiv 2404.10518, text on the retrained baselines "
    "(MobileNetV1 74.0%, V2 73.4%, V3 75.5%)", _ARXIV_MNV4)
MNV3_TABLE3 = Source(
    "MNv3 Table 3",
    "Howard et al. 2019, Searching for MobileNetV3, arXiv 1905.02244, Table 3",
    "https://arxiv.org/abs/1905.02244")
EFFNET_TABLE2 = Source(
    "EfficientNet Table 2",
    "Tan & Le 2019, EfficientNet: Rethinking Model Scaling for CNNs, arXiv 1905.11946, Table 2 "
    "(its 'FLOPS' are multiply-adds)", "https://arxiv.org/abs/1905.11946")


def _table6(top1: str, params_m: str, macs_g: str) -> Published:
    return Published({"top1": cite(top1, MNV4_TABLE6), "params_m": cite(params_m, MNV4_TABLE6),
                      "macs_g": cite(macs_g, MNV4_TABLE6)})


def _unpublished(why: str) -> Published:
    return Published({f: cite(None, None, why) for f in FIGURES})


_EFFNET = "timm.models.efficientnet"
_MNV3 = "timm.models.mobilenetv3"
_CONVNEXT_RULE = ("its 4x4 stride-4 stem and three 2x2 stride-2 downsamples need a feature map "
                  "of at least 2 px before each downsample")

ENTRIES = (
    # ---- MobileNetV4 (the layer tables of v2 Tables 11-15 match timm block for block)
    ZooEntry("mnv4_conv_small", "MobileNetV4", "mobilenetv4_conv_small", 224,
             _table6("73.8", "3.8", "0.2"),
             aliases=("MNv4-Conv-S", "MobileNetV4-Conv-S", "mobilenetv4_conv_small")),
    ZooEntry("mnv4_conv_medium", "MobileNetV4", "mobilenetv4_conv_medium", 256,
             _table6("79.9", "9.2", "1.0"),
             aliases=("MNv4-Conv-M", "MobileNetV4-Conv-M", "mobilenetv4_conv_medium")),
    ZooEntry("mnv4_conv_large", "MobileNetV4", "mobilenetv4_conv_large", 384,
             _table6("82.9", "31", "5.9"),
             aliases=("MNv4-Conv-L", "MobileNetV4-Conv-L", "mobilenetv4_conv_large")),
    ZooEntry("mnv4_hybrid_medium", "MobileNetV4", "mobilenetv4_hybrid_medium", 256,
             _table6("80.7", "10.5", "1.2"),
             aliases=("MNv4-Hybrid-M", "MobileNetV4-Hybrid-M", "mobilenetv4_hybrid_medium"),
             differs="timm's definition follows the official TensorFlow code, which differs from "
                     "the paper's layer table (v2 Table 13); we analyse timm's, the one users run"),
    ZooEntry("mnv4_hybrid_large", "MobileNetV4", "mobilenetv4_hybrid_large", 384,
             _table6("83.4", "35.9", "7.2"),
             aliases=("MNv4-Hybrid-L", "MobileNetV4-Hybrid-L", "mobilenetv4_hybrid_large")),
    # ---- MobileNetV1
    ZooEntry("mobilenetv1_100", "MobileNetV1", "mobilenetv1_100", 224,
             _table6("74.0", "4.2", "0.6"),
             aliases=("MobileNet-V1", "MobileNetV1", "MobileNet-V1-1.0x", "mobilenetv1"),
             note="top-1 as retrained by the MobileNetV4 authors; Howard et al. 2017 "
                  "(arXiv 1704.04861, Table 8) report 70.6% for the original training"),
    ZooEntry("mobilenetv1_150", "MobileNetV1", "mobilenetv1_150", 224,
             _unpublished("no publication gives figures for a 1.5x MobileNetV1: Howard et al. "
                          "2017 stop at width 1.0, and the MobileNetV4 paper plots a 1.5x "
                          "(Figs. 2-3) without printing its numbers"),
             aliases=("MobileNet-V1-1.5x", "MobileNetV1-1.5x"),
             generator=f"{_EFFNET}._gen_mobilenet_v1", channel_multiplier=1.5,
             differs="timm registers no 1.5x MobileNetV1; built with timm's own MobileNetV1 "
                     "generator at channel_multiplier=1.5 (stem and classifier input scaled too)"),
    # ---- MobileNetV2
    ZooEntry("mobilenetv2_050", "MobileNetV2", "mobilenetv2_050", 224,
             _table6("66.0", "2.0", "0.1"), aliases=("MobileNet-V2-0.5x", "MobileNetV2-0.5x")),
    ZooEntry("mobilenetv2_100", "MobileNetV2", "mobilenetv2_100", 224,
             _table6("73.4", "3.5", "0.3"),
             aliases=("MobileNet-V2", "MobileNetV2", "MobileNet-V2-1.0x", "mobilenetv2"),
             note="top-1 as retrained by the MobileNetV4 authors; Sandler et al. 2018 "
                  "(arXiv 1801.04381, Table 4) report 72.0%"),
    ZooEntry("mobilenetv2_150", "MobileNetV2", "mobilenetv2_150", 224,
             _table6("76.8", "6.8", "0.7"), aliases=("MobileNet-V2-1.5x", "MobileNetV2-1.5x"),
             generator=f"{_EFFNET}._gen_mobilenet_v2", channel_multiplier=1.5,
             differs="timm registers no 1.5x MobileNetV2 (it has 1.4x); built with timm's own "
                     "MobileNetV2 generator at channel_multiplier=1.5"),
    ZooEntry("mobilenetv2_200", "MobileNetV2", "mobilenetv2_200", 224,
             _table6("78.4", "11.2", "1.1"), aliases=("MobileNet-V2-2.0x", "MobileNetV2-2.0x"),
             generator=f"{_EFFNET}._gen_mobilenet_v2", channel_multiplier=2.0,
             differs="timm registers no 2.0x MobileNetV2; built with timm's own MobileNetV2 "
                     "generator at channel_multiplier=2.0"),
    # ---- MobileNetV3
    ZooEntry("mobilenetv3_small_100", "MobileNetV3", "mobilenetv3_small_100", 224,
             Published({"top1": cite("67.4", MNV3_TABLE3), "params_m": cite("2.5", MNV3_TABLE3),
                        "macs_g": cite("0.056", MNV3_TABLE3, "printed as 56 M MAdds")}),
             aliases=("MobileNet-V3S", "MobileNetV3-Small", "MobileNet-V3-Small")),
    ZooEntry("mobilenetv3_large_050", "MobileNetV3", "mobilenetv3_large_050", 224,
             _table6("69.2", "2.7", "0.1"),
             aliases=("MobileNet-V3L-0.5x", "MobileNetV3-Large-0.5x"),
             generator=f"{_MNV3}._gen_mobilenet_v3", channel_multiplier=0.5,
             differs="timm registers no 0.5x MobileNetV3-Large; built with timm's own "
                     "MobileNetV3 generator at channel_multiplier=0.5 (stem fixed at 16 channels "
                     "below 0.75x, head 1280 as in every width)"),
    ZooEntry("mobilenetv3_large_100", "MobileNetV3", "mobilenetv3_large_100", 224,
             Published({"top1": cite("75.5", MNV4_TEXT, "retrained by the MobileNetV4 authors; "
                                     "Howard et al. 2019 (Table 3) report 75.2%"),
                        "params_m": cite("5.4", MNV3_TABLE3),
                        "macs_g": cite("0.219", MNV3_TABLE3, "printed as 219 M MAdds")}),
             aliases=("MobileNet-V3L", "MobileNetV3-Large", "MobileNet-V3", "MobileNetV3",
                      "mobilenetv3")),
    ZooEntry("mobilenetv3_large_150", "MobileNetV3", "mobilenetv3_large_150", 224,
             _unpublished("no publication gives figures for the plain 1.5x MobileNetV3-Large: "
                          "Howard et al. 2019 stop at 1.0x, and the MobileNetV4 paper plots it "
                          "(Figs. 2-3) without printing its numbers"),
             aliases=("MobileNet-V3L-1.5x", "MobileNetV3-Large-1.5x", "MobileNet-V3-1.5x"),
             generator=f"{_MNV3}._gen_mobilenet_v3", channel_multiplier=1.5,
             differs="timm's mobilenetv3_large_150d is another design (depth multiplier 1.2); "
                     "this is the plain 1.5x, built with timm's MobileNetV3 generator at "
                     "channel_multiplier=1.5 (head conv stays 1280 wide, as in every width)"),
    # ---- MobileOne (re-parameterised)
    ZooEntry("mobileone_s0", "MobileOne", "mobileone_s0", 224, _table6("71.4", "2.1", "0.3"),
             aliases=("MobileOne-S0",), reparameterize=True),
    ZooEntry("mobileone_s4", "MobileOne", "mobileone_s4", 224, _table6("79.4", "14.8", "1.5"),
             aliases=("MobileOne-S4",), reparameterize=True),
    # ---- FastViT (re-parameterised; trained and measured at 256)
    ZooEntry("fastvit_t8", "FastViT", "fastvit_t8", 256, _table6("75.6", "3.6", "0.7"),
             aliases=("FastViT-T8",), reparameterize=True),
    ZooEntry("fastvit_s12", "FastViT", "fastvit_s12", 256, _table6("79.8", "8.8", "1.8"),
             aliases=("FastViT-S12",), reparameterize=True),
    ZooEntry("fastvit_sa12", "FastViT", "fastvit_sa12", 256, _table6("80.6", "10.9", "1.9"),
             aliases=("FastViT-SA12",), reparameterize=True),
    ZooEntry("fastvit_sa24", "FastViT", "fastvit_sa24", 256, _table6("82.6", "20.6", "3.8"),
             aliases=("FastViT-SA24",), reparameterize=True),
    ZooEntry("fastvit_sa36", "FastViT", "fastvit_sa36", 256, _table6("83.6", "30.4", "5.6"),
             aliases=("FastViT-SA36",), reparameterize=True),
    # ---- EfficientViT (MIT; not Microsoft's efficientvit_m*)
    ZooEntry("efficientvit_b1_r224", "EfficientViT", "efficientvit_b1", 224,
             _table6("79.4", "9.1", "0.5"),
             aliases=("MIT-EfficientViT-B1-r224", "EfficientViT-B1-r224", "efficientvit_b1"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    ZooEntry("efficientvit_b2_r256", "EfficientViT", "efficientvit_b2", 256,
             _table6("82.7", "24.0", "2.1"),
             aliases=("MIT-EfficientViT-B2-r256", "EfficientViT-B2-r256", "efficientvit_b2"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    ZooEntry("efficientvit_b3_r224", "EfficientViT", "efficientvit_b3", 224,
             _table6("83.5", "49.0", "4.0"),
             aliases=("MIT-EfficientViT-B3-r224", "EfficientViT-B3-r224", "efficientvit_b3"),
             note="MIT EfficientViT (Cai et al.), not Microsoft's (timm efficientvit_m*)"),
    # ---- ConvNeXt, EfficientNet
    ZooEntry("convnext_small", "ConvNeXt", "convnext_small", 224, _table6("83.1", "50", "8.7"),
             aliases=("ConvNext-S", "ConvNeXt-S", "ConvNeXt-Small"),
             min_resolution=32, resolution_rule=_CONVNEXT_RULE),
    ZooEntry("efficientnet_b0", "EfficientNet", "efficientnet_b0", 224,
             Published({"top1": cite("77.1", EFFNET_TABLE2),
                        "params_m": cite("5.3", EFFNET_TABLE2),
                        "macs_g": cite("0.39", EFFNET_TABLE2, "printed as 0.39B FLOPS, which "
                                       "the paper counts as multiply-adds")}),
             aliases=("EfficientNet-B0",)),
)

for _e in ENTRIES:
    register(_e)

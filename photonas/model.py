"""PhotoNet, PhotoNAS and any other code: frozen VGG19 encoder + supernet decoder + transfers.

The network alone; loading and saving (a folder, the Hugging Face Hub, the shipped presets)
live in :mod:`photonas.hub`, and ``from_pretrained`` / ``save_pretrained`` / ``push_to_hub``
here are thin wrappers over it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import torch
from torch import Tensor, nn

from photonas import hub
from photonas.arch import ArchCode
from photonas.decoder import Decoder, NormStats, Transfer
from photonas.device import choose_device, convert_for_inference
from photonas.encoder import Features, VGGEncoder
from photonas.padding import crop, pad_to_grid
from photonas.presets import DEFAULT_PRESET, get_preset
from photonas.style import StyleStats, decoder_fingerprint
from photonas.transforms import RegionStats, WCTConfig, check_labels, region_stats, region_transfer

__all__ = ["PhotoNAS", "PhotoNet", "StyleTransferModel"]


def _check_images(images: Tensor, name: str, labels: Tensor | None = None) -> None:
    """``(B, 3, H, W)`` floating-point images, and ``(B, H, W)`` labels of the same size."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(
            f"{name} must be float32 (or float16/bfloat16) in [0, 1], got {images.dtype}: use .float() / 255"
        )
    if labels is not None:
        check_labels(labels, batch=images.shape[0])
        if labels.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"{name} labels are {tuple(labels.shape[-2:])}, the images {tuple(images.shape[-2:])}")


class StyleTransferModel(nn.Module):
    """Encoder–decoder style transfer for any 32-bit architecture code.

    Args:
        code: the architecture code (a 32-character '0'/'1' string); saved in ``config.json``.

    Example:
        >>> model = StyleTransferModel("0" * 32)              # untrained, for shapes only
        >>> model.reconstruct(torch.rand(1, 3, 40, 50)).shape
        torch.Size([1, 3, 40, 50])
    """

    #: Preset whose shipped weights ``from_pretrained()`` loads when given no path.
    preset: ClassVar[str] = DEFAULT_PRESET

    def __init__(self, code: str | ArchCode | None = None) -> None:
        super().__init__()
        self.code = ArchCode.parse(code if code is not None else get_preset(self.preset).code)
        self.encoder = VGGEncoder()
        self.decoder = Decoder(self.code)

    # ---- loading and saving (decoder only), see photonas.hub --------------------------------

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike | None = None, **options) -> StyleTransferModel:
        """Load a folder, a Hub repo id, or (no argument) this class's shipped weights.

        Loading is strict: every decoder weight must be present and none may be extra.
        ``options`` are :func:`photonas.hub.load_pretrained`'s (``code``, ``map_location``,
        ``revision``, ``cache_dir``, ``token``, …).

        Raises:
            photonas.hub.WeightsNotFoundError: no ``model.safetensors`` where it was looked for.
        """
        return hub.load_pretrained(cls, source, **options)

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write ``config.json`` and the decoder's ``model.safetensors`` (never the VGG19 encoder)."""
        return hub.save_pretrained(self, folder)

    def push_to_hub(self, repo_id: str, **options) -> str:
        """Upload to the Hugging Face Hub as ``repo_id`` (see :func:`photonas.hub.push_to_hub`)."""
        return hub.push_to_hub(self, repo_id, **options)

    # ---- the network ----------------------------------------------------------------------

    def for_inference(self, device: str | torch.device | None = None, precision: str = "auto") -> StyleTransferModel:
        """Convert in place for fast inference: weights in the precision's dtype, channels-last.

        ``"auto"`` is bf16 on CUDA and on CPUs with native bf16, float32 elsewhere (see
        :func:`~photonas.device.resolve_precision`). The decoder keeps the fingerprint of its
        float32 weights, so style presets made at any precision stay valid. Not for training.
        """
        self.decoder.frozen_fingerprint = decoder_fingerprint(self.decoder)
        convert_for_inference(self, choose_device(device), precision)
        return self

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (encoder and decoder move together)."""
        return next(self.decoder.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights (float32, or bf16/fp16 after :meth:`for_inference`)."""
        return self.encoder.layers["block1_conv1"].weight.dtype

    def encode(self, image: Tensor) -> Features:
        """``(B, 3, H, W)`` RGB in [0, 1], H and W on the encoder grid → relu1_1 … relu5_1.

        The image is cast to the weights' dtype and memory layout (channels-last weights get a
        channels-last image), so a converted model takes float32 images like any other.
        """
        weight = self.encoder.layers["block1_conv1"].weight
        channels_last = weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return self.encoder(image.to(dtype=weight.dtype, memory_format=layout))

    def decode(self, feats: Features, transfer: Transfer | None = None, norm_stats: NormStats | None = None) -> Tensor:
        """Encoder features → ``(B, 3, H, W)``; ``transfer`` is called at each transfer position,
        ``norm_stats`` (optional) gives every instance norm its statistics."""
        return self.decoder(feats, transfer, norm_stats)

    def reconstruct(self, image: Tensor) -> Tensor:
        """Encode then decode with no transfer (what training optimises), any ``(B, 3, H, W)``."""
        _check_images(image, "image")
        padded, box = pad_to_grid(image)
        return crop(self.decode(self.encode(padded)), box).to(image.dtype)

    @property
    def transfer_points(self) -> tuple[str, ...]:
        """The transfer positions this model's code switches on."""
        return self.decoder.transfer_points

    def style_stats(
        self,
        style: Tensor,
        labels: Tensor | None = None,
        *,
        min_pixels: int = 64,
        reference: bool = False,
        features: Features | None = None,
    ) -> StyleStats:
        """Summarise a ``(B, 3, H, W)`` style (B = 1 with ``labels``) at every transfer position.

        In-decoder positions take their statistics from the style decoded alongside: the style
        runs through the same decoder stages (reconstructing itself) and is measured there.
        ``labels`` (``(1, H, W)`` integers) add per-region statistics for masked transfer;
        ``reference`` computes them in float64 (see :class:`~photonas.transforms.WCTConfig`).
        ``features``: the encoder features of ``pad_to_grid(style)`` when the caller has them
        already (automatic regions are found from them), so the style is not encoded twice.
        """
        _check_images(style, "style", labels)
        padded, _ = pad_to_grid(style)
        padded_labels = pad_to_grid(labels)[0] if labels is not None else None
        feats = self.encode(padded) if features is None else features
        points: dict[str, RegionStats] = {}

        def record(point: str, x: Tensor) -> Tensor:
            points[point] = region_stats(x, padded_labels, min_pixels, reference=reference)
            return x

        needs_decoder = any(self.decoder.encoder_level(p) is None for p in self.transfer_points)
        if needs_decoder:
            self.decode(feats, record)
        else:
            for point in self.transfer_points:
                record(point, feats[self.decoder.encoder_level(point)])
        return StyleStats(points, str(self.code), decoder_fingerprint(self.decoder) if needs_decoder else "")

    def check_style_stats(self, stats: StyleStats) -> None:
        """Raise a ValueError if ``stats`` was not made for this model's transfer positions and weights."""
        missing = [p for p in self.transfer_points if p not in stats.points]
        if missing:
            raise ValueError(
                f"style statistics made for code {stats.code} lack positions {missing} of code {self.code}"
            )
        if stats.decoder_id and stats.decoder_id != decoder_fingerprint(self.decoder):
            raise ValueError(
                "style statistics were taken inside another decoder's weights: recompute them with this model"
            )

    def stylize(
        self,
        content: Tensor,
        style: Tensor | StyleStats,
        *,
        alpha: float = 1.0,
        method: str = "wct",
        content_labels: Tensor | None = None,
        style_labels: Tensor | None = None,
        config: WCTConfig = WCTConfig(),
        min_pixels: int = 64,
        features: Features | None = None,
    ) -> Tensor:
        """Stylise ``(B, 3, H, W)`` content in [0, 1] of any size; returns the same shape.

        Args:
            content: content images.
            style: a style image batch (1 or B) or statistics from :meth:`style_stats`.
            alpha: style strength in [0, 1] at every transfer position.
            method: ``"wct"`` or ``"adain"``.
            content_labels: ``(B, H, W)`` integer region labels of the content.
            style_labels: ``(1, H, W)`` region labels of the style image (ignored for statistics).
            config: regularisation of the whitening.
            min_pixels: smallest region (in feature pixels) given its own statistics.
            features: the encoder features of ``pad_to_grid(content)`` when the caller has them
                already (automatic regions are found from them), so the content is not encoded twice.
        """
        _check_images(content, "content", content_labels)
        if isinstance(style, Tensor):
            style = self.style_stats(style, style_labels, min_pixels=min_pixels, reference=config.reference)
        else:
            self.check_style_stats(style)
        style = style.to(content.device)
        padded, box = pad_to_grid(content)
        labels = pad_to_grid(content_labels)[0] if content_labels is not None else None

        def transfer(point: str, x: Tensor) -> Tensor:
            return region_transfer(
                x, style.points[point], labels, method=method, alpha=alpha, config=config, min_pixels=min_pixels
            )

        feats = self.encode(padded) if features is None else features
        return crop(self.decode(feats, transfer), box).to(content.dtype)

    def forward(self, content: Tensor, style: Tensor | StyleStats, **kwargs) -> Tensor:
        """Same as :meth:`stylize`."""
        return self.stylize(content, style, **kwargs)


class PhotoNAS(StyleTransferModel):
    """The published PhotoNAS architecture (its code comes from :data:`photonas.presets.PRESETS`)."""

    preset: ClassVar[str] = "photonas"


class PhotoNet(StyleTransferModel):
    """PhotoNet: every part of the supernet switched on (its code comes from :data:`photonas.presets.PRESETS`)."""

    preset: ClassVar[str] = "photonet"

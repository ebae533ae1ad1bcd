"""A style summarised once for a given model: statistics at every transfer position.

Computing them takes a pass of the style through the encoder (and, for in-decoder
transfers, the decoder); a :class:`StyleStats` keeps them so many content images, or a
whole video, can be stylised without touching the style again. Saved, it is a small
safetensors "style preset".
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import torch
from safetensors import safe_open
from torch import Tensor, nn

from photonas.checkpoint import save_safetensors_atomic
from photonas.transforms import FeatureStats, RegionStats

_FORMAT = "photonas-style-preset"
_FIELDS = ("mean", "color", "std")


def decoder_fingerprint(decoder: nn.Module) -> str:
    """A short id of a decoder's weights, so statistics taken inside one decoder are not used with another.

    Hashes names, shapes and a strided sample of every tensor: milliseconds, not a full hash.
    A decoder converted for inference keeps the fingerprint of its float32 weights
    (``frozen_fingerprint``, set by :meth:`~photonas.model.StyleTransferModel.for_inference`),
    so presets work across precisions.
    """
    frozen = getattr(decoder, "frozen_fingerprint", None)
    if frozen:
        return frozen
    digest = hashlib.sha256()
    for name, tensor in decoder.state_dict().items():
        sample = tensor.detach().flatten()[::97].to("cpu", torch.float32)
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class StyleStats:
    """Per-position, per-region statistics of one style for one model.

    Attributes:
        points: transfer position (``"d5.transfer"`` …) → label → statistics.
        code: architecture code of the model that produced them.
        decoder_id: :func:`decoder_fingerprint` of that model's decoder when any position is
            inside the decoder (their statistics depend on its weights), else ``""``.
    """

    points: dict[str, RegionStats]
    code: str
    decoder_id: str = ""

    def to(self, device: torch.device | str) -> StyleStats:
        """The same statistics on another device."""
        moved = {p: {label: s.to(device) for label, s in regions.items()} for p, regions in self.points.items()}
        return StyleStats(moved, self.code, self.decoder_id)

    def save(self, path: str | os.PathLike) -> None:
        """Write a style preset (safetensors, atomically)."""
        tensors: dict[str, Tensor] = {}
        for point, regions in self.points.items():
            for label, stats in regions.items():
                for field in _FIELDS:
                    tensors[f"{point}/{label}/{field}"] = getattr(stats, field)
        metadata = {"format": _FORMAT, "code": self.code, "decoder_id": self.decoder_id}
        save_safetensors_atomic(tensors, path, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> StyleStats:
        """Read a style preset written by :meth:`save`."""
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                metadata = f.metadata() or {}
                tensors = {key: f.get_tensor(key) for key in f.keys()}
        except Exception as err:  # safetensors raises its own SafetensorError, a bare Exception subclass
            raise ValueError(f"{path} is not a readable style preset: {err}") from None
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"{path} is a safetensors file but not a photonas style preset")
        grouped: dict[str, dict[int, dict[str, Tensor]]] = {}
        for key, tensor in tensors.items():
            point, label, field = key.split("/")
            grouped.setdefault(point, {}).setdefault(int(label), {})[field] = tensor
        points = {p: {label: FeatureStats(**fields) for label, fields in regions.items()} for p, regions in grouped.items()}
        return cls(points, metadata.get("code", ""), metadata.get("decoder_id", ""))

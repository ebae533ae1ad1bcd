"""A style summarised once for a given model: statistics at every transfer position.

Computing them takes a pass of the style through the encoder (and, for in-decoder
transfers, the decoder); a :class:`StyleStats` keeps them so many content images, or a
whole video, can be stylised without touching the style again. Saved, it is a small
safetensors "style preset".
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass

import torch
from safetensors import safe_open
from torch import Tensor, nn

from photonas.checkpoint import save_safetensors_atomic
from photonas.regions import RegionConfig, RegionMatcher
from photonas.transforms import GLOBAL, FeatureStats, RegionStats

_FORMAT = "photonas-style-preset"
_FIELDS = ("mean", "color", "std")
#: Tensor-name prefix of the automatic regions' matcher in a preset file.
_REGIONS = "regions/"


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
        regions: the automatic regions found on the style (:mod:`photonas.regions`), which
            label a content photo so that its regions take these statistics' regions; None
            for a style summarised without them.
    """

    points: dict[str, RegionStats]
    code: str
    decoder_id: str = ""
    regions: RegionMatcher | None = None

    def to(self, device: torch.device | str) -> StyleStats:
        """The same statistics on another device."""
        moved = {p: {label: s.to(device) for label, s in regions.items()} for p, regions in self.points.items()}
        return StyleStats(moved, self.code, self.decoder_id, self.regions)

    def save(self, path: str | os.PathLike) -> None:
        """Write a style preset (safetensors, atomically)."""
        tensors: dict[str, Tensor] = {}
        for point, regions in self.points.items():
            for label, stats in regions.items():
                for field in _FIELDS:
                    tensors[f"{point}/{label}/{field}"] = getattr(stats, field)
        metadata = {"format": _FORMAT, "code": self.code, "decoder_id": self.decoder_id}
        if self.regions is not None:
            tensors[f"{_REGIONS}centroids"] = self.regions.centroids.float().cpu()
            tensors[f"{_REGIONS}targets"] = self.regions.targets.cpu()
            config = asdict(self.regions.config)
            metadata["regions"] = json.dumps({"config": config, "flat_label": self.regions.flat_label})
        save_safetensors_atomic(tensors, path, metadata)

    @classmethod
    def load(cls, path: str | os.PathLike, device: torch.device | str = "cpu") -> StyleStats:
        """Read a style preset written by :meth:`save`.

        Raises:
            ValueError: the file is not a readable, well-formed style preset; the message names it.
        """
        try:
            with safe_open(str(path), framework="pt", device=str(device)) as f:
                metadata = f.metadata() or {}
                tensors = {key: f.get_tensor(key) for key in f.keys()}
        except Exception as err:  # safetensors raises its own SafetensorError, a bare Exception subclass
            raise ValueError(f"{path} is not a readable style preset: {err}") from None
        if metadata.get("format") != _FORMAT:
            raise ValueError(f"{path} is a safetensors file but not a photonas style preset")
        try:
            regions = _regions(tensors, metadata.get("regions"))
            points = _points({k: v for k, v in tensors.items() if not k.startswith(_REGIONS)})
        except ValueError as err:
            raise ValueError(f"{path} is not a usable style preset: {err}") from None
        return cls(points, metadata.get("code", ""), metadata.get("decoder_id", ""), regions)


def _regions(tensors: dict[str, Tensor], metadata: str | None) -> RegionMatcher | None:
    """The automatic regions' matcher saved in a preset, checked; None when it holds none."""
    centroids, targets = tensors.get(f"{_REGIONS}centroids"), tensors.get(f"{_REGIONS}targets")
    if metadata is None and centroids is None and targets is None:
        return None
    if metadata is None or centroids is None or targets is None:
        raise ValueError("its automatic regions are incomplete (centroids, targets and settings go together)")
    try:
        saved = json.loads(metadata)
        values = dict(saved["config"])
        config = RegionConfig(**{**values, "levels": tuple(values.get("levels", ()))})
        flat_label = int(saved["flat_label"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"its automatic-regions settings are unreadable ({type(err).__name__}: {err})") from None
    if centroids.ndim != 2 or not centroids.is_floating_point() or not torch.isfinite(centroids).all():
        raise ValueError(f"its region centroids are not a finite (m, D) float tensor: {tuple(centroids.shape)}")
    if targets.shape != centroids.shape[:1] or targets.is_floating_point():
        raise ValueError(f"its region targets {tuple(targets.shape)} do not fit {centroids.shape[0]} centroids")
    return RegionMatcher(centroids, targets.long(), config, flat_label)


def _points(tensors: dict[str, Tensor]) -> dict[str, RegionStats]:
    """Preset tensors named ``position/label/field`` as statistics, checked so that a hand-made or
    damaged file fails here with a ValueError rather than as a TypeError or a shape error mid-transfer."""
    grouped: dict[str, dict[int, dict[str, Tensor]]] = {}
    for key, tensor in tensors.items():
        parts = key.split("/")
        if len(parts) != 3 or not parts[0]:
            raise ValueError(f"tensor {key!r} is not named position/label/{'|'.join(_FIELDS)}")
        point, label, field = parts
        if field not in _FIELDS:
            raise ValueError(f"tensor {key!r} has unknown field {field!r}; expected one of {', '.join(_FIELDS)}")
        try:
            region = int(label)
        except ValueError:
            raise ValueError(f"tensor {key!r} has label {label!r}, not an integer") from None
        grouped.setdefault(point, {}).setdefault(region, {})[field] = tensor
    if not grouped:
        raise ValueError("it holds no statistics")
    points: dict[str, RegionStats] = {}
    for point, regions in grouped.items():
        if GLOBAL not in regions:
            raise ValueError(f"position {point!r} lacks the whole-image statistics (label {GLOBAL})")
        points[point] = {label: _feature_stats(f"{point}/{label}", fields) for label, fields in regions.items()}
        channels = {stats.mean.shape for stats in points[point].values()}
        if len(channels) > 1:
            raise ValueError(f"position {point!r} mixes regions of shapes {sorted(channels)}")
    return points


def _feature_stats(where: str, fields: dict[str, Tensor]) -> FeatureStats:
    """One region's fields as :class:`FeatureStats`: all three present, float, finite, of matching shapes."""
    missing = [field for field in _FIELDS if field not in fields]
    if missing:
        raise ValueError(f"{where} lacks field(s) {', '.join(missing)}")
    for field, tensor in fields.items():
        if not tensor.is_floating_point():
            raise ValueError(f"{where}/{field} holds {tensor.dtype}, not floating-point values")
        if not torch.isfinite(tensor).all():
            raise ValueError(f"{where}/{field} holds NaN or infinite values")
    mean, color, std = fields["mean"], fields["color"], fields["std"]
    if mean.ndim != 2 or std.shape != mean.shape or color.shape != (*mean.shape, mean.shape[1]):
        raise ValueError(
            f"{where} has shapes mean {tuple(mean.shape)}, color {tuple(color.shape)}, std {tuple(std.shape)}; "
            "expected (B, C), (B, C, C), (B, C)"
        )
    return FeatureStats(mean, color, std)

"""Style presets (photonas/style.py): a hand-made or damaged file fails with one clear ValueError."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from photonas.style import StyleStats
from photonas.transforms import GLOBAL, FeatureStats

_META = {"format": "photonas-style-preset", "code": "0" * 32, "decoder_id": ""}


def _fields(channels: int = 4) -> dict[str, torch.Tensor]:
    return {"mean": torch.zeros(1, channels), "color": torch.eye(channels)[None], "std": torch.ones(1, channels)}


def _region(point: str = "d5.transfer", label: int = GLOBAL, **fields: torch.Tensor) -> dict[str, torch.Tensor]:
    return {f"{point}/{label}/{name}": tensor for name, tensor in fields.items()}


def _write(tmp_path: Path, tensors: dict[str, torch.Tensor]) -> Path:
    path = tmp_path / "hand_made.safetensors"
    save_file(tensors, str(path), metadata=_META)
    return path


def test_save_load_round_trip_with_regions(tmp_path: Path) -> None:
    regions = {GLOBAL: FeatureStats(**_fields()), 3: FeatureStats(**_fields())}
    StyleStats({"d5.transfer": regions}, "0" * 32).save(tmp_path / "p.safetensors")
    loaded = StyleStats.load(tmp_path / "p.safetensors")
    assert set(loaded.points["d5.transfer"]) == {GLOBAL, 3}
    assert torch.equal(loaded.points["d5.transfer"][3].color, torch.eye(4)[None])


@pytest.mark.parametrize(
    ("tensors", "fragment"),
    [
        ({**_region(**_fields()), "d5.transfer/-1/bogus": torch.zeros(1, 4)}, "unknown field 'bogus'"),
        (_region(mean=torch.zeros(1, 4), color=torch.eye(4)[None]), "lacks field(s) std"),
        ({"d5.transfer/mean": torch.zeros(1, 4)}, "not named position/label/"),
        ({"a/b/c/d": torch.zeros(1)}, "not named position/label/"),
        (_region(label="sky", **_fields()), "label 'sky', not an integer"),  # type: ignore[arg-type]
        (_region(label=2, **_fields()), "lacks the whole-image statistics"),
        ({}, "holds no statistics"),
        (_region(**{**_fields(), "color": torch.eye(3)[None]}), "expected (B, C), (B, C, C), (B, C)"),
        (_region(**{**_fields(), "mean": torch.zeros(4)}), "expected (B, C), (B, C, C), (B, C)"),
        (_region(**{**_fields(), "std": torch.ones(1, 4, dtype=torch.int32)}), "not floating-point"),
        (_region(**{**_fields(), "mean": torch.full((1, 4), float("nan"))}), "NaN or infinite"),
        ({**_region(**_fields(4)), **_region(label=1, **_fields(5))}, "mixes regions of shapes"),
    ],
)
def test_hand_made_preset_is_a_clear_error(tmp_path: Path, tensors: dict, fragment: str) -> None:
    path = _write(tmp_path, tensors)
    with pytest.raises(ValueError, match="not a usable style preset") as caught:
        StyleStats.load(path)
    assert fragment in str(caught.value) and str(path) in str(caught.value)
    assert type(caught.value) is ValueError  # no TypeError or KeyError dressed up


def _with_regions(tmp_path: Path, tensors: dict[str, torch.Tensor], regions_metadata: str | None) -> Path:
    path = tmp_path / "regions.safetensors"
    metadata = _META if regions_metadata is None else {**_META, "regions": regions_metadata}
    save_file({**_region(**_fields()), **tensors}, str(path), metadata=metadata)
    return path


_GOOD_REGIONS = '{"config": {"regions": 2, "levels": ["relu4_1"]}, "flat_label": 2}'


@pytest.mark.parametrize(
    ("tensors", "metadata", "fragment"),
    [
        ({"regions/centroids": torch.zeros(2, 3)}, None, "incomplete"),
        ({"regions/centroids": torch.zeros(2, 3), "regions/targets": torch.arange(2)}, "{not json", "unreadable"),
        ({"regions/centroids": torch.zeros(2, 3), "regions/targets": torch.arange(2)},
         '{"config": {"method": "magic"}, "flat_label": 2}', "unreadable"),
        ({"regions/centroids": torch.zeros(2, 3), "regions/targets": torch.arange(3)}, _GOOD_REGIONS, "do not fit"),
        ({"regions/centroids": torch.full((2, 3), float("inf")), "regions/targets": torch.arange(2)}, _GOOD_REGIONS,
         "not a finite"),
    ],
)
def test_damaged_automatic_regions_are_a_clear_error(tmp_path: Path, tensors: dict, metadata, fragment: str) -> None:
    with pytest.raises(ValueError, match="not a usable style preset") as caught:
        StyleStats.load(_with_regions(tmp_path, tensors, metadata))
    assert fragment in str(caught.value)


def test_automatic_regions_round_trip(tmp_path: Path) -> None:
    path = _with_regions(tmp_path, {"regions/centroids": torch.rand(2, 3), "regions/targets": torch.arange(2)}, _GOOD_REGIONS)
    loaded = StyleStats.load(path)
    assert loaded.regions is not None and loaded.regions.config.levels == ("relu4_1",) and loaded.regions.flat_label == 2
    loaded.save(tmp_path / "again.safetensors")
    again = StyleStats.load(tmp_path / "again.safetensors")
    assert torch.equal(again.regions.centroids, loaded.regions.centroids) and again.regions.config == loaded.regions.config

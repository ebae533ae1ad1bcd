"""Generated test images shared by several test modules (no data files needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photonas.io import image_to_tensor

#: Two DPST palette colours, for two-region label maps.
BLUE, GREEN = (0, 0, 255), (0, 255, 0)


def gradient_photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth colour gradient with a little noise, so every statistic is well defined."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    rgb = np.stack([x, y, 1 - x * y], axis=-1) * rng.uniform(0.5, 1.0, 3) + rng.normal(0, 0.05, (height, width, 3))
    return Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255))


def label_halves(size: tuple[int, int], vertical_split: bool = True, first=BLUE, second=GREEN) -> Image.Image:
    """A two-region DPST label map: ``first`` then ``second``, split left/right or top/bottom."""
    width, height = size
    data = np.zeros((height, width, 3), np.uint8)
    if vertical_split:
        data[:, : width // 2], data[:, width // 2 :] = first, second
    else:
        data[: height // 2], data[height // 2 :] = first, second
    return Image.fromarray(data)


def photo_tensor(image: Image.Image) -> torch.Tensor:
    """A PIL image as a ``(1, 3, H, W)`` float tensor in [0, 1]."""
    return image_to_tensor(np.asarray(image.convert("RGB"), np.float32) / 255)


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of a CSV file with a header."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))

"""photonas.colour_grid: the bilateral grid of affine colour maps behind fast mode and video."""

from __future__ import annotations

import torch
from helpers import photo_tensor
from PIL import Image

from photonas.colour_grid import apply_colour_grid, fit_colour_grid, resize_long_side
from photonas.presets import EXAMPLES_DIR


def test_colour_grid_reproduces_an_affine_change() -> None:
    photo = photo_tensor(Image.open(EXAMPLES_DIR / "chelsea.jpg"))
    matrix = torch.tensor([[0.8, 0.1, 0.0], [0.05, 0.9, 0.05], [0.0, 0.2, 0.7]])
    target = (torch.einsum("ij,bjhw->bihw", matrix, photo) + 0.05).clamp(0, 1)
    small = resize_long_side(photo, 96)
    grid = fit_colour_grid(small, resize_long_side(target, 96))
    assert (apply_colour_grid(grid, photo) - target).abs().mean() < 2e-3

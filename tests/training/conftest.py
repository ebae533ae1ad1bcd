"""Fixtures of the training tests: a folder of generated photos, some held out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

N_VAL = 3  # val_* photos in the generated folder
N_PHOTOS = 12


def make_photo(size: tuple[int, int], seed: int) -> Image.Image:
    """A smooth gradient, an ellipse and a rectangle, plus noise."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    rgb = np.stack([x, y, 1 - x * y], axis=-1) * rng.uniform(0.4, 1.0, 3)
    image = Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255))
    draw = ImageDraw.Draw(image)
    x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
    draw.ellipse((x0, y0, x0 + width // 3, y0 + height // 3), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw.rectangle((width - x0 - 10, height - y0 - 8, width - x0, height - y0), fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    noisy = np.asarray(image, np.float32) + rng.normal(0, 8, (height, width, 3))
    return Image.fromarray(np.uint8(np.clip(noisy, 0, 255)))


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 photos, 64x48 and 40x56, JPEG and PNG; the first 3 are held-out ``val_*.jpg``."""
    folder = tmp_path_factory.mktemp("photos")
    (folder / "sub").mkdir()  # list_photos searches recursively
    for i in range(N_PHOTOS):
        size = (64, 48) if i % 2 else (40, 56)
        if i < N_VAL:
            name = f"val_{i}.jpg"
        else:
            name = f"sub/img_{i}.png" if i % 3 == 0 else f"img_{i}.jpg"
        make_photo(size, i).save(folder / name, quality=95)
    (folder / "notes.txt").write_text("not a photo")
    return folder


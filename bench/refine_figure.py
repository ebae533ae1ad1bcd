"""Side-by-side figure of the bundled colour-story pairs: raw network output, default output, MK, Reinhard.

    python -m bench.refine_figure                       # bench/results/cpu-2cores/examples/refine_figure.jpg

Each row is one pair at the photos' own size (800 px): content, style, then every method's
result, and under each result a 100 % crop of an edge against the sky (the ``CROPS`` box),
enlarged 2× with nearest-neighbour so that pixels, haloes and softness stay visible. Only the
bundled, freely licensed example photos are used, so the figure may be committed.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

import photonas
from bench.classical import monge_kantorovich, reinhard
from bench.pairs import REPO_ROOT
from photonas.presets import EXAMPLES_DIR

#: (content, style, crop box (left, top, width, height) of an edge against the sky, in content pixels).
PAIRS: tuple[tuple[str, str, tuple[int, int, int, int]], ...] = (
    ("mountain_day", "sunset", (330, 100, 160, 100)),
    ("creek_overcast", "golden_hour", (0, 0, 160, 100)),
    ("bridge_day", "sunset", (300, 20, 160, 100)),
)
THUMB = 320
LABEL = 16


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), np.float64) / 255


def _image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.uint8(np.clip(rgb, 0, 1) * 255 + 0.5))


def outputs(content: Path, style: Path) -> dict[str, Image.Image]:
    """Every column of one row, at the content's size."""
    c, s = _rgb(Image.open(content)), _rgb(Image.open(style))
    return {
        "content": Image.open(content).convert("RGB"),
        "style": Image.open(style).convert("RGB"),
        "PhotoNAS raw (paper)": photonas.stylize(content, style, raw=True),
        "PhotoNAS default": photonas.stylize(content, style),
        "Monge-Kantorovich": _image(monge_kantorovich(c, s)),
        "Reinhard": _image(reinhard(c, s)),
    }


def figure(pairs: Sequence[tuple[str, str, tuple[int, int, int, int]]], path: Path) -> None:
    rows = []
    for content, style, (left, top, width, height) in pairs:
        images = outputs(EXAMPLES_DIR / f"{content}.jpg", EXAMPLES_DIR / f"{style}.jpg")
        rows.append((images, (left, top, left + width, top + height)))
    columns = list(rows[0][0])
    crop_h = 2 * max(box[3] - box[1] for _, box in rows)
    row_h = LABEL + THUMB * 2 // 3 + crop_h + 8
    sheet = Image.new("RGB", (THUMB * len(columns), row_h * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (images, box) in enumerate(rows):
        y = r * row_h
        for c, name in enumerate(columns):
            x = c * THUMB
            draw.text((x + 2, y + 2), name, fill="black")
            thumb = images[name].copy()
            thumb.thumbnail((THUMB - 4, THUMB * 2 // 3))
            sheet.paste(thumb, (x + 2, y + LABEL))
            if name != "style":
                crop = images[name].crop(box)
                sheet.paste(
                    crop.resize((crop.width * 2, crop.height * 2), Image.Resampling.NEAREST),
                    (x, y + LABEL + THUMB * 2 // 3 + 4),
                )
        if "content" in columns:  # where the crop comes from
            scale = min((THUMB - 4) / images["content"].width, (THUMB * 2 // 3) / images["content"].height)
            draw.rectangle(
                [2 + box[0] * scale, y + LABEL + box[1] * scale, 2 + box[2] * scale, y + LABEL + box[3] * scale],
                outline="red",
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=90, optimize=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.refine_figure", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=REPO_ROOT / "bench" / "results" / "cpu-2cores" / "examples" / "refine_figure.jpg"
    )
    args = parser.parse_args(argv)
    figure(PAIRS, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""One demo request: uploads in, a stylised photo, its timing and a clean download out.

Everything that touches pixels is the library's: photonas decodes and checks the uploads
(its ``ImageError`` becomes the message the visitor sees) and does the stylisation. This
module only shrinks the photos to the demo's working size, keeps time and writes the file.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

import photonas
from demo.models import DEFAULT_CHOICE, MODEL_CHOICES, load_models, on_gpu
from demo.regions import colour_names, editor_labels, region_overlay
from photonas.api import AUTO, summarise_style
from photonas.highres import find_regions
from photonas.io import ImageError, ImageTooLargeError, image_to_tensor, load_image, tensor_to_image
from photonas.masks import check_pairing

#: Largest upload accepted, in pixels (a 24-megapixel camera photo fits).
MAX_PIXELS = 25_000_000
#: Photos are shrunk to this longest side before stylisation (env PHOTONAS_DEMO_MAX_SIDE):
#: 5-11 s per photo at 1024 px measured on a shared 2-core CPU.
MAX_SIDE_ENV = "PHOTONAS_DEMO_MAX_SIDE"

MODELS = load_models()
DEVICE = MODELS[DEFAULT_CHOICE].device

#: Output size choices -> photonas ``mode`` (None: the photo is shrunk to the working size first).
#: Exact mode (the network in tiles at full size) only on a GPU: on a CPU it takes minutes for a
#: camera photo.
WORKING_SIZE = "Working size"
RESOLUTIONS: dict[str, str | None] = {
    WORKING_SIZE: None,
    "Full size (network at 512 px, colours carried onto the full photo)": "fast",
}
if DEVICE.type == "cuda":
    RESOLUTIONS["Full size, network at full size (in tiles)"] = "exact"


# Results are written here and gradio copies them into its own cache (which it expires) as the
# request returns, so each only has to outlive its request: every request first removes files
# older than an hour and the oldest beyond a count and a size, and the folder goes at exit.
DOWNLOAD_DIR = Path(tempfile.mkdtemp(prefix="photonas-demo-"))
DOWNLOAD_MAX_AGE_S = 3600
DOWNLOAD_MAX_FILES = 64
DOWNLOAD_MAX_BYTES = 2 * 1024**3


def max_side() -> int:
    """The working size: env PHOTONAS_DEMO_MAX_SIDE, else 2048 px on a GPU and 1024 px on a CPU."""
    env = os.environ.get(MAX_SIDE_ENV, "").strip()
    if env:
        return int(env)
    return 2048 if DEVICE.type == "cuda" else 1024


def _remove_download_dir() -> None:
    shutil.rmtree(DOWNLOAD_DIR, ignore_errors=True)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """SIGTERM (how servers and Spaces are stopped) as a normal exit, so ``atexit`` cleans up."""
    sys.exit(128 + signum)


atexit.register(_remove_download_dir)
if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:  # never displace a handler someone else set
    try:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    except ValueError:  # imported outside the main thread: only atexit then
        pass


def fit(path: str, name: str, side: int | None) -> Image.Image:
    """The upload decoded and checked by photonas, then shrunk to fit ``side`` (aspect kept; None: as is).

    Raises:
        photonas.ImageError: the file is not a usable image or has too many pixels; the
            message is the library's, except for the size limit, which is said for visitors.
    """
    try:
        image = load_image(path, max_pixels=MAX_PIXELS, name=name)
    except ImageTooLargeError as err:
        raise ImageError(too_large(err)) from err
    pil = tensor_to_image(image_to_tensor(image.rgb), alpha=image.alpha)
    return pil if side is None else shrunk(pil, side)


def too_large(err: ImageTooLargeError) -> str:
    """The size limit in a visitor's words; the library's advice (environment variables, Pillow's
    limit) is for whoever runs the server."""
    limit = f"this demo takes photos of up to {MAX_PIXELS / 1e6:g} megapixels"
    if err.size is None:
        return f"The {err.label} is far too large: {limit}. Please upload a smaller photo."
    width, height = err.size
    return (
        f"The {err.label} is {width}×{height} pixels ({width * height / 1e6:.1f} megapixels); {limit}. "
        "Please upload a smaller photo."
    )


def shrunk(image: Image.Image, side: int) -> Image.Image:
    """``image`` made to fit ``side`` on its longest side (a copy when it is larger; else itself)."""
    if max(image.size) <= side:
        return image
    small = image.copy()
    small.thumbnail((side, side), Image.Resampling.LANCZOS)
    return small


def region_masks(
    content_map: str | None, style_map: str | None, content_paint: dict | None, style_paint: dict | None
) -> tuple[str | np.ndarray, str | np.ndarray] | None:
    """The label-map pair for photonas: uploaded maps, or the regions painted in the page, or None.

    The page's own rules (one way of giving regions, paint on both photos in shared colours)
    are checked here; the library's pairing rules when the request is made.
    """
    content_labels, style_labels = editor_labels(content_paint), editor_labels(style_paint)
    painted = content_labels is not None or style_labels is not None
    uploaded = content_map is not None or style_map is not None
    if painted and uploaded:
        raise gr.Error("Give regions one way: upload two label maps or paint on both photos, not both.")
    if uploaded:
        return content_map, style_map
    if painted:
        if content_labels is None or style_labels is None:
            side = "style" if style_labels is None else "content"
            raise gr.Error(f"Paint the matching regions on the {side} photo too, with the same brush colours.")
        if not set(colour_names(content_labels)) & set(colour_names(style_labels)):
            raise gr.Error("No brush colour is used on both photos: paint matching regions with the same colour.")
        return content_labels, style_labels
    return None


@on_gpu
def _stylize(
    content: Image.Image, style: Image.Image, choice: str, alpha: float, masks, sizes: dict, raw: bool = False
) -> Image.Image:
    return photonas.stylize(
        content, style, model=MODELS[choice], alpha=alpha, masks=masks, max_pixels=MAX_PIXELS, raw=raw, **sizes
    )


def prune_downloads() -> None:
    """Keep the newest results only: none older than DOWNLOAD_MAX_AGE_S, at most DOWNLOAD_MAX_FILES
    and DOWNLOAD_MAX_BYTES in all. Safe to run from several requests at once."""
    dated = []
    for path in DOWNLOAD_DIR.glob("photonas-*"):
        try:
            stat = path.stat()
        except FileNotFoundError:  # removed by a concurrent request
            continue
        dated.append((stat.st_mtime, stat.st_size, path))
    cutoff, kept, total = time.time() - DOWNLOAD_MAX_AGE_S, 0, 0
    for mtime, size, path in sorted(dated, reverse=True):
        kept, total = kept + 1, total + size
        if mtime < cutoff or kept > DOWNLOAD_MAX_FILES or total > DOWNLOAD_MAX_BYTES:
            path.unlink(missing_ok=True)


def download_path(suffix: str) -> Path:
    """A fresh file name for a result, in a folder pruned first (see :func:`prune_downloads`)."""
    prune_downloads()
    DOWNLOAD_DIR.mkdir(exist_ok=True)  # in case a cleaner emptied the temp folder under us
    return DOWNLOAD_DIR / f"photonas-{uuid.uuid4().hex[:12]}{suffix}"


def save_download(image: Image.Image) -> str:
    """The result as a PNG for download: pixels only, no EXIF, location or other metadata."""
    path = download_path(".png")
    Image.frombytes(image.mode, image.size, image.tobytes()).save(path, format="PNG")
    return str(path)


def without_folders(message: str, *paths: str | None) -> str:
    """The message with each upload's server-side path cut to its file name."""
    for path in paths:
        if path:
            message = message.replace(path, Path(path).name)
    return message


def stylize_request(
    content: str | None,
    style: str | None,
    model: str = DEFAULT_CHOICE,
    alpha: float = 1.0,
    content_map: str | None = None,
    style_map: str | None = None,
    content_paint: dict | None = None,
    style_paint: dict | None = None,
    resolution: str = WORKING_SIZE,
    raw: bool = False,
    auto_regions: bool = False,
) -> tuple[tuple[Image.Image, Image.Image], str, str, Image.Image | None]:
    """Stylise ``content`` with ``style``; returns (before, after), a timing line, the download's path
    and, with ``auto_regions``, the content with the regions found tinted (else None).

    The before/after pair is shown at working size; the download is the result at full size.
    ``raw`` gives the network's own output (the paper's) instead of the photo-faithful default.
    """
    if content is None or style is None:
        raise gr.Error("Upload a content photo and a style photo, or pick an example below.")
    if model not in MODEL_CHOICES:
        raise gr.Error(f"Unknown model {model!r}: choose one of {', '.join(MODEL_CHOICES)}.")
    if resolution not in RESOLUTIONS:
        raise gr.Error(f"Unknown resolution {resolution!r}: choose one of {', '.join(RESOLUTIONS)}.")
    mode, side = RESOLUTIONS[resolution], max_side()
    # fast mode runs the network at photonas's working size; exact mode tiles at the demo's size
    sizes = {} if mode is None else {"mode": mode, **({"max_side": side} if mode == "exact" else {})}
    start = time.perf_counter()
    try:
        masks = region_masks(content_map, style_map, content_paint, style_paint)
        check_pairing(*(masks or (None, None)), auto=auto_regions)
        content_image = fit(content, "content image", None if mode else side)
        style_image = fit(style, "style image", side)
        result = _stylize(content_image, style_image, model, alpha, "auto" if auto_regions else masks, sizes, raw)
    except gr.Error:  # already worded for the visitor (gr.Error is a ValueError too)
        raise
    except ValueError as err:  # photonas.ImageError and the library's other input errors
        raise gr.Error(without_folders(str(err), content, style, content_map, style_map)) from err
    seconds = time.perf_counter() - start
    width, height = result.size
    settings = f"{model}{' raw output' if raw else ''}, strength {alpha:.2f}"
    settings += ", automatic regions" if auto_regions else ("" if masks is None else ", with regions")
    settings += "" if mode is None else f", {mode} full size"
    info = f"**{width}×{height} px** in **{seconds:.1f} s** on {DEVICE.type.upper()} ({settings})"
    shown = shrunk(content_image, side)
    regions = found_regions(shown, style_image, model) if auto_regions else None
    return (shown, shrunk(result, side)), info, save_download(result), regions


def found_regions(content: Image.Image, style: Image.Image, choice: str) -> Image.Image:
    """The content (as shown) with its automatic regions tinted: what ``stylize(masks="auto")`` pairs, found the
    library's way on the photos at the size shown (the library works on its own copies, so borders may differ slightly)."""
    photo = np.asarray(content.convert("RGB"))
    model = MODELS[choice]
    c, s = (image_to_tensor(np.asarray(image.convert("RGB"), np.float32) / 255).to(DEVICE) for image in (content, style))
    with torch.inference_mode():
        regions = summarise_style(model, s, AUTO, network_regions=False).regions
        labels = find_regions(model, c, regions, max(c.shape[-2:]))
    return Image.fromarray(region_overlay(photo, labels[0].cpu().numpy()))

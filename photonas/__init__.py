"""photonas: ultrafast photorealistic style transfer (PhotoNet and PhotoNAS, AAAI 2020)."""

__version__ = "0.1.0"

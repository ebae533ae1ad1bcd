"""Training decoders: data, losses and the loop (the scripts in ``train/`` call these)."""

from photonas.training.loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]

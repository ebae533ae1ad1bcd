"""Training: data, losses, the one generic loop and the decoder trainer (the scripts in ``train/`` call these)."""

from photonas.training.decoder import TrainConfig, train
from photonas.training.loop import Plan, StepRecord, fit

__all__ = ["Plan", "StepRecord", "TrainConfig", "fit", "train"]

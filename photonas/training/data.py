"""Training photos: random multi-scale crops and flips, reproducible from (seed, epoch, index).

The training set is small (~424 photos, most 481×321), so augmentation carries the load:
each draw rescales the photo by a random factor, takes a random square crop and flips it.
Every random choice comes from a generator seeded by (seed, epoch, index), so an item is
the same whichever worker loads it, and a resumed run sees exactly the data it would have.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, Sampler

from photonas.io import IMAGE_FORMATS

#: Environment variable naming the shared data folder (its ``dpst/`` holds the benchmark pairs).
DATA_ENV = "PHOTONAS_DATA"
#: BSDS500's validation photos: held out of training, used to choose recipes.
VAL_PREFIX = "val_"
#: Seed of the held-out crops: the same for every run with the same crop size.
VAL_SEED = 12345


def default_dpst_dir(repo: Path) -> Path:
    """``$PHOTONAS_DATA/dpst`` if set, else ``shared/data/dpst`` beside the checkout ``repo`` (the
    benchmark's and the training scripts' own folder: the package may be installed elsewhere)."""
    env = os.environ.get(DATA_ENV)
    return Path(env) / "dpst" if env else repo.parent / "shared" / "data" / "dpst"


def list_photos(root: str | os.PathLike, split: str = "train") -> list[Path]:
    """Photos under ``root`` (recursively), sorted; ``split`` is "train", "val" or "all".

    "val" is BSDS500's ``val_*`` photos, "train" everything else.
    """
    if split not in ("train", "val", "all"):
        raise ValueError(f"split must be train, val or all, got {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"training photo folder {root} not found")
    photos = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_FORMATS)
    if split != "all":
        photos = [p for p in photos if p.name.startswith(VAL_PREFIX) == (split == "val")]
    if not photos:
        raise FileNotFoundError(f"no {split} photos in {root}")
    return photos


class RandomCrops(Dataset):
    """Square crops of ``size`` px from photos rescaled by a random factor, randomly flipped.

    Args:
        photos: image files.
        size: crop side in pixels.
        scale: range of the factor each photo is resized by before cropping (raised where the
            photo would get smaller than the crop); (0.25, 1.0) mixes wide views and full detail.
        seed: base seed of every random choice.
        flips: also flip horizontally half the time.
    """

    def __init__(
        self, photos: list[Path], size: int, scale: tuple[float, float] = (0.25, 1.0), seed: int = 0, flips: bool = True
    ) -> None:
        if not 0 < scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale must satisfy 0 < low <= high <= 1, got {scale}")
        self.photos, self.size, self.scale, self.seed, self.flips = photos, size, scale, seed, flips
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.photos)

    def set_epoch(self, epoch: int) -> None:
        """Draw new crops for each epoch (called by the training loop)."""
        self.epoch = epoch

    def __getitem__(self, index: int) -> torch.Tensor:
        """``(3, size, size)`` float32 RGB in [0, 1]."""
        g = np.random.default_rng([self.seed, self.epoch, index])
        with Image.open(self.photos[index]) as image:
            image = image.convert("RGB")
            w, h = image.size
            fit = self.size / min(w, h)  # the factor at which the crop spans the short side
            low, high = max(self.scale[0], fit), max(self.scale[1], fit)
            factor = g.uniform(low, high)
            new_w, new_h = max(self.size, round(w * factor)), max(self.size, round(h * factor))
            image = image.resize((new_w, new_h), Image.Resampling.BICUBIC, reducing_gap=2.0)
            left, top = int(g.integers(0, new_w - self.size + 1)), int(g.integers(0, new_h - self.size + 1))
            crop = image.crop((left, top, left + self.size, top + self.size))
        pixels = torch.from_numpy(np.asarray(crop, dtype=np.float32) / 255.0).permute(2, 0, 1)
        if self.flips and g.random() < 0.5:
            pixels = pixels.flip(-1)
        return pixels.contiguous()


class EpochSampler(Sampler[int]):
    """A fresh permutation per epoch from (seed, epoch), sharded across ranks, able to start mid-epoch.

    Like ``DistributedSampler`` (which it wraps for the rank split) but with ``start``, so a
    resumed run skips the items it already used without loading them.
    """

    def __init__(self, length: int, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.length, self.seed, self.rank, self.world_size = length, seed, rank, world_size
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        """Select the permutation of ``epoch`` and skip its first ``start`` items of this rank."""
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.per_rank - self.start

    @property
    def per_rank(self) -> int:
        """Items each rank sees per epoch (the tail that does not split evenly is dropped)."""
        return self.length // self.world_size

    def steps(self, batch_size: int) -> int:
        """Whole batches of ``batch_size`` in one epoch on each rank (the rest is dropped)."""
        return self.per_rank // batch_size

    def __iter__(self) -> Iterator[int]:
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.length, generator=g)[: self.per_rank * self.world_size]
        return iter(order[self.rank :: self.world_size][self.start :].tolist())


def epoch_batches(
    dataset: RandomCrops,
    sampler: EpochSampler,
    batch_size: int,
    start: int = 0,
    workers: int = 0,
    pin_memory: bool = False,
) -> Generator[torch.Tensor, None, None]:
    """Endless ``(batch_size, 3, size, size)`` batches from step ``start`` on, epoch after epoch.

    Each epoch sets new crops and a new order, and drops the items that fill no whole batch, so
    step ``s``'s batch is a pure function of (seed, ``s``): a run resumed at ``start`` sees the
    batches an uninterrupted one would have.

    Raises:
        ValueError: the dataset fills no whole batch (on each rank).
    """
    steps_per_epoch = sampler.steps(batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"{len(dataset)} photos make no full batch of {batch_size} per process")
    loader = DataLoader(dataset, batch_size, sampler=sampler, num_workers=workers, drop_last=True, pin_memory=pin_memory)
    return _epochs(dataset, sampler, loader, *divmod(start, steps_per_epoch))


def _epochs(
    dataset: RandomCrops, sampler: EpochSampler, loader: DataLoader, epoch: int, offset: int
) -> Generator[torch.Tensor, None, None]:
    while True:
        dataset.set_epoch(epoch)
        sampler.set_epoch(epoch, offset * loader.batch_size)
        yield from loader
        epoch, offset = epoch + 1, 0


def held_out_crops(
    root: str | os.PathLike, count: int, size: int, scale: tuple[float, float] = (0.25, 1.0)
) -> torch.Tensor:
    """``(N, 3, size, size)`` fixed crops (no flips) of the first ``count`` held-out photos; N = 0 without any."""
    try:
        photos = list_photos(root, "val")[:count]
    except FileNotFoundError:
        photos = []
    if not photos:
        return torch.empty(0, 3, size, size)
    crops = RandomCrops(photos, size, scale, seed=VAL_SEED, flips=False)
    return torch.stack([crops[i] for i in range(len(crops))])

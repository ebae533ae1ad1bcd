"""Training photos: held-out split, reproducible crops, the epoch sampler and the batches of a step."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import gradient_photo

from photonas.training.data import (
    EpochSampler,
    RandomCrops,
    default_dpst_dir,
    epoch_batches,
    held_out_crops,
    list_photos,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_list_photos_holds_out_val(photos, tmp_path):
    train_set, val_set, every = (list_photos(photos, s) for s in ("train", "val", "all"))
    assert [p.name for p in val_set] == ["val_0.jpg", "val_1.jpg", "val_2.jpg"]
    assert len(train_set) == 9 and not any(p.name.startswith("val_") for p in train_set)
    assert any(p.parent.name == "sub" for p in train_set)
    assert sorted(every) == sorted(train_set + val_set) and every == sorted(every)
    with pytest.raises(FileNotFoundError, match="not found"):
        list_photos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("no photos here")
    with pytest.raises(FileNotFoundError, match="no train photos"):
        list_photos(tmp_path / "empty")
    with pytest.raises(ValueError, match="split"):
        list_photos(photos, "test")


def test_random_crops_are_reproducible_per_epoch(photos, tmp_path):
    files = list_photos(photos, "all")
    crops = RandomCrops(files, 32, seed=3)
    first = [crops[i] for i in range(len(crops))]
    for item in first:
        assert item.shape == (3, 32, 32) and item.dtype == torch.float32
        assert 0 <= item.min() and item.max() <= 1
    again = RandomCrops(files, 32, seed=3)
    assert all(torch.equal(again[i], first[i]) for i in range(len(files)))
    crops.set_epoch(1)
    assert all(not torch.equal(crops[i], first[i]) for i in range(len(files)))
    crops.set_epoch(0)
    assert torch.equal(crops[5], first[5])
    # Smaller than the crop on both sides: upscaled, not an error.
    gradient_photo((20, 12), 0).save(tmp_path / "tiny.png")
    tiny = RandomCrops([tmp_path / "tiny.png"], 32, seed=0)
    assert tiny[0].shape == (3, 32, 32)
    with pytest.raises(ValueError, match="scale"):
        RandomCrops(files, 32, scale=(0.5, 1.5))


def test_epoch_sampler_shards_and_resumes():
    length, seed = 9, 4
    ranks = [EpochSampler(length, seed, rank, world_size=2) for rank in (0, 1)]
    assert ranks[0].per_rank == 4
    orders = []
    for epoch in (0, 1):
        shards = []
        for sampler in ranks:
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
            assert len(sampler) == len(shards[-1]) == 4
        assert not set(shards[0]) & set(shards[1])
        assert len(set(shards[0] + shards[1])) == 8 and set(shards[0] + shards[1]) <= set(range(length))
        orders.append(shards)
    assert orders[0] != orders[1]
    for start in range(5):
        ranks[1].set_epoch(1, start)
        assert list(ranks[1]) == orders[1][1][start:] and len(ranks[1]) == 4 - start
    alone = EpochSampler(length, seed)
    alone.set_epoch(2)
    assert sorted(alone) == list(range(length))



def test_epoch_batches_resume_mid_epoch_on_the_same_batches(photos):
    dataset = RandomCrops(list_photos(photos, "train"), 16, seed=1)  # 9 photos: 4 batches of 2 per epoch
    straight = epoch_batches(dataset, EpochSampler(len(dataset), seed=1), batch_size=2)
    expected = [next(straight) for _ in range(11)]  # into the third epoch
    assert all(b.shape == (2, 3, 16, 16) for b in expected)
    assert not torch.equal(expected[0], expected[4])  # a new epoch draws new crops
    for start in (3, 4, 9):
        resumed = epoch_batches(RandomCrops(dataset.photos, 16, seed=1), EpochSampler(len(dataset), seed=1), 2, start)
        for want in expected[start:]:
            assert torch.equal(next(resumed), want), start
    with pytest.raises(ValueError, match="no full batch of 10"):
        epoch_batches(dataset, EpochSampler(len(dataset), seed=1), batch_size=10)


def test_held_out_crops_are_fixed_and_empty_without_val_photos(photos, tmp_path):
    crops = held_out_crops(photos, 2, 24)
    assert crops.shape == (2, 3, 24, 24) and torch.equal(crops, held_out_crops(photos, 2, 24))
    assert held_out_crops(photos, 10, 24).shape[0] == 3  # all there are
    gradient_photo((40, 30), 0).save(tmp_path / "img_0.jpg")
    assert held_out_crops(tmp_path, 2, 24).shape == (0, 3, 24, 24)
    assert held_out_crops(tmp_path / "missing", 2, 24).shape == (0, 3, 24, 24)


def test_default_dpst_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PHOTONAS_DATA", str(tmp_path))
    assert default_dpst_dir(tmp_path / "repo") == tmp_path / "dpst"
    monkeypatch.delenv("PHOTONAS_DATA")
    assert default_dpst_dir(tmp_path / "repo") == tmp_path / "shared" / "data" / "dpst"

import pytest
import torch

from photonas.padding import crop, pad_to_grid


@pytest.mark.parametrize("h, w", [(64, 64), (67, 101), (1, 1), (1, 500), (33, 7), (16, 16)])
def test_pad_lands_on_grid_and_crop_restores(h, w):
    x = torch.rand(2, 3, h, w)
    padded, box = pad_to_grid(x)
    ph, pw = padded.shape[-2:]
    assert ph % 16 == 0 and pw % 16 == 0 and min(ph, pw) >= 32
    assert torch.equal(crop(padded, box), x)


def test_labels_stay_integer():
    labels = torch.randint(0, 5, (1, 20, 30))
    padded, box = pad_to_grid(labels)
    assert padded.dtype == labels.dtype and set(padded.unique().tolist()) <= set(labels.unique().tolist())
    assert torch.equal(crop(padded, box), labels)


def test_empty_image_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        pad_to_grid(torch.rand(1, 3, 0, 5))

"""Temporal stability of stylised video: synthetic camera moves and the flow-warping error.

Warping error (Lai et al., "Learning blind video temporal consistency", ECCV 2018): warp
stylised frame ``t`` onto frame ``t + 1`` with the optical flow of the *input* frames (TV-L1,
scikit-image), and average the squared colour difference over pixels that the flow says are
visible in both (forward–backward consistent, inside the frame). A flicker-free stylisation
of a flicker-free input scores close to the input's own warping error.

Clips are made from one still photo, so the true motion is known: a pan (the crop window
slides), a zoom (the window shrinks about its centre), optionally with a brightness ramp.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import map_coordinates
from skimage.color import rgb2gray
from skimage.registration import optical_flow_tvl1


def camera_clip(
    photo: np.ndarray,
    size: tuple[int, int],
    frames: int,
    *,
    pan: float = 0.0,
    zoom: float = 0.0,
    brightness: float = 0.0,
) -> list[np.ndarray]:
    """Frames of a virtual camera over ``photo`` (float ``(H, W, 3)`` in [0, 1]).

    Args:
        photo: the still image, larger than ``size``.
        size: ``(height, width)`` of each frame.
        frames: how many frames.
        pan: horizontal speed in photo pixels per frame.
        zoom: relative change of the window per frame (0.01 = 1 % smaller each frame).
        brightness: relative brightness change per frame (0.01 = 1 % brighter each frame).

    Returns:
        float32 ``(h, w, 3)`` frames in [0, 1].
    """
    h, w = size
    big = torch.from_numpy(np.ascontiguousarray(photo, dtype=np.float32)).permute(2, 0, 1)[None]
    ph, pw = big.shape[-2:]
    out = []
    for t in range(frames):
        scale = (1 - zoom) ** t
        win_h, win_w = h * scale, w * scale
        cx, cy = pw / 2 + pan * (t - (frames - 1) / 2), ph / 2
        if cx - win_w / 2 < 0 or cx + win_w / 2 > pw or win_h > ph:
            raise ValueError("the camera leaves the photo: use a larger photo or a slower move")
        ys = torch.linspace(cy - win_h / 2, cy + win_h / 2, h)
        xs = torch.linspace(cx - win_w / 2, cx + win_w / 2, w)
        grid = torch.stack(torch.meshgrid(2 * xs / (pw - 1) - 1, 2 * ys / (ph - 1) - 1, indexing="xy"), -1)[None]
        frame = F.grid_sample(big, grid, mode="bilinear", align_corners=True)[0] * (1 + brightness) ** t
        out.append(frame.clamp(0, 1).permute(1, 2, 0).numpy())
    return out


def _warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` at ``x + flow(x)``; ``flow`` is ``(2, H, W)`` as (rows, cols)."""
    rows, cols = np.meshgrid(np.arange(image.shape[0]), np.arange(image.shape[1]), indexing="ij")
    coords = [rows + flow[0], cols + flow[1]]
    return np.stack(
        [map_coordinates(image[..., c], coords, order=1, mode="nearest") for c in range(image.shape[2])], -1
    )


def visible_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels whose flow lands inside the frame and comes back (Sundaram et al., ECCV 2010)."""
    h, w = forward.shape[1:]
    rows, cols = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    r, c = rows + forward[0], cols + forward[1]
    inside = (r >= 0) & (r <= h - 1) & (c >= 0) & (c <= w - 1)
    back = np.stack([map_coordinates(backward[i], [r, c], order=1, mode="nearest") for i in range(2)])
    loop = ((forward + back) ** 2).sum(0)
    size = (forward**2).sum(0) + (back**2).sum(0)
    return inside & (loop < 0.01 * size + 0.5)


def input_flows(inputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each consecutive pair of input frames: the flow from ``t + 1`` back to ``t`` and its visible mask."""
    flows = []
    for now, nxt in zip(inputs[:-1], inputs[1:]):
        now, nxt = rgb2gray(now), rgb2gray(nxt)
        forward = optical_flow_tvl1(nxt, now)  # nxt(x) ≈ now(x + forward(x))
        flows.append((forward, visible_mask(forward, optical_flow_tvl1(now, nxt))))
    return flows


def warping_error(inputs: list[np.ndarray], outputs: list[np.ndarray], flows: list | None = None) -> float:
    """Mean over consecutive pairs of the masked squared difference between output ``t + 1`` and warped output ``t``.

    Flow comes from the inputs (grey, TV-L1; pass ``flows`` from :func:`input_flows` to score
    several stylisations of one clip without recomputing it); images are float ``(H, W, 3)`` in [0, 1].
    """
    if len(inputs) != len(outputs) or len(inputs) < 2:
        raise ValueError("need the same number (at least two) of input and output frames")
    flows = input_flows(inputs) if flows is None else flows
    errors = []
    for t, (forward, mask) in enumerate(flows):
        diff = ((outputs[t + 1] - _warp(outputs[t], forward)) ** 2).mean(-1)
        errors.append(float(diff[mask].mean()))
    return float(np.mean(errors))

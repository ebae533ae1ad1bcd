"""Benchmark suite: quality metrics (:mod:`bench.metrics`) and training-free baselines
(:mod:`bench.classical`) for comparing photonas against other photorealistic transfers.

Images are float numpy ``(H, W, 3)`` sRGB arrays in [0, 1]; label maps are integer
``(H, W)`` arrays as returned by :func:`photonas.masks.load_label_map`.
"""

"""Training: data, losses, PSNR, the one generic loop (``loop.fit``) and the decoder trainer (the scripts in ``train/`` call these)."""

"""The photonas web demo (Gradio): a thin layer over the library, served by ``app.py``."""

from demo.ui import build_demo, launch_options, queue_options

__all__ = ["build_demo", "launch_options", "queue_options"]

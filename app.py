"""Hugging Face Spaces entry point: ``python app.py`` serves the photonas demo.

Environment: ``PHOTONAS_HUB_REPO`` / ``PHOTONET_HUB_REPO`` load weights from a Hub repo
instead of the bundled ones; ``PHOTONAS_DEMO_MAX_SIDE`` sets the working size in pixels.
"""

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls; read when gradio is imported

from demo import build_demo, launch_options, queue_options

demo = build_demo()

if __name__ == "__main__":
    demo.queue(**queue_options()).launch(**launch_options())

"""Hugging Face Spaces entry point: ``python app.py`` serves the photonas demo.

Environment: ``PHOTONAS_HUB_REPO`` / ``PHOTONET_HUB_REPO`` load weights from a Hub repo
instead of the bundled ones; ``PHOTONAS_DEMO_MAX_SIDE`` sets the working size in pixels.
"""

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no telemetry calls; read when gradio is imported
logging.basicConfig(format="%(name)s: %(message)s")
logging.getLogger("demo").setLevel(logging.INFO)  # where the weights came from, and the device

from demo.ui import build_demo, launch_options, queue_options  # noqa: E402 (after the environment is set)

demo = build_demo()

if __name__ == "__main__":
    demo.queue(**queue_options()).launch(**launch_options())

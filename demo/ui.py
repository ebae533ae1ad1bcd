"""The demo page: uploads or examples, model and strength, optional regions, before/after result.

The Video tab stylises short clips (see demo/video.py).
"""

from __future__ import annotations

import gradio as gr
from gradio.data_classes import FileData

import photonas
from demo.models import DEFAULT_CHOICE, MODEL_CHOICES
from demo.regions import BRUSH_COLOURS, editor_labels
from demo.run import DEVICE, RESOLUTIONS, WORKING_SIZE, fit, max_side, stylize_request
from demo.video import limit_text, stylize_video_request
from photonas.presets import EXAMPLES_DIR, PRESETS

#: (content, style) pairs from the photos bundled with photonas (freely licensed, see their README).
EXAMPLE_PAIRS = (
    ("mountain_day.jpg", "sunset.jpg"),
    ("mountain_day.jpg", "autumn.jpg"),
    ("creek_overcast.jpg", "golden_hour.jpg"),
    ("bridge_day.jpg", "sunset.jpg"),
)

MAX_FILE_SIZE = "25mb"
# The queue: requests beyond this many at once wait their turn (a CPU is already busy with
# one; a GPU takes two), and at most QUEUE_SIZE wait, so the Space never runs out of memory.
QUEUE_SIZE = 64

DESCRIPTION = """\
# photonas: photorealistic style transfer
Give a **content** photo the colours, tones and light of a **style** photo; the result still
looks like a photo. PhotoNAS and PhotoNet from *Ultrafast Photorealistic Style Transfer via
Neural Architecture Search* (AAAI 2020). Photos are stylised at up to {side} px on the long side.
"""

REGIONS_HELP = """\
Optional: match regions (sky to sky, ground to ground). Either paint them, using the **same
brush colour** for matching regions on both photos (unpainted parts are matched with each
other), or upload two label maps in the DPST colour palette.
"""


def _uploaded_path(payload: FileData | None) -> str | None:
    return None if payload is None else payload.path


def _image_box(label: str, elem_id: str) -> gr.Image:
    """An upload box whose file reaches photonas undecoded.

    ``gr.Image`` opens uploads itself and fails on a broken file with a generic message;
    passing the file on as is lets photonas decode it, and its message (which input, and
    why) reaches the visitor. (An instance attribute: a ``gr.Image`` subclass would make
    gradio write a ``.pyi`` stub beside this module.)
    """
    box = gr.Image(label=label, type="filepath", sources=["upload", "clipboard"], height=280, elem_id=elem_id)
    box.preprocess = _uploaded_path
    return box


def _paint_box(label: str) -> gr.ImageEditor:
    brush = gr.Brush(colors=[hex_colour for _, hex_colour in BRUSH_COLOURS], color_mode="fixed")
    return gr.ImageEditor(
        label=label, type="numpy", image_mode="RGBA", sources=(), transforms=(), layers=False, brush=brush, height=320
    )


def paint_background(path: str | None) -> dict | None:
    """An editor value showing the uploaded photo at working size, with nothing painted."""
    if path is None:
        return None
    try:
        image = fit(path, "photo", max_side())
    except photonas.ImageError:
        return None  # the Stylise button reports the broken upload
    return {"background": image, "layers": [], "composite": image}


def _show_unpainted(content: str | None, style: str | None, content_paint: dict | None, style_paint: dict | None):
    """On opening the regions panel, show the photos in the editors that hold no painting yet.

    (An editor filled while its panel is closed renders blank until it is set again.)
    """
    return tuple(
        gr.skip() if editor_labels(painted) is not None else paint_background(photo)
        for photo, painted in ((content, content_paint), (style, style_paint))
    )


def build_demo() -> gr.Blocks:
    """The whole page; call ``.queue(**queue_options()).launch(**launch_options())`` on it."""
    with gr.Blocks(title="photonas", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(DESCRIPTION.format(side=max_side()))
        with gr.Tabs():
            with gr.Tab("Photo"):
                with gr.Row():
                    with gr.Column():
                        with gr.Row():
                            content = _image_box("Content photo", "content")
                            style = _image_box("Style photo", "style")
                        model = gr.Radio(
                            list(MODEL_CHOICES),
                            value=DEFAULT_CHOICE,
                            label="Model",
                            info=" · ".join(PRESETS[name].description for name in MODEL_CHOICES.values()),
                        )
                        alpha = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Strength")
                        resolution = gr.Radio(list(RESOLUTIONS), value=WORKING_SIZE, label="Output size")
                        raw = gr.Checkbox(
                            False,
                            label="Raw network output (the paper's)",
                            info="Off: the network picks the colours and the photo keeps its own pixels, "
                            "so edges and texture stay sharp. On: the network's decoded image, as published.",
                        )
                        with gr.Accordion("Regions (optional)", open=False) as regions:
                            gr.Markdown(REGIONS_HELP)
                            auto_regions = gr.Checkbox(
                                False,
                                label="Automatic regions",
                                info="Find and pair regions (sky to sky) without painting; the regions found "
                                "are shown beside the result.",
                            )
                            with gr.Tab("Paint"), gr.Row():
                                content_paint = _paint_box("Paint on the content")
                                style_paint = _paint_box("Paint on the style")
                            with gr.Tab("Upload label maps"), gr.Row():
                                content_map = _image_box("Content label map", "content-map")
                                style_map = _image_box("Style label map", "style-map")
                        run = gr.Button("Stylise", variant="primary")
                    with gr.Column():
                        result = gr.ImageSlider(label="Before / after", type="pil", format="png", interactive=False)
                        info = gr.Markdown(elem_id="info")
                        download = gr.DownloadButton("Download result (PNG, metadata removed)", visible=False)
                        found = gr.Image(label="Regions found (automatic regions)", type="pil", interactive=False)
                gr.Examples(
                    examples=[[str(EXAMPLES_DIR / c), str(EXAMPLES_DIR / s)] for c, s in EXAMPLE_PAIRS],
                    inputs=[content, style],
                    label="Examples (content, style): click one, then Stylise",
                )
            video_tab(model_choices=list(MODEL_CHOICES))

        content.change(paint_background, content, content_paint, api_visibility="private")
        style.change(paint_background, style, style_paint, api_visibility="private")
        regions.expand(
            _show_unpainted,
            [content, style, content_paint, style_paint],
            [content_paint, style_paint],
            api_visibility="private",
        )
        run.click(
            stylize_request,
            inputs=[
                content,
                style,
                model,
                alpha,
                content_map,
                style_map,
                content_paint,
                style_paint,
                resolution,
                raw,
                auto_regions,
            ],
            outputs=[result, info, download, found],
            api_name="stylize",
            concurrency_limit=2 if DEVICE.type == "cuda" else 1,
            concurrency_id="stylise",  # shared with the video tab: one queue for the model
        ).success(lambda: gr.DownloadButton(visible=True), None, download, api_visibility="private")
    return demo


def video_tab(model_choices: list[str]) -> None:
    """The Video tab: a short clip and a style photo in, the stylised clip out."""
    with gr.Tab("Video"):
        gr.Markdown(f"Clips up to {limit_text()}; each frame is stylised at working size (fast mode).")
        with gr.Row():
            with gr.Column():
                video = gr.Video(label="Video", sources=["upload"], height=280)
                style = _image_box("Style photo", "video-style")
                model = gr.Radio(model_choices, value=DEFAULT_CHOICE, label="Model")
                alpha = gr.Slider(0.0, 1.0, value=1.0, step=0.05, label="Strength")
                run = gr.Button("Stylise video", variant="primary")
            with gr.Column():
                result = gr.Video(label="Stylised video", interactive=False)
                info = gr.Markdown(elem_id="video-info")
        run.click(
            stylize_video_request,
            inputs=[video, style, model, alpha],
            outputs=[result, info],
            api_name="stylize_video",
            concurrency_limit=1,
            concurrency_id="stylise",
        )


def queue_options() -> dict:
    """Arguments for ``Blocks.queue``."""
    return {"max_size": QUEUE_SIZE}


def launch_options() -> dict:
    """Arguments for ``Blocks.launch``: upload limit, no share link, errors shown to visitors."""
    return {"max_file_size": MAX_FILE_SIZE, "share": False, "show_error": True}

"""Named models: one table imported everywhere (API, CLI, demo, benchmarks, training)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from photonas.arch import PHOTONAS, PHOTONET, ArchCode

#: Folder of the weights shipped inside the package, one sub-folder per preset.
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: The small freely licensed photos shipped with the package (examples/README.md): the demo's
#: examples, the quick benchmark and the tests' real photos.
EXAMPLES_DIR = Path(__file__).parent / "examples"


@dataclass(frozen=True)
class Preset:
    """A named architecture and where its shipped weights live.

    Attributes:
        name: what users type (``model="photonas"``).
        code: the architecture code.
        description: one line for ``--help`` and the demo.
    """

    name: str
    code: ArchCode
    description: str

    @property
    def weights_dir(self) -> Path:
        """Folder holding ``config.json`` and ``model.safetensors`` for this preset."""
        return WEIGHTS_DIR / self.name


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("photonas", PHOTONAS, "PhotoNAS: the searched thin decoder, WCT at the 64-channel level (fast, default)"),
        Preset("photonet", PHOTONET, "PhotoNet: the full dense decoder with every transfer (slower, strongest)"),
    )
}
DEFAULT_PRESET = "photonas"


def get_preset(name: str) -> Preset:
    """The preset of that name, or a ValueError listing the known ones."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; presets are {', '.join(PRESETS)} (or pass a folder or Hub repo id)") from None

"""photonas.training.config: settings classes become JSON and command-line options."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from photonas.training.config import JsonConfig, add_options, field_help, from_args


@dataclass
class Settings(JsonConfig):
    """Settings of a run.

    Attributes:
        name: what to call it (100% made up).
        scale: a range, comma-separated
            on the command line.
        levels: which levels.
        low, high: the two bounds.
        threads: CPU threads (default: PyTorch's).
        fast: go faster.
    """

    name: str = "run"
    scale: tuple[float, float] = (0.25, 1.0)
    levels: tuple[str, ...] = ("a", "b")
    low: int = 1
    high: int = 9
    threads: int | None = None
    fast: bool = False


def test_field_help_reads_the_attributes_section() -> None:
    helps = field_help(Settings)
    assert helps["scale"] == "a range, comma-separated on the command line"
    assert helps["low"] == helps["high"] == "the two bounds"
    assert helps["name"] == "what to call it (100%% made up)"  # argparse formats help with %


def test_options_parse_every_field_type() -> None:
    parser = argparse.ArgumentParser()
    add_options(parser, Settings, skip=("high",), choices={"name": ("run", "walk")})
    args = parser.parse_args(["--scale", "0.5,2", "--levels", "x,y,z", "--threads", "3", "--fast", "--name", "walk"])
    assert from_args(Settings, args, low=5) == Settings("walk", (0.5, 2.0), ("x", "y", "z"), 5, 9, 3, True)
    assert from_args(Settings, parser.parse_args([])) == Settings()
    assert "--high" not in parser.format_help() and "the two bounds" in parser.format_help()
    with pytest.raises(SystemExit):
        parser.parse_args(["--name", "run-fast"])


def test_json_round_trip_restores_tuples() -> None:
    settings = Settings(scale=(0.1, 0.2), levels=("c",), threads=2)
    assert Settings.from_json(settings.to_json()) == settings

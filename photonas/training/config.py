"""Run settings as dataclasses: saved as JSON with each run, and offered as command-line options.

A settings class documents its fields once, in its docstring's ``Attributes:`` section; that
text becomes each option's help, so the training, baseline and search commands cannot drift
from the settings they fill.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import re
import types
import typing
from collections.abc import Iterable
from typing import Any, TypeVar

Config = TypeVar("Config", bound="JsonConfig")


class JsonConfig:
    """A dataclass mix-in: ``to_json`` and ``from_json``, with tuples restored."""

    def to_json(self) -> str:
        """JSON of every field (saved in checkpoints and the run folder)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls: type[Config], text: str) -> Config:
        """Inverse of :meth:`to_json`."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(text).items()})


def field_help(cls: type) -> dict[str, str]:
    """Each field's description from ``cls``'s ``Attributes:`` docstring section (``a, b: text`` names several)."""
    section = (inspect.getdoc(cls) or "").partition("Attributes:\n")[2]
    helps: dict[str, str] = {}
    for names, text in re.findall(r"^    (\w+(?:, \w+)*): (.*(?:\n {8,}.*)*)", section, re.MULTILINE):
        for name in names.split(", "):
            helps[name] = " ".join(text.split()).rstrip(".").replace("%", "%%")  # argparse formats help with %
    return helps


def _parser_for(hint: Any) -> Any:
    """The argparse ``type`` for a field's type hint (tuples are comma-separated)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _parser_for(args[0])
    if typing.get_origin(hint) is tuple:
        return lambda text: tuple(args[0](part) for part in text.split(","))
    return hint


def add_options(
    parser: argparse.ArgumentParser,
    cls: type,
    skip: Iterable[str] = (),
    choices: dict[str, Iterable[str]] | None = None,
) -> None:
    """One ``--field-name`` option per field of the dataclass ``cls`` (not in ``skip``), defaulting to the field's default."""
    helps, hints, choices = field_help(cls), typing.get_type_hints(cls), choices or {}
    for field in dataclasses.fields(cls):
        if field.name in skip:
            continue
        flag, hint, text = "--" + field.name.replace("_", "-"), hints[field.name], helps.get(field.name, "")
        if hint is bool:
            parser.add_argument(flag, action="store_true", help=text)
        else:
            comma = " (comma-separated)" if isinstance(field.default, tuple) else ""
            parser.add_argument(
                flag, type=_parser_for(hint), default=field.default, choices=choices.get(field.name), help=text + comma
            )


def from_args(cls: type[Config], args: argparse.Namespace, **overrides: Any) -> Config:
    """The settings the parsed ``args`` give (``overrides`` win)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names} | overrides)

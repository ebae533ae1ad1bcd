"""The options object: defaults resolved once, every bad value refused when it is made."""

import dataclasses

import pytest

from photonas.options import DEFAULT_MAX_SIDE, WORK_SIDE, Options
from photonas.refine import Refinement


@pytest.mark.parametrize(
    ("given", "mode", "max_side"),
    [
        ({}, "fast", WORK_SIDE),
        ({"raw": True}, "exact", DEFAULT_MAX_SIDE),
        ({"mode": "exact"}, "exact", DEFAULT_MAX_SIDE),
        ({"raw": True, "mode": "fast"}, "fast", DEFAULT_MAX_SIDE),
        ({"max_side": 300}, "fast", 300),
    ],
)
def test_defaults_depend_on_the_output(given: dict, mode: str, max_side: int) -> None:
    options = Options(**given)
    assert (options.mode, options.max_side) == (mode, max_side)


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ({"alpha": 1.5}, "must be in [0, 1]"),
        ({"alpha": True}, "must be a number"),
        ({"alpha": "strong"}, "must be a number"),
        ({"method": "gram"}, "unknown transfer method"),
        ({"mode": "slow"}, "mode must be one of"),
        ({"max_side": 16}, "at least 32"),
        ({"max_side": 512.0}, "whole number"),
        ({"max_side": True}, "whole number"),
        ({"precision": "int4"}, "precision must be one of"),
        ({"refinement": {"cells": 4}}, "Refinement"),
    ],
)
def test_bad_values_are_refused_when_made(given: dict, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        Options(**given)


def test_options_are_frozen_and_alpha_becomes_a_float() -> None:
    options = Options(alpha=1)
    assert type(options.alpha) is float
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.alpha = 0.5  # type: ignore[misc]
    assert dataclasses.replace(options, alpha=0.5).alpha == 0.5


def test_given_takes_options_or_settings_not_both() -> None:
    made = Options.given(None, alpha=0.5, max_side=None)
    assert made == Options(alpha=0.5)
    own = Options(alpha=0.3, refinement=Refinement(cells=4))
    assert Options.given(own, alpha=1.0, mode=None, refinement=Refinement()) is own  # defaults: nothing given
    with pytest.raises(ValueError, match="pass options or alpha, mode, not both"):
        Options.given(own, alpha=0.5, mode="exact")

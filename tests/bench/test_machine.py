"""The machine facts saved with every result, and the results folder's name."""

from __future__ import annotations

import os
import re

import torch

from bench.machine import machine_facts, machine_slug


def test_facts_say_what_the_timings_depend_on() -> None:
    facts = machine_facts(torch.device("cpu"))
    assert facts["device"] == "cpu" and facts["cpu_count"] == os.cpu_count()
    assert facts["torch"] == torch.__version__ and facts["torch_threads"] == torch.get_num_threads()
    assert facts["python"] and facts["platform"] and facts["processor"]
    assert "cuda_device" not in facts


def test_slug_names_the_cpu_by_its_cores() -> None:
    slug = machine_slug(torch.device("cpu"))
    assert slug == f"cpu-{os.cpu_count()}cores" and re.fullmatch(r"[a-z0-9-]+", slug)

"""The 32-bit architecture code that names a sub-network of PhotoNet.

Each bit switches one part of the decoder on or off (An et al., AAAI 2020, Fig. 2).
The code is read once, here, into named parts; the rest of the package asks for
``code.stage("d2").skip_concat`` and never indexes a string.

Bit layout (index 0 is the leftmost character of the string form):

====  =======  ==============================================================
bits  stage    parts, in bit order
====  =======  ==============================================================
0-4   d0       bottleneck transfer on relu5_1; BFA from relu4_1, relu3_1,
                relu2_1, relu1_1
5-7   d1       transfer; 3x3 conv 512->512 before upsampling; conv after it
8     -        unused (kept so codes round-trip)
9-15  d2       transfer; IN on the skip; skip concat; extra conv; 3x3 (else
                1x1) channel-reducing conv; conv after upsampling; skip transfer
16-22 d3       the same at the 256-channel scale
23-27 d4       transfer; IN; skip concat; conv after upsampling; skip transfer
28-31 d5       transfer; IN; skip concat into the last conv; skip transfer
====  =======  ==============================================================
"""

from __future__ import annotations

import random
from dataclasses import dataclass

CODE_LENGTH = 32
#: Encoder features the bottleneck can aggregate, in d0 bit order.
BFA_SOURCES = ("relu4_1", "relu3_1", "relu2_1", "relu1_1")

# Stage name -> the part that each of its bits switches, in bit order.
LAYOUT: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("d0", ("transfer", "bfa_relu4_1", "bfa_relu3_1", "bfa_relu2_1", "bfa_relu1_1")),
    ("d1", ("transfer", "conv", "conv_after_up")),
    ("unused", ("unused",)),
    ("d2", ("transfer", "skip_norm", "skip_concat", "conv", "reduce_3x3", "conv_after_up", "skip_transfer")),
    ("d3", ("transfer", "skip_norm", "skip_concat", "conv", "reduce_3x3", "conv_after_up", "skip_transfer")),
    ("d4", ("transfer", "skip_norm", "skip_concat", "conv_after_up", "skip_transfer")),
    ("d5", ("transfer", "skip_norm", "skip_concat", "skip_transfer")),
)

#: "stage.part" for every bit, in bit order (32 names).
PART_NAMES: tuple[str, ...] = tuple(f"{stage}.{part}" for stage, parts in LAYOUT for part in parts)
_UNUSED_BITS = frozenset(i for i, name in enumerate(PART_NAMES) if name.startswith("unused"))
assert len(PART_NAMES) == CODE_LENGTH


class ArchCodeError(ValueError):
    """A string that is not a valid 32-bit architecture code."""


@dataclass(frozen=True)
class StageParts:
    """The switches of one decoder stage; parts a stage does not have stay False.

    Attributes:
        transfer: transfer (WCT) on the decoder feature entering the stage (d0: on relu5_1).
        skip_norm: instance-normalise the encoder skip feature (INSL).
        skip_concat: concatenate the skip feature before the stage's first conv.
        skip_transfer: transfer on the skip feature before it is joined.
        conv: an extra 3x3 conv at the stage's width (d1: before upsampling).
        reduce_3x3: the channel-reducing conv is 3x3 (else 1x1).
        conv_after_up: a 3x3 conv after the 2x upsampling.
        bfa: d0 only, which of relu4_1, relu3_1, relu2_1, relu1_1 feed the bottleneck.
    """

    transfer: bool = False
    skip_norm: bool = False
    skip_concat: bool = False
    skip_transfer: bool = False
    conv: bool = False
    reduce_3x3: bool = False
    conv_after_up: bool = False
    bfa: tuple[bool, bool, bool, bool] = (False, False, False, False)


@dataclass(frozen=True)
class ArchCode:
    """A validated 32-bit architecture code.

    Example:
        >>> code = ArchCode.parse("01010000000100000000000000001111")
        >>> code.stage("d5").transfer, code.stage("d0").bfa
        (True, (True, False, True, False))
        >>> str(code) == str(PHOTONAS)
        True
    """

    bits: tuple[bool, ...]

    def __post_init__(self) -> None:
        if len(self.bits) != CODE_LENGTH or not all(isinstance(b, bool) for b in self.bits):
            raise ArchCodeError(f"an architecture code has {CODE_LENGTH} boolean bits, got {self.bits!r}")

    @classmethod
    def parse(cls, code: str | ArchCode) -> ArchCode:
        """Read a code from its string of 32 '0'/'1' characters (an ArchCode passes through)."""
        if isinstance(code, ArchCode):
            return code
        if not isinstance(code, str):
            raise ArchCodeError(f"an architecture code is a string of 32 '0'/'1' characters, got {type(code).__name__}")
        text = code.strip()
        if len(text) != CODE_LENGTH:
            raise ArchCodeError(f"an architecture code has {CODE_LENGTH} characters, got {len(text)}: {text!r}")
        bad = sorted({ch for ch in text if ch not in "01"})
        if bad:
            raise ArchCodeError(f"an architecture code holds only '0' and '1', got {''.join(bad)!r} in {text!r}")
        return cls(tuple(ch == "1" for ch in text))

    @classmethod
    def random(cls, rng: random.Random) -> ArchCode:
        """A uniformly random code (the unused bit left off), for search and tests."""
        return cls(tuple(rng.random() < 0.5 and i not in _UNUSED_BITS for i in range(CODE_LENGTH)))

    def __str__(self) -> str:
        return "".join("1" if b else "0" for b in self.bits)

    def __getitem__(self, part: str) -> bool:
        """The bit of one part by name, e.g. ``code["d2.skip_concat"]``."""
        try:
            return self.bits[PART_NAMES.index(part)]
        except ValueError:
            raise KeyError(f"no part {part!r}; parts are {', '.join(PART_NAMES)}") from None

    def parts(self) -> dict[str, bool]:
        """Every part name with its bit, in bit order."""
        return dict(zip(PART_NAMES, self.bits))

    def stage(self, name: str) -> StageParts:
        """The named switches of stage ``d0`` … ``d5``."""
        prefix = f"{name}."
        parts = {p.removeprefix(prefix): on for p, on in self.parts().items() if p.startswith(prefix)}
        if not parts or name == "unused":
            raise KeyError(f"no stage {name!r}; stages are d0 … d5")
        if name == "d0":
            parts["bfa"] = tuple(parts.pop(f"bfa_{layer}") for layer in BFA_SOURCES)
        return StageParts(**parts)

    @property
    def num_enabled(self) -> int:
        """How many of the 31 real parts are on (the unused bit does not count)."""
        return sum(b for i, b in enumerate(self.bits) if i not in _UNUSED_BITS)

    @property
    def fraction_enabled(self) -> float:
        """The paper's size cost: enabled parts over all parts."""
        return self.num_enabled / (CODE_LENGTH - len(_UNUSED_BITS))

    def canonical(self) -> ArchCode:
        """The same network with every bit that changes nothing switched off.

        Codes that build identical decoders then compare (and hash) equal, so a search does
        not score one network twice: the unused bit 8 is cleared, and where a stage's skip is
        not concatenated its skip norm and skip transfer (which act on the skip) are cleared.
        """
        parts = self.parts()
        for index in _UNUSED_BITS:
            parts[PART_NAMES[index]] = False
        for stage, _ in LAYOUT:
            if f"{stage}.skip_concat" in parts and not parts[f"{stage}.skip_concat"]:
                parts[f"{stage}.skip_norm"] = parts[f"{stage}.skip_transfer"] = False
        return ArchCode(tuple(parts.values()))

    @property
    def is_canonical(self) -> bool:
        """Whether no bit of this code is dead (see :meth:`canonical`)."""
        return self == self.canonical()

    def flip(self, index: int) -> ArchCode:
        """This code with one bit flipped (the search's mutation)."""
        if not 0 <= index < CODE_LENGTH:
            raise IndexError(f"bit index {index} outside 0..{CODE_LENGTH - 1}")
        bits = list(self.bits)
        bits[index] = not bits[index]
        return ArchCode(tuple(bits))


#: The full network: every part on.
PHOTONET = ArchCode.parse("1" * CODE_LENGTH)
#: The published PhotoNAS code: BFA from relu4_1 and relu2_1, a thin decoder, WCT at the 64-channel level.
PHOTONAS = ArchCode.parse("01010000000100000000000000001111")

import random

import pytest

from photonas.arch import CODE_LENGTH, PART_NAMES, PHOTONAS, PHOTONET, ArchCode, ArchCodeError


def test_presets_match_the_paper():
    assert str(PHOTONAS) == "01010000000100000000000000001111"
    assert str(PHOTONET) == "1" * 32
    assert PHOTONAS.stage("d0").bfa == (True, False, True, False)  # relu4_1 and relu2_1
    d5 = PHOTONAS.stage("d5")
    assert (d5.transfer, d5.skip_norm, d5.skip_concat, d5.skip_transfer) == (True, True, True, True)
    assert PHOTONAS.stage("d2").skip_concat and not PHOTONAS.stage("d2").transfer
    assert PHOTONAS.num_enabled == 7
    assert PHOTONET.num_enabled == 31 and PHOTONET.fraction_enabled == 1.0


def test_part_names_cover_every_bit_once():
    assert len(PART_NAMES) == CODE_LENGTH == len(set(PART_NAMES))
    assert PART_NAMES[0] == "d0.transfer" and PART_NAMES[8] == "unused.unused" and PART_NAMES[31] == "d5.skip_transfer"


def test_parse_round_trip_and_named_access():
    rng = random.Random(0)
    for _ in range(20):
        code = ArchCode.random(rng)
        assert ArchCode.parse(str(code)) == code
        for i, name in enumerate(PART_NAMES):
            assert code[name] == code.bits[i]
    assert ArchCode.parse(PHOTONAS) is PHOTONAS
    assert ArchCode.parse("  " + str(PHOTONAS) + "\n") == PHOTONAS


def test_unused_bit_does_not_count():
    assert ArchCode.parse("0" * 8 + "1" + "0" * 23).num_enabled == 0


def test_flip_changes_one_bit():
    flipped = PHOTONAS.flip(28)
    assert sum(a != b for a, b in zip(flipped.bits, PHOTONAS.bits)) == 1
    assert not flipped["d5.transfer"]
    with pytest.raises(IndexError):
        PHOTONAS.flip(32)


@pytest.mark.parametrize(
    "bad, words",
    [
        ("0101", "32 characters"),
        ("1" * 33, "32 characters"),
        ("0" * 31 + "2", "'2'"),
        ("0" * 30 + "ab", "'ab'"),
        ("", "32 characters"),
        (101, "string"),
    ],
)
def test_bad_codes_are_clear_errors(bad, words):
    with pytest.raises(ArchCodeError, match=words):
        ArchCode.parse(bad)
    assert issubclass(ArchCodeError, ValueError)


def test_unknown_part_or_stage():
    with pytest.raises(KeyError, match="no part"):
        PHOTONAS["d9.transfer"]
    with pytest.raises(KeyError, match="no stage"):
        PHOTONAS.stage("unused")

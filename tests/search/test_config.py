"""Search configs: validation and the --search spec grammar."""

import pytest

from llasa._common.errors import InputError
from llasa.search import Beam, BestOfN, Hybrid, PartialPRM, Threshold, parse_search
from llasa.search.config import DEFAULT_CHUNK_TOKENS


def test_parse_each_form():
    assert parse_search("best-of-n:8") == BestOfN(8, ("wer",))
    assert parse_search("best-of-n:8", ["sim", "wer"]) == BestOfN(8, ("sim", "wer"))
    assert parse_search("beam:4x4x25") == Beam(4, 4, 25, ("sim",))
    assert parse_search("beam:2x3") == Beam(2, 3, DEFAULT_CHUNK_TOKENS, ("sim",))
    assert parse_search("beam:2x3", ["mos"]).verifiers == ("mos",)
    p = parse_search("partial:2x4x25:1.5")
    assert p == PartialPRM(Beam(2, 4, 25, ("sim",)), prm_seconds=1.5)
    assert p.guided_chunks == 3  # 1.5 s = 75 tokens = 3 steps of 25
    assert parse_search("partial:2x4x10:4c").guided_chunks == 4
    assert parse_search("partial:1x1x30:1").guided_chunks == 2  # 50 tokens → 2 steps (rounded up)
    h = parse_search("hybrid:2x4x25:1.0:4")
    assert h.beam.verifiers == ("sim",) and h.orm_verifiers == ("wer",)
    assert h.final_candidates == 4 and h.guided_chunks == 2 and h.budget == 8
    h2 = parse_search("hybrid:2x2:3c:6", ["wavlm-sim:x", "cer", "mos"])
    assert h2.beam.verifiers == ("wavlm-sim:x",) and h2.orm_verifiers == ("cer", "mos")
    assert h2.prm_chunks == 3 and h2.budget == 6
    t = parse_search("threshold:wer<=0.1,max=16,batch=4")
    assert t == Threshold("wer", 0.1, 16, 4, "<=")
    assert parse_search("threshold:sim>=0.8,max=3").op == ">="


@pytest.mark.parametrize("spec,msg", [
    ("", "empty"),
    ("magic:3", "unknown search strategy 'magic'"),
    ("best-of-n", "best-of-n:N"),
    ("best-of-n:0", ">= 1"),
    ("best-of-n:x", "cannot read the numbers"),
    ("beam:4", "BxK"),
    ("beam:0x4", "beam width must be an integer >= 1"),
    ("beam:2x2x0", "chunk_tokens"),
    ("partial:2x2", "partial:BxK"),
    ("partial:2x2:abc", "seconds (1.5) or chunks (3c)"),
    ("partial:2x2:-1", "prm_seconds must be a number > 0"),
    ("hybrid:2x2:1.0", "hybrid:BxK"),
    ("hybrid:2x2:1.0:0", "final_candidates"),
    ("threshold:", "threshold:VERIFIER<=X"),
    ("threshold:wer<0.1", "VERIFIER<=X or VERIFIER>=X"),
    ("threshold:wer<=0.1,max=0", "max_samples"),
    ("threshold:wer<=0.1,tries=3", "unknown threshold option 'tries'"),
])
def test_bad_specs_are_clear_input_errors(spec, msg):
    with pytest.raises(InputError, match=None) as e:
        parse_search(spec)
    assert msg in str(e.value), str(e.value)


def test_config_validation():
    with pytest.raises(InputError, match="at least one verifier"):
        BestOfN(2, ())
    with pytest.raises(InputError, match="exactly one"):
        PartialPRM(Beam(), prm_chunks=2, prm_seconds=1.0)
    with pytest.raises(InputError, match="exactly one"):
        PartialPRM(Beam())
    with pytest.raises(InputError, match="Beam config"):
        PartialPRM("2x2", prm_chunks=1)
    with pytest.raises(InputError, match="target must be a number"):
        Threshold("wer", float("nan"))
    with pytest.raises(InputError, match="op must be"):
        Threshold("wer", 0.1, op="<")
    assert Hybrid(prm_chunks=2).prm_seconds is None  # chunks replace the default seconds
    assert Beam(3, 5).rows == 15 and Beam(3, 5).budget == 15


@pytest.mark.parametrize("spec", ["beam:4x4\nx", "threshold:wer<=0.1\n5,max=4"])
def test_specs_are_matched_whole(spec):
    with pytest.raises(InputError):
        parse_search(spec)

"""laws/lawfile.py: the one serialiser (through the registry) and the law file read back by --law FILE:LAYER[:LAW]."""

from __future__ import annotations

import json

import pytest

from biper_analysis._io.errors import UsageError
from biper_analysis.laws import Gaussian, GenNorm, Laplace, Penalised, law_from_dict, law_to_dict
from biper_analysis.laws.lawfile import load_law, split_law_spec


def test_round_trip_and_errors():
    for law in (Laplace(0.1), Gaussian(0.1), GenNorm(0.05, 1.5), Penalised(0.1, 1.0, 1.0, 20.0)):
        again = law_from_dict(json.loads(json.dumps(law_to_dict(law))))
        assert again == law and type(again) is type(law)
    for d in (
        {"params": {}},
        {"name": "gennorm", "params": {"s": 1.0}},
        {"name": "zeta", "params": {}},
        {"name": "penalised", "params": {"s": 1.0, "beta": 1.0, "kappa": 1.0}, "omega0": None},
        {"name": "penalised", "params": {"s": 1.0, "beta": 1.0, "kappa": 1.0}, "omega0": "x"},
        {"name": "gennorm", "params": {"s": 1.0, "beta": -1.0}},
        "laplace",
    ):
        with pytest.raises(ValueError):
            law_from_dict(d)
    with pytest.raises(TypeError, match="cannot serialise"):
        law_to_dict(object())


def test_law_file(tmp_path):
    path = tmp_path / "laws.json"
    path.write_text(
        json.dumps(
            {
                "layers": {
                    "l1.weight": {
                        "best_model": "gennorm",
                        "laws": {"laplace": law_to_dict(Laplace(0.1)), "gennorm": law_to_dict(GenNorm(0.05, 1.5))},
                    }
                }
            }
        )
    )
    assert load_law(f"{path}:l1.weight") == GenNorm(0.05, 1.5)
    assert load_law(f"{path}:l1.weight:laplace") == Laplace(0.1)
    assert split_law_spec("a:b.json:layer:comb") == (tmp_path.__class__("a:b.json"), "layer", "comb")
    for spec, needle in (
        (f"{path}:l2.weight", "no layer"),
        (f"{path}:l1.weight:comb", "no fitted 'comb'"),
        (f"{tmp_path}/none.json:l1", "does not exist"),
        ("laws.txt:l1", "FILE.json:LAYER:LAW"),
    ):
        with pytest.raises(UsageError, match=needle):
            load_law(spec)

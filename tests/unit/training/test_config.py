"""TrainConfig: validation (each rule and its message), the pure learning-rate schedule against a hand computation
and the official torch schedulers, presets, and the command-line options generated from the fields."""

from __future__ import annotations

import argparse
import dataclasses
import math
import warnings

import pytest

from biper_analysis.paper import OFFICIAL_TAU, PUBLISHED_OMEGA0
from biper_analysis.training.config import (
    PRESET_ALIASES,
    PRESETS,
    RESUMABLE_FIELDS,
    TrainConfig,
    add_config_arguments,
    config_from_namespace,
    lr_at,
    parse_set,
    preset,
)


def test_defaults_are_the_official_recipe():
    """The official run_stg1.sh / run_stg2.sh values (lr, weight decay, τ, batch, momentum, warm-up) and ω0 = 20."""
    cfg = TrainConfig()
    assert (cfg.lr1, cfg.lr2, cfg.weight_decay1, cfg.weight_decay2) == (0.021, 0.0037, 0.0016, 0.00016)
    assert (cfg.tau1, cfg.tau2) == (OFFICIAL_TAU[1], OFFICIAL_TAU[2]) and cfg.omega0 == PUBLISHED_OMEGA0 == 20.0
    assert (cfg.batch_size, cfg.momentum, cfg.warmup_epochs, cfg.model) == (256, 0.9, 5, "resnet20_1w1a")
    assert RESUMABLE_FIELDS == ("data_dir", "device", "tensorboard")


def test_stage_accessors():
    cfg = TrainConfig(epochs1=3, epochs2=4)
    assert cfg.stages == (1, 2) and (cfg.stage_epochs(1), cfg.stage_epochs(2)) == (3, 4)
    assert (cfg.stage_lr(1), cfg.stage_lr(2)) == (cfg.lr1, cfg.lr2)
    assert (cfg.stage_weight_decay(1), cfg.stage_weight_decay(2)) == (cfg.weight_decay1, cfg.weight_decay2)
    assert (cfg.stage_tau(1), cfg.stage_tau(2)) == (cfg.tau1, cfg.tau2)
    sign = cfg.replace(binarizer="sign")
    assert sign.stages == (1, 2) and sign.stage_tau(1) == sign.stage_tau(2) == 0.0  # no penalty without sine
    fp = cfg.replace(binarizer="fp")
    assert fp.stages == (1,) and fp.stage_epochs(1) == 7 and fp.stage_tau(1) == 0.0  # one stage, E1 + E2 epochs
    assert TrainConfig(model="mlp_1w1a", width=64).model_kwargs() == {"width": 64} and cfg.model_kwargs() == {}
    assert cfg.to_dict()["epochs1"] == 3 and TrainConfig(**cfg.to_dict()) == cfg  # round trip


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"model": "resnet99"}, "unknown model 'resnet99'; choose one of"),
        ({"dataset": "svhn"}, "unknown dataset 'svhn'"),
        ({"binarizer": "xnor"}, "unknown binarizer 'xnor'"),
        ({"surrogate": "saw"}, "unknown surrogate 'saw'"),
        ({"binarizer": "sign", "surrogate": "triangle"}, "surrogate 'triangle' applies to binarizer 'biper' only"),
        ({"omega0": 0.0}, "omega0 must be a finite number > 0"),
        ({"omega0": math.inf}, "omega0 must be a finite number > 0"),
        ({"omega0": "20"}, "omega0 must be a finite number > 0"),
        ({"epochs1": 0}, "epochs1 must be >= 1"),
        ({"epochs2": 0}, "epochs2 must be >= 1"),
        ({"warmup_epochs": -1}, "warmup_epochs must be >= 0"),
        ({"seed": -1}, "seed must be >= 0"),
        ({"batch_size": 0}, "batch_size must be >= 1"),
        ({"test_batch_size": 0}, "test_batch_size must be >= 1"),
        ({"train_limit": 0}, "train_limit must be >= 1"),
        ({"in_channels": 0}, "in_channels must be >= 1"),
        ({"model": "mlp_1w1a", "width": 0}, "width must be >= 1"),
        ({"width": 64}, "width applies to model .mlp_1w1a. only"),
        ({"lr1": -0.1}, "lr1 must be a finite number >= 0"),
        ({"momentum": math.nan}, "momentum must be a finite number >= 0"),
        ({"tau2": math.inf}, "tau2 must be a finite number >= 0"),
    ],
)
def test_every_rule_refuses_with_a_message_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        TrainConfig(**changes)


def test_what_validation_accepts():
    """fp may have no stage 2 (epochs2 = 0); zero learning rate, decay and τ are allowed; the config is frozen."""
    assert TrainConfig(binarizer="fp", epochs2=0).stage_epochs(1) == TrainConfig().epochs1
    TrainConfig(lr1=0.0, weight_decay2=0.0, tau1=0.0, warmup_epochs=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().omega0 = 30.0  # type: ignore[misc]


def test_lr_at_against_a_hand_computation():
    """base 0.1, E = 10, W = 5: warm-up 0.1·(e+1)/5, then 0.05·(1 + cos(π(e − 4)/6)) — written out (1e-15)."""
    hand = [
        0.02,
        0.04,
        0.06,
        0.08,
        0.1,
        0.05 * (1 + math.cos(math.pi / 6)),
        0.05 * (1 + math.cos(math.pi / 3)),
        0.05,
        0.05 * (1 - 0.5),
        0.05 * (1 + math.cos(5 * math.pi / 6)),
    ]
    assert [lr_at(e, 0.1, 10, 5) for e in range(10)] == pytest.approx(hand, rel=1e-15, abs=1e-18)
    # no warm-up: plain cosine from the base, half way at E/2
    assert lr_at(0, 1.0, 4, 0) == 1.0 and lr_at(2, 1.0, 4, 0) == pytest.approx(0.5, rel=1e-15)
    # W ≥ E (all warm-up) and a one-epoch run stay finite and ≤ base
    assert lr_at(0, 0.2, 1, 5) == pytest.approx(0.04) and lr_at(0, 0.2, 1, 0) == 0.2


def test_lr_at_equals_the_official_torch_schedulers():
    """Official loop: warm-up lr·(e+1)/5 for e < 5, CosineAnnealingLR(T_max = E − 4) stepped from epoch 4 on."""
    import torch

    base, epochs = 0.021, 12
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
    for g in opt.param_groups:
        g["initial_lr"] = base
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs - 4, eta_min=0, last_epoch=-1)
    official = []
    for epoch in range(epochs):
        if epoch < 5:
            for g in opt.param_groups:
                g["lr"] = base * (epoch + 1) / 5
        official.append(opt.param_groups[0]["lr"])
        opt.step()
        if epoch >= 4:
            sched.step()
    ours = [lr_at(e, base, epochs, 5) for e in range(epochs)]
    assert ours == pytest.approx(official, rel=1e-12, abs=1e-15)


def test_presets_and_overrides():
    short = preset("short", omega0=30.0, seed=2)
    assert short == TrainConfig(**{**PRESETS["short"], "omega0": 30.0, "seed": 2})
    assert (short.model, short.width, short.augment) == ("mlp_1w1a", 256, False)
    assert preset("official") == TrainConfig()
    with pytest.raises(ValueError, match="unknown preset 'huge'; choose one of short, official"):
        preset("huge")
    with pytest.raises(ValueError, match="epochs1 must be"):  # overrides are validated too
        preset("short", epochs1=0)
    for old, new in PRESET_ALIASES.items():
        with pytest.warns(DeprecationWarning, match=f"'{old}' is now called '{new}'"):
            assert preset(old) == preset(new)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, skip=("device",))
    return parser


def test_one_option_per_field_with_its_help_and_default():
    parser = _parser()
    options = {a.dest: a for a in parser._actions if a.option_strings}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert set(options) == (set(fields) - {"device"}) | {"set_fields", "help"}
    assert options["augment"].option_strings == ["--no-augment"]  # a True default becomes --no-X
    assert options["data_dir"].option_strings == ["--data-dir"] and options["epochs1"].type is int
    assert options["omega0"].type is float and options["width"].type is int  # int | None → int
    assert "(default 0.021)" in options["lr1"].help and "(default none)" in options["width"].help
    assert all(options[name].default is None for name in fields if name != "device")  # unset: preset applies


def test_namespace_to_config_preset_then_options_then_set():
    parser = _parser()
    args = parser.parse_args(["--omega0", "25", "--no-augment", "--set", "momentum=0.8", "--set", "width=none"])
    cfg = config_from_namespace(args)
    assert (cfg.omega0, cfg.augment, cfg.momentum, cfg.width) == (25.0, False, 0.8, None)
    short = config_from_namespace(parser.parse_args(["--epochs1", "2", "--set", "seed=4"]), "short")
    assert short == preset("short", epochs1=2, seed=4)
    assert config_from_namespace(parser.parse_args([])) == TrainConfig()


def test_parse_set_types_values_by_field():
    assert parse_set(["lr1=0.5", "epochs2=3", "augment=no", "data-dir=/x", "in_channels=None"]) == {
        "lr1": 0.5,
        "epochs2": 3,
        "augment": False,
        "data_dir": "/x",
        "in_channels": None,
    }
    for item, message in [
        ("momentum", "expected KEY=VALUE"),
        ("colour=red", "KEY one of model, dataset"),
        ("augment=maybe", "augment takes true or false"),
        ("epochs1=2.5", "epochs1 takes a int"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_set([item])


def test_no_warning_for_current_names():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        preset("short")
        preset("official")

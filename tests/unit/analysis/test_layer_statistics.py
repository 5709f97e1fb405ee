"""The per-layer statistics on constructed layers whose answer is known (seeded, so repeatable): a layer drawn from a
law is won by that law out of sample and predicted within tolerance; crest peaks and a two-component layer are
predicted by the best law while Laplace is flagged; with correlated channels the channel-clustered SE is the right
size (half-vs-half z² ≈ 1) where the iid one is too small."""

from __future__ import annotations

import math

import numpy as np
import pytest

from biper_analysis.analysis.layer import analyze_layer
from biper_analysis.analysis.verdicts import row_warnings
from biper_analysis.laws import GenNorm, Harmonic, Laplace, Maxent, Penalised
from biper_analysis.theory.weights import channel_se, weight_stats

pytestmark = pytest.mark.statistical

OMEGA0 = 20.0
#: the laws offered in these tests (every family; fewer than "all" to keep the fits quick)
CANDIDATES = ("laplace", "gaussian", "gennorm", "penalised", "harmonic", "maxent")
#: laws that contain each law as a special case (at some parameters): a law that nests the true one *is* the true
#: law there, and can come out a hair ahead out of sample by chance
NESTED_IN = {
    "laplace": {"gennorm", "penalised", "harmonic", "maxent"},
    "gennorm": {"penalised", "harmonic", "maxent"},
    "penalised": {"harmonic", "maxent"},
    "harmonic": set(),
    "maxent": set(),
}


def _layer(law, seed: int, shape=(32, 256)) -> np.ndarray:
    return law.sample(np.random.default_rng(seed), int(np.prod(shape))).reshape(shape)


def _analyse(w: np.ndarray, laws=CANDIDATES) -> dict:
    row, _, _ = analyze_layer("l.weight", w, OMEGA0, None, laws, max_samples=4000)
    return row


@pytest.mark.parametrize(
    "law",
    [
        Laplace(0.04),
        GenNorm(0.03, 1.6),
        Penalised(0.05, 1.2, 8.0, OMEGA0),
        Harmonic(0.05, 1.1, 4.0, 2.0, 3.0, OMEGA0),
        Maxent(0.05, 1.2, 12.0, 6.0, -8.0, OMEGA0),
    ],
    ids=lambda law: law.name,
)
def test_a_layer_drawn_from_a_law_is_won_and_predicted_by_it(law):
    row = _analyse(_layer(law, seed=7))
    entries = row["models"]
    assert row["best_model"] in {law.name} | NESTED_IN[law.name], row["best_model"]  # the true law wins
    assert entries[law.name]["oos"]["within_tol"], entries[law.name]["oos"]
    assert abs(entries[law.name]["oos"]["z"]) <= 2.0 or abs(entries[law.name]["oos"]["rel_err"]) <= 0.05
    assert row["best_within_tol"], (row["best_model"], row["best_rel_err"], row["best_z"])


def test_crest_peaks_are_predicted_by_a_law_with_crest_peaks_and_named_in_the_warning():
    """Weights trapped at the crests of |sin(ω0 w)| (as at ω0 = 60): Laplace is a misfit beyond its tolerance, the
    crest warning fires and names the best law, which predicts the QE out of sample."""
    law = Harmonic(0.06, 1.0, -2.0, -3.0, 1.5, OMEGA0)
    w = _layer(law, seed=11)
    row = _analyse(w)
    assert weight_stats(w, OMEGA0).near_crest_frac > 0.6
    assert row["laplace_verdict"] == "misfit" and abs(row["rel_err"]) > 0.1
    assert row["best_model"] in ("harmonic", "maxent") and row["best_within_tol"]
    crest = [m for m in row_warnings(row) if "near crests" in m]
    assert len(crest) == 1 and f"the best law out of sample, {row['best_model']}, predicts its QE within" in crest[0]


def test_a_two_component_layer_is_predicted_by_the_best_law():
    """Every other weight from a law with sharp peaks at the zeros, the rest from a broad Laplace background (two
    populations in one layer): no single-scale law fits, the best law still predicts the QE out of sample."""
    rng = np.random.default_rng(13)
    peaks = Penalised(0.08, 1.5, 60.0, OMEGA0).sample(rng, 32 * 128)
    background = Laplace(0.05).sample(rng, 32 * 128)
    w = np.stack([peaks, background], axis=1).reshape(32, 256)
    row = _analyse(w)
    assert row["laplace_verdict"] == "misfit"
    assert row["best_model"] != "laplace" and row["best_within_tol"], (row["best_model"], row["best_rel_err"])


def test_with_correlated_channels_the_channel_se_has_half_vs_half_z2_near_1_and_the_iid_se_does_not():
    """40 layers whose channels each have their own scale (lognormal, σ = 0.8): the QE of the first half of the
    channels against the second, z = ΔQE/√(SE_a² + SE_b²). With the channel-clustered SE mean z² ≈ 1 (0.91 here;
    asserted within [0.4, 1.8] for 40 draws); with the iid SE it is several times larger (6.3; asserted > 2)."""
    rng = np.random.default_rng(17)
    z_channel, z_iid = [], []
    for _ in range(40):
        scales = 0.04 * np.exp(0.8 * rng.standard_normal(64))
        w = rng.laplace(0.0, 1.0, (64, 288)) * scales[:, None]
        halves = (w[:32], w[32:])
        q = [weight_stats(h, OMEGA0).qe() for h in halves]
        se_c = [channel_se(h, OMEGA0).qe for h in halves]
        se_i = [weight_stats(h, OMEGA0).qe_se() for h in halves]
        z_channel.append((q[0] - q[1]) / math.hypot(*se_c))
        z_iid.append((q[0] - q[1]) / math.hypot(*se_i))
    assert 0.4 <= float(np.mean(np.square(z_channel))) <= 1.8
    assert float(np.mean(np.square(z_iid))) > 2.0

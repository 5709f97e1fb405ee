"""Every figure of ``biper-analysis figures``: a name, what it shows, and how it is built from results.

Theory figures are computed from the library at once; the real-network figures read the cached training sweep
(``biper-analysis train-sweep``) and are skipped, with the command that makes them, when it is absent. Figures
never train.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biper_analysis._io.outputs import Claim, claim_output
from biper_analysis.theory import witnesses

__all__ = ["FigureSpec", "FIGURES", "representative_run", "plan_figures", "render_figures"]


@dataclasses.dataclass(frozen=True)
class FigureSpec:
    name: str  # file stem in the output folder
    caption: str  # one line for the README gallery
    build: Callable[[dict[str, Any] | None], Any]  # sweep (or None) -> matplotlib Figure
    needs_sweep: bool = False


def _theory(fn_name: str, **kwargs: Any) -> Callable[[Any], Any]:
    def build(_: Any) -> Any:
        from biper_analysis.plotting import theory

        return getattr(theory, fn_name)(**kwargs)

    return build


def _witnesses(_: Any) -> Any:
    from biper_analysis.plotting.witnesses import fig_witnesses

    return fig_witnesses(witnesses.monte_carlo_convergence(seed=0), witnesses.quadrature_accuracy())


def representative_run(sweep: dict[str, Any], binarizer: str = "biper", omega0: float = 20.0) -> dict[str, Any]:
    """The run the single-network figure shows: the given binarizer at the ω0 closest to ``omega0``, lowest seed."""
    runs = [r for r in sweep["runs"] if r["binarizer"] == binarizer]
    if not runs:
        raise ValueError(f"the sweep has no {binarizer} runs")
    return min(runs, key=lambda r: (abs(math.log(r["omega0"] / omega0)), r["seed"]))


def _network(sweep: dict[str, Any]) -> Any:
    from biper_analysis.analysis.report import analyze_checkpoint
    from biper_analysis.plotting.checkpoint import fig_checkpoint_summary

    run = representative_run(sweep)
    run_dir = Path(sweep["_dir"]) / run["name"]
    fig = fig_checkpoint_summary(analyze_checkpoint(run_dir, laws=("all",)))
    fig.suptitle(
        f"trained BiPer network ({run['name']}): weights with every fitted law (thin lines: zeros of "
        "sin(ω0 w)), sin(ω0 w), phase ω0·w mod π, predicted vs measured QE per law",
        fontsize=9,
    )
    return fig


def _convergence(_: Any) -> Any:
    from biper_analysis.plotting.training_sweep import fig_convergence
    from biper_analysis.training.convergence import load_study

    return fig_convergence(load_study())


def _sweep_fig(fn_name: str) -> Callable[[Any], Any]:
    def build(sweep: Any) -> Any:
        from biper_analysis.plotting import training_sweep

        return getattr(training_sweep, fn_name)(sweep)

    return build


def _trajectory_fig(fn_name: str) -> Callable[[Any], Any]:
    def build(sweep: Any) -> Any:
        from biper_analysis.plotting import trajectory

        return getattr(trajectory, fn_name)(sweep)

    return build


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "fig1_binary_periodic",
        "sign(w) vs sign(sin(ω0 w)); the sine latent and its gradient; the triangle alternative",
        _theory("fig_binary_periodic"),
    ),
    FigureSpec("fig2_qe_vs_omega0", "QE vs ω0 for several b, at γ* and at fixed γ = 1", _theory("fig_qe_vs_omega0")),
    FigureSpec(
        "fig3_qe_min",
        "QE_min(x = ω0·b) with the peak (0.954882, 0.102835) and both limits; γ*(x)",
        _theory("fig_qe_min"),
    ),
    FigureSpec(
        "fig4_priors",
        "QE under Laplace, Gaussian and Student-t weights of equal variance",
        _theory("fig_priors_equal_variance"),
    ),
    FigureSpec(
        "fig5_witnesses", "Monte Carlo error against n with the SE lines; quadrature error across x", _witnesses
    ),
    FigureSpec(
        "fig6_network",
        "a trained BiPer network: per-layer weights with every fitted law and the zeros of "
        "sin(ω0 w), sin(ω0 w), phases, predicted vs measured QE per law",
        _network,
        needs_sweep=True,
    ),
    FigureSpec(
        "fig7_predicted_vs_measured",
        "per-layer normalised QE / E[latent²], predicted under Laplace vs measured, BiPer and the sign baseline",
        _sweep_fig("fig_predicted_vs_measured"),
        needs_sweep=True,
    ),
    FigureSpec(
        "fig8_accuracy_vs_omega0",
        "test accuracy (mean ± std over seeds) and measured QE against ω0, sign baseline as a band",
        _sweep_fig("fig_accuracy_vs_omega0"),
        needs_sweep=True,
    ),
    FigureSpec(
        "fig9_inverse_map",
        "target QE → ω0·b with its two branches (choosing ω0 from a target error)",
        _theory("fig_inverse_map"),
    ),
    FigureSpec(
        "fig10_training_curves",
        "test accuracy per epoch of every run of the sweep",
        _sweep_fig("fig_training_curves"),
        needs_sweep=True,
    ),
    FigureSpec(
        "fig11_init_vs_trained",
        "trained weights against their initial weights: drift, the closed form's "
        "error and the mass near zeros of sin, before and after training",
        _sweep_fig("fig_init_vs_trained"),
        needs_sweep=True,
    ),
    FigureSpec(
        "fig12_convergence",
        "the convergence study behind the training length: the preset at length E and "
        "2E, BiPer ω0 = 20 and sign, paired seeds (frozen result, biper_analysis/data)",
        _convergence,
    ),
    FigureSpec(
        "fig13_phase_trajectories",
        "phase θ = ω0·w mod π of each binarised layer over the epochs (heat map), BiPer at each ω0 of the sweep",
        _trajectory_fig("fig_phase_trajectories"),
        needs_sweep=True,
    ),
    FigureSpec(
        "fig14_flip_ratios",
        "binary weights flipped per epoch, and zero crossings that came back, per layer: "
        "BiPer at each ω0 beside the sign baseline",
        _trajectory_fig("fig_flip_ratios"),
        needs_sweep=True,
    ),
)


def plan_figures(
    out_dir: Path, only: tuple[str, ...] = (), formats: tuple[str, ...] = ("pdf", "png"), command: str = "figures"
) -> list[tuple[FigureSpec, list[Claim]]]:
    """The figures to render and the files each writes, every file checked before any work."""
    specs = [s for s in FIGURES if not only or any(o in s.name for o in only)]
    return [
        (spec, [claim_output(out_dir / f"{spec.name}.{fmt}", command=command, option="--out") for fmt in formats])
        for spec in specs
    ]


def render_figures(
    out_dir: str | Path,
    runs_dir: str | Path | None,
    only: tuple[str, ...] = (),
    formats: tuple[str, ...] = ("pdf", "png"),
    log: Callable[[str], None] = print,
    command: str = "figures",
) -> list[Path]:
    """Render every selected figure to ``out_dir`` (PDF + PNG). Returns the written paths."""
    import matplotlib.pyplot as plt

    from biper_analysis.plotting import save_figure
    from biper_analysis.training.sweep import load_training_sweep

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    planned = plan_figures(out_dir, only, formats, command)
    sweep = None
    if any(spec.needs_sweep for spec, _ in planned):
        if runs_dir is None:
            log(
                "skipping the real-network figures: no training sweep; make it with `biper-analysis train-sweep "
                "--out runs/sweep`"
            )
        else:
            try:
                sweep = load_training_sweep(runs_dir)
            except FileNotFoundError as exc:
                log(f"skipping the real-network figures: {exc}")
    todo = [(spec, claims) for spec, claims in planned if sweep is not None or not spec.needs_sweep]
    log(f"rendering {len(todo)} figures into {out_dir}/ (a line as each is written)")
    written: list[Path] = []
    for i, (spec, claims) in enumerate(todo, start=1):
        fig = spec.build(sweep)
        written += save_figure(
            fig,
            out_dir / spec.name,
            formats=formats,
            command=command,
            config={"figure": spec.name, "runs_dir": str(runs_dir) if spec.needs_sweep else None},
        )
        plt.close(fig)
        replaced = " (replacing the earlier ones)" if any(c.replaces for c in claims) else ""
        log(f"wrote {out_dir / spec.name}.{{{','.join(formats)}}}{replaced} [{i}/{len(todo)}]")
    return written

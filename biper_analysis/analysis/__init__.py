"""Analysis of real weights: the one checkpoint reader, goodness of fit, the per-layer report (Laplace and every
weight law against the measured QE) and QE grids over ω0 for any law."""

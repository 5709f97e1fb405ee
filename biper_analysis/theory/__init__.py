"""The theory: the closed form of QE under Laplace weights and its independent witnesses (sympy derivation,
quadrature, Monte Carlo, the characteristic-function series), the inverse map, γ conventions and the statistics of a
weight sample. Plain numpy/scipy/sympy: nothing here imports torch or the layers above."""

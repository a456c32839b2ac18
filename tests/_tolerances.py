"""Tolerances argued from the conditioning of what a test compares.

A result computed in floating point carries rounding errors of the inputs'
relative size ``eps`` amplified by the condition number of the problem it
solves; which kernels a BLAS library picks (and so the order of its sums)
changes those errors from machine to machine, never their bound. A test
compares within such a bound, not within what one machine happened to give.
"""

import numpy as np

EPS = np.finfo(np.float64).eps


def solve_atol(A, x):
    """Absolute tolerance on the solution ``x`` of a system with matrix ``A``.

    Higham (Accuracy and Stability of Numerical Algorithms, 2002, Thm 10.4
    and eq. 7.2): a solve by Cholesky (or an iteration whose accuracy is
    limited by its residual, such as Gauss-Newton steps) has a backward
    error of at most ``3 n^2 eps`` in ``A``, so a forward error of at most
    ``3 n^2 eps cond(A) |x|``. ``n`` is ``A``'s order.
    """
    A = np.asarray(A, dtype=float)
    n = A.shape[0]
    return 3.0 * n * n * EPS * np.linalg.cond(A) * max(1.0, np.abs(x).max())

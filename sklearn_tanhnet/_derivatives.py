"""Objective, residuals and their exact derivatives on the flat vector ``theta``.

The fitting objective for data ``(X, Y)`` with sample weights ``w`` (sum ``S``),
``K`` outputs and L2 penalty ``alpha`` on the weights (not the biases) is::

    J(theta) = 1 / (2 S) * (sum_i w_i * ||f(x_i) - y_i||^2 / K + alpha * ||W||^2)

so an integer weight equals repeating a row. It is half the squared norm of the
residual vector ``r = [sqrt(w_i / (S K)) * (f_ik - y_ik), sqrt(alpha / S) * W]``,
the form ``scipy.optimize.least_squares`` minimises.

Every derivative comes from autograd. The residual Jacobian takes one reverse
pass per output, not one per residual as ``autograd.jacobian`` would: samples
do not interact, so the gradient of the *summed* output with respect to zero
offsets added to each hidden layer's pre-activations holds every sample's
back-propagated delta at once; a layer's weight block of the Jacobian is then
the row-wise outer product of its inputs with those deltas.
"""

import autograd.numpy as anp
import numpy as np
from autograd import grad, hessian, make_vjp
from autograd.differential_operators import hessian_tensor_product
from autograd.tracer import getval

from ._network import forward, forward_numpy, get_activation, unpack, weight_mask


class LeastSquaresProblem:
    """The weighted, penalised least-squares objective of one network and data set.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Inputs, already scaled.
    Y : ndarray of shape (n_samples, n_outputs)
        Targets, already scaled.
    sample_weight : ndarray of shape (n_samples,)
        Non-negative weights with a positive sum.
    alpha : float
        L2 penalty on the weights.
    layer_sizes : list of int
        ``[n_features, *hidden_layer_sizes, n_outputs]``.
    activation : str or callable
        Hidden-layer activation.
    """

    def __init__(self, X, Y, sample_weight, alpha, layer_sizes, activation="tanh"):
        self.X = X
        self.Y = Y
        self.layer_sizes = list(layer_sizes)
        self.activation = get_activation(activation)
        self.np_activation = get_activation(activation, numpy=True)
        self.alpha = float(alpha)
        n_samples, n_outputs = Y.shape
        self.n_samples, self.n_outputs = n_samples, n_outputs
        self.weight_sum = float(np.sum(sample_weight))
        self.sample_weight = sample_weight
        self.row_scale = np.sqrt(sample_weight / (self.weight_sum * n_outputs))
        self.mask = weight_mask(self.layer_sizes)
        self.n_params = self.mask.size
        self.n_reg = int(self.mask.sum()) if self.alpha > 0 else 0
        self.reg_scale = np.sqrt(self.alpha / self.weight_sum)
        self._cache_theta = None

    # -- values -----------------------------------------------------------------

    def _forward_cached(self, theta):
        if self._cache_theta is None or not np.array_equal(self._cache_theta, theta):
            params = unpack(theta, self.layer_sizes)
            self._cache_out = forward_numpy(params, self.X, self.np_activation)
            self._cache_theta = np.array(theta, copy=True)
        return self._cache_out

    def residuals(self, theta):
        """Residual vector ``r``; ``0.5 * r @ r`` is the objective."""
        theta = np.asarray(theta, dtype=float)
        data = (self._forward_cached(theta) - self.Y) * self.row_scale[:, None]
        if self.n_reg:
            return np.concatenate([data.ravel(), self.reg_scale * theta[self.mask]])
        return data.ravel()

    def loss(self, theta):
        """Objective value without autograd tracing."""
        r = self.residuals(theta)
        return 0.5 * float(r @ r)

    def objective(self, theta, idx=None):
        """The objective as an autograd-differentiable function of ``theta``.

        With ``idx`` (indices of a minibatch) the data term is the unbiased
        estimate ``n_samples / len(idx)`` times the batch's share, still
        normalised by the weight sum of the whole data, so a batch whose
        weights are all zero contributes zero instead of dividing by zero.
        """
        X, Y, c = self.X, self.Y, self.row_scale
        scale = 1.0
        if idx is not None:
            X, Y, c = X[idx], Y[idx], c[idx]
            scale = self.n_samples / len(idx)
        pred = forward(unpack(theta, self.layer_sizes), X, self.activation)
        data = scale * anp.sum(((pred - Y) * c[:, None]) ** 2)
        if self.n_reg:
            data = data + self.reg_scale**2 * anp.sum(theta[self.mask] ** 2)
        return 0.5 * data

    # -- derivatives ------------------------------------------------------------

    def gradient(self, theta, idx=None):
        """Gradient of :meth:`objective` by reverse-mode autograd."""
        return grad(self.objective)(np.asarray(theta, dtype=float), idx)

    def hessian(self, theta):
        """Exact Hessian of the objective, ``autograd.hessian``."""
        return hessian(self.objective)(np.asarray(theta, dtype=float))

    def hvp(self, theta, v):
        """Hessian-vector product ``H(theta) @ v`` without forming ``H``."""
        return hessian_tensor_product(self.objective)(
            np.asarray(theta, dtype=float), np.asarray(v, dtype=float)
        )

    def jacobian(self, theta):
        """Jacobian of :meth:`residuals`, shape (n_samples * n_outputs + n_reg, n_params)."""
        theta = np.asarray(theta, dtype=float)
        sizes = self.layer_sizes
        params = unpack(theta, sizes)
        n, K, P = self.n_samples, self.n_outputs, self.n_params
        c = self.row_scale
        inputs = []

        def last_hidden(offsets):
            A = self.X
            for (W, b), D in zip(params[:-1], offsets):
                inputs.append(getval(A))  # layer inputs give the weight blocks
                A = self.activation(anp.dot(A, W) + b + D)
            inputs.append(getval(A))
            return A

        n_hidden = len(sizes) - 2
        if n_hidden:
            offsets = [np.zeros((n, m)) for m in sizes[1:-1]]
            vjp, _ = make_vjp(last_hidden)(offsets)
        else:
            inputs.append(self.X)

        J = np.zeros((n * K + self.n_reg, P))
        J3 = J[: n * K].reshape(n, K, P)
        A_last = inputs[-1] * c[:, None]
        W_last = params[-1][0]
        start_last = P - (sizes[-2] + 1) * K
        for k in range(K):
            if n_hidden:
                # Cotangent of the last hidden layer for output k: row i gets c_i W[:, k].
                deltas = vjp(np.outer(c, W_last[:, k]))
                start = 0
                for inp, d in zip(inputs[:-1], deltas):
                    m, h = inp.shape[1], d.shape[1]
                    J3[:, k, start : start + m * h] = (
                        inp[:, :, None] * d[:, None, :]
                    ).reshape(n, m * h)
                    J3[:, k, start + m * h : start + (m + 1) * h] = d
                    start += (m + 1) * h
            # Output layer: f_ik depends on W_last[:, k] and b_last[k] only.
            cols = start_last + np.arange(sizes[-2]) * K + k
            J3[:, k, cols] = A_last
            J3[:, k, P - K + k] = c
        if self.n_reg:
            J[n * K + np.arange(self.n_reg), np.flatnonzero(self.mask)] = self.reg_scale
        return J

    def gauss_newton(self, theta):
        """Gauss-Newton approximation ``J.T @ J`` of the Hessian."""
        J = self.jacobian(theta)
        return J.T @ J

    def residual_function(self):
        """``theta -> residuals`` as one autograd-differentiable function.

        For tests and diagnostics: ``autograd.jacobian`` of it is the slow,
        independent reference for :meth:`jacobian`.
        """

        def resid(theta):
            pred = forward(unpack(theta, self.layer_sizes), self.X, self.activation)
            data = anp.ravel((pred - self.Y) * self.row_scale[:, None])
            if self.n_reg:
                return anp.concatenate([data, self.reg_scale * theta[self.mask]])
            return data

        return resid

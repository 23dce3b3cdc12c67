"""Docstrings of the entropic unbalanced entry points (assembled once, at import)."""

from __future__ import annotations

__all__ = ["TAU", "TRANSLATION_INVARIANT", "plan_doc", "value_doc"]

_PROBLEM = r"""
    Solves

    .. math::
        \gamma^\star = \arg\min_{\gamma \ge 0}\ \langle \gamma, M\rangle_F
        + \varepsilon\, \mathrm{KL}(\gamma \,\|\, c)
        + \rho_a\, \mathrm{KL}(\gamma \mathbf 1 \,\|\, a)
        + \rho_b\, \mathrm{KL}(\gamma^\top \mathbf 1 \,\|\, b),
        \qquad \varepsilon = \mathrm{reg},\ (\rho_a, \rho_b) = \mathrm{reg\_m}

    with the generalized :math:`\mathrm{KL}(p \,\|\, q) = \sum p \log(p / q) - p + q`
    (Chizat et al. 2018). ``a`` and ``b`` need not have the same mass. The solution is
    :math:`\gamma^\star_{ij} = c_{ij} \exp((f_i + g_j - M_{ij}) / \varepsilon)` where the
    potentials ``f, g`` (cost units) are the fixed point of the damped c-transforms

    .. math::
        f = \frac{\rho_a}{\rho_a + \varepsilon}\, T_b(g), \qquad
        g = \frac{\rho_b}{\rho_b + \varepsilon}\, T_a(f),

    :math:`T` being the balanced Sinkhorn update (softmin); they also maximize the dual
    :math:`\langle a, \varphi_a(f)\rangle + \langle b, \varphi_b(g)\rangle -
    \varepsilon(\langle c, e^{(f \oplus g - M)/\varepsilon}\rangle - \langle c, 1\rangle)`,
    :math:`\varphi(f) = \rho(1 - e^{-f/\rho})`. The marginals at the optimum are
    :math:`\gamma^\star \mathbf 1 = a\, e^{-f/\rho_a}`. Every method runs this iteration in
    the log domain (fused ``logsumexp``), so no scaling under- or overflows at small ``reg``.
"""

_HEAD = r"""
    Parameters
    ----------
    a : (n,) array or list
        Source weights, non-negative, any total mass (empty or None: uniform).
    b : (m,) or (m, k) array or list
        Target weights, any total mass; a 2-D ``b`` solves the ``k`` problems
        :math:`(a, b_{:, l}, M)`, each with the reference :math:`c = 1` unless ``c`` is
        given (POT's convention; see ``reg_type``).
    M : (n, m) array
        Cost matrix, finite.
    reg : float
        Entropic regularization :math:`\varepsilon > 0`, in the units of ``M``.
    reg_m : float or pair of floats
        Marginal penalties :math:`\rho > 0` in the units of ``M``: one number for both sides
        or ``(rho_a, rho_b)`` (a list, tuple or array of one or two values).
        ``float("inf")`` makes that side a hard constraint (both infinite: balanced
        entropic OT, the masses must then be equal).
"""

_METHOD = r"""
    method : str, default='sinkhorn'
        POT's names 'sinkhorn', 'sinkhorn_stabilized', 'sinkhorn_translation_invariant' and
        'sinkhorn_reg_scaling'. They solve the same problem, which has one solution; POT's
        methods differ in numerical safeguards and speed, and otkit runs the same stable
        log-domain iteration for all of them (see the functions of those names).
"""

_MIDDLE = r"""
    reg_type : {'kl', 'entropy'}, default='kl'
        The reference of the entropic term: 'kl' :math:`c = a \otimes b` (or the given
        ``c``); 'entropy' :math:`c = 1`, i.e. the negative entropy
        :math:`\sum \gamma \log\gamma - \gamma` up to a constant (another plan). With a 2-D
        ``b`` and no ``c``, both solve the 'entropy' problem of each column, as POT does
        (one kernel :math:`e^{-M/\varepsilon}` for all columns); for the KL problem of
        column ``l`` pass ``b[:, l]`` alone.
    c : (n, m) array, optional
        Reference measure of ``reg_type='kl'`` (non-negative, no empty row or column).
        Ignored, with a warning, for ``reg_type='entropy'`` (as POT).
    warmstart : tuple of two arrays, optional
        POT's log-scalings ``(log_u, log_v)``, :math:`\log u = f / \varepsilon`, shapes
        ``(n,)``, ``(m,)`` (or ``(n, k)``, ``(m, k)``); the row part sets the start.
"""

TAU = r"""
    tau : float, default=1e5
        POT's absorption threshold of the scalings (> 0). Accepted for compatibility; the
        log-domain iteration never needs absorption.
"""

_TAIL = r"""
    numItermax : int, default=1000
        Maximum number of iterations; one iteration updates both potentials, as POT's
        (``numItermax=0`` still runs one).
    stopThr : float, default=1e-6
        Stop when the L2 norm of the fixed-point residual
        :math:`a\,(e^{(f - f_{next})/\varepsilon} - 1)` (mass units, zero at the optimum) is
        below it. (POT tests the relative change of the scalings instead.)
    verbose : bool, default=False
        Print the error of each iteration after the solve (POT's table).
    log : bool, default=False
        Also return a dict with POT's keys ``err`` (the error of each iteration: one entry
        per iteration, or per 10 iterations for 'sinkhorn_stabilized', as POT),
        ``logu``, ``logv`` (log-scalings, :math:`\gamma = \mathrm{diag}(u) K
        \mathrm{diag}(v)` with :math:`K = c\, e^{-M/\varepsilon}`; ``-inf`` at zero
        weights), ``cost`` (:math:`\langle\gamma, M\rangle`) and ``total_cost`` (the
        objective above with the generalized KL); and otkit's ``f``, ``g`` (potentials,
        cost units), ``n_iter`` (and ``niter``), ``residual``, ``converged`` and
        ``marginals`` (``(gamma 1, gamma^T 1)``). With a 2-D ``b`` each entry has a last
        axis of size ``k``.
"""

_RETURN_PLANS = r"""
    return_plans : bool, default=False
        With a 2-D ``b``, return the ``(n, m, k)`` plans instead of POT's ``k`` linear costs.
"""

_GRAD = r"""
    grad : {'envelope', 'autodiff', 'detach'}, optional
        Gradients on torch and JAX. 'envelope': the iterations run without gradient and the
        values get the gradient of the total cost at the optimum (Danskin: the partial
        derivatives of the dual at the fixed potentials), exact for ``total_cost`` and
        attached to the linear cost too (as :func:`otkit.sinkhorn2`); the plan is one
        differentiable evaluation from the fixed potentials. 'autodiff': differentiation
        through the iterations (memory grows with them). 'detach': no gradient. Default:
        'autodiff' for linear costs, 'envelope' for plans and total costs (the exact
        gradient of what is returned).
    warn : bool, default=True
        Warn when ``stopThr`` is not reached.
"""

_RETURNS_PLAN = r"""
    Returns
    -------
    gamma : (n, m) array, or (k,) array for a 2-D ``b``
        The plan, in the namespace, dtype and device of ``M``. With a 2-D ``b``: the ``k``
        linear costs :math:`\langle\gamma_l, M\rangle` (as POT), or the (n, m, k) plans
        with ``return_plans=True``.
    log : dict
        Only with ``log=True``.
"""

_RETURNS_VALUE = r"""
    Returns
    -------
    cost : 0-d array, or (k,) for a 2-D ``b``
        ``returnCost`` of the optimal plan, in the namespace, dtype and device of ``M``;
        differentiable as set by ``grad``.
    log : dict
        Only with ``log=True``.
"""

_RAISES = r"""
    Raises
    ------
    ValueError
        ``reg`` or ``reg_m`` not > 0, NaN or inf in ``M``, negative or non-finite weights,
        weights of zero mass, shapes that disagree, unknown method, reg_type or returnCost.
    TypeError
        Arrays of different libraries, unexpected keyword arguments.

    Notes
    -----
    Backends: NumPy, array API libraries, torch and JAX (also under ``jax.jit``, where the
    value checks are skipped). Results keep the caller's namespace, dtype and device.
    ``reg_m`` must be concrete numbers.
"""

TRANSLATION_INVARIANT = r"""
    Séjourné, Vialard and Peyré (2022) make each Sinkhorn update invariant to the
    translation :math:`(f + t, g - t)` of the potentials, which speeds up convergence when
    :math:`\rho \gg \varepsilon`. It is a faster iteration for the same objective, whose
    minimizer is unique: otkit runs its log-domain fixed point here, which reaches the same
    plan (in more iterations when :math:`\rho \gg \varepsilon`).
"""

_REFERENCES = r"""
    References
    ----------
    .. [1] L. Chizat, G. Peyré, B. Schmitzer, F.-X. Vialard. Scaling algorithms for
       unbalanced optimal transport problems. Math. Comp. 87(314), 2018.
    .. [2] T. Séjourné, J. Feydy, F.-X. Vialard, A. Trouvé, G. Peyré. Sinkhorn divergences
       for unbalanced optimal transport. arXiv:1910.12958, 2019.
    .. [3] T. Séjourné, F.-X. Vialard, G. Peyré. Faster unbalanced optimal transport:
       translation invariant Sinkhorn and 1-D Frank-Wolfe. AISTATS 2022.
"""

_PLAN_EXAMPLE = r"""
    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
    >>> G = ot.unbalanced.{name}([0.5, 0.5], [0.5, 0.5], M, 1.0, 1.0)
    >>> G.round(3)
    array([[0.322, 0.118],
           [0.118, 0.322]])
"""

_VALUE_EXAMPLE = r"""
    Examples
    --------
    >>> import otkit as ot
    >>> M = [[0.0, 1.0], [1.0, 0.0]]
    >>> round(float(ot.sinkhorn_unbalanced2([0.5, 0.1], [0.5, 0.5], M, 1.0, 1.0)), 4)
    0.196
"""


def plan_doc(name, summary, with_method, tau=False, note=""):
    """The docstring of the plan-returning function ``name``."""
    parameters = _HEAD + (_METHOD if with_method else "") + _MIDDLE + (TAU if tau else "")
    return (
        summary
        + "\n"
        + _PROBLEM
        + note
        + parameters
        + _TAIL
        + _RETURN_PLANS
        + _GRAD
        + _RETURNS_PLAN
        + _RAISES
        + _REFERENCES
        + _PLAN_EXAMPLE.replace("{name}", name)
    )


def value_doc():
    """The docstring of ``sinkhorn_unbalanced2``."""
    return_cost = r"""
    returnCost : {'linear', 'total'}, default='linear'
        'linear': :math:`\langle\gamma, M\rangle` (POT's default); 'total': the whole
        objective, entropic term and marginal penalties included (generalized KL).
"""
    return (
        "Unbalanced entropic optimal transport cost (generalized Sinkhorn, log domain).\n"
        + _PROBLEM
        + _HEAD
        + _METHOD
        + _MIDDLE
        + return_cost
        + _TAIL
        + _GRAD
        + _RETURNS_VALUE
        + _RAISES
        + _REFERENCES
        + _VALUE_EXAMPLE
    )

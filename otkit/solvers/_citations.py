"""BibTeX references of the solvers behind ``solve`` and ``solve_sample`` (``OTResult.citation``).

Each solver names the works that define what it computes and how; :func:`citation_for` joins
their entries into the text that :attr:`otkit.utils.OTResult.citation` returns.
"""

from __future__ import annotations

from ..utils._result import TEXTBOOK_BIBTEX

__all__ = ["REFERENCES", "citation_for"]

REFERENCES = {
    "peyre2019": TEXTBOOK_BIBTEX,
    "ahuja1993": """@book{ahuja1993network,
  author    = {Ravindra K. Ahuja and Thomas L. Magnanti and James B. Orlin},
  title     = {Network Flows: Theory, Algorithms, and Applications},
  publisher = {Prentice Hall},
  address   = {Englewood Cliffs, NJ},
  year      = {1993}
}""",
    "bonneel2011": """@article{bonneel2011displacement,
  author  = {Nicolas Bonneel and Michiel van de Panne and Sylvain Paris and
             Wolfgang Heidrich},
  title   = {Displacement Interpolation Using {Lagrangian} Mass Transport},
  journal = {ACM Transactions on Graphics (SIGGRAPH Asia)},
  volume  = {30},
  number  = {6},
  pages   = {158:1--158:12},
  year    = {2011},
  doi     = {10.1145/2070781.2024192}
}""",
    "cuturi2013": """@inproceedings{cuturi2013sinkhorn,
  author    = {Marco Cuturi},
  title     = {Sinkhorn Distances: Lightspeed Computation of Optimal Transport},
  booktitle = {Advances in Neural Information Processing Systems 26 (NIPS)},
  pages     = {2292--2300},
  year      = {2013}
}""",
    "schmitzer2019": """@article{schmitzer2019stabilized,
  author  = {Bernhard Schmitzer},
  title   = {Stabilized Sparse Scaling Algorithms for Entropy Regularized Transport
             Problems},
  journal = {SIAM Journal on Scientific Computing},
  volume  = {41},
  number  = {3},
  pages   = {A1443--A1481},
  year    = {2019},
  doi     = {10.1137/16M1106018}
}""",
    "altschuler2017": """@inproceedings{altschuler2017near,
  author    = {Jason Altschuler and Jonathan Weed and Philippe Rigollet},
  title     = {Near-linear Time Approximation Algorithms for Optimal Transport via
               {Sinkhorn} Iteration},
  booktitle = {Advances in Neural Information Processing Systems 30 (NIPS)},
  pages     = {1964--1974},
  year      = {2017}
}""",
    "chizat2018": """@article{chizat2018scaling,
  author  = {L{\\'e}na{\\"i}c Chizat and Gabriel Peyr{\\'e} and Bernhard Schmitzer and
             Fran{\\c{c}}ois-Xavier Vialard},
  title   = {Scaling Algorithms for Unbalanced Optimal Transport Problems},
  journal = {Mathematics of Computation},
  volume  = {87},
  number  = {314},
  pages   = {2563--2609},
  year    = {2018},
  doi     = {10.1090/mcom/3303}
}""",
    "chapel2021": """@inproceedings{chapel2021unbalanced,
  author    = {Laetitia Chapel and R{\\'e}mi Flamary and Haoran Wu and C{\\'e}dric F{\\'e}votte
               and Gilles Gasso},
  title     = {Unbalanced Optimal Transport through Non-negative Penalized Linear
               Regression},
  booktitle = {Advances in Neural Information Processing Systems 34 (NeurIPS)},
  pages     = {23270--23282},
  year      = {2021}
}""",
    "byrd1995": """@article{byrd1995limited,
  author  = {Richard H. Byrd and Peihuang Lu and Jorge Nocedal and Ciyou Zhu},
  title   = {A Limited Memory Algorithm for Bound Constrained Optimization},
  journal = {SIAM Journal on Scientific Computing},
  volume  = {16},
  number  = {5},
  pages   = {1190--1208},
  year    = {1995},
  doi     = {10.1137/0916069}
}""",
    "bonneel2015": """@article{bonneel2015sliced,
  author  = {Nicolas Bonneel and Julien Rabin and Gabriel Peyr{\\'e} and Hanspeter Pfister},
  title   = {Sliced and {Radon} {Wasserstein} Barycenters of Measures},
  journal = {Journal of Mathematical Imaging and Vision},
  volume  = {51},
  number  = {1},
  pages   = {22--45},
  year    = {2015},
  doi     = {10.1007/s10851-014-0506-3}
}""",
    "deshpande2019": """@inproceedings{deshpande2019max,
  author    = {Ishan Deshpande and Yuan-Ting Hu and Ruoyu Sun and Ayis Pyrros and
               Nasir Siddiqui and Sanmi Koyejo and Zhizhen Zhao and David Forsyth and
               Alexander G. Schwing},
  title     = {Max-Sliced {Wasserstein} Distance and Its Use for {GANs}},
  booktitle = {IEEE/CVF Conference on Computer Vision and Pattern Recognition (CVPR)},
  pages     = {10648--10656},
  year      = {2019}
}""",
    "dowson1982": """@article{dowson1982frechet,
  author  = {D. C. Dowson and B. V. Landau},
  title   = {The {Fr{\\'e}chet} Distance between Multivariate Normal Distributions},
  journal = {Journal of Multivariate Analysis},
  volume  = {12},
  number  = {3},
  pages   = {450--455},
  year    = {1982},
  doi     = {10.1016/0047-259X(82)90077-X}
}""",
    "gelbrich1990": """@article{gelbrich1990formula,
  author  = {Matthias Gelbrich},
  title   = {On a Formula for the {$L^2$} {Wasserstein} Metric between Measures on
             {Euclidean} and {Hilbert} Spaces},
  journal = {Mathematische Nachrichten},
  volume  = {147},
  number  = {1},
  pages   = {185--203},
  year    = {1990},
  doi     = {10.1002/mana.19901470121}
}""",
    "genevay2018": """@inproceedings{genevay2018learning,
  author    = {Aude Genevay and Gabriel Peyr{\\'e} and Marco Cuturi},
  title     = {Learning Generative Models with {Sinkhorn} Divergences},
  booktitle = {Proceedings of the 21st International Conference on Artificial
               Intelligence and Statistics (AISTATS)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {84},
  pages     = {1608--1617},
  year      = {2018}
}""",
    "feydy2019": """@inproceedings{feydy2019interpolating,
  author    = {Jean Feydy and Thibault S{\\'e}journ{\\'e} and Fran{\\c{c}}ois-Xavier Vialard
               and Shun-ichi Amari and Alain Trouv{\\'e} and Gabriel Peyr{\\'e}},
  title     = {Interpolating between Optimal Transport and {MMD} using {Sinkhorn}
               Divergences},
  booktitle = {Proceedings of the 22nd International Conference on Artificial
               Intelligence and Statistics (AISTATS)},
  series    = {Proceedings of Machine Learning Research},
  volume    = {89},
  pages     = {2681--2690},
  year      = {2019}
}""",
    "schmitzer2016": """@article{schmitzer2016sparse,
  author  = {Bernhard Schmitzer},
  title   = {A Sparse Multiscale Algorithm for Dense Optimal Transport},
  journal = {Journal of Mathematical Imaging and Vision},
  volume  = {56},
  number  = {2},
  pages   = {238--259},
  year    = {2016}
}""",
    "sejourne2019": """@article{sejourne2019sinkhorn,
  author  = {Thibault S{\\'e}journ{\\'e} and Jean Feydy and Fran{\\c{c}}ois-Xavier Vialard and
             Alain Trouv{\\'e} and Gabriel Peyr{\\'e}},
  title   = {Sinkhorn Divergences for Unbalanced Optimal Transport},
  journal = {arXiv preprint arXiv:1910.12958},
  year    = {2019}
}""",
}

# What each solver computes (first) and how (then); every entry ends with the textbook.
_BY_SOLVER = {
    "emd": ("bonneel2011", "ahuja1993"),
    "emd_lazy": ("schmitzer2016", "ahuja1993"),
    "sinkhorn": ("cuturi2013",),
    "sinkhorn_log": ("cuturi2013", "schmitzer2019"),
    "sinkhorn_stabilized": ("cuturi2013", "schmitzer2019"),
    "sinkhorn_epsilon_scaling": ("cuturi2013", "schmitzer2019"),
    "greenkhorn": ("cuturi2013", "altschuler2017"),
    "unbalanced_sinkhorn": ("chizat2018",),
    "mm": ("chapel2021",),
    "lbfgsb": ("chizat2018", "byrd1995"),
    "1d": (),
    "sliced": ("bonneel2015",),
    "max_sliced": ("deshpande2019", "bonneel2015"),
    "gaussian": ("dowson1982", "gelbrich1990"),
    "online": ("cuturi2013", "feydy2019"),
    "debiased": ("genevay2018", "feydy2019"),
    "unbalanced_online": ("chizat2018", "sejourne2019"),
}

_SUMMARY = {
    "emd": "Exact optimal transport (linear program), solved by the network simplex.",
    "emd_lazy": "Exact optimal transport between point clouds without the cost matrix: "
    "coarse-to-fine sparse network simplex, certified optimal on all pairs.",
    "sinkhorn": "Entropic optimal transport, solved by Sinkhorn's matrix scaling.",
    "sinkhorn_log": "Entropic optimal transport, Sinkhorn iterations in the log domain.",
    "sinkhorn_stabilized": "Entropic optimal transport, stabilized (absorbed) Sinkhorn.",
    "sinkhorn_epsilon_scaling": "Entropic optimal transport, Sinkhorn with epsilon scaling.",
    "greenkhorn": "Entropic optimal transport, greedy coordinate Sinkhorn (Greenkhorn).",
    "unbalanced_sinkhorn": "Unbalanced entropic optimal transport (KL marginal penalties), "
    "generalized Sinkhorn iterations.",
    "mm": "Unbalanced optimal transport (KL marginal penalties) without entropy, "
    "majorization-minimization.",
    "lbfgsb": "Unbalanced (regularized) optimal transport, L-BFGS-B on the primal.",
    "1d": "Optimal transport on the real line, in closed form through quantile functions.",
    "sliced": "Sliced Wasserstein distance (random projections and 1D transport).",
    "max_sliced": "Max-sliced Wasserstein distance (the worst projection).",
    "gaussian": "Closed-form (Bures-)Wasserstein distance between the Gaussian fits of the "
    "samples.",
    "online": "Entropic optimal transport between point clouds, Sinkhorn on costs "
    "recomputed by blocks (online), with epsilon scaling.",
    "debiased": "Debiased Sinkhorn divergence between point clouds.",
    "unbalanced_online": "Unbalanced Sinkhorn divergence between point clouds.",
}


def citation_for(solver: str) -> str:
    """Plain-text summary and BibTeX entries of ``solver`` (a key of the tables above)."""
    keys = _BY_SOLVER[solver] + ("peyre2019",)
    entries = "\n\n".join(REFERENCES[key] for key in keys)
    return f"{_SUMMARY[solver]}\n\n{entries}\n"

"""Numerical reference solvers used by ``equations/``, one module per method.

Every solver returns values on a grid; :class:`GridSolution` interpolates them and the
equation modules cache grids per parameter value (``functools.lru_cache``) so that repeated
evaluation is cheap.
"""

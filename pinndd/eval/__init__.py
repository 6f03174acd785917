"""Evaluators: out of distribution (:mod:`.ood`: retraining across a shift family, label
sources, summary tables) and the family benchmark (:mod:`.family`). The in-distribution error of
one model is :func:`pinndd.evaluate` (:mod:`pinndd.engine.evaluation`).

Evaluators take point sets and models; no method module imports them.
"""

"""Stress testing parameter sets with liquidation cascades (spec/15-stress.md).

:mod:`~liqspec.stress.plan` reads a stress file, :mod:`~liqspec.stress.cascade` runs one
Monte-Carlo run as a sequence of engine events in which liquidations move the mark, and
:mod:`~liqspec.stress.summary` executes the runs and takes the figures across them, which
:mod:`~liqspec.stress.report` renders.
"""

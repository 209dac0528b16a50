"""Backtesting risk parameters on price paths (spec/14-backtest.md).

A backtest is a scenario the inputs define: a population of positions, one or more market
files, and a mark path per market. :mod:`~liqspec.backtest.inputs` reads them,
:mod:`~liqspec.backtest.routes` runs them by the engine or by the fast path,
:mod:`~liqspec.backtest.generators` draws seeded paths and populations, and
:mod:`~liqspec.backtest.report` writes what happened.
"""

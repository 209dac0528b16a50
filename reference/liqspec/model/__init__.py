"""The model layer: markets, accounts, margin and prices, as pure queries on one account.

Imports only :mod:`liqspec.base` (spec/02-markets.md to spec/05-prices.md).
"""

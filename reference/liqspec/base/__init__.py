"""The base layer: the number model and rounding, the rejection reasons, reading files.

Imports nothing else of liqspec (spec/01-conventions.md).
"""

"""liqproofs: Z3 models of the liqspec specification and the invariant proofs.

This package imports the engine (liqspec); the engine never imports it. The invariant
catalogue and the prove helper arrive with the proofs issue; this release ships the package
so that the layout, packaging and type checking are in place.
"""

__all__: list[str] = []

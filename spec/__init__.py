"""The specification's data, shipped inside the package as ``liqspec.bundled`` (see pyproject.toml)."""

"""ClickHouse migrations, named queries and topic definitions, shipped as package data."""

from importlib.resources import files
from pathlib import Path


def schema_path(*parts: str) -> Path:
    """Filesystem path of a file or folder inside ``schemas/``."""
    return Path(str(files("schemas").joinpath(*parts)))

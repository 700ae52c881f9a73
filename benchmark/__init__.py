"""LT-Skeleton Bench: long-tailed skeleton-based action recognition, reproducibly.

Importing the package is cheap (no torch): the workflow imports parse-time helpers at every
``snakemake -n``. Heavy modules import torch lazily inside functions.
"""
__version__ = "0.1.0"

"""Build the optional compiled module ``inspector._native`` (everything else is in pyproject.toml).

``optional=True``: when it cannot be compiled (no C compiler, no Python headers, as on a stock Debian
Python without python3-dev) the install still succeeds and inspector runs its pure-Python code
(``inspector/native.py`` decides which is used).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("inspector._native", ["inspector/_native.c"], optional=True)])

"""Exit codes shared by every command (the diff/cmp convention, plus one for partial results).

| code | meaning |
|------|---------|
| 0 | success; for ``diff``: inputs identical, or every ``--fail-on`` rule passed |
| 1 | ``diff``: inputs differ, or a ``--fail-on`` rule tripped |
| 2 | trouble: usage error, or an input could not be opened at all |
| 3 | finished, but incomplete: some members could not be read (details in the output); ``--strict`` turns this into 2 |
"""

OK = 0
DIFFERENT = 1
TROUBLE = 2
INCOMPLETE = 3

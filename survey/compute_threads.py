"""One BLAS/OpenMP thread per process, set before numpy is first imported.

The server's parallelism is its worker processes and their request threads; BLAS threads on
top of them oversubscribe the CPUs and spin against each other. On a busy 2-core machine a
40 × 40 cross-product over 200,000 responses (the pooled pair sums of a count table) took
1.4 s with OpenBLAS's own threads and 0.05 s with one. An operator who wants otherwise sets the
variables explicitly; they are only defaulted here.
"""

from __future__ import annotations

import os

VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")

for _name in VARIABLES:
    os.environ.setdefault(_name, "1")

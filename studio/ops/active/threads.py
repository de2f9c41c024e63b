"""One BLAS thread for the small models here.

On 2 cores, BLAS threads of tiny logistic regressions only contend with each other (and with
anything else running): one 15-step simulation took 96 s with default threads and 2 s with one.
threadpoolctl limits only libraries already loaded, so scipy (which ships its own OpenBLAS)
is imported first.
"""

from __future__ import annotations

from typing import Any


def single_thread() -> Any:
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS so the limit reaches it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)

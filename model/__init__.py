"""The embedder: images in, L2-normalised descriptors out (no FAISS, no HTTP).

Importing this package first sets OpenMP's wait policy to PASSIVE (unless the environment already
chooses one). Why: by default the threads of torch's (and FAISS's) OpenMP pool spin for a while after
each parallel region, and on a small machine that spinning takes the cores from the threads that
decode photos and verify matches beside the network (measured with scripts/bench_scan.py: the same
scan used 8-15 % less CPU time). OpenMP reads the setting once, when torch or faiss loads, so
`api` and `index` import this package before anything else.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The machine's sgemm roof through the system OpenBLAS (ctypes, no copies): GFLOP/s of a 2048³
# product and of the elastic step's largest GEMM shapes, median of the repetitions.
#   python3 experiments/bench/gemm_roof.py THREADS   (needs numpy and libopenblas.so.0)
import ctypes, time, sys, os
import numpy as np
lib = ctypes.CDLL("libopenblas.so.0")
lib.openblas_set_num_threads(int(sys.argv[1]))
def run(m,n,k,ta=False,tb=False,reps=10):
    a=np.random.rand(m*k).astype(np.float32); b=np.random.rand(k*n).astype(np.float32); c=np.zeros(m*n,np.float32)
    P=ctypes.POINTER(ctypes.c_float)
    args=lambda: (101, 112 if ta else 111, 112 if tb else 111, m,n,k, ctypes.c_float(1.0), a.ctypes.data_as(P), m if ta else k, b.ctypes.data_as(P), k if tb else n, ctypes.c_float(0.0), c.ctypes.data_as(P), n)
    lib.cblas_sgemm(*args())
    ts=[]
    for _ in range(reps):
        t=time.perf_counter(); lib.cblas_sgemm(*args()); ts.append(time.perf_counter()-t)
    ts.sort(); t=ts[len(ts)//2]
    print(f"threads {sys.argv[1]} m={m} n={n} k={k} ta={ta} tb={tb}: {2*m*n*k/t/1e9:.1f} GFLOP/s")
run(2048,2048,2048,reps=5)
run(64,1024,6272)
run(3136,128,1024)
run(3136,1024,128,tb=True)
run(6272,1024,64,ta=True)

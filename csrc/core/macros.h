#pragma once

// Functions marked HNN_HOST_DEVICE are compiled for the CPU by the host compiler and for the GPU by
// nvcc, so the CPU tests exercise exactly the per-element math the CUDA kernels run.
#if defined(__CUDACC__)
#define HNN_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define HNN_HOST_DEVICE inline
#endif

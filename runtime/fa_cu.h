/*
** fa_cu.h -- the CUDA driver, loaded at run time (dlopen), never linked.
** Each entry point is resolved with cuGetProcAddress for the exact API
** version of the typedef it is stored in, so a signature can never drift
** (CUDA 13 changed several, e.g. cuCtxSynchronize now takes a context).
*/
#ifndef FA_CU_H
#define FA_CU_H

#include <cuda.h>
#include <cudaTypedefs.h>
#include "fa.h"

/* X(name, version): the function name and the version its PFN typedef has. */
#define FA_CU_FUNCS(X)                                   \
  X(cuGetErrorString, 6000)                              \
  X(cuGetErrorName, 6000)                                \
  X(cuInit, 2000)                                        \
  X(cuDriverGetVersion, 2020)                            \
  X(cuDeviceGet, 2000)                                   \
  X(cuDeviceGetCount, 2000)                              \
  X(cuDeviceGetName, 2000)                               \
  X(cuDeviceTotalMem, 3020)                              \
  X(cuDeviceGetAttribute, 2000)                          \
  X(cuDevicePrimaryCtxRetain, 7000)                      \
  X(cuDevicePrimaryCtxRelease, 11000)                    \
  X(cuCtxPushCurrent, 4000)                              \
  X(cuCtxPopCurrent, 4000)                               \
  X(cuCtxSetCurrent, 4000)                               \
  X(cuCtxGetCurrent, 4000)                               \
  X(cuCtxSynchronize, 2000)                              \
  X(cuModuleLoadData, 2000)                              \
  X(cuModuleUnload, 2000)                                \
  X(cuModuleGetFunction, 2000)                           \
  X(cuMemGetInfo, 3020)                                  \
  X(cuMemAlloc, 3020)                                    \
  X(cuMemFree, 3020)                                     \
  X(cuMemcpyHtoD, 3020)                                  \
  X(cuMemcpyDtoH, 3020)                                  \
  X(cuMemcpyDtoD, 3020)                                  \
  X(cuMemsetD8, 3020)                                    \
  X(cuMemsetD32, 3020)                                   \
  X(cuMemsetD8Async, 3020)                               \
  X(cuStreamCreate, 2000)                                \
  X(cuStreamDestroy, 4000)                               \
  X(cuStreamSynchronize, 2000)                           \
  X(cuEventCreate, 2000)                                 \
  X(cuEventRecord, 2000)                                 \
  X(cuEventSynchronize, 2000)                            \
  X(cuEventElapsedTime, 2000)                            \
  X(cuEventDestroy, 4000)                                \
  X(cuFuncGetAttribute, 2020)                            \
  X(cuFuncSetAttribute, 9000)                            \
  X(cuOccupancyMaxActiveBlocksPerMultiprocessor, 6050)   \
  X(cuLaunchKernel, 4000)                                \
  X(cuTensorMapEncodeTiled, 12000)

typedef struct fa_cu {
#define FA_CU_MEMBER_(name, ver) PFN_##name##_v##ver name; /* pasted here, before cuda.h's renames apply */
  FA_CU_FUNCS(FA_CU_MEMBER_)
#undef FA_CU_MEMBER_
  int driver_version;
} fa_cu;

/* Loads the driver once per process (thread-safe) and returns its table, or
** NULL with the reason in *why (a static string or the dlerror text copied
** into why_buf). $FA_NO_DRIVER=1 makes it behave as if there were none. */
const fa_cu *fa_cu_load(char *why, size_t why_size);

/* Formats a failed driver call into the context's message; returns FA_ERR_CUDA
** (FA_ERR_OUT_OF_MEMORY for CUDA_ERROR_OUT_OF_MEMORY). */
fa_status fa_cu_fail(fa_context *ctx, CUresult r, const char *what);

#endif

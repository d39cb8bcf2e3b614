/* Fused CPU kernels for the LIF/PSC neuron and NA: forward, NA neighbor pass, surrogate BPTT.
 *
 * Compiled on first use by cpu_kernel.py (system C compiler, -O3 -ffp-contract=off, OpenMP if
 * available) and called through ctypes; the pure-torch kernels stay the reference and fallback.
 * Exported functions (each in _f32 and _f64 form), all arrays time-major [T, N], contiguous:
 *
 *   bna_lif_forward(cur, u, s, a, T, N, decay_m, decay_s, 1/tau_s, theta, threads)
 *   bna_neighbor_loss_change(cur, u, s, E, out, T, N, decay_m, 1/tau_s, theta, threads)
 *   bna_surrogate_backward(cur, g, grad, T, N, decay_m, decay_s, tau_s, theta, slope, threads)
 *
 * The semantics are those of lif.py, kernels/torch_kernel.py and surrogate.py; see
 * cpu_lif_impl.h for the loops.
 */

#include <stdint.h>
#include <stdlib.h>

/* Neurons per block: 64 floats = 8 AVX2 / 16 SSE vectors per inner loop, and small enough
 * that a block's neighbors all re-merge (the early exit) often. */
#define BLOCK 64

#if defined(_WIN32)
#define BNA_EXPORT __declspec(dllexport)
#else
#define BNA_EXPORT __attribute__((visibility("default")))
#endif

#ifdef _OPENMP
#include <omp.h>
#define BNA_PRAGMA(x) _Pragma(#x)
/* if(): a single thread must not pay for a parallel region (and stays fork-safe). */
#define PARALLEL_FOR_STATIC(threads) \
  BNA_PRAGMA(omp parallel for num_threads(threads) schedule(static) if(threads > 1))
#define PARALLEL_FOR_DYNAMIC(threads) \
  BNA_PRAGMA(omp parallel for num_threads(threads) schedule(dynamic, 8) if(threads > 1))
#define THREAD_ID() omp_get_thread_num()
#else
#define PARALLEL_FOR_STATIC(threads)
#define PARALLEL_FOR_DYNAMIC(threads)
#define THREAD_ID() 0
#endif

/* Lets cpu_kernel.py check that the library it loaded is the one it expects. */
BNA_EXPORT int bna_abi_version(void) { return 1; }

BNA_EXPORT int bna_has_openmp(void) {
#ifdef _OPENMP
  return 1;
#else
  return 0;
#endif
}

#define REAL float
#define SUFFIX(name) name##_f32
#include "cpu_lif_impl.h"
#undef REAL
#undef SUFFIX

#define REAL double
#define SUFFIX(name) name##_f64
#include "cpu_lif_impl.h"
#undef REAL
#undef SUFFIX

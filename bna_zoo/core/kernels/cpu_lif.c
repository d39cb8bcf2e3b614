/* Fused CPU kernels for the LIF/PSC neuron and NA: forward, NA neighbor pass, whole NA
 * backward, surrogate BPTT.
 *
 * Compiled on first use by cpu_kernel.py (system C compiler, -O3 -ffp-contract=off, OpenMP if
 * available) and called through ctypes; the pure-torch kernels stay the reference and fallback.
 * Exported functions (each in _f32 and _f64 form), all arrays time-major [T, N], contiguous:
 *
 *   bna_lif_forward(cur, u, s, a, T, N, decay_m, decay_s, 1/tau_s, theta, threads)
 *   bna_abs_sum(x, N, threads, &out)
 *   bna_neighbor_loss_change(cur, u, s, E, out, T, N, decay_m, 1/tau_s, theta, threads, work)
 *   bna_surrogate_backward(cur, g, grad, T, N, decay_m, decay_s, tau_s, theta, slope, threads)
 *   bna_reverse_filter(g, e, T, N, decay, threads)
 *   bna_na_backward(cur, g, delta, T, N, decay_m, decay_s, 1/tau_s, theta, official, clip,
 *                   threads, work)
 *   bna_sum_pool_forward(x, y, planes, H, W, k, scale, threads)   (x [planes, H, W])
 *   bna_sum_pool_backward(gy, gx, planes, H, W, k, scale, threads)
 *
 * The semantics are those of lif.py, kernels/torch_kernel.py, na.py and surrogate.py; see
 * cpu_lif_impl.h (LIF, filters, surrogate), cpu_na_impl.h (NA) and cpu_pool_impl.h (the sum
 * pooling of bna_zoo.nn.SumPool2d) for the loops.
 */

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* Neurons per block of the neighbor pass: 128 floats = 16 AVX2 vectors per inner loop, which
 * amortises the per-step bookkeeping, while a block's neighbor state (2 x T x 128) still sits
 * in L1/L2. */
#ifndef BLOCK
#define BLOCK 128
#endif

/* From this T on the fused backward packs busy neurons (busy_block): the neighbor work it
 * saves grows with T^2, the packing costs O(T). At T = 5 (fashionmnist-cnn, mnist-cnn) packing
 * made the backward slower (8.4 -> 10.1 ms, 3.1 -> 3.7 ms per step's layers); at T = 30
 * (nmnist-cnn) faster (see benchmarks/README.md). */
#ifndef NA_PACK_MIN_STEPS
#define NA_PACK_MIN_STEPS 12
#endif

/* Chunk width of the memory-bound O(T) kernels: long unit-stride runs per row (16 KiB of
 * float32) with their per-neuron state still in L1/L2. */
#define STREAM_WIDTH 4096
/* Bytes of per-thread scratch the surrogate kernel aims to keep in L2. */
#define SCRATCH_BUDGET (256 * 1024)

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
#define PARALLEL_FOR_DYNAMIC_SUM(threads, sum)                                             \
  BNA_PRAGMA(omp parallel for num_threads(threads) schedule(dynamic, 4) if(threads > 1) \
             reduction(+ : sum))
#define THREAD_ID() omp_get_thread_num()
#else
#define PARALLEL_FOR_STATIC(threads) (void)(threads);
#define PARALLEL_FOR_DYNAMIC_SUM(threads, sum) (void)(threads);
#define THREAD_ID() 0
#endif

/* Per-thread scratch: one slice of `per_thread` bytes per OpenMP thread, each slice cache-line
 * aligned; NULL when out of memory. On the heap: T can be large and OpenMP thread stacks are
 * small.
 *
 * The block is kept from one call to the next (one per calling thread, grown when a call needs
 * more, never shrunk): a fresh malloc of a few hundred KiB is a fresh mmap, whose page faults
 * and kernel zeroing cost more than a small layer's whole kernel (measured: 0.7 ms against
 * 0.06 ms of work for a [5, 51200] NA backward). Calls never nest, so one block per calling
 * thread is enough; what a thread holds is at most its largest request (about 1 MiB). */
static size_t slice_bytes(size_t bytes) { return (bytes + 63) / 64 * 64; }

static _Thread_local char *cached_scratch = NULL;
static _Thread_local size_t cached_bytes = 0;

static char *alloc_slices(size_t per_thread, int threads) {
  const size_t bytes = per_thread * (size_t)(threads > 1 ? threads : 1);
  if (bytes > cached_bytes) {
    free(cached_scratch);
    cached_scratch = (char *)malloc(bytes);
    cached_bytes = cached_scratch == NULL ? 0 : bytes;
  }
  return cached_scratch;
}

/* Chunk width of the surrogate kernel, whose scratch holds u and keep as [T, width]: as wide as
 * SCRATCH_BUDGET allows for this T, a multiple of 64 between 64 and STREAM_WIDTH. */
static int64_t scratch_width(int64_t steps, size_t real_size) {
  int64_t w = (int64_t)(SCRATCH_BUDGET / (real_size * (size_t)(2 * steps + 3))) / 64 * 64;
  return w < 64 ? 64 : (w > STREAM_WIDTH ? STREAM_WIDTH : w);
}

/* Lets cpu_kernel.py check that the library it loaded is the one it expects. */
BNA_EXPORT int bna_abi_version(void) { return 10; }

/* Neurons per block, for tests that count the early exit's work. */
BNA_EXPORT int bna_block_size(void) { return BLOCK; }

/* The T from which the fused NA backward packs busy neurons, for the same tests. */
BNA_EXPORT int bna_na_pack_min_steps(void) { return NA_PACK_MIN_STEPS; }


#define REAL float
#define SUFFIX(name) name##_f32
#include "cpu_lif_impl.h"
#include "cpu_na_impl.h"
#include "cpu_pool_impl.h"
#undef REAL
#undef SUFFIX

#define REAL double
#define SUFFIX(name) name##_f64
#include "cpu_lif_impl.h"
#include "cpu_na_impl.h"
#include "cpu_pool_impl.h"
#undef REAL
#undef SUFFIX

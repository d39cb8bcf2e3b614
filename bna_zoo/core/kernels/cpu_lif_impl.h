/* Type-generic body of the fused CPU kernels; included by cpu_lif.c once per precision with
 * REAL (float or double) and SUFFIX(name) (appends _f32 or _f64) defined.
 *
 * Layout: every array is time-major [T, N], contiguous, element (t, n) at t * N + n. Every
 * kernel splits the neurons into chunks of contiguous columns that OpenMP threads take whole;
 * the per-neuron state of a chunk lives in per-thread scratch, so the inner loops over the
 * chunk's neurons are unit-stride and vectorise, while the time loops stay sequential as the
 * recursions demand. Two chunk widths:
 *   - O(T) kernels (forward, reverse filter, surrogate) are memory-bound: wide chunks
 *     (STREAM_WIDTH, or what fits the cache for the surrogate's [T, width] scratch) give long
 *     unit-stride runs per row that the hardware prefetchers can follow;
 *   - the NA kernels are in cpu_na_impl.h (wide chunks for their O(T) passes, BLOCK columns
 *     for the O(T^2) neighbor pass).
 *
 * Rounding: every state update is written as the pure-torch path computes it, one rounding per
 * torch op (u = m * decay_m, then + I; no fused multiply-add: cpu_kernel.py compiles with
 * -ffp-contract=off), so spikes and forward outputs match the torch path bit for bit.
 *
 * Entry points return 0, or -1 when the scratch memory could not be allocated (nothing useful
 * was written then; the Python side falls back to torch).
 */

/* The LIF/PSC forward on neurons [n0, n0 + nb): a, and u and s unless they are NULL (the
 * autograd functions keep only a: writing u and s too would allocate two [T, N] outputs per
 * layer and step only to throw them away). m and syn are scratch of nb. keep_state is a
 * constant at each call site, so the inlined copies have no branch in their inner loop. */
static inline __attribute__((always_inline)) void SUFFIX(forward_chunk)(
    const REAL *restrict cur, REAL *restrict u, REAL *restrict s, REAL *restrict a,
    REAL *restrict m, REAL *restrict syn, int64_t steps, int64_t n, int64_t n0, int nb,
    REAL decay_m, REAL decay_s, REAL inv_tau_s, REAL theta, const int keep_state) {
  for (int j = 0; j < nb; ++j) m[j] = syn[j] = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t row = t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL leak = m[j] * decay_m;
      REAL ut = leak + cur[row + j];
      REAL st = (REAL)(ut > theta);
      m[j] = ut * ((REAL)1 - st); /* hard reset, as torch's u * (1 - s) */
      syn[j] = syn[j] * decay_s + st * inv_tau_s;
      if (keep_state) {
        u[row + j] = ut;
        s[row + j] = st;
      }
      a[row + j] = syn[j];
    }
  }
}

/* Anti-causal filter e[t] = g[t] + decay * e[t+1] (lif.reverse_filter) on neurons
 * [n0, n0 + nb); acc is scratch of nb. */
static void SUFFIX(reverse_chunk)(const REAL *restrict g, REAL *restrict e, REAL *restrict acc,
                                  int64_t steps, int64_t n, int64_t n0, int nb, REAL decay) {
  for (int j = 0; j < nb; ++j) acc[j] = 0;
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t row = t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL decayed = acc[j] * decay;
      acc[j] = decayed + g[row + j];
      e[row + j] = acc[j];
    }
  }
}

/* The surrogate-gradient BPTT backward (surrogate.py) on neurons [n0, n0 + nb) of a chunk of
 * width w: the forward is recomputed into scratch (ub, keep: [T, w]; m, acc_e, gm: w) instead
 * of [T, N] tensors, then one backward sweep does the reverse filter, the surrogate drive
 * e / tau_s / (1 + slope |u - theta|)^2 and the membrane recursion, in torch's op order. */
static void SUFFIX(surrogate_chunk)(const REAL *restrict cur, const REAL *restrict g,
                                    REAL *restrict grad, REAL *restrict scratch, int64_t w,
                                    int64_t steps, int64_t n, int64_t n0, int nb, REAL decay_m,
                                    REAL decay_s, REAL tau_s, REAL theta, REAL slope) {
  REAL *restrict ub = scratch, *restrict keep = ub + steps * w;
  REAL *restrict m = keep + steps * w, *restrict acc_e = m + w, *restrict gm = acc_e + w;
  for (int j = 0; j < nb; ++j) m[j] = acc_e[j] = gm[j] = 0;
  for (int64_t t = 0; t < steps; ++t) {
    REAL *restrict ut = ub + t * w, *restrict kt = keep + t * w;
    const REAL *restrict cur_t = cur + t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL leak = m[j] * decay_m;
      REAL v = leak + cur_t[j];
      REAL k1 = v > theta ? (REAL)0 : (REAL)1;
      m[j] = v * k1;
      ut[j] = v;
      kt[j] = k1;
    }
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const REAL *restrict ut = ub + t * w, *restrict kt = keep + t * w;
    const REAL *restrict g_t = g + t * n + n0;
    REAL *restrict grad_t = grad + t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL decayed = acc_e[j] * decay_s; /* e[t] = g[t] + decay_s * e[t+1] */
      REAL et = decayed + g_t[j];
      acc_e[j] = et;
      REAL dist = ut[j] - theta;
      dist = dist < 0 ? -dist : dist;
      REAL den = (REAL)1 + slope * dist;
      REAL drive = (et / tau_s) / (den * den);
      REAL gu = drive + gm[j] * kt[j];
      grad_t[j] = gu;
      gm[j] = gu * decay_m;
    }
  }
}

/* u and s may both be NULL: the PSC a alone (what the autograd functions keep). */
BNA_EXPORT int SUFFIX(bna_lif_forward)(const REAL *cur, REAL *u, REAL *s, REAL *a,
                                       int64_t steps, int64_t n, REAL decay_m, REAL decay_s,
                                       REAL inv_tau_s, REAL theta, int threads) {
  const int64_t chunks = (n + STREAM_WIDTH - 1) / STREAM_WIDTH;
  const size_t per_thread = slice_bytes(sizeof(REAL) * 2 * STREAM_WIDTH);
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t n0 = c * STREAM_WIDTH;
    const int nb = (int)(n - n0 < STREAM_WIDTH ? n - n0 : STREAM_WIDTH);
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    if (u != NULL)
      SUFFIX(forward_chunk)(cur, u, s, a, mine, mine + STREAM_WIDTH, steps, n, n0, nb, decay_m,
                            decay_s, inv_tau_s, theta, 1);
    else
      SUFFIX(forward_chunk)(cur, NULL, NULL, a, mine, mine + STREAM_WIDTH, steps, n, n0, nb,
                            decay_m, decay_s, inv_tau_s, theta, 0);
  }
  return 0;
}

/* sum |x[i]| over n values into *out, for the layer rescale's mean |δ|. Each chunk of
 * STREAM_WIDTH values is summed in double by eight interleaved accumulators (a single one would
 * wait on the add latency; the compiler may not reorder a float sum itself), and the chunk sums
 * are added in chunk order: the result does not depend on the thread count. */
BNA_EXPORT int SUFFIX(bna_abs_sum)(const REAL *x, int64_t n, int threads, double *out) {
  const int64_t chunks = (n + STREAM_WIDTH - 1) / STREAM_WIDTH;
  double *part = (double *)malloc(sizeof(double) * (size_t)(chunks > 0 ? chunks : 1));
  if (part == NULL) return -1;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t n0 = c * STREAM_WIDTH;
    const int64_t n1 = n - n0 < STREAM_WIDTH ? n : n0 + STREAM_WIDTH;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = n0;
    for (; i + 8 <= n1; i += 8)
      for (int k = 0; k < 8; ++k) acc[k] += fabs((double)x[i + k]);
    for (; i < n1; ++i) acc[0] += fabs((double)x[i]);
    part[c] = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  double total = 0;
  for (int64_t c = 0; c < chunks; ++c) total += part[c];
  free(part);
  *out = total;
  return 0;
}

BNA_EXPORT int SUFFIX(bna_reverse_filter)(const REAL *g, REAL *e, int64_t steps, int64_t n,
                                          REAL decay, int threads) {
  const int64_t chunks = (n + STREAM_WIDTH - 1) / STREAM_WIDTH;
  const size_t per_thread = slice_bytes(sizeof(REAL) * STREAM_WIDTH);
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t n0 = c * STREAM_WIDTH;
    const int nb = (int)(n - n0 < STREAM_WIDTH ? n - n0 : STREAM_WIDTH);
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    SUFFIX(reverse_chunk)(g, e, mine, steps, n, n0, nb, decay);
  }
  return 0;
}

BNA_EXPORT int SUFFIX(bna_surrogate_backward)(const REAL *cur, const REAL *g, REAL *grad,
                                              int64_t steps, int64_t n, REAL decay_m,
                                              REAL decay_s, REAL tau_s, REAL theta, REAL slope,
                                              int threads) {
  const int64_t w = scratch_width(steps, sizeof(REAL));
  const int64_t chunks = (n + w - 1) / w;
  const size_t per_thread = slice_bytes(sizeof(REAL) * (size_t)((2 * steps + 3) * w));
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t n0 = c * w;
    const int nb = (int)(n - n0 < w ? n - n0 : w);
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    SUFFIX(surrogate_chunk)(cur, g, grad, mine, w, steps, n, n0, nb, decay_m, decay_s, tau_s,
                            theta, slope);
  }
  return 0;
}

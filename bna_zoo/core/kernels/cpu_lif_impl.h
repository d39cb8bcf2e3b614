/* Type-generic body of the fused CPU kernels; included by cpu_lif.c once per precision with
 * REAL (float or double) and SUFFIX(name) (appends _f32 or _f64) defined.
 *
 * Layout: every array is time-major [T, N], contiguous, element (t, n) at t * N + n.
 * Each kernel walks the neurons in blocks of BLOCK contiguous columns: the per-neuron state of a
 * block lives in small local arrays, so the inner loops over the block's neurons are unit-stride
 * and vectorise, while the time loops stay sequential as the recursions demand.
 *
 * Rounding: every state update is written as the pure-torch path computes it, one rounding per
 * torch op (u = m * decay_m, then + I; no fused multiply-add: cpu_kernel.py compiles with
 * -ffp-contract=off), so spike decisions match the torch path bit for bit.
 */

/* One block of the LIF/PSC forward: u, s, a for neurons [n0, n0 + nb). */
static void SUFFIX(forward_block)(const REAL *cur, REAL *u, REAL *s, REAL *a, int64_t steps,
                                  int64_t n, int64_t n0, int nb, REAL decay_m, REAL decay_s,
                                  REAL inv_tau_s, REAL theta) {
  REAL m[BLOCK], syn[BLOCK];
  for (int j = 0; j < nb; ++j) m[j] = syn[j] = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t row = t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL leak = m[j] * decay_m;
      REAL ut = leak + cur[row + j];
      REAL st = (REAL)(ut > theta);
      m[j] = ut * ((REAL)1 - st); /* hard reset, as torch's u * (1 - s) */
      syn[j] = syn[j] * decay_s + st * inv_tau_s;
      u[row + j] = ut;
      s[row + j] = st;
      a[row + j] = syn[j];
    }
  }
}

/* One block of the NA neighbor pass: out[k, n] = ΔL[k, n] for neurons [n0, n0 + nb).
 *
 * Neighbor k starts from the post-step state theta * s[k] (spike removed: no reset; spike
 * added: reset to 0) and is re-simulated with the original currents. Its spike difference to
 * the original train is accumulated directly, E[t] * (s_k[t] - s[t]), which equals the torch
 * kernel's E[k](1 - 2 s[k]) + sum E s_k - sum E s up to summation order.
 *
 * Early exit (exact, not a tolerance): neighbor k of neuron j is finished at step t when
 *   (a) its post-step state equals the original one, u[t] * (1 - s[t]): identical state and
 *       identical later currents give an identical future, so every later difference is 0; or
 *   (b) its state is <= the original one and the original never fires after t: the update
 *       m -> m * decay_m + I is monotone under rounding (decay_m >= 0), so the neighbor stays
 *       below the original, which stays <= theta, and neither fires again.
 * Both hold only because u, s come from the same arithmetic (lif_forward). Once every neuron
 * of the block is finished for this k, the remaining steps are skipped.
 */
static void SUFFIX(neighbor_block)(const REAL *cur, const REAL *u, const REAL *s, const REAL *e,
                                   REAL *out, int64_t steps, int64_t n, int64_t n0, int nb,
                                   REAL decay_m, REAL inv_tau_s, REAL theta) {
  REAL m[BLOCK], acc[BLOCK];
  int last[BLOCK]; /* last step at which the original fires, -1 if never */
  for (int j = 0; j < nb; ++j) last[j] = -1;
  for (int64_t t = 0; t < steps; ++t) {
    const REAL *st = s + t * n + n0;
    for (int j = 0; j < nb; ++j) last[j] = st[j] != 0 ? (int)t : last[j];
  }
  for (int64_t k = 0; k < steps; ++k) {
    const int64_t rowk = k * n + n0;
    for (int j = 0; j < nb; ++j) {
      m[j] = theta * s[rowk + j];
      acc[j] = e[rowk + j] * ((REAL)1 - (REAL)2 * s[rowk + j]);
    }
    for (int64_t t = k + 1; t < steps; ++t) {
      const int64_t row = t * n + n0;
      int active = 0;
      for (int j = 0; j < nb; ++j) {
        REAL leak = m[j] * decay_m;
        REAL ut = leak + cur[row + j];
        REAL sk = ut > theta ? (REAL)1 : (REAL)0;
        REAL mk = ut * ((REAL)1 - sk);
        REAL orig = s[row + j];
        REAL mo = u[row + j] * ((REAL)1 - orig);
        m[j] = mk;
        acc[j] += e[row + j] * (sk - orig);
        int done = (mk == mo) | ((mk <= mo) & ((int)t >= last[j]));
        active |= !done;
      }
      if (!active) break;
    }
    for (int j = 0; j < nb; ++j) out[rowk + j] = acc[j] * inv_tau_s;
  }
}

/* One block of the surrogate-gradient BPTT backward (see surrogate.py), forward recomputed into
 * the caller's scratch buffers ub, keep ([T, BLOCK] each) instead of [T, N] tensors. */
static void SUFFIX(surrogate_block)(const REAL *cur, const REAL *g, REAL *grad, REAL *ub,
                                    REAL *keep, int64_t steps, int64_t n, int64_t n0, int nb,
                                    REAL decay_m, REAL decay_s, REAL tau_s, REAL theta,
                                    REAL slope) {
  REAL m[BLOCK], acc_e[BLOCK], gm[BLOCK];
  for (int j = 0; j < nb; ++j) m[j] = acc_e[j] = gm[j] = 0;
  for (int64_t t = 0; t < steps; ++t) {
    REAL *ut = ub + t * BLOCK, *kt = keep + t * BLOCK;
    for (int j = 0; j < nb; ++j) {
      REAL leak = m[j] * decay_m;
      REAL v = leak + cur[t * n + n0 + j];
      REAL k1 = v > theta ? (REAL)0 : (REAL)1;
      m[j] = v * k1;
      ut[j] = v;
      kt[j] = k1;
    }
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const REAL *ut = ub + t * BLOCK, *kt = keep + t * BLOCK;
    const int64_t row = t * n + n0;
    for (int j = 0; j < nb; ++j) {
      REAL decayed = acc_e[j] * decay_s; /* reverse_filter: e[t] = g[t] + decay_s * e[t+1] */
      REAL et = decayed + g[row + j];
      acc_e[j] = et;
      REAL dist = ut[j] - theta;
      dist = dist < 0 ? -dist : dist;
      REAL den = (REAL)1 + slope * dist;
      REAL drive = (et / tau_s) / (den * den);
      REAL gu = drive + gm[j] * kt[j];
      grad[row + j] = gu;
      gm[j] = gu * decay_m;
    }
  }
}

BNA_EXPORT void SUFFIX(bna_lif_forward)(const REAL *cur, REAL *u, REAL *s, REAL *a, int64_t steps,
                                        int64_t n, REAL decay_m, REAL decay_s, REAL inv_tau_s,
                                        REAL theta, int threads) {
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * BLOCK;
    const int nb = (int)(n - n0 < BLOCK ? n - n0 : BLOCK);
    SUFFIX(forward_block)(cur, u, s, a, steps, n, n0, nb, decay_m, decay_s, inv_tau_s, theta);
  }
}

BNA_EXPORT void SUFFIX(bna_neighbor_loss_change)(const REAL *cur, const REAL *u, const REAL *s,
                                                 const REAL *e, REAL *out, int64_t steps,
                                                 int64_t n, REAL decay_m, REAL inv_tau_s,
                                                 REAL theta, int threads) {
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  /* dynamic: the early exit makes the work per block data dependent */
  PARALLEL_FOR_DYNAMIC(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * BLOCK;
    const int nb = (int)(n - n0 < BLOCK ? n - n0 : BLOCK);
    SUFFIX(neighbor_block)(cur, u, s, e, out, steps, n, n0, nb, decay_m, inv_tau_s, theta);
  }
}

/* Returns 0 on success, -1 if the scratch memory could not be allocated (then nothing was
 * written and the caller falls back to torch). */
BNA_EXPORT int SUFFIX(bna_surrogate_backward)(const REAL *cur, const REAL *g, REAL *grad,
                                              int64_t steps, int64_t n, REAL decay_m,
                                              REAL decay_s, REAL tau_s, REAL theta, REAL slope,
                                              int threads) {
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  const int64_t per_thread = 2 * steps * BLOCK; /* u and keep of one block, [T, BLOCK] each */
  /* Heap scratch, one slice per thread: T can be large and OpenMP thread stacks are small. */
  REAL *scratch = (REAL *)malloc(sizeof(REAL) * (size_t)(per_thread * (threads > 1 ? threads : 1)));
  if (scratch == NULL) return -1;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * BLOCK;
    const int nb = (int)(n - n0 < BLOCK ? n - n0 : BLOCK);
    REAL *mine = scratch + per_thread * THREAD_ID();
    SUFFIX(surrogate_block)(cur, g, grad, mine, mine + steps * BLOCK, steps, n, n0, nb, decay_m,
                            decay_s, tau_s, theta, slope);
  }
  free(scratch);
  return 0;
}

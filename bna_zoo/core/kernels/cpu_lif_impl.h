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
 *   - the O(T^2) neighbor pass is compute-bound: BLOCK columns, whose T neighbor states stay
 *     in L1/L2 and whose neighbors can all finish early together.
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

/* The headroom of the original currents on neurons of a block: hb[t, j] is a post-step state
 * at step t from which neuron j, driven by its original currents cur[t+1..T-1] and never
 * firing, stays at or below theta to the end; every state <= hb[t, j] does so too.
 *
 * Why it holds exactly (not to a tolerance): one step without a spike is
 * f(m) = fl(fl(m * decay_m) + I[t+1]) (the neighbor pass's arithmetic), which is monotone in
 * m; so the states that never fire from step t on are all those <= some bound H[t]. hb is
 * computed backwards: with c = min(theta, hb[t+1]) a candidate h = (c - I) / decay_m (then h
 * lowered by a few ulps) is kept only if f(h) <= c is checked in that same arithmetic, else
 * -inf (no claim). Then any m <= h gives f(m) <= f(h) <= c: no spike at t+1 (post-step state
 * f(m) itself, as (1 - 0) changes nothing) and a state <= hb[t+1], and so on. hb[T-1] = +inf:
 * nothing follows the last step. NaN or infinite currents give -inf. */
static void SUFFIX(headroom)(const REAL *restrict cur, int64_t ldc, REAL *restrict hb,
                             int64_t steps, int nb, REAL decay_m, REAL theta) {
  /* a few ulps of |h|, and the smallest normal for h near 0 */
  const REAL rel = (REAL)8 * (sizeof(REAL) == 4 ? (REAL)FLT_EPSILON : (REAL)DBL_EPSILON);
  REAL *restrict last_row = hb + (steps - 1) * BLOCK;
  for (int j = 0; j < nb; ++j) last_row[j] = (REAL)INFINITY;
  for (int64_t t = steps - 2; t >= 0; --t) {
    const REAL *restrict next = hb + (t + 1) * BLOCK, *restrict cur_n = cur + (t + 1) * ldc;
    REAL *restrict h_t = hb + t * BLOCK;
    for (int j = 0; j < nb; ++j) {
      REAL c = next[j] < theta ? next[j] : theta;
      REAL h = (c - cur_n[j]) / decay_m;
      REAL leak = h * decay_m;
      REAL v = leak + cur_n[j];
      REAL h2 = h - (h < 0 ? -h : h) * rel - (REAL)FLT_MIN; /* in case h rounded up */
      REAL leak2 = h2 * decay_m;
      REAL v2 = leak2 + cur_n[j];
      h_t[j] = v <= c ? h : (v2 <= c ? h2 : -(REAL)INFINITY);
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
 * Loop order: time outside, live neighbors inside (as in the torch kernel), so each step's rows
 * of I, u, s, E are read once for all neighbors; neighbor k's state is row k of m and acc
 * (scratch, [T, BLOCK] each), and `live` lists the neighbors still being simulated.
 *
 * Early exit (exact, not a tolerance): neighbor k of neuron j is finished at step t when
 *   (a) its post-step state equals the original one, u[t] * (1 - s[t]): identical state and
 *       identical later currents give an identical future, so every later difference is 0; or
 *   (b) the original never fires after t and the neighbor's state is <= the original one or
 *       <= the headroom hb[t] (SUFFIX(headroom)): the update m -> m * decay_m + I is monotone
 *       under rounding (decay_m >= 0), so the neighbor stays below a trajectory that never
 *       fires, and neither fires again. (The headroom lets a neighbor above a silent original
 *       finish, e.g. a spike added to a neuron whose membrane is negative: without it, the
 *       two states approach each other by decay_m per step and never meet in T steps.)
 * Both hold only because u, s come from the same arithmetic (lif_forward). Once every neuron
 * of the block is finished for neighbor k, k leaves the live list and its ΔL is written.
 *
 * Layout: the pointers point at the block's first column; row t of cur is cur + t * ldc, of
 * u, s and e is + t * ld, of out is + t * ldo (the global [T, N] arrays with ld = N, or the
 * fused backward's [T, BLOCK] scratch); m, acc and hb are [T, BLOCK] scratch.
 *
 * Returns the number of (neighbor, step) pairs simulated, for tests of the early exit.
 */
static int64_t SUFFIX(neighbor_block)(const REAL *restrict cur, int64_t ldc,
                                      const REAL *restrict u, const REAL *restrict s,
                                      const REAL *restrict e, int64_t ld, REAL *restrict out,
                                      int64_t ldo, REAL *restrict m, REAL *restrict acc,
                                      REAL *restrict hb, int *restrict live, int64_t steps,
                                      int nb, REAL decay_m, REAL inv_tau_s, REAL theta) {
  int last[BLOCK]; /* last step at which the original fires, -1 if never */
  /* At the current step: mo = the original's post-step state (test a); below = the larger of
   * mo and the headroom if the original fires no more, else -inf (test b, folded into one
   * compare per neighbor). */
  REAL mo[BLOCK], below[BLOCK];
  SUFFIX(headroom)(cur, ldc, hb, steps, nb, decay_m, theta);
  for (int j = 0; j < nb; ++j) last[j] = -1;
  for (int64_t t = 0; t < steps; ++t) {
    const REAL *st = s + t * ld;
    for (int j = 0; j < nb; ++j) last[j] = st[j] != 0 ? (int)t : last[j];
  }
  int n_live = 0;
  int64_t work = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const int64_t row = t * ld;
    const REAL *restrict cur_t = cur + t * ldc, *restrict s_t = s + row;
    const REAL *restrict u_t = u + row, *restrict e_t = e + row, *restrict h_t = hb + t * BLOCK;
    const int tt = (int)t;
    for (int j = 0; j < nb; ++j) {
      mo[j] = u_t[j] * ((REAL)1 - s_t[j]);
      REAL safe = mo[j] > h_t[j] ? mo[j] : h_t[j];
      below[j] = tt >= last[j] ? safe : -(REAL)INFINITY;
    }
    int kept = 0;
    for (int i = 0; i < n_live; ++i) {
      const int k = live[i];
      REAL *restrict mk = m + (int64_t)k * BLOCK, *restrict ak = acc + (int64_t)k * BLOCK;
      int active = 0;
      for (int j = 0; j < nb; ++j) {
        REAL leak = mk[j] * decay_m;
        REAL v = leak + cur_t[j];
        REAL sk = v > theta ? (REAL)1 : (REAL)0;
        REAL state = v * ((REAL)1 - sk);
        mk[j] = state;
        ak[j] += e_t[j] * (sk - s_t[j]);
        active |= !((state == mo[j]) | (state <= below[j]));
      }
      if (active) {
        live[kept++] = k;
      } else {
        for (int j = 0; j < nb; ++j) out[(int64_t)k * ldo + j] = ak[j] * inv_tau_s;
      }
    }
    work += n_live;
    n_live = kept;
    /* Start neighbor t (its flipped step is t itself); it may be finished already. */
    REAL *restrict mt = m + t * BLOCK, *restrict at = acc + t * BLOCK;
    int active = 0;
    for (int j = 0; j < nb; ++j) {
      REAL state = theta * s_t[j];
      mt[j] = state;
      at[j] = e_t[j] * ((REAL)1 - (REAL)2 * s_t[j]);
      active |= !((state == mo[j]) | (state <= below[j]));
    }
    if (active) {
      live[n_live++] = tt;
    } else {
      for (int j = 0; j < nb; ++j) out[t * ldo + j] = at[j] * inv_tau_s;
    }
  }
  for (int i = 0; i < n_live; ++i) { /* neighbors still live at the end */
    const REAL *ak = acc + (int64_t)live[i] * BLOCK;
    for (int j = 0; j < nb; ++j) out[(int64_t)live[i] * ldo + j] = ak[j] * inv_tau_s;
  }
  return work;
}

/* The whole NA backward (na.py: NALIF.backward up to the layer rescale) on the BLOCK neurons
 * [n0, n0 + nb): delta[t, n] = ΔL[t, n] * weight(u[t, n]) and nothing else is written.
 *
 * Everything in between lives in the per-thread scratch ([T, BLOCK] each: ub, sb, eb, ob, then
 * the neighbor states m and acc and the headroom hb, then the live list of T ints), so the block is read from
 * memory once (cur, g) and written once (delta):
 *   1. the forward recomputes u and s (as forward_chunk);
 *   2. one backward sweep applies the reverse filter once (paper: E = rev(g)) or twice
 *      (official: w = rev(g), E = rev(w)), each as reverse_chunk rounds it;
 *   3. neighbor_block writes ΔL into ob;
 *   4. the weighting, in na_weighting's op order: r = 1 / (theta - u) (±inf at u == theta),
 *      official r * r * r, paper r; clamped to [-clip, clip]; times ΔL.
 * Every step rounds as the unfused path (C or torch) does, so delta equals it bit for bit
 * where ΔL does (always against the C neighbor kernel).
 *
 * Returns the neighbor pass's work, as neighbor_block. */
static int64_t SUFFIX(na_block)(const REAL *restrict cur, const REAL *restrict g,
                                REAL *restrict delta, REAL *restrict scratch, int64_t steps,
                                int64_t n, int64_t n0, int nb, REAL decay_m, REAL decay_s,
                                REAL inv_tau_s, REAL theta, int official, REAL clip) {
  const int64_t tb = steps * BLOCK;
  REAL *restrict ub = scratch, *restrict sb = ub + tb, *restrict eb = sb + tb;
  REAL *restrict ob = eb + tb, *restrict m = ob + tb, *restrict acc = m + tb;
  REAL *restrict hb = acc + tb;
  int *restrict live = (int *)(hb + tb);
  REAL st1[BLOCK], st2[BLOCK];
  for (int j = 0; j < nb; ++j) st1[j] = st2[j] = 0;
  for (int64_t t = 0; t < steps; ++t) { /* 1. u and s; st1 is the post-step state */
    const REAL *restrict cur_t = cur + t * n + n0;
    REAL *restrict u_t = ub + t * BLOCK, *restrict s_t = sb + t * BLOCK;
    for (int j = 0; j < nb; ++j) {
      REAL leak = st1[j] * decay_m;
      REAL ut = leak + cur_t[j];
      REAL st = (REAL)(ut > theta);
      st1[j] = ut * ((REAL)1 - st);
      u_t[j] = ut;
      s_t[j] = st;
    }
  }
  for (int j = 0; j < nb; ++j) st1[j] = 0;
  if (official) { /* 2. st1 accumulates w = rev(g), st2 E = rev(w) */
    for (int64_t t = steps - 1; t >= 0; --t) {
      const REAL *restrict g_t = g + t * n + n0;
      REAL *restrict e_t = eb + t * BLOCK;
      for (int j = 0; j < nb; ++j) {
        REAL decayed = st1[j] * decay_s;
        st1[j] = decayed + g_t[j];
        REAL decayed2 = st2[j] * decay_s;
        st2[j] = decayed2 + st1[j];
        e_t[j] = st2[j];
      }
    }
  } else { /* 2. st1 accumulates E = rev(g) */
    for (int64_t t = steps - 1; t >= 0; --t) {
      const REAL *restrict g_t = g + t * n + n0;
      REAL *restrict e_t = eb + t * BLOCK;
      for (int j = 0; j < nb; ++j) {
        REAL decayed = st1[j] * decay_s;
        st1[j] = decayed + g_t[j];
        e_t[j] = st1[j];
      }
    }
  }
  /* 3. ΔL */
  const int64_t work = SUFFIX(neighbor_block)(cur + n0, n, ub, sb, eb, BLOCK, ob, BLOCK, m, acc,
                                              hb, live, steps, nb, decay_m, inv_tau_s, theta);
  for (int64_t t = 0; t < steps; ++t) { /* 4. the weighting */
    const REAL *restrict u_t = ub + t * BLOCK, *restrict o_t = ob + t * BLOCK;
    REAL *restrict d_t = delta + t * n + n0;
    if (official) {
      for (int j = 0; j < nb; ++j) {
        REAL r = (REAL)1 / (theta - u_t[j]);
        REAL r2 = r * r;
        REAL wt = r2 * r;
        wt = wt < -clip ? -clip : wt;
        wt = wt > clip ? clip : wt;
        d_t[j] = wt * o_t[j];
      }
    } else {
      for (int j = 0; j < nb; ++j) {
        REAL wt = (REAL)1 / (theta - u_t[j]);
        wt = wt < -clip ? -clip : wt;
        wt = wt > clip ? clip : wt;
        d_t[j] = wt * o_t[j];
      }
    }
  }
  return work;
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
  free(scratch);
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
  free(scratch);
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
  free(scratch);
  return 0;
}

/* Returns 0 on success, -1 if the scratch memory could not be allocated (then nothing was
 * written and the caller falls back to torch). If `work` is not NULL, it receives the number
 * of (block, neighbor, step) triples simulated: T (T - 1) / 2 per block without early exits. */
BNA_EXPORT int SUFFIX(bna_neighbor_loss_change)(const REAL *cur, const REAL *u, const REAL *s,
                                                const REAL *e, REAL *out, int64_t steps,
                                                int64_t n, REAL decay_m, REAL inv_tau_s,
                                                REAL theta, int threads, int64_t *work) {
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  /* Per thread: neighbor states m, accumulators acc and headroom hb ([T, BLOCK] each), then
   * the live list. On the heap: T can be large and OpenMP thread stacks are small. */
  const int64_t reals = 3 * steps * BLOCK;
  const size_t per_thread = slice_bytes(sizeof(REAL) * (size_t)reals + sizeof(int) * (size_t)steps);
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  int64_t total = 0;
  /* dynamic: the early exit makes the work per block data dependent */
  PARALLEL_FOR_DYNAMIC_SUM(threads, total)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * BLOCK;
    const int nb = (int)(n - n0 < BLOCK ? n - n0 : BLOCK);
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    total += SUFFIX(neighbor_block)(cur + n0, n, u + n0, s + n0, e + n0, n, out + n0, n, mine,
                                    mine + steps * BLOCK, mine + 2 * steps * BLOCK,
                                    (int *)(mine + reals), steps, nb, decay_m, inv_tau_s, theta);
  }
  free(scratch);
  if (work != NULL) *work = total;
  return 0;
}

/* The fused NA backward: delta = ΔL * weight for all neurons (see na_block); cur, g, delta
 * [T, N]. official: 1 for the official variant (E from the twice-filtered g, cubed distance),
 * 0 for the paper's (E from g filtered once, power 1); clip: the weight's clamp bound. Returns
 * 0, or -1 when out of scratch memory (nothing written); `work` as in
 * bna_neighbor_loss_change. */
BNA_EXPORT int SUFFIX(bna_na_backward)(const REAL *cur, const REAL *g, REAL *delta,
                                       int64_t steps, int64_t n, REAL decay_m, REAL decay_s,
                                       REAL inv_tau_s, REAL theta, int official, REAL clip,
                                       int threads, int64_t *work) {
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  /* Per thread: ub, sb, eb, ob, m, acc, hb ([T, BLOCK] each), then the live list. */
  const int64_t reals = 7 * steps * BLOCK;
  const size_t per_thread = slice_bytes(sizeof(REAL) * (size_t)reals + sizeof(int) * (size_t)steps);
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  int64_t total = 0;
  PARALLEL_FOR_DYNAMIC_SUM(threads, total)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t n0 = b * BLOCK;
    const int nb = (int)(n - n0 < BLOCK ? n - n0 : BLOCK);
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    total += SUFFIX(na_block)(cur, g, delta, mine, steps, n, n0, nb, decay_m, decay_s,
                              inv_tau_s, theta, official, clip);
  }
  free(scratch);
  if (work != NULL) *work = total;
  return 0;
}

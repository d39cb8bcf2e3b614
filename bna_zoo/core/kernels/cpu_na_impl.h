/* Type-generic body of the NA kernels (neighbor pass, fused NA backward); included by cpu_lif.c
 * once per precision after cpu_lif_impl.h, with REAL and SUFFIX(name) defined.
 *
 * Work units: the O(T) passes stream chunks of ~1,000-4,000 neurons through per-thread scratch
 * ([T, width] rows); the O(T^2) neighbor pass runs on blocks of BLOCK neurons, from T =
 * NA_PACK_MIN_STEPS on only the neurons that need it, packed together (busy_block), so the
 * neighbor loops are unit stride. Rounding is the
 * torch path's (see cpu_lif_impl.h): every expression below is written as the unfused path
 * computes it, so the fused backward equals forward + reverse filters + neighbor pass +
 * na_weighting bit for bit.
 */

/* The headroom at step t of a neuron whose headroom at t + 1 is `next` and whose current at
 * t + 1 is `cur_next`: a post-step state from which the neuron, driven by its original
 * currents and never firing, stays at or below theta to the end; every lower state does too.
 *
 * Exact, not a tolerance: one step without a spike is f(m) = fl(fl(m * decay_m) + I), monotone
 * in m. With c = min(theta, next), the candidate h = (c - I) / decay_m (by the reciprocal; then
 * a few ulps lower) is kept only if f(h) <= c in this same arithmetic, else -inf (no claim).
 * Any m <= h then gives f(m) <= f(h) <= c: no spike at t + 1, post-step state f(m) (times
 * (1 - 0), exact), at or below the headroom of t + 1, and so on to the last step, whose
 * headroom is +inf. NaN or infinite currents, or decay_m = 0, give -inf. */
static inline __attribute__((always_inline)) REAL SUFFIX(headroom_of)(
    REAL next, REAL cur_next, REAL decay_m, REAL inv_decay_m, REAL theta) {
  const REAL rel = (REAL)8 * (sizeof(REAL) == 4 ? (REAL)FLT_EPSILON : (REAL)DBL_EPSILON);
  REAL c = next < theta ? next : theta;
  REAL h = (c - cur_next) * inv_decay_m;
  REAL leak = h * decay_m;
  REAL v = leak + cur_next;
  REAL h2 = h - (h < 0 ? -h : h) * rel - (REAL)FLT_MIN; /* in case h rounded up */
  REAL leak2 = h2 * decay_m;
  REAL v2 = leak2 + cur_next;
  return v <= c ? h : (v2 <= c ? h2 : -(REAL)INFINITY);
}

/* The NA weight of membrane potential u, in na_weighting's op order: r = 1 / (theta - u)
 * (±inf at u == theta); official r * r * r, paper r; clamped to [-clip, clip]. `official` is
 * a constant at each call site. */
static inline __attribute__((always_inline)) REAL SUFFIX(weight_of)(REAL u, REAL theta,
                                                                    REAL clip,
                                                                    const int official) {
  REAL r = (REAL)1 / (theta - u);
  REAL wt = r;
  if (official) {
    REAL r2 = r * r;
    wt = r2 * r;
  }
  wt = wt < -clip ? -clip : wt;
  return wt > clip ? clip : wt;
}

/* What neighbor_pass writes for a result o = ΔL: o itself (mode 0), or weight_of(u) * o with
 * the official (mode 1) or the paper's (mode 2) weight; `mode` is a constant at each call. */
static inline __attribute__((always_inline)) REAL SUFFIX(emit)(REAL o, REAL u, REAL theta,
                                                               REAL clip, const int mode) {
  return mode == 0 ? o : SUFFIX(weight_of)(u, theta, clip, mode == 1) * o;
}

/* Neighbor t of a neuron at its start (its flipped step is t itself): the original's spike st
 * and post-step state mo at t; below, the exit bound of test (b) (the larger of mo and the
 * headroom h if the original fires no more after t, else -inf); the neighbor's start state and
 * ΔL so far (a0); what neighbor_pass writes if it finishes at once (out); and whether it does
 * not (fresh). The one definition the neighbor pass and the backward sweep's busy test share,
 * so that both decide alike. `mode` as in emit, a constant at each call site. */
struct SUFFIX(start) {
  REAL st, mo, below, state, a0, out;
  int fresh;
};
static inline __attribute__((always_inline)) struct SUFFIX(start) SUFFIX(neighbor_start)(
    REAL u, REAL e, REAL h, int silent_after, REAL theta, REAL inv_tau_s, REAL clip,
    const int mode) {
  struct SUFFIX(start) r;
  r.st = (REAL)(u > theta);
  r.mo = u * ((REAL)1 - r.st);
  REAL safe = r.mo > h ? r.mo : h;
  r.below = silent_after ? safe : -(REAL)INFINITY;
  r.state = theta * r.st;
  r.a0 = e * ((REAL)1 - (REAL)2 * r.st);
  r.out = SUFFIX(emit)(r.a0 * inv_tau_s, u, theta, clip, mode);
  r.fresh = !((r.state == r.mo) | (r.state <= r.below));
  return r;
}

/* The NA neighbor pass on one block: out[k, j] = ΔL[k, j] (or weighted, see emit).
 *
 * Neighbor k starts from the post-step state theta * s[k] (spike removed: no reset; spike
 * added: reset to 0) and is re-simulated with the original currents; its spike difference to
 * the original train is accumulated directly, E[t] * (s_k[t] - s[t]), which equals the torch
 * kernel's E[k](1 - 2 s[k]) + sum E s_k - sum E s up to summation order. The original's spikes
 * are read off u (s = u > theta, as lif_forward makes them).
 *
 * Loop order: time outside, live neighbors inside, so each step's rows are read once for all
 * neighbors; neighbor k's state is row k of m and acc, and `live` lists the neighbors still
 * being simulated. Each step first starts neighbor t and writes its result as if it finished
 * at once (rewritten if it lives on), then steps the older live neighbors.
 *
 * Early exit (exact, not a tolerance): neighbor k of neuron j is finished at step t when
 *   (a) its post-step state equals the original one, u[t] * (1 - s[t]): identical state and
 *       identical later currents give an identical future, so every later difference is 0; or
 *   (b) the original never fires after t (t >= last[j]) and the neighbor's state is <= the
 *       original's or <= the headroom hb[t, j] (headroom_of): by monotonicity neither fires
 *       again. (The headroom lets a neighbor above a silent original finish, e.g. a spike
 *       added to a neuron whose membrane is negative: without it the two states approach each
 *       other by decay_m per step and never meet in T steps.)
 * Both hold only because u comes from the same arithmetic (lif_forward). Once every neuron
 * of the block is finished for neighbor k, k leaves the live list and its result is written.
 *
 * Layout: row t of cur is cur + t * ldc, of u and e + t * ld, of hb + t * ldh, of out
 * + t * ldo; m and acc are [T, BLOCK] scratch.
 *
 * Returns the number of (neighbor, step) pairs simulated after their start, for tests of the
 * early exit: T (T - 1) / 2 when nothing exits early. */
static inline __attribute__((always_inline)) int64_t SUFFIX(neighbor_pass)(
    const REAL *restrict cur, int64_t ldc, const REAL *restrict u, const REAL *restrict e,
    int64_t ld, const REAL *restrict hb, int64_t ldh, const int *restrict last,
    REAL *restrict out, int64_t ldo, REAL *restrict m, REAL *restrict acc,
    int *restrict live, int64_t steps, int nb, REAL decay_m, REAL inv_tau_s, REAL theta,
    REAL clip, const int mode) {
  /* At the current step: the original's spike s and post-step state mo (test a); below = the
   * larger of mo and the headroom if the original fires no more, else -inf (test b in one
   * compare). */
  REAL sj[BLOCK], mo[BLOCK], below[BLOCK];
  int n_live = 0;
  int64_t work = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const REAL *restrict cur_t = cur + t * ldc, *restrict u_t = u + t * ld;
    const REAL *restrict e_t = e + t * ld, *restrict h_t = hb + t * ldh;
    REAL *restrict mt = m + t * BLOCK, *restrict at = acc + t * BLOCK, *restrict o_t = out + t * ldo;
    const int tt = (int)t;
    int fresh = 0;
    for (int j = 0; j < nb; ++j) { /* start neighbor t */
      struct SUFFIX(start) r = SUFFIX(neighbor_start)(u_t[j], e_t[j], h_t[j], tt >= last[j],
                                                      theta, inv_tau_s, clip, mode);
      sj[j] = r.st;
      mo[j] = r.mo;
      below[j] = r.below;
      mt[j] = r.state;
      at[j] = r.a0;
      o_t[j] = r.out;
      fresh |= r.fresh;
    }
    int kept = 0;
    for (int i = 0; i < n_live; ++i) { /* step the older live neighbors */
      const int k = live[i];
      REAL *restrict mk = m + (int64_t)k * BLOCK, *restrict ak = acc + (int64_t)k * BLOCK;
      int active = 0;
      for (int j = 0; j < nb; ++j) {
        REAL leak = mk[j] * decay_m;
        REAL v = leak + cur_t[j];
        REAL sk = v > theta ? (REAL)1 : (REAL)0;
        REAL state = v * ((REAL)1 - sk);
        mk[j] = state;
        ak[j] += e_t[j] * (sk - sj[j]);
        active |= !((state == mo[j]) | (state <= below[j]));
      }
      if (active) {
        live[kept++] = k;
      } else {
        REAL *restrict ok = out + (int64_t)k * ldo;
        const REAL *restrict uk = u + (int64_t)k * ld;
        for (int j = 0; j < nb; ++j)
          ok[j] = SUFFIX(emit)(ak[j] * inv_tau_s, uk[j], theta, clip, mode);
      }
    }
    work += n_live;
    n_live = kept;
    if (fresh) live[n_live++] = tt;
  }
  for (int i = 0; i < n_live; ++i) { /* neighbors still live at the end */
    const int k = live[i];
    const REAL *restrict ak = acc + (int64_t)k * BLOCK, *restrict uk = u + (int64_t)k * ld;
    REAL *restrict ok = out + (int64_t)k * ldo;
    for (int j = 0; j < nb; ++j)
      ok[j] = SUFFIX(emit)(ak[j] * inv_tau_s, uk[j], theta, clip, mode);
  }
  return work;
}

/* The neighbor pass alone on one block of the global [T, N] arrays (ld = N): one backward
 * sweep finds the headroom and each neuron's last firing step, then neighbor_pass. Scratch:
 * m, acc, hb ([T, BLOCK] each), then T ints. */
static int64_t SUFFIX(neighbor_block)(const REAL *restrict cur, const REAL *restrict u,
                                      const REAL *restrict e, REAL *restrict out, int64_t n,
                                      REAL *restrict scratch, int64_t steps, int nb,
                                      REAL decay_m, REAL inv_tau_s, REAL theta) {
  const int64_t tb = steps * BLOCK;
  REAL *restrict m = scratch, *restrict acc = m + tb, *restrict hb = acc + tb;
  int *restrict live = (int *)(hb + tb);
  int last[BLOCK];
  const REAL inv_decay_m = (REAL)1 / decay_m;
  for (int j = 0; j < nb; ++j) last[j] = -1;
  for (int64_t t = steps - 1; t >= 0; --t) {
    const REAL *restrict u_t = u + t * n;
    REAL *restrict h_t = hb + t * BLOCK;
    if (t == steps - 1) {
      for (int j = 0; j < nb; ++j) h_t[j] = (REAL)INFINITY;
    } else {
      const REAL *restrict cur_next = cur + (t + 1) * n, *restrict h_next = h_t + BLOCK;
      for (int j = 0; j < nb; ++j)
        h_t[j] = SUFFIX(headroom_of)(h_next[j], cur_next[j], decay_m, inv_decay_m, theta);
    }
    for (int j = 0; j < nb; ++j) last[j] = last[j] < 0 && u_t[j] > theta ? (int)t : last[j];
  }
  return SUFFIX(neighbor_pass)(cur, n, u, e, n, hb, BLOCK, last, out, n, m, acc, live, steps,
                               nb, decay_m, inv_tau_s, theta, 0, 0);
}

/* Asks for the nb values at x, one request per 64-byte line: the chunk passes read each row
 * of the [T, N] inputs in one run, but jump a whole row (backwards, in the backward sweep)
 * between runs, a jump the hardware prefetchers do not predict. */
static inline void SUFFIX(prefetch_row)(const REAL *x, int64_t nb) {
  for (int64_t j = 0; j < nb; j += 64 / (int64_t)sizeof(REAL)) __builtin_prefetch(x + j, 0, 3);
}

/* One row of the backward sweep: E (reverse filter(s) of g), the headroom and the last firing
 * step at step t; with `pack`, also for every neuron what neighbor_pass writes when neighbor t
 * finishes at its start (into d_t), and whether it does not (busy). `mode` (1 official, 2
 * paper), `has_next` (t < T - 1: the headroom reads row t + 1) and `pack` are constants at
 * each call site, so the loop has no branch and no masked load.
 *
 * Both decide with neighbor_start; `last[j] < 0` before this row's update says the original
 * fires no more after t, which is neighbor_pass's t >= last[j]. A neuron none of whose
 * neighbors is busy needs no simulation: its d is final. */
static inline __attribute__((always_inline)) void SUFFIX(sweep_row)(
    const REAL *restrict cur_next, const REAL *restrict g_t, const REAL *restrict u_t,
    REAL *restrict e_t, REAL *restrict h_t, const REAL *restrict h_next, REAL *restrict d_t,
    REAL *restrict st1, REAL *restrict st2, int *restrict last, int *restrict busy, int t,
    int64_t nb, REAL decay_m, REAL inv_decay_m, REAL decay_s, REAL inv_tau_s, REAL theta,
    REAL clip, const int mode, const int has_next, const int pack) {
  for (int64_t j = 0; j < nb; ++j) {
    REAL decayed = st1[j] * decay_s; /* w = rev(g) (official), E = rev(g) (paper) */
    st1[j] = decayed + g_t[j];
    REAL e;
    if (mode == 1) {
      REAL decayed2 = st2[j] * decay_s; /* E = rev(w) */
      st2[j] = decayed2 + st1[j];
      e = st2[j];
    } else {
      e = st1[j];
    }
    e_t[j] = e;
    REAL h = has_next ? SUFFIX(headroom_of)(h_next[j], cur_next[j], decay_m, inv_decay_m, theta)
                      : (REAL)INFINITY;
    h_t[j] = h;
    if (pack) { /* neighbor t's start, as neighbor_pass computes it */
      struct SUFFIX(start) r = SUFFIX(neighbor_start)(u_t[j], e, h, last[j] < 0, theta,
                                                      inv_tau_s, clip, mode);
      d_t[j] = r.out;
      busy[j] |= r.fresh;
    }
    last[j] = last[j] < 0 && u_t[j] > theta ? t : last[j];
  }
}

/* Reverse filter(s) of g into eb on a chunk of nb neurons, with the headroom (hb) and each
 * neuron's last firing step in one backward sweep; with `pack`, also each neuron's result as
 * if no neighbor needed simulating (into the caller's delta, rows n apart) and its busy flag.
 * Scratch rows are ld apart; st1, st2 hold nb values. `mode` (1: official, E = rev(rev(g));
 * 2: paper) and `pack` are constants at each call site. */
static inline __attribute__((always_inline)) void SUFFIX(backward_sweep)(
    const REAL *restrict cb, const REAL *restrict g, int64_t n, const REAL *restrict ub,
    REAL *restrict eb, REAL *restrict hb, int64_t ld, REAL *restrict delta,
    int *restrict last, int *restrict busy, REAL *restrict st1, REAL *restrict st2,
    int64_t steps, int64_t nb, REAL decay_m, REAL decay_s, REAL inv_tau_s, REAL theta,
    REAL clip, const int mode, const int pack) {
  const REAL inv_decay_m = (REAL)1 / decay_m;
  for (int64_t j = 0; j < nb; ++j) {
    st1[j] = st2[j] = 0;
    last[j] = -1;
    busy[j] = 0;
  }
  for (int64_t t = steps - 1; t >= 0; --t) {
    const int64_t row = t * ld;
    if (t > 0) SUFFIX(prefetch_row)(g + (t - 1) * n, nb);
    if (t == steps - 1)
      SUFFIX(sweep_row)(NULL, g + t * n, ub + row, eb + row, hb + row, NULL, delta + t * n, st1,
                        st2, last, busy, (int)t, nb, decay_m, inv_decay_m, decay_s, inv_tau_s,
                        theta, clip, mode, 0, pack);
    else
      SUFFIX(sweep_row)(cb + row + ld, g + t * n, ub + row, eb + row, hb + row,
                        hb + row + ld, delta + t * n, st1, st2, last, busy, (int)t, nb, decay_m,
                        inv_decay_m, decay_s, inv_tau_s, theta, clip, mode, 1, pack);
  }
}

/* The membrane potential u of a chunk of nb neurons into scratch (rows ld apart), as
 * forward_chunk computes it, and a copy of its currents into cb (same rows), which the later
 * passes read from cache instead of memory; state holds nb values. */
static void SUFFIX(forward_u)(const REAL *restrict cur, int64_t n, REAL *restrict ub,
                              REAL *restrict cb, int64_t ld, REAL *restrict state, int64_t steps,
                              int64_t nb, REAL decay_m, REAL theta) {
  for (int64_t j = 0; j < nb; ++j) state[j] = 0;
  for (int64_t t = 0; t < steps; ++t) {
    const REAL *restrict cur_t = cur + t * n;
    REAL *restrict u_t = ub + t * ld, *restrict c_t = cb + t * ld;
    if (t + 1 < steps) SUFFIX(prefetch_row)(cur + (t + 1) * n, nb);
    for (int64_t j = 0; j < nb; ++j) {
      REAL leak = state[j] * decay_m;
      REAL ut = leak + cur_t[j];
      c_t[j] = cur_t[j];
      REAL st = (REAL)(ut > theta);
      state[j] = ut * ((REAL)1 - st);
      u_t[j] = ut;
    }
  }
}

/* Width of the fused backward's chunks: its three [T, width] scratch arrays fit
 * NA_SCRATCH_BUDGET (the per-core cache the O(T) passes stream through); a multiple of BLOCK,
 * at most STREAM_WIDTH. Wide chunks read each row of cur and g in long unit-stride runs, which
 * the hardware prefetchers follow; BLOCK-wide runs (512 bytes) are too short for them. */
#ifndef NA_SCRATCH_BUDGET
#define NA_SCRATCH_BUDGET (512 * 1024)
#endif
static int64_t SUFFIX(na_width)(int64_t steps) {
  int64_t w = (int64_t)(NA_SCRATCH_BUDGET / (sizeof(REAL) * 4 * (size_t)steps)) / BLOCK * BLOCK;
  return w < BLOCK ? BLOCK : (w > STREAM_WIDTH ? STREAM_WIDTH : w);
}

/* The neighbor pass on up to BLOCK busy neurons idx[0, bw) of a chunk (ascending indices into
 * the chunk's columns; its currents, u, E and headroom in scratch rows ld apart), writing
 * their results into delta (rows n apart). Consecutive indices run in place; others are first
 * gathered into the [T, BLOCK] rows pc, pu, pe, ph (results in po, then scattered), so that a
 * block holds only neurons whose neighbors need simulating:
 * a neighbor stays live while any neuron of its block has not finished it, and most neurons
 * (81-93% in nmnist-cnn's big layers) finish every neighbor at its start. Per neuron the
 * arithmetic is neighbor_pass's either way. Returns neighbor_pass's work. */
static inline __attribute__((always_inline)) int64_t SUFFIX(busy_block)(
    const REAL *restrict cb, const REAL *restrict ub, const REAL *restrict eb,
    const REAL *restrict hb, int64_t ld, const int *restrict last, const int *restrict idx,
    int bw, REAL *restrict delta, int64_t n, REAL *restrict packed, REAL *restrict m,
    REAL *restrict acc, int *restrict live, int64_t steps, REAL decay_m, REAL inv_tau_s,
    REAL theta, REAL clip, const int mode) {
  if (idx[bw - 1] - idx[0] == bw - 1) {
    const int64_t j0 = idx[0];
    return SUFFIX(neighbor_pass)(cb + j0, ld, ub + j0, eb + j0, ld, hb + j0, ld, last + j0,
                                 delta + j0, n, m, acc, live, steps, bw, decay_m, inv_tau_s,
                                 theta, clip, mode);
  }
  const int64_t tb = steps * BLOCK;
  REAL *restrict pc = packed, *restrict pu = pc + tb, *restrict pe = pu + tb;
  REAL *restrict ph = pe + tb, *restrict po = ph + tb;
  int plast[BLOCK];
  for (int i = 0; i < bw; ++i) plast[i] = last[idx[i]];
  for (int64_t t = 0; t < steps; ++t) {
    const REAL *restrict c_t = cb + t * ld, *restrict u_t = ub + t * ld;
    const REAL *restrict e_t = eb + t * ld, *restrict h_t = hb + t * ld;
    const int64_t r = t * BLOCK;
    for (int i = 0; i < bw; ++i) {
      const int j = idx[i];
      pc[r + i] = c_t[j];
      pu[r + i] = u_t[j];
      pe[r + i] = e_t[j];
      ph[r + i] = h_t[j];
    }
  }
  const int64_t work = SUFFIX(neighbor_pass)(pc, BLOCK, pu, pe, BLOCK, ph, BLOCK, plast, po,
                                             BLOCK, m, acc, live, steps, bw, decay_m, inv_tau_s,
                                             theta, clip, mode);
  for (int64_t t = 0; t < steps; ++t) {
    REAL *restrict d_t = delta + t * n;
    const REAL *restrict o_t = po + t * BLOCK;
    for (int i = 0; i < bw; ++i) d_t[idx[i]] = o_t[i];
  }
  return work;
}

/* The whole NA backward (na.py: NALIF.backward up to the layer rescale) on the neurons
 * [n0, n0 + nb) of a chunk of width w: delta[t, n] = ΔL[t, n] * weight(u[t, n]), and nothing
 * else of the caller's is written. Three passes: forward (u); backward sweep (E, headroom,
 * last firing step, every neuron's result as if its neighbors all finished at their start,
 * and which neurons have one that does not: the busy ones); the neighbor pass on the busy
 * neurons only, BLOCK at a time (busy_block), rewriting their results. Scratch: ub, eb, hb
 * ([T, w] each), m, acc and the five packed rows of busy_block ([T, BLOCK] each), state,
 * st1, st2 (w each), last, busy (w ints), live (T ints). Returns the neighbor passes' work.
 * Built with NA_STOP_AFTER 1 it returns after the forward pass (delta unwritten), with 2 after
 * the sweep (busy neurons' results not yet rewritten): how benchmarks/na_phases.py times the
 * passes; the package never defines it. */
static int64_t SUFFIX(na_chunk)(const REAL *restrict cur, const REAL *restrict g,
                                REAL *restrict delta, REAL *restrict scratch, int64_t w,
                                int64_t steps, int64_t n, int64_t n0, int64_t nb, REAL decay_m,
                                REAL decay_s, REAL inv_tau_s, REAL theta, int official,
                                REAL clip) {
  const int64_t tw = steps * w, tb = steps * BLOCK;
  REAL *restrict ub = scratch, *restrict eb = ub + tw, *restrict hb = eb + tw;
  REAL *restrict cb = hb + tw, *restrict m = cb + tw, *restrict acc = m + tb;
  REAL *restrict packed = acc + tb;
  REAL *restrict state = packed + 5 * tb, *restrict st1 = state + w, *restrict st2 = st1 + w;
  int *restrict last = (int *)(st2 + w), *restrict busy = last + w, *restrict live = busy + w;
  SUFFIX(forward_u)(cur + n0, n, ub, cb, w, state, steps, nb, decay_m, theta);
#if defined(NA_STOP_AFTER) && NA_STOP_AFTER == 1 /* benchmarks/na_phases.py only */
  return 0;
#endif
  const int pack = steps >= NA_PACK_MIN_STEPS;
#define NA_SWEEP(mode, pack)                                                              \
  SUFFIX(backward_sweep)(cb, g + n0, n, ub, eb, hb, w, delta + n0, last, busy, st1, st2, \
                         steps, nb, decay_m, decay_s, inv_tau_s, theta, clip, mode, pack)
  if (pack) {
    if (official) NA_SWEEP(1, 1); else NA_SWEEP(2, 1);
  } else {
    if (official) NA_SWEEP(1, 0); else NA_SWEEP(2, 0);
  }
#undef NA_SWEEP
#if defined(NA_STOP_AFTER) && NA_STOP_AFTER == 2 /* benchmarks/na_phases.py only */
  return 0;
#endif
  int n_busy = 0; /* busy becomes the list of neurons to simulate (in place: n_busy <= j) */
  for (int j = 0; j < (int)nb; ++j)
    if (!pack || busy[j]) busy[n_busy++] = j;
  int64_t work = 0;
  for (int b0 = 0; b0 < n_busy; b0 += BLOCK) {
    const int bw = n_busy - b0 < BLOCK ? n_busy - b0 : BLOCK;
    if (official)
      work += SUFFIX(busy_block)(cb, ub, eb, hb, w, last, busy + b0, bw, delta + n0, n,
                                 packed, m, acc, live, steps, decay_m, inv_tau_s, theta, clip, 1);
    else
      work += SUFFIX(busy_block)(cb, ub, eb, hb, w, last, busy + b0, bw, delta + n0, n,
                                 packed, m, acc, live, steps, decay_m, inv_tau_s, theta, clip, 2);
  }
  return work;
}

/* Returns 0 on success, -1 if the scratch memory could not be allocated (then nothing was
 * written and the caller falls back to torch). If `work` is not NULL, it receives the number
 * of (block, neighbor, step) triples simulated: T (T - 1) / 2 per block without early exits. */
BNA_EXPORT int SUFFIX(bna_neighbor_loss_change)(const REAL *cur, const REAL *u, const REAL *s,
                                                const REAL *e, REAL *out, int64_t steps,
                                                int64_t n, REAL decay_m, REAL inv_tau_s,
                                                REAL theta, int threads, int64_t *work) {
  (void)s; /* read off u (s = u > theta, as lif_forward makes it); kept in the signature */
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
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
    total += SUFFIX(neighbor_block)(cur + n0, u + n0, e + n0, out + n0, n, mine, steps, nb,
                                    decay_m, inv_tau_s, theta);
  }
  if (work != NULL) *work = total;
  return 0;
}

/* The fused NA backward: delta = ΔL * weight for all neurons (see na_chunk); cur, g, delta
 * [T, N]. official: 1 for the official variant (E from the twice-filtered g, cubed distance),
 * 0 for the paper's (E from g filtered once, power 1); clip: the weight's clamp bound. Returns
 * 0, or -1 when out of scratch memory (nothing written). `work` (if not NULL) receives the
 * (block, neighbor, step) triples simulated, blocks holding busy neurons only (busy_block):
 * at most bna_neighbor_loss_change's count on the same layer. */
BNA_EXPORT int SUFFIX(bna_na_backward)(const REAL *cur, const REAL *g, REAL *delta,
                                       int64_t steps, int64_t n, REAL decay_m, REAL decay_s,
                                       REAL inv_tau_s, REAL theta, int official, REAL clip,
                                       int threads, int64_t *work) {
  const int64_t w = SUFFIX(na_width)(steps);
  const int64_t chunks = (n + w - 1) / w;
  const size_t reals = (size_t)(4 * steps * w + 7 * steps * BLOCK + 3 * w);
  const size_t per_thread =
      slice_bytes(sizeof(REAL) * reals + sizeof(int) * (size_t)(2 * w + steps));
  char *scratch = alloc_slices(per_thread, threads);
  if (scratch == NULL) return -1;
  int64_t total = 0;
  /* dynamic: the early exit makes the work per chunk data dependent */
  PARALLEL_FOR_DYNAMIC_SUM(threads, total)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t n0 = c * w;
    const int64_t nb = n - n0 < w ? n - n0 : w;
    REAL *mine = (REAL *)(scratch + per_thread * (size_t)THREAD_ID());
    total += SUFFIX(na_chunk)(cur, g, delta, mine, w, steps, n, n0, nb, decay_m, decay_s,
                              inv_tau_s, theta, official, clip);
  }
  if (work != NULL) *work = total;
  return 0;
}

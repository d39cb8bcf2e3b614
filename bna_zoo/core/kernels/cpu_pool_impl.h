/* Type-generic body of the sum-pooling kernels; included by cpu_lif.c once per precision with
 * REAL and SUFFIX(name) defined.
 *
 * The spiking CNNs pool every layer's PSC with fixed k x k sum pooling times a scale
 * (bna_zoo.nn.SumPool2d). As F.avg_pool2d(x, k, divisor_override=1) * scale and its autograd
 * backward, that is four passes over the layer's largest tensor plus a zero fill, and torch's
 * NCHW pooling loop runs far below memory speed (one thread, [960, 12, 32, 32]: 19 ms forward,
 * 21 ms backward, against 4 ms for a copy). These kernels do each direction in one pass.
 *
 * Rounding is the composition's, so results are equal bit for bit: avg_pool2d sums a window
 * from 0 row by row in REAL, divides by 1 (exact), then the product with scale rounds once;
 * its backward multiplies the incoming gradient by scale, then adds it to a zero-filled
 * gradient once per window position (0 + v, which also turns -0 into +0, as here).
 *
 * Layout: `planes` contiguous [h, w] planes in, `planes` [h / k, w / k] planes out (floor:
 * rows and columns past the last whole window are not pooled and get a zero gradient).
 */

BNA_EXPORT int SUFFIX(bna_sum_pool_forward)(const REAL *x, REAL *y, int64_t planes, int64_t h,
                                            int64_t w, int64_t k, REAL scale, int threads) {
  const int64_t oh = h / k, ow = w / k;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t p = 0; p < planes; ++p) {
    const REAL *restrict xp = x + p * h * w;
    REAL *restrict yp = y + p * oh * ow;
    for (int64_t i = 0; i < oh; ++i) {
      REAL *restrict yr = yp + i * ow;
      if (k == 2) { /* every zoo net: unrolled, so the compiler can vectorise it */
        const REAL *restrict r0 = xp + 2 * i * w, *restrict r1 = r0 + w;
        for (int64_t j = 0; j < ow; ++j) {
          REAL s = (REAL)0 + r0[2 * j];
          s = s + r0[2 * j + 1];
          s = s + r1[2 * j];
          s = s + r1[2 * j + 1];
          yr[j] = s * scale;
        }
      } else {
        for (int64_t j = 0; j < ow; ++j) {
          REAL s = 0;
          for (int64_t a = 0; a < k; ++a)
            for (int64_t b = 0; b < k; ++b) s = s + xp[(i * k + a) * w + j * k + b];
          yr[j] = s * scale;
        }
      }
    }
  }
  return 0;
}

BNA_EXPORT int SUFFIX(bna_sum_pool_backward)(const REAL *gy, REAL *gx, int64_t planes,
                                             int64_t h, int64_t w, int64_t k, REAL scale,
                                             int threads) {
  const int64_t oh = h / k, ow = w / k;
  PARALLEL_FOR_STATIC(threads)
  for (int64_t p = 0; p < planes; ++p) {
    const REAL *restrict gp = gy + p * oh * ow;
    REAL *restrict xp = gx + p * h * w;
    for (int64_t r = 0; r < h; ++r) {
      REAL *restrict row = xp + r * w;
      const int64_t i = r / k;
      if (i >= oh) { /* past the last whole window */
        for (int64_t c = 0; c < w; ++c) row[c] = 0;
        continue;
      }
      const REAL *restrict gr = gp + i * ow;
      if (k == 2) {
        for (int64_t j = 0; j < ow; ++j) {
          REAL v = (REAL)0 + gr[j] * scale;
          row[2 * j] = v;
          row[2 * j + 1] = v;
        }
      } else {
        for (int64_t j = 0; j < ow; ++j) {
          REAL v = (REAL)0 + gr[j] * scale;
          for (int64_t b = 0; b < k; ++b) row[j * k + b] = v;
        }
      }
      for (int64_t c = ow * k; c < w; ++c) row[c] = 0;
    }
  }
  return 0;
}

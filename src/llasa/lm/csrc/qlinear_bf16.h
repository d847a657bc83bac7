// Included by qlinear.cpp (inside its anonymous namespace): uses RB and its includes.
#pragma once

// bf16 weights for CPUs with AVX512-BF16 but no AMX, where oneDNN's one-row bf16 product streams
// at about half the read bandwidth (AMD Zen 4). Packed (by llasa.lm.qkernel.pack_bf16) in blocks
// of 16 output rows: block b, input pair p holds 16 rows x (w[2p], w[2p+1]) = 64 bytes, so one
// vdpbf16ps meets a broadcast activation pair. fp32 sums, rounded to bf16 once at the end.
constexpr int64_t PFB = 192;  // input pairs ahead: 12 KiB of each block's stream

template <int MB, int NBK>  // NBK blocks of 16 output rows per call: each broadcast feeds NBK
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,fma")))
void bf16_block(const uint16_t* w, const uint16_t* x, int64_t K, int m0, uint16_t* y, int64_t N,
                int64_t row0, int rows) {
  __m512 acc[MB][2];  // one accumulator per block, or two (even and odd pairs) for one block
  for (int i = 0; i < MB; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const int64_t P = K / 2, BS = RB * K;  // pairs per row, halfwords per block
  for (int64_t p = 0; p < P; p += 2) {
    if (MB > 2)  // as prefetch_group: into L2, well ahead, or 8 rows stall on memory
      for (int j = 0; j < NBK; j++)
        for (int l = 0; l < 2; l++)
          _mm_prefetch((const char*)(w + j * BS + (p + PFB + l) * 32), _MM_HINT_T1);
    __m512bh wv[2][2];
    for (int j = 0; j < NBK; j++)
      for (int h = 0; h < 2; h++)
        wv[j][h] = (__m512bh)_mm512_loadu_si512(w + j * BS + (p + h) * 32);
    for (int i = 0; i < MB; i++) {
      const uint32_t* xr = (const uint32_t*)(x + (m0 + i) * K);
      for (int h = 0; h < 2; h++) {
        const __m512bh xb = (__m512bh)_mm512_set1_epi32(xr[p + h]);
        if (NBK == 2) {
          acc[i][0] = _mm512_dpbf16_ps(acc[i][0], wv[0][h], xb);
          acc[i][1] = _mm512_dpbf16_ps(acc[i][1], wv[1][h], xb);
        } else {
          acc[i][h] = _mm512_dpbf16_ps(acc[i][h], wv[0][h], xb);
        }
      }
    }
  }
  for (int j = 0; j < NBK; j++) {
    const int r = rows - j * RB;
    const __mmask16 mask = r >= RB ? 0xFFFF : (__mmask16)((1u << r) - 1);
    for (int i = 0; i < MB; i++) {
      const __m512 s = NBK == 2 ? acc[i][j] : _mm512_add_ps(acc[i][0], acc[i][1]);
      const __m256i h = (__m256i)_mm512_cvtneps_pbh(s);
      _mm256_mask_storeu_epi16(y + (m0 + i) * N + row0 + j * RB, mask, h);
    }
  }
}

using Bf16Kernel = void (*)(const uint16_t*, const uint16_t*, int64_t, int, uint16_t*, int64_t,
                            int64_t, int);
#define LLASA_BF16(NBK) {bf16_block<1, NBK>, bf16_block<2, NBK>, bf16_block<3, NBK>,            \
                         bf16_block<4, NBK>, bf16_block<5, NBK>, bf16_block<6, NBK>,            \
                         bf16_block<7, NBK>, bf16_block<8, NBK>}

// x [M, K] bf16 times bf16_block's packed weights -> [M, N] bf16. Two blocks per call: each
// broadcast feeds two dot products (8 rows are bound by them) and one row reads two streams.
torch::Tensor bf16_matmul(const torch::Tensor& x, const torch::Tensor& packed, int64_t N) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == torch::kBFloat16 && x.is_contiguous(),
              "bf16_matmul: x must be a contiguous 2-D bf16 tensor");
  TORCH_CHECK(packed.scalar_type() == torch::kBFloat16 && packed.is_contiguous());
  const int64_t M = x.size(0), K = x.size(1), NB = (N + RB - 1) / RB;
  TORCH_CHECK(K % 4 == 0 && packed.numel() == NB * RB * K, "bf16_matmul: weights do not match");
  auto y = torch::empty({M, N}, x.options());
  static const Bf16Kernel one[8] = LLASA_BF16(1), two[8] = LLASA_BF16(2);
  const auto* w = (const uint16_t*)packed.data_ptr();
  const auto* xp = (const uint16_t*)x.data_ptr();
  auto* yp = (uint16_t*)y.data_ptr();
  const int64_t units = (NB + 1) / 2;
  at::parallel_for(0, units, 1, [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; u++) {
      const int64_t b = u * 2;
      const bool pair = b + 1 < NB;
      const int rows = (int)std::min<int64_t>(pair ? 2 * RB : RB, N - b * RB);
      for (int64_t m0 = 0; m0 < M; m0 += 8) {
        const int mb = (int)std::min<int64_t>(8, M - m0);
        (pair ? two : one)[mb - 1](w + b * RB * K, xp, K, (int)m0, yp, N, b * RB, rows);
      }
    }
  });
  return y;
}

// bf16_matmul with a decode layer's glue, rounded to bf16 where transformers' bf16 ops round:
//   norm_w (K bf16 values): RMSNorm first (fp32 statistics, x * rsqrt(mean(x^2) + eps) rounded,
//     then times the weight, rounded);
//   glu: x is [M, 2K] = gate | up, and the input is silu(gate) (rounded) * up (rounded);
//   res [M, N] bf16 (or empty): added to the rounded output, rounded again.
__attribute__((target("avx2,fma")))
torch::Tensor bf16_linear_ex(const torch::Tensor& x, const torch::Tensor& norm_w, double eps,
                             bool glu, const torch::Tensor& packed, int64_t N,
                             const torch::Tensor& res) {
  using B = at::BFloat16;
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == torch::kBFloat16 && x.is_contiguous(),
              "bf16_linear: x must be a contiguous 2-D bf16 tensor");
  const int64_t M = x.size(0), X = x.size(1), K = glu ? X / 2 : X;
  const bool norm = norm_w.defined() && norm_w.numel();
  TORCH_CHECK(!glu || X % 2 == 0);
  TORCH_CHECK(!norm || (norm_w.numel() == K && norm_w.scalar_type() == torch::kBFloat16 &&
                        norm_w.is_contiguous()), "bf16_linear: the norm weight must be K bf16");
  torch::Tensor in = x;
  if (norm || glu) {
    in = torch::empty({M, K}, x.options());
    const B* xp = (const B*)x.data_ptr();
    B* ip = (B*)in.data_ptr();
    const B* w = norm ? (const B*)norm_w.data_ptr() : nullptr;
    float buf[8];
    for (int64_t m = 0; m < M; m++) {
      const B* xr = xp + m * X;
      B* o = ip + m * K;
      if (norm) {
        float ss = 0.f;
        for (int64_t k = 0; k < K; k++) { const float f = xr[k]; ss += f * f; }
        const float inv = 1.f / std::sqrt(ss / (float)K + (float)eps);
        for (int64_t k = 0; k < K; k++) o[k] = B((float)w[k] * (float)B((float)xr[k] * inv));
      } else {
        int64_t k = 0;
        for (; k + 8 <= K; k += 8) {
          _mm256_storeu_ps(buf, silu8(load_bf16x8(xr + k)));
          for (int l = 0; l < 8; l++) o[k + l] = B((float)B(buf[l]) * (float)xr[K + k + l]);
        }
        for (; k < K; k++) {
          const float g = xr[k];
          o[k] = B((float)B(g / (1.f + std::exp(-g))) * (float)xr[K + k]);
        }
      }
    }
  }
  auto y = bf16_matmul(in, packed, N);
  if (res.defined() && res.numel()) {
    TORCH_CHECK(res.scalar_type() == torch::kBFloat16 && res.is_contiguous() &&
                res.numel() == y.numel(), "bf16_linear: the residual must be bf16 [M, N]");
    B* yp = (B*)y.data_ptr();
    const B* rp = (const B*)res.data_ptr();
    for (int64_t i = 0; i < y.numel(); i++) yp[i] = B((float)rp[i] + (float)yp[i]);
  }
  return y;
}

// Weight-only quantized linear layers for CPU decoding shapes (M = 1..16 rows; AMX tiles from
// 2 rows where the CPU has them).
//
// 4-bit weights in groups of 32 along the input, an fp16 scale and min per group
// (w = q * scale + min), activations quantized per row and group of 32 to int8, integer dot
// products: AVX512-VNNI vpdpbusd, or AVX2 vpmaddubsw + vpmaddwd. Weights are packed (by
// llasa.lm.qkernel.pack_int4) in blocks of 16 output rows, group by group, so each thread streams
// one contiguous range; all M rows are computed per block, so a batch reads the weights once.
//
// Packed block b, group g: 320 bytes = 4 chunks of 64 codes bytes, then 16 fp16 scales, then
// 16 fp16 mins. Chunk c, byte 4r+j holds q[r][4c+j] (low nibble) and q[r][4c+16+j] (high),
// so one 32-bit lane per row meets 4 consecutive activations broadcast from memory.
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace {

constexpr int RB = 16, GS = 32, GB = 320;
// From 3 rows the dot products take long enough per group that the hardware prefetcher falls
// behind, and memory and compute stop overlapping. A software prefetch into L2 (T1), 24 groups
// (7.5-12 KiB) ahead, fixes it: on Zen 4, 8 rows of 8-bit weights streamed from memory took
// 0.60-0.68x the time of the earlier prefetch into L1 8 groups ahead (which itself took 8 rows
// from 12 to 18-20 GB/s), the AVX2 path 0.86-0.90x. One row is left to the hardware prefetcher.
constexpr int PF = 24;  // groups ahead

template <int MB>
inline void prefetch_group(const uint8_t* p, int bytes) {
  if (MB > 2)
    for (int l = 0; l < bytes; l += 64) _mm_prefetch((const char*)p + PF * bytes + l, _MM_HINT_T1);
}

struct Act {  // activations, quantized: M rows of K int8, and per (row, group) scale and sum
  const int8_t* q; const float* s; const float* sum; int64_t K, G;
  const float* wscale = nullptr;  // int8: per output row weight scale
  const float* corr = nullptr;    // int8 VNNI: per activation row, -128 * sum of dequantized x
};

template <int MB>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))
void q4_vnni(const uint8_t* w, const Act& a, int m0, float* y, int64_t N, int64_t row0, int rows) {
  __m512 acc[MB];
  for (int i = 0; i < MB; i++) acc[i] = _mm512_setzero_ps();
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int64_t g = 0; g < a.G; g++) {
    const uint8_t* p = w + g * GB;
    prefetch_group<MB>(p, GB);
    __m512i lo[4], hi[4];
    for (int c = 0; c < 4; c++) {
      __m512i v = _mm512_loadu_si512(p + 64 * c);
      lo[c] = _mm512_and_si512(v, lo4);
      hi[c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4);
    }
    const __m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + 256)));
    const __m512 mn = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + 288)));
    // unrolled, the MB accumulators stay in registers (GCC otherwise interchanges the loops
    // and keeps them on the stack: 8 rows ran at half speed); the same in every kernel below
#pragma GCC unroll 8
    for (int i = 0; i < MB; i++) {
      const int64_t r = (m0 + i) * a.G + g;
      const int32_t* x = (const int32_t*)(a.q + (m0 + i) * a.K + g * GS);
      __m512i s1 = _mm512_setzero_si512(), s2 = _mm512_setzero_si512();
      for (int c = 0; c < 4; c++) {
        s1 = _mm512_dpbusd_epi32(s1, lo[c], _mm512_set1_epi32(x[c]));
        s2 = _mm512_dpbusd_epi32(s2, hi[c], _mm512_set1_epi32(x[c + 4]));
      }
      const __m512 d = _mm512_cvtepi32_ps(_mm512_add_epi32(s1, s2));
      acc[i] = _mm512_fmadd_ps(d, _mm512_mul_ps(sc, _mm512_set1_ps(a.s[r])), acc[i]);
      acc[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(a.sum[r]), acc[i]);
    }
  }
  const __mmask16 mask = rows >= RB ? 0xFFFF : (__mmask16)((1u << rows) - 1);
  for (int i = 0; i < MB; i++) _mm512_mask_storeu_ps(y + (m0 + i) * N + row0, mask, acc[i]);
}

template <int MB>
__attribute__((target("avx2,fma,f16c")))
void q4_avx2(const uint8_t* w, const Act& a, int m0, float* y, int64_t N, int64_t row0, int rows) {
  const __m256i lo4 = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
  for (int h = 0; h < 2; h++) {  // rows 0-7 are the first 32 bytes of each chunk, 8-15 the rest
    __m256 acc[MB];
    for (int i = 0; i < MB; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < a.G; g++) {
      const uint8_t* p = w + g * GB;
      if (h == 0) prefetch_group<MB>(p, GB);  // the second half reads the same lines
      __m256i lo[4], hi[4];
      for (int c = 0; c < 4; c++) {
        __m256i v = _mm256_loadu_si256((const __m256i*)(p + 64 * c + 32 * h));
        lo[c] = _mm256_and_si256(v, lo4);
        hi[c] = _mm256_and_si256(_mm256_srli_epi16(v, 4), lo4);
      }
      const __m256 sc = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p + 256 + 16 * h)));
      const __m256 mn = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(p + 288 + 16 * h)));
#pragma GCC unroll 8
      for (int i = 0; i < MB; i++) {
        const int64_t r = (m0 + i) * a.G + g;
        const int32_t* x = (const int32_t*)(a.q + (m0 + i) * a.K + g * GS);
        // |q * x| pairs <= 2 * 15 * 127, so 8 of them still fit int16: one vpmaddwd per group
        __m256i t = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
          t = _mm256_add_epi16(t, _mm256_maddubs_epi16(lo[c], _mm256_set1_epi32(x[c])));
          t = _mm256_add_epi16(t, _mm256_maddubs_epi16(hi[c], _mm256_set1_epi32(x[c + 4])));
        }
        const __m256 d = _mm256_cvtepi32_ps(_mm256_madd_epi16(t, ones));
        acc[i] = _mm256_fmadd_ps(d, _mm256_mul_ps(sc, _mm256_set1_ps(a.s[r])), acc[i]);
        acc[i] = _mm256_fmadd_ps(mn, _mm256_set1_ps(a.sum[r]), acc[i]);
      }
    }
    const int n = std::min(8, rows - 8 * h);
    if (n <= 0) break;
    for (int i = 0; i < MB; i++) {
      float* out = y + (m0 + i) * N + row0 + 8 * h;
      if (n == 8) {
        _mm256_storeu_ps(out, acc[i]);
      } else {
        alignas(32) float tmp[8];
        _mm256_store_ps(tmp, acc[i]);
        for (int k = 0; k < n; k++) out[k] = tmp[k];
      }
    }
  }
}

// 8-bit weights: block b, group g holds 8 chunks of 64 bytes, chunk c byte 4r+j = w[r][4c+j]+128
// (unsigned for vpdpbusd; the +128 is taken off once per row at the end, Act::corr).
template <int MB>
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
void q8_vnni(const uint8_t* w, const Act& a, int m0, float* y, int64_t N, int64_t row0, int rows) {
  __m512 acc[MB];
  for (int i = 0; i < MB; i++) acc[i] = _mm512_setzero_ps();
  for (int64_t g = 0; g < a.G; g++) {
    const uint8_t* p = w + g * 512;
    prefetch_group<MB>(p, 512);
    __m512i v[8];
    for (int c = 0; c < 8; c++) v[c] = _mm512_loadu_si512(p + 64 * c);
#pragma GCC unroll 8
    for (int i = 0; i < MB; i++) {
      const int32_t* x = (const int32_t*)(a.q + (m0 + i) * a.K + g * GS);
      __m512i s1 = _mm512_setzero_si512(), s2 = _mm512_setzero_si512();
      for (int c = 0; c < 4; c++) {
        s1 = _mm512_dpbusd_epi32(s1, v[c], _mm512_set1_epi32(x[c]));
        s2 = _mm512_dpbusd_epi32(s2, v[c + 4], _mm512_set1_epi32(x[c + 4]));
      }
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s1, s2)),
                               _mm512_set1_ps(a.s[(m0 + i) * a.G + g]), acc[i]);
    }
  }
  const __mmask16 mask = rows >= RB ? 0xFFFF : (__mmask16)((1u << rows) - 1);
  const __m512 ws = _mm512_maskz_loadu_ps(mask, a.wscale + row0);
  for (int i = 0; i < MB; i++) {
    const __m512 r = _mm512_mul_ps(_mm512_add_ps(acc[i], _mm512_set1_ps(a.corr[m0 + i])), ws);
    _mm512_mask_storeu_ps(y + (m0 + i) * N + row0, mask, r);
  }
}

template <int MB>
__attribute__((target("avx2,fma")))
void q8_avx2(const uint8_t* w, const Act& a, int m0, float* y, int64_t N, int64_t row0, int rows) {
  const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
  for (int h = 0; h < 2; h++) {
    __m256 acc[MB];
    for (int i = 0; i < MB; i++) acc[i] = _mm256_setzero_ps();
    for (int64_t g = 0; g < a.G; g++) {
      const uint8_t* p = w + g * 512 + 32 * h;
      if (h == 0) prefetch_group<MB>(p, 512);
      __m256i s[MB];
      for (int i = 0; i < MB; i++) s[i] = _mm256_setzero_si256();
      for (int c = 0; c < 8; c++) {
        // signed weights back; |w| * (x * sign w) keeps vpmaddubsw's pairs within int16
        const __m256i wv = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(p + 64 * c)), flip);
        const __m256i aw = _mm256_abs_epi8(wv);
#pragma GCC unroll 8
        for (int i = 0; i < MB; i++) {
          const int32_t x = ((const int32_t*)(a.q + (m0 + i) * a.K + g * GS))[c];
          const __m256i t = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(_mm256_set1_epi32(x), wv));
          s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(t, ones));
        }
      }
      for (int i = 0; i < MB; i++)
        acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]),
                                 _mm256_set1_ps(a.s[(m0 + i) * a.G + g]), acc[i]);
    }
    const int n = std::min(8, rows - 8 * h);
    if (n <= 0) break;
    for (int i = 0; i < MB; i++) {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, acc[i]);
      float* out = y + (m0 + i) * N + row0 + 8 * h;
      for (int k = 0; k < n; k++) out[k] = tmp[k] * a.wscale[row0 + 8 * h + k];
    }
  }
}

#include "qlinear_amx.h"  // AMX tiles for several rows (same bits as the VNNI kernels)

using Kernel = void (*)(const uint8_t*, const Act&, int, float*, int64_t, int64_t, int);

#define LLASA_KERNELS(NAME, MAXB)                                                        \
  Kernel NAME##_for(int mb) {                                                            \
    static const Kernel k[8] = {NAME<1>, NAME<2>, NAME<3>, NAME<4>,                      \
                                NAME<(MAXB > 4 ? 5 : 4)>, NAME<(MAXB > 4 ? 6 : 4)>,       \
                                NAME<(MAXB > 4 ? 7 : 4)>, NAME<(MAXB > 4 ? 8 : 4)>};      \
    return k[mb - 1];                                                                    \
  }
LLASA_KERNELS(q4_vnni, 8)
LLASA_KERNELS(q4_avx2, 4)
LLASA_KERNELS(q8_vnni, 8)
LLASA_KERNELS(q8_avx2, 4)

#include "vecmath.h"  // hsum8, exp8, silu8, load_bf16x8

// silu(g) * u, 8 at a time
__attribute__((target("avx2,fma"))) inline void swiglu8(const float* g, const float* u, float* o) {
  _mm256_storeu_ps(o, _mm256_mul_ps(silu8(_mm256_loadu_ps(g)), _mm256_loadu_ps(u)));
}

// x [M, K] fp32 → int8 codes, and per (row, group of 32) the scale and the exact float sum.
// mul: SmoothQuant's per-channel scales (or empty). What the layer reads can be computed on the
// way in, so a decode step does not run it as separate torch ops:
//   norm_w (K values): RMSNorm first, x * rsqrt(mean(x^2) + eps) * norm_w, as transformers' Llama;
//   glu: x is [M, 2K] = gate | up (the fused gate/up output) and the input is silu(gate) * up.
__attribute__((target("avx2,fma")))
std::vector<torch::Tensor> quantize_act_ex(const torch::Tensor& x, const torch::Tensor& mul,
                                           const torch::Tensor& norm_w, double eps, bool glu) {
  TORCH_CHECK(x.dim() == 2 && x.scalar_type() == torch::kFloat && x.is_contiguous(),
              "quantize_act: x must be a contiguous 2-D fp32 tensor");
  const int64_t M = x.size(0), X = x.size(1), K = glu ? X / 2 : X, G = K / GS;
  TORCH_CHECK(K % GS == 0 && (!glu || X % 2 == 0), "quantize_act: K must be a multiple of 32");
  auto q = torch::empty({M, K}, x.options().dtype(torch::kInt8));
  auto s = torch::empty({M, G}, x.options()), sum = torch::empty({M, G}, x.options());
  auto vec = [&](const torch::Tensor& t, const char* what) -> const float* {
    if (!t.defined() || t.numel() == 0) return nullptr;
    TORCH_CHECK(t.numel() == K && t.scalar_type() == torch::kFloat && t.is_contiguous(),
                "quantize_act: the ", what, " must be K fp32 values");
    return t.data_ptr<float>();
  };
  const float* mp = vec(mul, "multiplier");
  const float* np = vec(norm_w, "norm weight");
  TORCH_CHECK(!(np && glu), "quantize_act: a norm and the gate product do not combine");
  std::vector<float> row(GS);
  const float* xp = x.data_ptr<float>();
  int8_t* qp = q.data_ptr<int8_t>();
  float *sp = s.data_ptr<float>(), *up = sum.data_ptr<float>();
  for (int64_t m = 0; m < M; m++) {
    const float* xr = xp + m * X;
    float inv = 1.f;
    if (np) {
      float ss = 0.f;
      for (int64_t k = 0; k < K; k++) ss += xr[k] * xr[k];
      inv = 1.f / std::sqrt(ss / (float)K + (float)eps);
    }
    for (int64_t g = 0; g < G; g++) {
      const int64_t r = m * G + g;
      const float* v = xr + g * GS;
      if (glu) {
        for (int k = 0; k < GS; k += 8) swiglu8(v + k, v + K + k, row.data() + k);
        v = row.data();
      }
      if (np || mp) {
        const float* w = np ? np + g * GS : nullptr;
        const float* mm = mp ? mp + g * GS : nullptr;
        for (int k = 0; k < GS; k++) {
          float t = v[k];
          if (w) t = (t * inv) * w[k];
          if (mm) t *= mm[k];
          row[k] = t;
        }
        v = row.data();
      }
      float amax = 0.f, tot = 0.f;
      for (int k = 0; k < GS; k++) { amax = std::max(amax, std::fabs(v[k])); tot += v[k]; }
      const float scale = amax / 127.f, iv = amax > 0.f ? 127.f / amax : 0.f;
      for (int k = 0; k < GS; k++) qp[r * GS + k] = (int8_t)std::nearbyint(v[k] * iv);
      sp[r] = scale;
      up[r] = tot;
    }
  }
  return {q, s, sum};
}

std::vector<torch::Tensor> quantize_act(const torch::Tensor& x, const torch::Tensor& mul) {
  return quantize_act_ex(x, mul, torch::Tensor(), 0.0, false);
}

// y [M, N] = x [M, K] @ W^T for packed 4-bit (bits 4) or 8-bit (bits 8) W, N output rows
// padded to blocks of 16; wscale: int8's per-row scales.
torch::Tensor qmatmul(const torch::Tensor& xq, const torch::Tensor& xs, const torch::Tensor& xsum,
                      const torch::Tensor& packed, const torch::Tensor& wscale, int64_t N,
                      int64_t bits, bool vnni, bool amx) {
  TORCH_CHECK(xq.dim() == 2 && xq.scalar_type() == torch::kInt8 && xq.is_contiguous());
  TORCH_CHECK(packed.scalar_type() == torch::kUInt8 && packed.is_contiguous());
  TORCH_CHECK(bits == 4 || bits == 8, "qmatmul: bits must be 4 or 8");
  const int64_t M = xq.size(0), K = xq.size(1), G = K / GS, NB = (N + RB - 1) / RB;
  const int64_t gb = bits == 4 ? GB : 512;
  TORCH_CHECK(packed.numel() == NB * G * gb, "qmatmul: packed weights do not match K and N");
  TORCH_CHECK(xs.numel() == M * G && xsum.numel() == M * G);
  auto y = torch::empty({M, N}, xs.options());
  Act a{xq.data_ptr<int8_t>(), xs.data_ptr<float>(), xsum.data_ptr<float>(), K, G};
  std::vector<float> corr(M, 0.f);
  if (bits == 8) {
    TORCH_CHECK(wscale.numel() >= N && wscale.scalar_type() == torch::kFloat);
    a.wscale = wscale.data_ptr<float>();
    for (int64_t m = 0; m < M; m++) {
      double c = 0;
      for (int64_t g = 0; g < G; g++) {
        int32_t t = 0;
        for (int k = 0; k < GS; k++) t += a.q[m * K + g * GS + k];
        c += (double)t * a.s[m * G + g];
      }
      corr[m] = (float)(-128.0 * c);
    }
    a.corr = corr.data();
  }
  const uint8_t* w = packed.data_ptr<uint8_t>();
  float* yp = y.data_ptr<float>();
  const int maxb = vnni ? 8 : 4;
  // Tiles pay from 2 rows for 4-bit weights and from 6 for 8-bit ones (measured on a Xeon with
  // AMX: int8's per-group epilogue of 2-4 rows costs more than VNNI's dot products).
  if (amx && vnni && M >= (bits == 4 ? 2 : 6) && amx_permitted()) {
    at::parallel_for(0, NB, 1, [&](int64_t b0, int64_t b1) {
      int configured = 0;
      for (int64_t b = b0; b < b1; b++) {
        const int rows = (int)std::min<int64_t>(RB, N - b * RB);
        for (int64_t m0 = 0; m0 < M; m0 += 16) {
          const int mb = (int)std::min<int64_t>(16, M - m0);
          if (mb != configured) { amx_configure(mb); configured = mb; }
          (bits == 4 ? q_amx<4> : q_amx<8>)(w + b * G * gb, a, (int)m0, mb, yp, N, b * RB, rows);
        }
      }
      if (configured) amx_release();
    });
    return y;
  }
  at::parallel_for(0, NB, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) {
      const int rows = (int)std::min<int64_t>(RB, N - b * RB);
      for (int64_t m0 = 0; m0 < M; m0 += maxb) {
        const int mb = (int)std::min<int64_t>(maxb, M - m0);
        const Kernel k = bits == 4 ? (vnni ? q4_vnni_for(mb) : q4_avx2_for(mb))
                                   : (vnni ? q8_vnni_for(mb) : q8_avx2_for(mb));
        k(w + b * G * gb, a, (int)m0, yp, N, b * RB, rows);
      }
    }
  });
  return y;
}

// quantize_act then qmatmul in one call: a decode step makes ~65 of these, so the Python round
// trip between the two is worth saving.
torch::Tensor qlinear(const torch::Tensor& x, const torch::Tensor& mul, const torch::Tensor& packed,
                      const torch::Tensor& wscale, int64_t N, int64_t bits, bool vnni, bool amx) {
  const auto a = quantize_act(x, mul);
  return qmatmul(a[0], a[1], a[2], packed, wscale, N, bits, vnni, amx);
}

// The whole linear step of a decode layer in one call: quantize_act_ex's input (RMSNorm, or
// silu(gate) * up), the product, and a residual added to the output (or empty).
torch::Tensor qlinear_ex(const torch::Tensor& x, const torch::Tensor& mul, const torch::Tensor& norm_w,
                         double eps, bool glu, const torch::Tensor& packed,
                         const torch::Tensor& wscale, int64_t N, int64_t bits, bool vnni, bool amx,
                         const torch::Tensor& res) {
  const auto a = quantize_act_ex(x, mul, norm_w, eps, glu);
  auto y = qmatmul(a[0], a[1], a[2], packed, wscale, N, bits, vnni, amx);
  if (res.defined() && res.numel()) {
    TORCH_CHECK(res.scalar_type() == torch::kFloat && res.is_contiguous() &&
                res.numel() == y.numel(), "qlinear: the residual must be fp32 [M, N]");
    float* yp = y.data_ptr<float>();
    const float* rp = res.data_ptr<float>();
    for (int64_t i = 0; i < y.numel(); i++) yp[i] = rp[i] + yp[i];
  }
  return y;
}

#include "qlinear_bf16.h"  // bf16 weights on vdpbf16ps (CPUs with AVX512-BF16, no AMX)
#include "attention.h"  // one-query decode attention over the row cache

// Streams a buffer once over the threads: the read-bandwidth ceiling (bench/quant_kernels.py).
__attribute__((target("avx2")))
int64_t xor_range(const uint8_t* q, const uint8_t* end) {
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  for (; q < end; q += 64) {
    acc0 = _mm256_xor_si256(acc0, _mm256_load_si256((const __m256i*)q));
    acc1 = _mm256_xor_si256(acc1, _mm256_load_si256((const __m256i*)(q + 32)));
  }
  return _mm256_extract_epi64(_mm256_xor_si256(acc0, acc1), 0);
}

int64_t stream_read(const torch::Tensor& buf) {
  TORCH_CHECK(buf.is_contiguous() && buf.scalar_type() == torch::kUInt8 && buf.numel() % 4096 == 0);
  const uint8_t* p = buf.data_ptr<uint8_t>();
  std::atomic<int64_t> total{0};
  at::parallel_for(0, buf.numel() / 4096, 1, [&](int64_t b0, int64_t b1) {
    total += xor_range(p + b0 * 4096, p + b1 * 4096);
  });
  return total.load();
}

// The CPU's integer multiply-add peak, the compute ceiling as stream_read is the bandwidth one:
// 12 independent chains of the kernels' instruction (vpdpbusd: 64 multiply-adds; AVX2's
// vpmaddubsw: 32) on every thread. bench/quant_kernels.py sets the kernels' in-cache rate
// against it: without AMX, best-of-N's rows are bounded by this, not by memory.
#define LLASA_DOT_CHAINS(V, U, X, OP)                                                \
  V acc[12];                                                                         \
  V u = U, x = X;                                                                    \
  for (int i = 0; i < 12; i++) acc[i] = u;                                           \
  for (int64_t k = 0; k < n; k++) {                                                  \
    _Pragma("GCC unroll 12") for (int i = 0; i < 12; i++) acc[i] = OP;               \
    asm volatile("" : "+v"(u), "+v"(x)); /* keeps the loop from being folded */      \
  }                                                                                  \
  for (int i = 0; i < 12; i++) asm volatile("" : : "v"(acc[i])); /* results used */ \
  return n;

__attribute__((target("avx512f,avx512vnni"))) int64_t chains_vnni(int64_t n) {
  LLASA_DOT_CHAINS(__m512i, _mm512_set1_epi8(3), _mm512_set1_epi8(-2),
                   _mm512_dpbusd_epi32(acc[i], u, x))
}

__attribute__((target("avx2"))) int64_t chains_avx2(int64_t n) {
  LLASA_DOT_CHAINS(__m256i, _mm256_set1_epi8(3), _mm256_set1_epi8(-2),
                   _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(u, x)))
}
#undef LLASA_DOT_CHAINS

// multiply-adds per second over the intra-op threads (n loop trips per thread)
double dot_peak(int64_t n, bool vnni) {
  const int64_t nt = at::get_num_threads();
  const auto t0 = std::chrono::steady_clock::now();
  at::parallel_for(0, nt, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; b++) vnni ? chains_vnni(n) : chains_avx2(n);
  });
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return (double)nt * n * 12 * (vnni ? 64 : 32) / dt;
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("quantize_act", &quantize_act);
  m.def("qmatmul", &qmatmul);
  m.def("qlinear", &qlinear);
  m.def("qlinear_ex", &qlinear_ex);
  m.def("bf16_matmul", &bf16_matmul);
  m.def("bf16_linear_ex", &bf16_linear_ex);
  m.def("decode_attention", &decode_attention);
  m.def("stream_read", &stream_read);
  m.def("dot_peak", &dot_peak);
}

// Included by qlinear.cpp (inside its anonymous namespace).
#pragma once

// Decode attention: one new query per row, grouped KV heads, with the new key/value written into
// the row cache and RoPE applied in the same call. A decode step of the 1B shape spent
// ~6 ms of ~30 in SDPA's flash kernel plus the cache's index_put and the rotate_half ops around
// it, for ~20 MB of cache that streams in well under a millisecond: its tiling is made for long
// query blocks, not for the 4 query heads of a KV head. AVX2 + FMA, so it runs on every CPU the
// quantized kernels run on; sums and softmax in fp32 for fp32 and bf16 caches.

__attribute__((target("avx2,fma"))) inline void float4_out(__m128 v, float* p, int64_t stride) {
  alignas(16) float b[4];
  _mm_store_ps(b, v);
  for (int u = 0; u < 4; u++) p[u * stride] = b[u];
}

template <typename T> struct Elem;
template <> struct Elem<float> {
  __attribute__((target("avx2,fma"))) static inline __m256 load(const float* p) {
    return _mm256_loadu_ps(p);
  }
  static inline float get(const float* p) { return *p; }
  static inline void set(float* p, float v) { *p = v; }
};
template <> struct Elem<at::BFloat16> {
  __attribute__((target("avx2,fma"))) static inline __m256 load(const at::BFloat16* p) {
    return load_bf16x8(p);
  }
  static inline float get(const at::BFloat16* p) { return (float)*p; }
  static inline void set(at::BFloat16* p, float v) { *p = at::BFloat16(v); }
};

struct AttnArgs {
  int64_t n, H, h, e, p, Tc;        // rows, query heads, KV heads, head dim, prefix, slot capacity
  int64_t qs, ks, vs;               // row strides of q, k, v (elements)
  const int64_t* own;               // [n] position of the new token in its slot
  const float *cos, *sin;           // [n, e] or null (q, k already rotated)
  float scale;
};

template <typename T>
__attribute__((target("avx2,fma")))
void attend_row_head(const AttnArgs& a, int64_t r, int64_t j, const T* q, const T* k, const T* v,
                     T* kc, T* vc, const T* kp, const T* vp, T* out, float* work) {
  using E = Elem<T>;
  const int64_t e = a.e, g = a.H / a.h, own = a.own[r], L = a.p + own + 1;
  const float* cs = a.cos ? a.cos + r * e : nullptr;
  const float* sn = a.sin ? a.sin + r * e : nullptr;
  // x * cos + rotate_half(x) * sin, element d; in bf16 each product and the sum are rounded to
  // bf16, as transformers' bf16 ops do
  constexpr bool bf = std::is_same<T, at::BFloat16>::value;
  auto rnd = [](float f) { return bf ? (float)at::BFloat16(f) : f; };
  auto rope = [&](const T* x, int64_t d) {
    const float xd = E::get(x + d);
    if (!cs) return xd;
    const float o = d < e / 2 ? -E::get(x + d + e / 2) : E::get(x + d - e / 2);
    return rnd(rnd(xd * cs[d]) + rnd(o * sn[d]));
  };
  // the new key/value into the slot at `own` (each (row, KV head) is one task: no races)
  T* kslot = kc + ((r * a.h + j) * a.Tc) * e;
  T* vslot = vc + ((r * a.h + j) * a.Tc) * e;
  const T* kr = k + r * a.ks + j * e;
  const T* vr = v + r * a.vs + j * e;
  for (int64_t d = 0; d < e; d++) {
    E::set(kslot + own * e + d, rope(kr, d));
    E::set(vslot + own * e + d, E::get(vr + d));
  }
  // queries of this KV head, rotated and scaled, in fp32
  float* qf = work;                 // [g, e]
  float* s = work + g * e;          // [g, L] scores, then weights
  for (int64_t i = 0; i < g; i++)
    for (int64_t d = 0; d < e; d++)
      qf[i * e + d] = rope(q + r * a.qs + (j * g + i) * e, d) * a.scale;
  const T* kpj = kp ? kp + j * a.p * e : nullptr;
  const T* vpj = vp ? vp + j * a.p * e : nullptr;
  auto key = [&](int64_t t) { return t < a.p ? kpj + t * e : kslot + (t - a.p) * e; };
  auto val = [&](int64_t t) { return t < a.p ? vpj + t * e : vslot + (t - a.p) * e; };
  for (int64_t t = 0; t < L; t++) {
    const T* kt = key(t);
    int64_t i = 0;
    for (; i + 4 <= g; i += 4) {  // four queries per key load, their sums reduced together
      __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                       _mm256_setzero_ps()};
      for (int64_t d = 0; d < e; d += 8) {
        const __m256 kv = E::load(kt + d);
        for (int u = 0; u < 4; u++)
          acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(qf + (i + u) * e + d), kv, acc[u]);
      }
      const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]),
                                      _mm256_hadd_ps(acc[2], acc[3]));
      float4_out(_mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)), s + i * L + t,
                 L);
    }
    for (; i < g; i++) {
      __m256 acc0 = _mm256_setzero_ps();
      for (int64_t d = 0; d < e; d += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(qf + i * e + d), E::load(kt + d), acc0);
      s[i * L + t] = hsum8(acc0);
    }
  }
  for (int64_t i = 0; i < g; i++) {  // softmax over [0, L)
    float* si = s + i * L;
    float mx = -INFINITY;
    for (int64_t t = 0; t < L; t++) mx = std::max(mx, si[t]);
    const __m256 m8 = _mm256_set1_ps(mx);
    __m256 sum8 = _mm256_setzero_ps();
    int64_t t = 0;
    for (; t + 8 <= L; t += 8) {
      const __m256 w = exp8(_mm256_sub_ps(_mm256_loadu_ps(si + t), m8));
      _mm256_storeu_ps(si + t, w);
      sum8 = _mm256_add_ps(sum8, w);
    }
    float sum = hsum8(sum8);
    for (; t < L; t++) { si[t] = std::exp(si[t] - mx); sum += si[t]; }
    const float inv = 1.0f / sum;
    for (t = 0; t < L; t++) si[t] *= inv;
  }
  for (int64_t i = 0; i < g; i++) {  // out = weights @ V, 64 outputs at a time
    T* o = out + (r * a.H + j * g + i) * e;
    for (int64_t d0 = 0; d0 < e; d0 += 64) {
      const int64_t nv = std::min<int64_t>(64, e - d0) / 8;
      __m256 acc[8];
      for (int c = 0; c < 8; c++) acc[c] = _mm256_setzero_ps();
      for (int64_t t = 0; t < L; t++) {
        const __m256 w = _mm256_set1_ps(s[i * L + t]);
        const T* vt = val(t) + d0;
        for (int c = 0; c < nv; c++) acc[c] = _mm256_fmadd_ps(w, E::load(vt + 8 * c), acc[c]);
      }
      float buf[8];
      for (int c = 0; c < nv; c++) {
        _mm256_storeu_ps(buf, acc[c]);
        for (int l = 0; l < 8; l++) E::set(o + d0 + 8 * c + l, buf[l]);
      }
    }
  }
}

// q [n, H*e], k/v [n, h*e] (rows may be strided), kc/vc [R, h, Tc, e] (rows 0..n-1 are written at
// own[r]), kp/vp [1, h, p, e] a prefix every row shares (or empty), cos/sin [n, e] for RoPE (or
// empty: q and k are rotated already). Returns [n, H, e] in the cache's dtype.
torch::Tensor decode_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& kc, const torch::Tensor& vc,
                               const torch::Tensor& kp, const torch::Tensor& vp,
                               const torch::Tensor& own, const torch::Tensor& cos,
                               const torch::Tensor& sin, int64_t heads, double scale) {
  const auto dt = kc.scalar_type();
  TORCH_CHECK(dt == torch::kFloat || dt == torch::kBFloat16, "cache must be fp32 or bf16");
  TORCH_CHECK(kc.is_contiguous() && vc.is_contiguous() && kc.dim() == 4 && vc.sizes() == kc.sizes());
  for (const auto* t : {&q, &k, &v})
    TORCH_CHECK(t->dim() == 2 && t->stride(1) == 1 && t->scalar_type() == dt);
  AttnArgs a;
  a.n = q.size(0); a.H = heads; a.h = kc.size(1); a.Tc = kc.size(2); a.e = kc.size(3);
  a.p = kp.numel() ? kp.size(2) : 0;
  TORCH_CHECK(a.e % 8 == 0 && a.H % a.h == 0 && q.size(1) == a.H * a.e &&
              k.size(1) == a.h * a.e && v.size(1) == a.h * a.e && k.size(0) == a.n &&
              v.size(0) == a.n && kc.size(0) >= a.n);
  if (a.p) TORCH_CHECK(kp.is_contiguous() && vp.is_contiguous() && kp.scalar_type() == dt &&
                       kp.size(0) == 1 && kp.size(1) == a.h && kp.size(3) == a.e &&
                       vp.sizes() == kp.sizes());
  auto own_c = own.to(torch::kLong).contiguous();
  TORCH_CHECK(own_c.numel() == a.n);
  a.own = own_c.data_ptr<int64_t>();
  for (int64_t r = 0; r < a.n; r++)
    TORCH_CHECK(a.own[r] >= 0 && a.own[r] < a.Tc, "position outside the slot");
  torch::Tensor cs, sn;
  if (cos.numel()) {
    cs = cos.to(torch::kFloat).reshape({a.n, a.e}).contiguous();
    sn = sin.to(torch::kFloat).reshape({a.n, a.e}).contiguous();
    a.cos = cs.data_ptr<float>(); a.sin = sn.data_ptr<float>();
  } else {
    a.cos = a.sin = nullptr;
  }
  a.qs = q.stride(0); a.ks = k.stride(0); a.vs = v.stride(0);
  a.scale = (float)scale;
  auto out = torch::empty({a.n, a.H, a.e}, kc.options());
  int64_t maxL = 0;
  for (int64_t r = 0; r < a.n; r++) maxL = std::max(maxL, a.p + a.own[r] + 1);
  const int64_t g = a.H / a.h, work = g * a.e + g * maxL;
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* kpp = a.p ? (const T*)kp.data_ptr() : nullptr;
    const T* vpp = a.p ? (const T*)vp.data_ptr() : nullptr;
    at::parallel_for(0, a.n * a.h, 1, [&](int64_t b0, int64_t b1) {
      std::vector<float> buf(work);
      for (int64_t b = b0; b < b1; b++)
        attend_row_head<T>(a, b / a.h, b % a.h, (const T*)q.data_ptr(), (const T*)k.data_ptr(),
                           (const T*)v.data_ptr(), (T*)kc.data_ptr(), (T*)vc.data_ptr(), kpp, vpp,
                           (T*)out.data_ptr(), buf.data());
    });
  };
  if (dt == torch::kFloat) run(float{}); else run(at::BFloat16{});
  return out;
}

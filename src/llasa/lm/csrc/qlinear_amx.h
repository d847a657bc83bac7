// AMX int8 tiles for llasa's 4/8-bit kernel (included by qlinear.cpp inside its namespace; it
// uses that file's Act, RB, GS and GB).
#pragma once

// AMX (Sapphire Rapids and later), for 2..16 rows at a time: one tile product per weight block
// and group replaces 8 vpdpbusd per row. Tiles: 0 = C (rows x 16 int32), 1 = A (rows x 32
// activation bytes), 2 = B (8 x 64: the group's 8 k-quads of 16 rows x 4 bytes, the same
// layout the VNNI kernels read; 4-bit codes are unpacked into it first).
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

__attribute__((target("amx-tile")))
void amx_configure(int mb) {
  TileConfig c;
  c.rows[0] = mb; c.colsb[0] = 64;
  c.rows[1] = mb; c.colsb[1] = 32;
  c.rows[2] = 8;  c.colsb[2] = 64;
  c.rows[3] = mb; c.colsb[3] = 64;
  c.rows[4] = mb; c.colsb[4] = 32;
  c.rows[5] = 8;  c.colsb[5] = 64;
  asm volatile("" : : "r"(&c) : "memory");  // GCC 12 drops the stores ldtilecfg reads
  _tile_loadconfig(&c);
}

__attribute__((target("amx-tile")))
void amx_release() { _tile_release(); }

// The group's B tile: 8-bit weights are read in place, 4-bit codes unpacked into ``buf``.
template <int BITS>
__attribute__((target("avx512f,avx512bw")))
inline const uint8_t* amx_b(const uint8_t* p, uint8_t* buf) {
  if (BITS == 8) return p;
  const __m512i lo4 = _mm512_set1_epi8(0x0F);
  for (int k = 0; k < 4; k++) {  // chunk k's low nibbles are k-quad k, its high nibbles k + 4
    const __m512i v = _mm512_loadu_si512(p + 64 * k);
    _mm512_store_si512(buf + 64 * k, _mm512_and_si512(v, lo4));
    _mm512_store_si512(buf + 256 + 64 * k, _mm512_and_si512(_mm512_srli_epi16(v, 4), lo4));
  }
  return buf;
}

// Adds a group's integer dot products c [mb][16] to the rows' float accumulators.
template <int BITS>
__attribute__((target("avx512f,avx512bw,avx512vl,fma,f16c")))
inline void amx_epilogue(const int32_t (*c)[16], const uint8_t* p, const Act& a, int m0, int mb,
                         int64_t g, __m512* acc) {
  if (BITS == 4) {
    const __m512 sc = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + 256)));
    const __m512 mn = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i*)(p + 288)));
    for (int i = 0; i < mb; i++) {
      const int64_t r = (m0 + i) * a.G + g;
      const __m512 d = _mm512_cvtepi32_ps(_mm512_load_si512(c[i]));
      acc[i] = _mm512_fmadd_ps(d, _mm512_mul_ps(sc, _mm512_set1_ps(a.s[r])), acc[i]);
      acc[i] = _mm512_fmadd_ps(mn, _mm512_set1_ps(a.sum[r]), acc[i]);
    }
  } else {
    for (int i = 0; i < mb; i++)
      acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_load_si512(c[i])),
                               _mm512_set1_ps(a.s[(m0 + i) * a.G + g]), acc[i]);
  }
}

// Two groups per step on two sets of tiles (C/A/B = 0/1/2 and 3/4/5), so one group's
// tile product overlaps the other's store and epilogue.
template <int BITS>
__attribute__((target("amx-tile,amx-int8,avx512f,avx512bw,avx512vl,fma,f16c")))
void q_amx(const uint8_t* w, const Act& a, int m0, int mb, float* y, int64_t N, int64_t row0,
           int rows) {
  alignas(64) int32_t c0[16][16], c1[16][16];
  alignas(64) uint8_t b0[512], b1[512];
  __m512 acc[16];
  for (int i = 0; i < mb; i++) acc[i] = _mm512_setzero_ps();
  const int64_t gb = BITS == 4 ? GB : 512;
  const int8_t* x = a.q + m0 * a.K;
  int64_t g = 0;
  for (; g + 1 < a.G; g += 2) {
    const uint8_t *p0 = w + g * gb, *p1 = p0 + gb;
    _tile_zero(0);
    _tile_zero(3);
    _tile_loadd(1, x + g * GS, a.K);
    _tile_loadd(4, x + (g + 1) * GS, a.K);
    _tile_loadd(2, amx_b<BITS>(p0, b0), 64);
    _tile_loadd(5, amx_b<BITS>(p1, b1), 64);
    _tile_dpbsud(0, 1, 2);  // signed activations x unsigned weights
    _tile_dpbsud(3, 4, 5);
    _tile_stored(0, c0, 64);
    _tile_stored(3, c1, 64);
    amx_epilogue<BITS>(c0, p0, a, m0, mb, g, acc);
    amx_epilogue<BITS>(c1, p1, a, m0, mb, g + 1, acc);
  }
  if (g < a.G) {
    const uint8_t* p0 = w + g * gb;
    _tile_zero(0);
    _tile_loadd(1, x + g * GS, a.K);
    _tile_loadd(2, amx_b<BITS>(p0, b0), 64);
    _tile_dpbsud(0, 1, 2);
    _tile_stored(0, c0, 64);
    amx_epilogue<BITS>(c0, p0, a, m0, mb, g, acc);
  }
  const __mmask16 mask = rows >= RB ? 0xFFFF : (__mmask16)((1u << rows) - 1);
  if (BITS == 4) {
    for (int i = 0; i < mb; i++) _mm512_mask_storeu_ps(y + (m0 + i) * N + row0, mask, acc[i]);
  } else {
    const __m512 ws = _mm512_maskz_loadu_ps(mask, a.wscale + row0);
    for (int i = 0; i < mb; i++) {
      const __m512 r = _mm512_mul_ps(_mm512_add_ps(acc[i], _mm512_set1_ps(a.corr[m0 + i])), ws);
      _mm512_mask_storeu_ps(y + (m0 + i) * N + row0, mask, r);
    }
  }
}

// The kernel may use AMX tiles only after asking Linux for their state (once per process).
bool amx_permitted() {
  static const bool ok = [] {
    constexpr long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
  }();
  return ok;
}


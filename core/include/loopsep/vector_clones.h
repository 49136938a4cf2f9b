// loopsep — LOOPSEP_VECTOR_CLONES: put before a function made of plain float loops to have it
// compiled twice, for AVX2 and for the build's baseline (x86-64: SSE2), with the version picked at load
// time by the CPU (GCC/Clang function multi-versioning, glibc ifunc). The baseline's 4-wide vectors
// left the STFT, mask and normalisation loops at about half their speed on AVX2 machines. No FMA is
// enabled, so both versions round alike. Empty where multi-versioning is not available.
#pragma once

#if defined(__x86_64__) && defined(__linux__) && (defined(__GNUC__) || defined(__clang__))
#define LOOPSEP_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LOOPSEP_VECTOR_CLONES
#endif

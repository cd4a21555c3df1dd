// Level-1 zstd CPU cost on case C's frames, one library build at a time: the library's defaults
// (ZSTD_compressCCtx, as cpp/src/codec/codecs.cpp calls it) against the same level with 1.5.7's
// pre-block splitter switched off. Session 21 used it to ask why libzstd 1.5.7 cost more CPU per
// GB than 1.5.4 in the Zarr zstd row.
//
//   cc -O2 -I$PREFIX/include benchmarks/zstd_presplit.c $PREFIX/lib/libzstd.a -o zstd_presplit
//   ./zstd_presplit FRAMES.raw MODE REPEATS
//
// FRAMES.raw: whole 8 MiB frames back to back (worker.base_frame(..., "smooth", k)).
// MODE 0: library defaults; MODE 1..6: ZSTD_c_blockSplitterLevel (1 = off; needs zstd >= 1.5.7).
// Prints the best thread-CPU seconds per GB over REPEATS passes and the compression ratio.
#define ZSTD_STATIC_LINKING_ONLY
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <zstd.h>

static double thread_cpu_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s FRAMES.raw MODE REPEATS\n", argv[0]);
    return 2;
  }
  const int mode = atoi(argv[2]);
  const int repeats = atoi(argv[3]);
  FILE* f = fopen(argv[1], "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) return 1;
  const long size = ftell(f);
  const size_t frame = (size_t)8 << 20;
  const size_t nframes = (size_t)size / frame;
  if (size <= 0 || nframes == 0 || fseek(f, 0, SEEK_SET) != 0) return 1;
  char* src = malloc(nframes * frame);
  if (!src || fread(src, 1, nframes * frame, f) != nframes * frame) return 1;
  fclose(f);
  const size_t capacity = ZSTD_compressBound(frame);
  char* dst = malloc(capacity);
  ZSTD_CCtx* ctx = ZSTD_createCCtx();
  if (mode != 0) {
#ifdef ZSTD_c_blockSplitterLevel
    ZSTD_CCtx_setParameter(ctx, ZSTD_c_compressionLevel, 1);
    if (ZSTD_isError(ZSTD_CCtx_setParameter(ctx, ZSTD_c_blockSplitterLevel, mode))) return 2;
#else
    fprintf(stderr, "zstd %s has no pre-block splitter\n", ZSTD_versionString());
    return 2;
#endif
  }
  double best = 1e30;
  size_t compressed = 0;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = thread_cpu_s();
    compressed = 0;
    for (size_t i = 0; i < nframes; ++i) {
      const size_t n = mode != 0 ? ZSTD_compress2(ctx, dst, capacity, src + i * frame, frame)
                                 : ZSTD_compressCCtx(ctx, dst, capacity, src + i * frame, frame, 1);
      if (ZSTD_isError(n)) return 3;
      compressed += n;
    }
    const double t = thread_cpu_s() - t0;
    if (t < best) best = t;
  }
  const double gb = (double)(nframes * frame) / 1e9;
  printf("zstd %s mode %d: %.3f CPU s/GB (best of %d), ratio %.3f\n", ZSTD_versionString(), mode,
         best / gb, repeats, (double)(nframes * frame) / (double)compressed);
  ZSTD_freeCCtx(ctx);
  free(dst);
  free(src);
  return 0;
}

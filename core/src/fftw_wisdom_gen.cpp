// Build-time helper: measures the fastest FFTW plans for the STFT sizes loopsep uses and prints them
// as FFTW wisdom in a C++ header (fftw_wisdom.inc), which Stft imports. FFTW_MEASURE plans ran the
// 2048-point r2c + c2r pair 1.5× faster than FFTW_ESTIMATE on the 2-core build machine (2.7 vs 4.2 µs)
// but take about 0.5 s to find, too long for every run; the build finds them once, on the machine
// that will run them. The buffers are allocated exactly as Stft allocates its own, since FFTW wisdom
// is specific to alignment and placement.
#include <fftw3.h>

#include <cstdio>
#include <cstdlib>
#include <initializer_list>

int main() {
    for (int n : {1024, 2048, 4096}) {
        float* time = fftwf_alloc_real(std::size_t(n));
        fftwf_complex* freq = fftwf_alloc_complex(std::size_t(n / 2 + 1));
        fftwf_plan forward = fftwf_plan_dft_r2c_1d(n, time, freq, FFTW_MEASURE);
        fftwf_plan inverse = fftwf_plan_dft_c2r_1d(n, freq, time, FFTW_MEASURE);
        // Stft::forward_pair / inverse_pair: complex n-point transforms, out of place.
        fftwf_complex* pair_freq = fftwf_alloc_complex(std::size_t(n));
        fftwf_complex* pair_time = fftwf_alloc_complex(std::size_t(n));
        fftwf_plan forward_pair = fftwf_plan_dft_1d(n, pair_time, pair_freq, FFTW_FORWARD, FFTW_MEASURE);
        fftwf_plan inverse_pair = fftwf_plan_dft_1d(n, pair_freq, pair_time, FFTW_BACKWARD, FFTW_MEASURE);
        fftwf_destroy_plan(forward);
        fftwf_destroy_plan(inverse);
        fftwf_destroy_plan(forward_pair);
        fftwf_destroy_plan(inverse_pair);
        fftwf_free(time);
        fftwf_free(freq);
        fftwf_free(pair_freq);
        fftwf_free(pair_time);
    }
    char* wisdom = fftwf_export_wisdom_to_string();
    if (!wisdom) return 1;
    std::printf("// Generated at build time by loopsep_fftw_wisdom (FFTW_MEASURE on the build machine).\n");
    std::printf("static const char kFftwWisdom[] = R\"fftw(%s)fftw\";\n", wisdom);
    std::free(wisdom);
    return 0;
}

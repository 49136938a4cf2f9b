// Training-time augmentation (see augment.h).
#include "augment.h"

#include <cmath>

namespace loopsep::augment {

EqCurve random_eq_curve(std::mt19937_64& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f), phase(0.0f, float(2.0 * M_PI));
    EqCurve c;
    c.tilt = u(rng);
    c.a1 = u(rng);
    c.phi1 = phase(rng);
    c.a2 = u(rng);
    c.phi2 = phase(rng);
    return c;
}

torch::Tensor eq_gains(const std::vector<EqCurve>& curves, double max_db, int64_t n_fft, int sample_rate_hz) {
    const int64_t bins = n_fft / 2 + 1, n = int64_t(curves.size());
    const double f_lo = 30.0, nyquist = 0.5 * sample_rate_hz;
    std::vector<float> out(n * bins);
    for (int64_t k = 0; k < bins; ++k) {
        const double f = double(k) * sample_rate_hz / double(n_fft);
        const double x = f <= f_lo ? 0.0 : std::log(f / f_lo) / std::log(nyquist / f_lo);   // 0 … 1
        for (int64_t i = 0; i < n; ++i) {
            const auto& c = curves[i];
            const double db = max_db / 3.0 *
                              (c.tilt * (2.0 * x - 1.0) + c.a1 * std::sin(M_PI * x + c.phi1) +
                               c.a2 * std::sin(2.0 * M_PI * x + c.phi2));
            out[i * bins + k] = float(std::pow(10.0, db / 20.0));
        }
    }
    return torch::from_blob(out.data(), {n, bins}, torch::kFloat32).clone();
}

torch::Tensor resample(const torch::Tensor& x, const std::vector<float>& ratio) {
    const int64_t N = x.size(0), L = x.size(1);
    const double centre = 0.5 * double(L - 1);
    if (x.device().is_cpu()) {
        // One pass per row: the tensor form below makes a dozen [N, L] temporaries (0.25 s a step).
        auto in = x.contiguous();
        auto out = torch::zeros_like(in);
        const float* src = in.data_ptr<float>();
        float* dst = out.data_ptr<float>();
        for (int64_t n = 0; n < N; ++n) {
            const double r = ratio[n];
            const float* s = src + n * L;
            float* d = dst + n * L;
            for (int64_t i = 0; i < L; ++i) {
                const double pos = (double(i) - centre) * r + centre;
                const int64_t i0 = int64_t(std::floor(pos));
                const float frac = float(pos - double(i0));
                const float a = (i0 >= 0 && i0 < L) ? s[i0] : 0.0f;
                const float b = (i0 + 1 >= 0 && i0 + 1 < L) ? s[i0 + 1] : 0.0f;
                d[i] = a + (b - a) * frac;
            }
        }
        return out;
    }
    return resample_tensor_ops(x, ratio);
}

torch::Tensor resample_tensor_ops(const torch::Tensor& x, const std::vector<float>& ratio) {
    const int64_t N = x.size(0), L = x.size(1);
    const double centre = 0.5 * double(L - 1);
    const auto dev = x.device();
    // Positions in double: in float a read position near 50 000 is off by up to 0.004 samples.
    auto r = torch::from_blob(const_cast<float*>(ratio.data()), {N, 1}, torch::kFloat32).to(torch::kFloat64).to(dev);
    auto i = torch::arange(L, torch::TensorOptions().dtype(torch::kFloat64).device(dev)).unsqueeze(0);
    auto pos = (i - centre) * r + centre;
    auto i0 = torch::floor(pos);
    auto frac = (pos - i0).to(torch::kFloat32);
    auto i0l = i0.to(torch::kInt64), i1l = i0l + 1;
    auto in0 = (i0l >= 0).logical_and(i0l < L).to(torch::kFloat32);
    auto in1 = (i1l >= 0).logical_and(i1l < L).to(torch::kFloat32);
    auto a = x.gather(1, i0l.clamp(0, L - 1)) * in0, b = x.gather(1, i1l.clamp(0, L - 1)) * in1;
    return a + (b - a) * frac;
}

}  // namespace loopsep::augment

// The Separator (loopsep/model.h): loaded weights, windows run in parallel chunks, band masks and
// their expansion to bins (BandToBin), the process-wide thread settings.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>

#include <dlfcn.h>
#include <malloc.h>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/parallel.h"
#include "loopsep/shipped_files.h"
#include "loopsep/vector_clones.h"
#include "net.h"

namespace loopsep {

namespace {
std::atomic<int> g_inference_threads{1};  // set_torch_threads()
}  // namespace

struct Separator::Impl {
    ModelConfig config;
    net::LoopSepNet net{nullptr};
    BandToBin band_to_bin;
    // The band → bin map by bin, in the net's own summation order (by band within a bin), so that the
    // expansion gives the same sums as LoopSepNetImpl::mask_from.
    void index_band_to_bin() {
        const int64_t* bands = net->fs_bands.data_ptr<int64_t>();
        const int64_t* bins = net->fs_bins.data_ptr<int64_t>();
        const float* w = net->fs_weights.data_ptr<float>();
        const int64_t entries = net->fs_weights.numel();
        std::vector<int64_t> order(std::size_t(entries), 0);
        for (int64_t j = 0; j < entries; ++j) order[std::size_t(j)] = j;
        std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return bins[a] < bins[b]; });
        std::vector<int> bin_start(std::size_t(config.num_bins()) + 1, 0), band_of;
        std::vector<float> weight;
        for (int64_t j : order) {
            ++bin_start[std::size_t(bins[j]) + 1];
            band_of.push_back(int(bands[j]));
            weight.push_back(w[j]);
        }
        for (std::size_t k = 1; k < bin_start.size(); ++k) bin_start[k] += bin_start[k - 1];
        band_to_bin = BandToBin(std::move(bin_start), std::move(band_of), std::move(weight), config.num_bands);
    }
};

Separator::Separator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Separator::~Separator() = default;

std::shared_ptr<const Separator> Separator::load(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    try {
        impl->net = net::load_net(path, &impl->config);
        impl->index_band_to_bin();
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw input_error(path + ": cannot load model (" + std::string(e.what()).substr(0, 200) + ")");
    }
    return std::make_shared<const Separator>(std::move(impl));
}

const ModelConfig& Separator::config() const { return impl_->config; }
int Separator::embedding_size() const { return impl_->config.query_vector_size(); }

std::int64_t Separator::num_parameters() const {
    std::int64_t n = 0;
    for (const auto& p : impl_->net->parameters()) n += p.numel();
    return n;
}

std::vector<float> Separator::embed_query(const Audio& loop) const {
    const auto& c = impl_->config;
    if (loop.num_channels() < 1 || loop.frames() == 0) throw input_error("query loop is empty");
    if (loop.sample_rate_hz != c.sample_rate_hz)
        throw usage_error("query loop must be at " + std::to_string(c.sample_rate_hz) + " Hz");
    // One bar at the reference tempo (a 1 % tolerance for stretch rounding).
    if (double(loop.frames()) < 0.99 * double(c.segment_samples()))
        throw input_error("query loop is shorter than one bar (4 beats) at the reference tempo");
    std::vector<float> mid(loop.frames(), 0.0f);
    for (int ch = 0; ch < loop.num_channels(); ++ch)
        for (std::size_t i = 0; i < mid.size(); ++i) mid[i] += loop.channels[ch][i] / float(loop.num_channels());
    torch::NoGradGuard g;
    auto wave = torch::from_blob(mid.data(), {1, int64_t(mid.size())}, torch::kFloat32);
    auto emb = impl_->net->embed(net::stft_magnitude(wave, c)).contiguous();
    return std::vector<float>(emb.data_ptr<float>(), emb.data_ptr<float>() + emb.numel());
}

std::vector<float> Separator::embed_query_magnitudes(const std::vector<float>& mag) const {
    const auto& c = impl_->config;
    const std::size_t bins = std::size_t(c.num_bins());
    if (mag.empty() || mag.size() % bins != 0)
        throw usage_error("embed_query_magnitudes: " + std::to_string(mag.size()) + " values are not whole frames of " +
                          std::to_string(bins) + " bins");
    torch::NoGradGuard g;
    const auto in = torch::from_blob(const_cast<float*>(mag.data()), {1, int64_t(mag.size() / bins), int64_t(bins)},
                                     torch::kFloat32).clamp_min(0.0f);
    auto emb = impl_->net->embed(in).contiguous();
    return std::vector<float>(emb.data_ptr<float>(), emb.data_ptr<float>() + emb.numel());
}

std::vector<float> Separator::prototype(const std::vector<std::vector<float>>& embeddings) {
    if (embeddings.empty()) throw usage_error("prototype: no embeddings");
    std::vector<float> mean(embeddings[0].size(), 0.0f);
    for (const auto& e : embeddings) {
        if (e.size() != mean.size()) throw usage_error("prototype: embeddings differ in size");
        for (std::size_t i = 0; i < e.size(); ++i) mean[i] += e[i] / float(embeddings.size());
    }
    return mean;
}

std::vector<std::vector<float>> Separator::predict_masks(const std::vector<std::vector<float>>& mix,
                                                         const std::vector<float>& embedding) const {
    return std::move(predict_masks_for_queries(mix, {embedding})[0]);
}

bool Separator::uses_repetition() const { return impl_->config.repetition_neighbours > 0; }

RepetitionGeometry repetition_geometry(const ModelConfig& c) {
    RepetitionGeometry g;
    g.frames = c.window_frames();
    g.bands = c.num_bands;
    g.centre_begin_frames = c.context_frames;
    g.centre_frames = c.segment_frames;
    g.neighbours = std::max(1, c.repetition_neighbours);
    return g;
}

RepetitionGeometry Separator::repetition_geometry() const { return loopsep::repetition_geometry(impl_->config); }

std::vector<float> Separator::window_bands(const std::vector<float>& mag) const {
    const auto& c = impl_->config;
    if (mag.size() != std::size_t(c.window_frames()) * c.num_bins())
        throw usage_error("window_bands: a window has " + std::to_string(mag.size()) + " values, expected " +
                          std::to_string(c.window_frames()) + " frames × " + std::to_string(c.num_bins()) + " bins");
    // The net's own filterbank (what the trainer's templates are made with), on the clamped magnitudes.
    torch::NoGradGuard g;
    const auto in = torch::from_blob(const_cast<float*>(mag.data()), {1, c.window_frames(), c.num_bins()},
                                     torch::kFloat32).clamp_min(0.0f);
    const auto bands = impl_->net->band_magnitudes(in).contiguous();
    return std::vector<float>(bands.data_ptr<float>(), bands.data_ptr<float>() + bands.numel());
}

std::vector<std::vector<std::vector<float>>> Separator::predict_band_masks_for_queries(
    const std::vector<std::vector<float>>& mix, const std::vector<std::vector<float>>& embeddings,
    const std::vector<std::vector<float>>* repetition, std::vector<std::vector<std::vector<float>>>* bin_logits) const {
    const auto& c = impl_->config;
    const std::size_t per_bin_logits = std::size_t(c.window_frames()) * c.num_bins();
    const std::size_t per = std::size_t(c.window_frames()) * c.num_bins();
    const std::size_t per_band = std::size_t(c.window_frames()) * c.num_bands;
    if (embeddings.empty()) throw usage_error("predict_masks: no query embedding");
    for (const auto& e : embeddings)
        if (e.size() != std::size_t(c.query_vector_size()))
            throw usage_error("predict_masks: embedding has " + std::to_string(e.size()) + " values, the model uses " +
                              std::to_string(c.query_vector_size()));
    for (const auto& m : mix)
        if (m.size() != per)
            throw usage_error("predict_masks: a window has " + std::to_string(m.size()) + " values, expected " +
                              std::to_string(c.window_frames()) + " frames × " + std::to_string(c.num_bins()) + " bins");
    if (repetition && !uses_repetition()) repetition = nullptr;  // a model without the input ignores it
    if (repetition) {
        if (repetition->size() != mix.size())
            throw usage_error("predict_masks: " + std::to_string(repetition->size()) + " repetition templates for " +
                              std::to_string(mix.size()) + " windows");
        for (const auto& r : *repetition)
            if (r.size() != per_band)
                throw usage_error("predict_masks: a repetition template has " + std::to_string(r.size()) +
                                  " values, expected " + std::to_string(c.window_frames()) + " frames × " +
                                  std::to_string(c.num_bands) + " bands");
    }
    std::vector<std::vector<std::vector<float>>> out(embeddings.size(), std::vector<std::vector<float>>(mix.size()));
    if (bin_logits) {
        bin_logits->clear();
        if (has_bin_logits()) bin_logits->assign(embeddings.size(), std::vector<std::vector<float>>(mix.size()));
        else bin_logits = nullptr;
    }
    if (mix.empty()) return out;
    // Chunks of windows run on separate threads, each with ONE LibTorch thread (set_torch_threads): on 2
    // cores this costs half the CPU of one chunk on two OpenMP threads (bench_model: 6.6 vs 11.3 CPU-ms
    // per window for the same wall time), and nothing waits at an OpenMP barrier for a core another
    // process holds (that made a 3-minute song's model stage 10× slower on a loaded machine).
    // At most 2 windows per chunk: the smallest working set ran fastest (bench_model, 2 threads, batch 8:
    // 3.2–3.4 ms per window in chunks of 2 vs 3.6 ms in chunks of 4; a 3-minute song's model stage
    // 0.45 vs 0.54 s, and 4-way chunks of 8 took twice as long, mostly page faults).
    const std::size_t workers = std::min<std::size_t>(std::size_t(g_inference_threads.load()), mix.size());
    const std::size_t chunk = std::min<std::size_t>(2, (mix.size() + workers - 1) / workers);
    const std::size_t chunks = (mix.size() + chunk - 1) / chunk;
    // Each query's decoder weights once, for every chunk.
    std::vector<net::LoopSepNetImpl::QueryWeights> queries;
    {
        torch::NoGradGuard g;
        for (const auto& e : embeddings)
            queries.push_back(impl_->net->query_weights(
                torch::from_blob(const_cast<float*>(e.data()), {1, c.query_vector_size()}, torch::kFloat32)));
    }
    auto run_chunk = [&](std::size_t index) {
        torch::NoGradGuard g;  // thread-local: every worker needs its own
        const std::size_t start = index * chunk, n = std::min(chunk, mix.size() - start);
        auto batch = torch::empty({int64_t(n), c.window_frames(), c.num_bins()}, torch::kFloat32);
        for (std::size_t i = 0; i < n; ++i) {
            const auto& m = mix[start + i];
            float* dst = batch.data_ptr<float>() + i * per;
            for (std::size_t k = 0; k < per; ++k) dst[k] = std::isfinite(m[k]) ? std::max(0.0f, m[k]) : 0.0f;
        }
        torch::Tensor rep;
        if (repetition) {
            rep = torch::empty({int64_t(n), c.window_frames(), c.num_bands}, torch::kFloat32);
            for (std::size_t i = 0; i < n; ++i)
                std::copy((*repetition)[start + i].begin(), (*repetition)[start + i].end(),
                          rep.data_ptr<float>() + i * per_band);
        }
        const auto shared = impl_->net->shared_prefix(batch, rep);
        for (std::size_t q = 0; q < embeddings.size(); ++q) {
            torch::Tensor top;
            const auto band_masks = impl_->net->band_mask_for(shared, queries[q], bin_logits ? &top : nullptr).contiguous();
            const float* p = band_masks.data_ptr<float>();  // [n, T, bands]
            for (std::size_t i = 0; i < n; ++i) out[q][start + i].assign(p + i * per_band, p + (i + 1) * per_band);
            if (!bin_logits) continue;
            const auto delta = impl_->net->bin_logit_delta(top).contiguous();  // [n, T, bins]
            const float* d = delta.data_ptr<float>();
            for (std::size_t i = 0; i < n; ++i)
                (*bin_logits)[q][start + i].assign(d + i * per_bin_logits, d + (i + 1) * per_bin_logits);
        }
    };
    parallel_for(chunks, int(workers), [&](std::size_t i, std::size_t) { run_chunk(i); });
    return out;
}

std::vector<std::vector<std::vector<float>>> Separator::predict_masks_for_queries(
    const std::vector<std::vector<float>>& mix, const std::vector<std::vector<float>>& embeddings) const {
    std::vector<std::vector<std::vector<float>>> deltas;
    auto out = predict_band_masks_for_queries(mix, embeddings, nullptr, &deltas);
    parallel_for(mix.size(), g_inference_threads.load(), [&](std::size_t i, std::size_t) {
        std::vector<std::vector<float>> window(out.size());
        for (std::size_t q = 0; q < out.size(); ++q) {
            window[q] = impl_->band_to_bin.expand_rows(out[q][i]);
            if (!deltas.empty()) apply_bin_logits(window[q].data(), deltas[q][i].data(), window[q].size());
        }
        if (refines_bins()) refine_bin_masks(mix[i], window, embeddings);
        for (std::size_t q = 0; q < out.size(); ++q) out[q][i] = std::move(window[q]);
    });
    return out;
}

const BandToBin& Separator::band_to_bin() const { return impl_->band_to_bin; }

bool Separator::refines_bins() const { return impl_->config.fine_regions > 0; }

bool Separator::has_bin_logits() const { return impl_->config.bin_logits; }

namespace {
// m·e / (m·e + 1 − m) with e = exp(δ), δ held to ±60 (e stays finite in float; the mask is then within
// 1e-26 of 0 or 1 anyway); δ = 0 leaves m. Returns whether any δ was non-zero.
bool bin_logit_loop(float* __restrict m, const float* __restrict d, std::size_t n) {
    bool moved = false;
    for (std::size_t i = 0; i < n; ++i) {
        if (d[i] == 0.0f) continue;
        moved = true;
        const float mc = std::clamp(m[i], kBinLogitEps, 1.0f - kBinLogitEps);
        const float me = mc * std::exp(std::clamp(d[i], -60.0f, 60.0f));
        m[i] = me / (me + (1.0f - mc));
    }
    return moved;
}
}  // namespace

bool apply_bin_logits(float* bin_masks, const float* delta_logits, std::size_t n) {
    return bin_logit_loop(bin_masks, delta_logits, n);
}

void Separator::refine_bin_masks(const std::vector<float>& mix, std::vector<std::vector<float>>& masks,
                                 const std::vector<std::vector<float>>& queries) const {
    if (!refines_bins()) throw usage_error("refine_bin_masks: the model has no bin refinement");
    const int64_t bins = impl_->config.num_bins();
    if (mix.size() % std::size_t(bins) != 0)
        throw usage_error("refine_bin_masks: " + std::to_string(mix.size()) + " magnitudes are not whole frames of " +
                          std::to_string(bins) + " bins");
    if (masks.size() != queries.size())
        throw usage_error("refine_bin_masks: " + std::to_string(masks.size()) + " masks for " +
                          std::to_string(queries.size()) + " query vectors");
    for (const auto& m : masks)
        if (m.size() != mix.size())
            throw usage_error("refine_bin_masks: a mask of " + std::to_string(m.size()) + " values for " +
                              std::to_string(mix.size()) + " magnitudes");
    for (const auto& q : queries)
        if (q.size() != std::size_t(embedding_size()))
            throw usage_error("refine_bin_masks: query vector has " + std::to_string(q.size()) + " values, the model uses " +
                              std::to_string(embedding_size()));
    if (mix.empty() || masks.empty()) return;
    torch::NoGradGuard no_grad;
    const int64_t frames = int64_t(mix.size()) / bins, n = int64_t(masks.size());
    const auto f = torch::kFloat32;
    auto m = torch::empty({n, frames, bins}, f);
    auto q = torch::empty({n, int64_t(embedding_size())}, f);
    for (int64_t i = 0; i < n; ++i) {
        std::copy(masks[i].begin(), masks[i].end(), m[i].data_ptr<float>());
        std::copy(queries[i].begin(), queries[i].end(), q[i].data_ptr<float>());
    }
    // One call: the mixture's features [1, T, bins] broadcast over the targets.
    const auto x = torch::from_blob(const_cast<float*>(mix.data()), {1, frames, bins}, f);
    const auto refined = impl_->net->refine(x, m, impl_->net->split_query(q).first).contiguous();
    for (int64_t i = 0; i < n; ++i) std::copy_n(refined[i].data_ptr<float>(), masks[i].size(), masks[i].begin());
}

BandToBin::BandToBin(std::vector<int> bin_start, std::vector<int> band_of, std::vector<float> weight, int bands)
    : bin_start_(std::move(bin_start)), band_of_(std::move(band_of)), weight_(std::move(weight)), bands_(bands) {
    if (bin_start_.size() < 2 || band_of_.size() != weight_.size() || std::size_t(bin_start_.back()) != weight_.size())
        throw usage_error("BandToBin: inconsistent map");
    for (int b : band_of_)
        if (b < 0 || b >= bands_) throw usage_error("BandToBin: band index out of range");
    // Two-band form of each bin where it has one: w_lo·band[lo] + w_hi·band[lo + 1], summed in the CSR
    // order (a lone entry gets a zero partner), so the sums are the CSR's own for finite band values.
    const int bins = num_bins();
    w_lo_.assign(std::size_t(bins), 0.0f);
    w_hi_.assign(std::size_t(bins), 0.0f);
    for (int k = 0; k < bins; ++k) {
        const int j = bin_start_[k], n = bin_start_[k + 1] - j;
        int lo = -1;
        if (n == 1 && band_of_[j] + 1 < bands_) {
            lo = band_of_[j];
            w_lo_[k] = weight_[j];
        } else if (n == 1 && band_of_[j] > 0) {
            lo = band_of_[j] - 1;
            w_hi_[k] = weight_[j];
        } else if (n == 2 && band_of_[j + 1] == band_of_[j] + 1) {
            lo = band_of_[j];
            w_lo_[k] = weight_[j];
            w_hi_[k] = weight_[j + 1];
        }
        if (!runs_.empty() && runs_.back().lo == lo && runs_.back().end_bin == k) ++runs_.back().end_bin;
        else runs_.push_back({k, k + 1, lo});
    }
}

namespace {
// out[k] = clamp(w_lo[k]·a + w_hi[k]·b, 0, 1): a two-band run (vectorised; also built for AVX2).
LOOPSEP_VECTOR_CLONES void two_band_run(const float* __restrict w_lo, const float* __restrict w_hi, float a, float b,
                                        float* __restrict out, int n) {
    for (int k = 0; k < n; ++k) out[k] = std::clamp(w_lo[k] * a + w_hi[k] * b, 0.0f, 1.0f);
}
}  // namespace

void BandToBin::expand(const float* band_row, float* bin_row) const {
    const int* start = bin_start_.data();
    const int* band = band_of_.data();
    const float* w = weight_.data();
    const float* w_lo = w_lo_.data();
    const float* w_hi = w_hi_.data();
    for (const Run& r : runs_) {
        if (r.lo >= 0) {  // two scalars, two weight streams
            two_band_run(w_lo + r.first_bin, w_hi + r.first_bin, band_row[r.lo], band_row[r.lo + 1], bin_row + r.first_bin,
                         r.end_bin - r.first_bin);
            continue;
        }
        for (int k = r.first_bin; k < r.end_bin; ++k) {
            float sum = 0.0f;
            for (int j = start[k]; j < start[k + 1]; ++j) sum += w[j] * band_row[band[j]];
            bin_row[k] = std::clamp(sum, 0.0f, 1.0f);
        }
    }
}

std::vector<float> BandToBin::expand_rows(const std::vector<float>& band_rows) const {
    if (bands_ <= 0 || band_rows.size() % std::size_t(bands_) != 0)
        throw usage_error("BandToBin: " + std::to_string(band_rows.size()) + " values is not whole rows of " +
                          std::to_string(bands_) + " bands");
    const std::size_t rows = band_rows.size() / std::size_t(bands_);
    const std::size_t bands = std::size_t(bands_), bins = std::size_t(num_bins());
    std::vector<float> out(rows * bins);
    for (std::size_t r = 0; r < rows; ++r) expand(band_rows.data() + r * bands, out.data() + r * bins);
    return out;
}

void set_torch_threads(int threads) {
    if (threads < 1) throw usage_error("--threads must be ≥ 1");
    // Every forward pass allocates and frees activations of a few MB. glibc serves blocks above its
    // (adaptive) mmap threshold with mmap/munmap, so each call page-faulted its memory in again:
    // measured 1.5 s of system time on a 3-minute song and 2–4× slower, erratic batches (bench_model).
    // Serving them from the heap and not trimming it after every free removes that; buffers ≥ 32 MB
    // (the decoded song, the stems) are still mapped and returned individually.
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
    // Inference parallelises over windows (predict_masks_for_queries), one LibTorch thread each.
    g_inference_threads = threads;
    at::set_num_threads(1);
    // OpenBLAS (Debian's libblas.so.3 when libopenblas0-pthread is installed) keeps its own pool of
    // threads that spin in sched_yield between calls: 26 000 calls and 0.8 s of system time on a
    // 3-minute song. LibTorch does not tell it the thread count; we do, if it is the BLAS loaded.
    using SetThreads = void (*)(int);
    if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set_blas(1);
    try {
        at::set_num_interop_threads(1);
    } catch (...) {  // only settable once per process, before any parallel work
    }
}

std::string default_model_path() {
    if (const char* env = std::getenv("LOOPSEP_MODEL"); env && *env) return env;
#ifdef LOOPSEP_SOURCE_DIR
    return shipped_path(kShippedModelFile, LOOPSEP_SOURCE_DIR);  // installed: <prefix>/share/loopsep/models/...
#else
    return shipped_path(kShippedModelFile, "");
#endif
}

void write_untrained_model(const std::string& path, const ModelConfig& config, std::uint64_t seed) {
    auto net = net::make_net(config, seed);
    write_safetensors(path, net::to_safetensors(net, config));
}

}  // namespace loopsep

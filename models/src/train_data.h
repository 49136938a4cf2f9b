// INTERNAL (LibTorch): the training data as the trainer sees it — the segment cache on the device, its
// index by instrument and bar, a batch of examples — and what the song's other bars give an example: the
// repetition context (for a net with a repetition input: ModelConfig::repetition_neighbours) and same-song
// queries (TrainParams::self_query_fraction). For the trainer (trainer.cpp, train_batch.cpp, train_context.cpp,
// validation.cpp) and its tests.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "augment.h"
#include "loopsep/train.h"
#include "net.h"

namespace loopsep::train_data {

constexpr int kSlots = 6;  // per example: target + up to 5 accompaniment stems

inline torch::Tensor mulaw_lut(torch::Device dev) {
    std::vector<float> t(256);
    for (int c = 0; c < 256; ++c) {
        const double y = c / 127.5 - 1.0;
        t[c] = float((y < 0 ? -1.0 : 1.0) * (std::pow(256.0, std::abs(y)) - 1.0) / 255.0);
    }
    return torch::from_blob(t.data(), {256}, torch::kFloat32).clone().to(dev);
}

// The cache, on the device.
struct DeviceCache {
    torch::Tensor codes;   // [S, L] uint8
    torch::Tensor scales;  // [S]
    torch::Tensor lut;     // [256]
    DeviceCache(const SegmentCache& c, torch::Device dev) {
        const int64_t S = int64_t(c.segments.size()), L = c.window_samples;
        auto host = torch::empty({S, L}, torch::kUInt8);
        std::vector<float> sc(S);
        for (int64_t i = 0; i < S; ++i) {
            std::memcpy(host.data_ptr<std::uint8_t>() + i * L, c.segments[i].codes.data(), L);
            sc[i] = c.segments[i].scale;
        }
        codes = host.to(dev);
        scales = torch::from_blob(sc.data(), {S}, torch::kFloat32).clone().to(dev);
        lut = mulaw_lut(dev);
    }
    // Σ_j gain[b,j] · segment(idx[b,j]) → [B, L]; idx < 0 contributes nothing.
    torch::Tensor mix(const std::vector<int64_t>& idx, const std::vector<float>& gain, int64_t B, int64_t J) const {
        return codes.device().is_cpu() ? mix_cpu(idx, gain, B, J) : mix_tensors(idx, gain, B, J);
    }
    // The same with tensor operations, on any device.
    torch::Tensor mix_tensors(const std::vector<int64_t>& idx, const std::vector<float>& gain, int64_t B, int64_t J) const {
        auto dev = codes.device();
        auto i = torch::from_blob(const_cast<int64_t*>(idx.data()), {B * J}, torch::kInt64).clone().to(dev);
        auto g = torch::from_blob(const_cast<float*>(gain.data()), {B * J}, torch::kFloat32).clone().to(dev);
        g = g * (i >= 0).to(torch::kFloat32);
        i = i.clamp_min(0);
        auto w = lut.index({codes.index_select(0, i).to(torch::kInt64)}) * (scales.index_select(0, i) * g).unsqueeze(1);
        return w.view({B, J, -1}).sum(1);
    }

private:
    // The same sum in one pass per stem: mix_tensors decodes every slot, empty ones included, to int64
    // indices and then to floats before it sums, and was an eighth of a CPU training step. The products
    // and the order of the sum are mix_tensors', so the two give the same floats.
    torch::Tensor mix_cpu(const std::vector<int64_t>& idx, const std::vector<float>& gain, int64_t B, int64_t J) const {
        const int64_t L = codes.size(1);
        auto out = torch::zeros({B, L}, torch::kFloat32);
        const std::uint8_t* code = codes.data_ptr<std::uint8_t>();
        const float* scale = scales.data_ptr<float>();
        const float* table = lut.data_ptr<float>();
        float* o = out.data_ptr<float>();
        at::parallel_for(0, B, 1, [&](int64_t b0, int64_t b1) {
            for (int64_t b = b0; b < b1; ++b)
                for (int64_t j = 0; j < J; ++j) {
                    const int64_t s = idx[b * J + j];
                    if (s < 0) continue;
                    const float k = scale[s] * gain[b * J + j];
                    const std::uint8_t* c = code + s * L;
                    float* row = o + b * L;
                    for (int64_t t = 0; t < L; ++t) row[t] += table[c[t]] * k;
                }
        });
        return out;
    }
};

struct Index {
    std::vector<std::vector<int64_t>> active;            // per instrument: active segments
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<int64_t>> bars;  // (song, bar) → segments
    std::vector<std::pair<std::uint32_t, std::uint32_t>> bar_keys;
    std::vector<int> usable;                             // instruments with active segments in ≥ 2 songs
    std::map<std::uint32_t, std::vector<std::uint32_t>> song_bars;  // song → its bars in the cache, ascending
    explicit Index(const SegmentCache& c, const std::vector<std::string>& accompaniment_only = {"other"})
        : active(c.instruments.size()) {
        std::vector<std::set<std::uint32_t>> songs(c.instruments.size());
        for (std::size_t i = 0; i < c.segments.size(); ++i) {
            const auto& s = c.segments[i];
            if (s.active) { active[s.instrument].push_back(int64_t(i)); songs[s.instrument].insert(s.song); }
            bars[{s.song, s.bar}].push_back(int64_t(i));
        }
        for (const auto& kv : bars) { bar_keys.push_back(kv.first); song_bars[kv.first.first].push_back(kv.first.second); }
        for (std::size_t k = 0; k < songs.size(); ++k)
            if (songs[k].size() >= 2 && std::find(accompaniment_only.begin(), accompaniment_only.end(),
                                                  c.instruments[k]) == accompaniment_only.end())
                usable.push_back(int(k));
    }
};

struct Batch {
    torch::Tensor mix, target, query;  // waveforms [B, L]
    // Random EQ (TrainParams::augment_eq_db; empty: none), one curve per example for the target, the
    // rest of the mixture and the query, applied to their spectra in loss_fn.
    std::vector<augment::EqCurve> target_eq, rest_eq, query_eq;
    // Per example: queried by another bar of its own song (add_self_queries; empty: none is). Such a query
    // is the same recording as the target, so the augmentation gives it the example's pitch and target EQ.
    std::vector<char> self_query;
    // The repetition context (add_repetition_context; undefined without): for each example b, kContextBars
    // other bars m of the songs its stems come from, the same stems at the same gains, split as the
    // example is into its target and the rest (row b·kContextBars + m; [B·kContextBars, L]).
    torch::Tensor context_target, context_rest;
};

// Candidate bars per example: the template is the median of the repetition_neighbours most alike.
constexpr int kContextBars = 6;

// Fills out.context_* for the batch's examples, given as sample_batch draws them: kSlots stems per example
// (mix_idx, mix_gain; −1: none), the target's segment (tgt_idx; −1: silent or generic) and whether an
// example repeats its predecessor's mixture (paired: then it gets the same context bars). Each song's
// other bar is drawn from `crng` (its own stream: the examples stay the same with or without a context).
// Generic sounds (generic_target / generic_rest, [B, L] or undefined) repeat unchanged in every bar.
void add_repetition_context(Batch& out, const SegmentCache& c, const Index& ix, const DeviceCache& dc,
                            const std::vector<int64_t>& mix_idx, const std::vector<float>& mix_gain,
                            const std::vector<int64_t>& tgt_idx, const std::vector<char>& paired,
                            const torch::Tensor& generic_target, const torch::Tensor& generic_rest,
                            std::mt19937_64& crng);

// The repetition templates [B, T, bands] of a batch's mixtures (mix_mag [B, T, bins], after any EQ) from its
// context; eq_target / eq_rest [B, F] (undefined: no EQ) are the examples' own curves, so each context
// bar sounds as the example's bar does.
torch::Tensor repetition_input(net::LoopSepNet& model, const Batch& b, const torch::Tensor& mix_mag,
                               const torch::Tensor& eq_target, const torch::Tensor& eq_rest);

// Validation: the template of a bar (its stems mixed at unit gain; mix_mag [1, T, bins]) from every other
// bar of its song with the same instruments — as the engine builds it from a whole song.
torch::Tensor song_repetition_input(net::LoopSepNet& model, const SegmentCache& c, const Index& ix,
                                    const DeviceCache& dc, const std::vector<int64_t>& stems,
                                    const torch::Tensor& mix_mag);

// ---------------------------------------------------------------------------
// A batch of examples (train_batch.cpp).

// Query of `instrument` from another song, preferably another sound source.
int64_t pick_query(const SegmentCache& c, const Index& ix, int instrument, std::uint32_t song, std::uint32_t source,
                   std::mt19937_64& rng);

// `arng`: the augmentation's own stream (null: no augmentation), so the examples drawn from `rng`
// (stems, gains, queries) are the same with and without it.
// `grng`: the generic sounds' own stream (null: none, TrainParams::generic_fraction = 0); `cfg`: the
// net's window geometry, which places the generic sounds' bar (required with `grng`).
// `crng`: the repetition context's own stream (null: no context; for a net with a repetition input).
// `srng`: same-song queries' own stream (null: none, TrainParams::self_query_fraction = 0).
Batch sample_batch(const SegmentCache& c, const Index& ix, const DeviceCache& dc, const TrainParams& p,
                   std::mt19937_64& rng, std::mt19937_64* arng = nullptr, std::mt19937_64* grng = nullptr,
                   const ModelConfig* cfg = nullptr, std::mt19937_64* crng = nullptr, std::mt19937_64* srng = nullptr);

// ---------------------------------------------------------------------------
// Same-song queries (TrainParams::self_query_fraction): what `separate --passes 2` queries the net with —
// the target as heard in other bars of the song, with what a first pass leaks of the rest.

// The rest of the other bar's mixture is added this far under the target's energy (uniform in dB). A
// first pass's estimate in the bars the engine picks (where the target's share is highest) leaks the rest
// at roughly its SDR there: −25 dB is nearly the clean target (the "E" ceiling's query), −5 dB a poor
// estimate (v6's mean validation SDR is 4–5 dB).
constexpr double kSelfQueryLeakMinDb = -25.0, kSelfQueryLeakMaxDb = -5.0;

struct SelfQuery {
    int64_t target = -1;           // the instrument's segment in the other bar; −1: none (keep the foreign query)
    std::uint32_t bar = 0;         // that bar
    std::vector<int64_t> rest;     // the bar's other stems: the leakage
    double leak_db = 0;            // the rest's energy over the target's, dB
};

// A same-song query for an example of `instrument` in (song, bar): another bar of the song where the
// instrument plays (never `bar` itself), uniformly, and a leakage level in [kSelfQueryLeakMinDb,
// kSelfQueryLeakMaxDb], both from `srng`. No other such bar: target −1 (the level is then not drawn).
SelfQuery pick_self_query(const SegmentCache& c, const Index& ix, std::uint32_t song, std::uint32_t bar, int instrument,
                          std::mt19937_64& srng);

// The queries' waveforms [N, L]: each pick's target at `gain`, plus its rest scaled to leak_db under the
// target's energy (nothing where the rest is silent). Picks with target −1 give zero rows.
torch::Tensor self_query_audio(const DeviceCache& dc, const std::vector<SelfQuery>& picks, const std::vector<float>& gain);

// Validation: for each window (its stems, its instrument) the segment of its instrument in another bar of
// its song where it plays, −1 if none — chosen from its own stream seeded by `seed`, so the foreign
// validation set is unchanged.
std::vector<int64_t> val_self_queries(const SegmentCache& c, const std::vector<std::vector<int64_t>>& stems,
                                      const std::vector<int>& instruments, std::uint64_t seed);

}  // namespace loopsep::train_data

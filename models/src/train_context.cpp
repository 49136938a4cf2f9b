// What the song's other bars give training and validation examples (train_data.h): the repetition context
// (the same stems in other bars of their songs, and the templates made from them with loopsep/repetition.h,
// as the engine makes them) and same-song queries.
#include <algorithm>
#include <cmath>

#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/repetition.h"
#include "train_data.h"

namespace loopsep::train_data {

namespace {

// The segment of `instrument` in (song, bar), −1 when the song has none there.
int64_t segment_at(const SegmentCache& c, const Index& ix, std::uint32_t song, std::uint32_t bar, int instrument) {
    const auto it = ix.bars.find({song, bar});
    if (it == ix.bars.end()) return -1;
    for (int64_t o : it->second)
        if (int(c.segments[o].instrument) == instrument) return o;
    return -1;
}

// Band magnitudes [N, T, bands] (CPU, contiguous) of complex spectra [N, F, T].
torch::Tensor bands_of(net::LoopSepNet& model, const torch::Tensor& spec) {
    return model->band_magnitudes(spec.abs().transpose(1, 2).contiguous()).to(torch::kCPU).contiguous();
}

// The bars of `song` other than `bar` where `instrument` has an active segment, ascending.
std::vector<std::uint32_t> other_active_bars(const SegmentCache& c, const Index& ix, std::uint32_t song,
                                             std::uint32_t bar, int instrument) {
    std::vector<std::uint32_t> out;
    const auto it = ix.song_bars.find(song);
    if (it == ix.song_bars.end()) return out;
    for (std::uint32_t b : it->second) {
        if (b == bar) continue;
        const int64_t o = segment_at(c, ix, song, b, instrument);
        if (o >= 0 && c.segments[o].active) out.push_back(b);
    }
    return out;
}

}  // namespace

SelfQuery pick_self_query(const SegmentCache& c, const Index& ix, std::uint32_t song, std::uint32_t bar, int instrument,
                          std::mt19937_64& srng) {
    SelfQuery q;
    const auto bars = other_active_bars(c, ix, song, bar, instrument);
    if (bars.empty()) return q;
    q.bar = bars[srng() % bars.size()];
    q.target = segment_at(c, ix, song, q.bar, instrument);
    for (int64_t o : ix.bars.at({song, q.bar}))
        if (o != q.target) q.rest.push_back(o);
    q.leak_db = std::uniform_real_distribution<double>(kSelfQueryLeakMinDb, kSelfQueryLeakMaxDb)(srng);
    return q;
}

torch::Tensor self_query_audio(const DeviceCache& dc, const std::vector<SelfQuery>& picks, const std::vector<float>& gain) {
    torch::NoGradGuard g;
    const int64_t N = int64_t(picks.size());
    std::size_t J = 1;
    for (const auto& q : picks) J = std::max(J, q.rest.size());
    std::vector<int64_t> t_idx(N, -1), r_idx(N * J, -1);
    std::vector<float> t_gain(N, 0.0f), r_gain(N * J, 0.0f);
    for (int64_t i = 0; i < N; ++i) {
        if (picks[i].target < 0) continue;
        t_idx[i] = picks[i].target;
        t_gain[i] = gain[i];
        for (std::size_t j = 0; j < picks[i].rest.size(); ++j) {
            r_idx[i * J + j] = picks[i].rest[j];
            r_gain[i * J + j] = gain[i];   // the bar as mixed, at the query's level
        }
    }
    const auto target = dc.mix(t_idx, t_gain, N, 1), rest = dc.mix(r_idx, r_gain, N, int64_t(J));
    std::vector<float> leak(N, 0.0f);
    for (int64_t i = 0; i < N; ++i) leak[i] = float(std::pow(10.0, picks[i].leak_db / 10.0));
    const auto ratio = torch::from_blob(leak.data(), {N}, torch::kFloat32).clone().to(target.device());
    // Scale the rest so that its energy is `ratio` times the target's (0 where either is silent).
    const auto e_t = target.square().sum(1), e_r = rest.square().sum(1);
    const auto scale = torch::where(e_r > 1e-12, (e_t * ratio / e_r.clamp_min(1e-12)).sqrt(), torch::zeros_like(e_r));
    return target + rest * scale.unsqueeze(1);
}

std::vector<int64_t> val_self_queries(const SegmentCache& c, const std::vector<std::vector<int64_t>>& stems,
                                      const std::vector<int>& instruments, std::uint64_t seed) {
    const Index ix(c);
    std::mt19937_64 rng(seed * 6364136223846793005ULL + 1442695040888963407ULL);
    std::vector<int64_t> out(stems.size(), -1);
    for (std::size_t i = 0; i < stems.size(); ++i) {
        if (stems[i].empty()) continue;
        const auto& s = c.segments[stems[i][0]];
        const auto bars = other_active_bars(c, ix, s.song, s.bar, instruments[i]);
        if (!bars.empty()) out[i] = segment_at(c, ix, s.song, bars[rng() % bars.size()], instruments[i]);
    }
    return out;
}

void add_repetition_context(Batch& out, const SegmentCache& c, const Index& ix, const DeviceCache& dc,
                            const std::vector<int64_t>& mix_idx, const std::vector<float>& mix_gain,
                            const std::vector<int64_t>& tgt_idx, const std::vector<char>& paired,
                            const torch::Tensor& generic_target, const torch::Tensor& generic_rest,
                            std::mt19937_64& crng) {
    const int64_t B = int64_t(tgt_idx.size()), M = kContextBars;
    // chosen[b][m]: each of the example's songs → the other bar that stands for it in context bar m.
    std::vector<std::vector<std::map<std::uint32_t, std::uint32_t>>> chosen(B, std::vector<std::map<std::uint32_t, std::uint32_t>>(M));
    std::vector<int64_t> t_idx(B * M, -1), r_idx(B * M * kSlots, -1);
    std::vector<float> t_gain(B * M, 0.0f), r_gain(B * M * kSlots, 0.0f);
    for (int64_t b = 0; b < B; ++b) {
        if (b > 0 && paired[b]) chosen[b] = chosen[b - 1];  // the same mixture: the same bars around it
        for (int64_t m = 0; m < M; ++m)
            for (int j = 0; j < kSlots; ++j) {
                const int64_t o = mix_idx[b * kSlots + j];
                if (o < 0) continue;
                const auto& seg = c.segments[o];
                auto& bar_of = chosen[b][m];
                if (!bar_of.count(seg.song)) {
                    const auto& bars = ix.song_bars.at(seg.song);
                    // Another bar of the song when it has one (a song of one bar repeats itself).
                    std::uint32_t pick = seg.bar;
                    if (bars.size() > 1)
                        do pick = bars[crng() % bars.size()]; while (pick == seg.bar);
                    bar_of[seg.song] = pick;
                }
                const int64_t other = segment_at(c, ix, seg.song, bar_of[seg.song], seg.instrument);
                if (o == tgt_idx[b]) {
                    t_idx[b * M + m] = other;
                    t_gain[b * M + m] = mix_gain[b * kSlots + j];
                } else {
                    r_idx[(b * M + m) * kSlots + j] = other;
                    r_gain[(b * M + m) * kSlots + j] = mix_gain[b * kSlots + j];
                }
            }
    }
    out.context_target = dc.mix(t_idx, t_gain, B * M, 1);
    // The rest in M chunks of B rows: decoding all B·M·kSlots stems at once would take ~0.2 GB.
    std::vector<torch::Tensor> rest;
    for (int64_t m = 0; m < M; ++m) {
        std::vector<int64_t> idx;
        std::vector<float> gain;
        for (int64_t b = 0; b < B; ++b)
            for (int j = 0; j < kSlots; ++j) {
                idx.push_back(r_idx[(b * M + m) * kSlots + j]);
                gain.push_back(r_gain[(b * M + m) * kSlots + j]);
            }
        rest.push_back(dc.mix(idx, gain, B, kSlots));
    }
    out.context_rest = torch::stack(rest, 1).reshape({B * M, -1});  // row b·M + m
    const auto dev = out.context_target.device();
    if (generic_target.defined())
        out.context_target = out.context_target + generic_target.to(dev).repeat_interleave(M, 0);
    if (generic_rest.defined()) out.context_rest = out.context_rest + generic_rest.to(dev).repeat_interleave(M, 0);
}

torch::Tensor repetition_input(net::LoopSepNet& model, const Batch& b, const torch::Tensor& mix_mag,
                               const torch::Tensor& eq_target, const torch::Tensor& eq_rest) {
    torch::NoGradGuard g;
    const auto& cfg = model->config;
    const int64_t B = mix_mag.size(0), M = kContextBars;
    if (!b.context_target.defined() || b.context_target.size(0) != B * M)
        throw usage_error("repetition input: the batch has no context (add_repetition_context)");
    auto ct = net::stft_complex(b.context_target, cfg), cr = net::stft_complex(b.context_rest, cfg);  // [B·M, F, T]
    if (eq_target.defined()) {
        ct = ct * eq_target.repeat_interleave(M, 0).unsqueeze(2);
        cr = cr * eq_rest.repeat_interleave(M, 0).unsqueeze(2);
    }
    const auto context = bands_of(model, ct + cr);                                      // [B·M, T, bands]
    const auto own = model->band_magnitudes(mix_mag).to(torch::kCPU).contiguous();      // [B, T, bands]
    const auto geo = repetition_geometry(cfg);
    const int64_t per = int64_t(geo.frames) * geo.bands;
    auto out = torch::empty({B, geo.frames, geo.bands}, torch::kFloat32);
    for (int64_t i = 0; i < B; ++i) {
        std::vector<const float*> candidates;
        for (int64_t m = 0; m < M; ++m) candidates.push_back(context.data_ptr<float>() + (i * M + m) * per);
        repetition_template(own.data_ptr<float>() + i * per, candidates, geo, out.data_ptr<float>() + i * per);
    }
    return out.to(mix_mag.device());
}

torch::Tensor song_repetition_input(net::LoopSepNet& model, const SegmentCache& c, const Index& ix,
                                    const DeviceCache& dc, const std::vector<int64_t>& stems,
                                    const torch::Tensor& mix_mag) {
    torch::NoGradGuard g;
    const auto& cfg = model->config;
    const auto& first = c.segments[stems.at(0)];
    std::vector<int64_t> idx;
    int64_t bars = 0;
    for (std::uint32_t bar : ix.song_bars.at(first.song)) {
        if (bar == first.bar) continue;
        for (int64_t s : stems) idx.push_back(segment_at(c, ix, first.song, bar, c.segments[s].instrument));
        ++bars;
    }
    const auto geo = repetition_geometry(cfg);
    const auto own = model->band_magnitudes(mix_mag).to(torch::kCPU).contiguous();
    auto out = torch::empty({1, geo.frames, geo.bands}, torch::kFloat32);
    torch::Tensor context;
    std::vector<const float*> candidates;
    if (bars > 0) {
        std::vector<float> gains(idx.size(), 1.0f);
        context = bands_of(model, net::stft_complex(dc.mix(idx, gains, bars, int64_t(stems.size())), cfg));
        for (int64_t m = 0; m < bars; ++m) candidates.push_back(context.data_ptr<float>() + m * int64_t(geo.frames) * geo.bands);
    }
    repetition_template(own.data_ptr<float>(), candidates, geo, out.data_ptr<float>());
    return out.to(mix_mag.device());
}

}  // namespace loopsep::train_data

// The repetition context of training and validation examples (train_data.h): the same stems in other bars
// of their songs, and the templates made from them with loopsep/repetition.h, as the engine makes them.
#include <algorithm>

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

}  // namespace

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

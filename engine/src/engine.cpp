// The separation pipeline. See loopsep/engine.h for the flow and why masks,
// not audio, are brought back to song time.
#include "loopsep/engine.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <cmath>

#include "engine_plan.h"
#include "engine_reconstruct.h"
#include "engine_self_query.h"
#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/parallel.h"
#include "loopsep/stft.h"

namespace loopsep {

using detail::SegmentPlan;
using detail::kFadeFrames;
using detail::make_reconstructor;

Reconstruction parse_reconstruction(const std::string& name) {
    if (name == "mask") return Reconstruction::MaskWarp;
    if (name == "stretch") return Reconstruction::Stretch;
    throw usage_error("--reconstruct must be mask or stretch (got '" + name + "')");
}

GridMode parse_grid_mode(const std::string& name) {
    if (name == "beats") return GridMode::Beats;
    if (name == "fixed") return GridMode::Fixed;
    throw usage_error("--grid must be beats or fixed (got '" + name + "')");
}

InputStretch parse_input_stretch(const std::string& name) {
    if (name == "rubberband") return InputStretch::RubberBand;
    if (name == "spectral") return InputStretch::Spectral;
    throw usage_error("--input-stretch must be rubberband or spectral (got '" + name + "')");
}

void SeparationParams::validate() const {
    if (batch_segments < 1 || batch_segments > 256)
        throw usage_error("batch_segments must be in 1..256 (got " + std::to_string(batch_segments) + ")");
    if (threads < 1 || threads > 64) throw usage_error("threads must be in 1..64 (got " + std::to_string(threads) + ")");
    if (passes < 1 || passes > 2) throw usage_error("passes must be 1 or 2 (got " + std::to_string(passes) + ")");
    if (!(self_query_weight >= 0.0 && self_query_weight <= 1.0))
        throw usage_error("self_query_weight must be within 0..1 (got " + std::to_string(self_query_weight) + ")");
}

Engine::Engine(std::shared_ptr<const Separator> model, std::string model_tag)
    : model_(std::move(model)), model_tag_(std::move(model_tag)) {
    if (!model_) throw usage_error("Engine needs a loaded model");
}

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Magnitude (time-major, window_frames × bins) of the stretched mid of one window.
std::vector<float> window_magnitude(const Audio& song, const SegmentPlan& plan, const ModelConfig& cfg,
                                    const SeparationParams& params, Stft& stft) {
    const int frames = cfg.window_frames();
    // Only this window's stretch of the mid is materialised (memory stays flat with song length).
    const double first = std::floor(plan.region_start) - cfg.n_fft;
    const std::size_t span = plan.region_frames + 2 * std::size_t(cfg.n_fft) + 2;
    Spectrogram spec;
    if (params.input_stretch == InputStretch::Spectral) {
        std::vector<float> mid = detail::extract_mid_region(song, first, span);
        std::vector<long> centers(frames);
        for (int t = 0; t < frames; ++t)
            centers[t] = std::lround(plan.region_start - first + double(t) * cfg.hop * plan.song_per_ref);
        spec = stft.forward_at(mid.data(), mid.size(), centers);
    } else {
        Audio region(1, 0, cfg.sample_rate_hz);
        region.channels[0] = detail::extract_mid_region(song, plan.region_start, plan.region_frames);
        StretchParams stretch;
        stretch.engine = params.stretch_engine;
        Audio stretched = plan.region_frames == plan.window_ref_frames || region.peak() == 0.0f
                              ? region
                              : stretch_to_frames(region, plan.window_ref_frames, stretch);
        stretched.channels[0].resize(plan.window_ref_frames, 0.0f);
        spec = stft.forward(stretched.channel(0), stretched.frames());
    }
    return detail::magnitude_rows(spec, std::size_t(frames));
}

// Collects streamed outputs into full-length buffers (Engine::separate, and songs not at the model's
// rate, which are resampled back whole).
class CollectSink : public StemSink {
public:
    CollectSink(std::size_t num_outputs, int num_channels, std::size_t frames, int rate_hz) {
        for (std::size_t o = 0; o < num_outputs; ++o)  // one by one: assign(n, prototype) would copy a full stem
            outputs.emplace_back(num_channels, frames, rate_hz);
    }
    void write(std::size_t start_frame, std::size_t frames,
               const std::vector<std::vector<const float*>>& chunk) override {
        for (std::size_t o = 0; o < chunk.size(); ++o)
            for (std::size_t c = 0; c < chunk[o].size(); ++c)
                std::copy_n(chunk[o][c], frames, outputs[o].channels[c].begin() + long(start_frame));
    }
    std::vector<Audio> outputs;
};

}  // namespace

SeparationInfo Engine::separate_to(const Audio& input, const std::vector<TargetQuery>& targets,
                                   const SeparationParams& params, StemSink& sink, const ProgressFn& progress,
                                   const BeatGrid* known_grid) const {
    params.validate();
    if (targets.empty()) throw usage_error("separate: no target given");
    const ModelConfig& cfg = model_->config();
    for (const auto& t : targets)
        if (int(t.embedding.size()) != model_->embedding_size())
            throw usage_error("target '" + t.name + "': query embedding has the wrong size");
    const std::size_t num_outputs = targets.size() + (params.residual ? 1 : 0);
    if (input.sample_rate_hz != cfg.sample_rate_hz) {
        // Separate at the model's rate, then bring every output back to the song's rate and exact length.
        const Audio song = resample(input, cfg.sample_rate_hz);
        CollectSink collected(num_outputs, song.num_channels(), song.frames(), song.sample_rate_hz);
        SeparationInfo info = separate_to(song, targets, params, collected, progress);
        const auto tw = Clock::now();
        std::vector<std::vector<const float*>> outputs;
        for (Audio& a : collected.outputs) {
            a = resample(a, input.sample_rate_hz);
            for (auto& ch : a.channels) ch.resize(input.frames(), 0.0f);
            outputs.push_back(a.channel_pointers());
        }
        sink.write(0, input.frames(), outputs);
        info.times.write += seconds_since(tw);
        return info;
    }
    const Audio& song = input;
    SeparationInfo result;

    auto t0 = Clock::now();
    std::vector<Segment> segments;
    if (params.grid == GridMode::Beats) {
        BeatParams bp;
        bp.genre = params.genre;
        bp.allow_beatless = params.allow_beatless;
        bp.downbeat_offset = params.downbeat_offset;
        result.grid = known_grid ? *known_grid : track_beats(song, bp);
        segments = four_beat_segments(result.grid, song.frames(), song.sample_rate_hz);
    }
    const std::vector<SegmentPlan> plans =
        detail::plan_segments(segments, result.grid, song.frames(), song.sample_rate_hz, cfg.reference_bpm,
                              cfg.window_frames(), cfg.hop, params.grid == GridMode::Fixed, 2 * kFadeFrames);
    result.num_segments = plans.size();
    result.times.beats = seconds_since(t0);

    StretchParams stretch;
    stretch.engine = params.stretch_engine;
    detail::StemAccumulator output(targets.size(), song.num_channels(), song.frames(), params.residual);
    std::vector<std::vector<float>> embeddings;
    for (const auto& t : targets) embeddings.push_back(t.embedding);

    // Per worker: its own FFT plans and reconstructor (scratch buffers are not shared).
    std::vector<std::unique_ptr<Stft>> stfts;
    for (int i = 0; i < params.threads; ++i) stfts.push_back(std::make_unique<Stft>(StftParams{cfg.n_fft, cfg.hop}));
    // A model with a repetition input sees, beside each window, the median of the song's most alike
    // bars: a first pass keeps every window's band magnitudes (window_frames × bands floats, ~74 KB a bar,
    // a tenth of the window's magnitudes), the templates are made from them, and the main pass below
    // recomputes each window's magnitudes as before.
    std::vector<std::vector<float>> templates;
    if (model_->uses_repetition()) {
        auto ts = Clock::now();
        std::vector<std::vector<float>> bands(plans.size());
        parallel_for(plans.size(), params.threads, [&](std::size_t i, std::size_t worker) {
            bands[i] = model_->window_bands(window_magnitude(song, plans[i], cfg, params, *stfts[worker]));
        });
        result.times.stretch += seconds_since(ts);
        auto tm = Clock::now();
        templates = repetition_templates(bands, model_->repetition_geometry(), &result.repetition_segments);
        result.times.model += seconds_since(tm);
    }
    // Two passes: pass 1 over the song with the given queries picks each target's most confident bars; their
    // estimates make the queries of the pass below (engine_self_query.h). The beat grid, the plans and the
    // templates serve both passes; the windows are stretched again (holding them would grow with the song).
    std::vector<std::map<int, std::vector<float>>> leave_one_out(targets.size());
    if (params.passes == 2) {
        auto sq = detail::make_self_queries(
            *model_, plans.size(),
            [&](std::size_t w, std::size_t worker) { return window_magnitude(song, plans[w], cfg, params, *stfts[worker]); },
            embeddings, templates, params.batch_segments, params.threads, &result.times.stretch, &result.times.model);
        // The given query keeps (1 − self_query_weight) of pass 2's query, the windows' own ones too.
        const float w = float(params.self_query_weight);
        auto blend = [&](std::vector<float>& self, const std::vector<float>& given) {
            for (std::size_t i = 0; i < self.size(); ++i) self[i] = w * self[i] + (1.0f - w) * given[i];
        };
        if (w < 1.0f)
            for (std::size_t t = 0; t < targets.size(); ++t) {
                if (sq.info[t].segments.empty()) continue;
                blend(sq.embeddings[t], embeddings[t]);
                for (auto& [window, e] : sq.leave_one_out[t]) blend(e, embeddings[t]);
            }
        embeddings = std::move(sq.embeddings);
        leave_one_out = std::move(sq.leave_one_out);
        result.self_query = std::move(sq.info);
    }
    std::vector<std::unique_ptr<detail::SegmentReconstructor>> reconstructors;
    const detail::BinRefiner refiner{model_.get(), embeddings};
    for (int i = 0; i < params.threads; ++i)
        reconstructors.push_back(make_reconstructor(params.reconstruct, cfg, model_->band_to_bin(), stretch, refiner));
    for (std::size_t first = 0; first < plans.size(); first += params.batch_segments) {
        const std::size_t n = std::min<std::size_t>(params.batch_segments, plans.size() - first);
        auto ts = Clock::now();
        std::vector<std::vector<float>> mags(n);
        parallel_for(n, params.threads, [&](std::size_t i, std::size_t worker) {
            mags[i] = window_magnitude(song, plans[first + i], cfg, params, *stfts[worker]);
        });
        result.times.stretch += seconds_since(ts);

        // All targets in one call: the query-independent start of the net runs once per window.
        auto tm = Clock::now();
        std::vector<std::vector<float>> batch_templates;
        if (!templates.empty())
            for (std::size_t i = 0; i < n; ++i) batch_templates.push_back(std::move(templates[first + i]));
        std::vector<std::vector<std::vector<float>>> bin_logits;  // [target][segment], a model with per-bin logits
        auto masks = model_->predict_band_masks_for_queries(mags, embeddings,  // [target][segment], in bands
                                                             templates.empty() ? nullptr : &batch_templates, &bin_logits);
        // A window whose estimate is part of a target's self-query is queried by the other bars only.
        for (std::size_t t = 0; t < leave_one_out.size(); ++t)
            for (const auto& [w, query] : leave_one_out[t]) {
                if (std::size_t(w) < first || std::size_t(w) >= first + n) continue;
                const std::size_t i = std::size_t(w) - first;
                std::vector<std::vector<float>> one_template;
                if (!batch_templates.empty()) one_template.push_back(batch_templates[i]);
                std::vector<std::vector<std::vector<float>>> one_logits;
                auto one = model_->predict_band_masks_for_queries({mags[i]}, {query}, one_template.empty() ? nullptr : &one_template,
                                                                  bin_logits.empty() ? nullptr : &one_logits);
                masks[t][i] = std::move(one[0][0]);
                if (!bin_logits.empty()) bin_logits[t][i] = std::move(one_logits[0][0]);
            }
        mags.clear();
        result.times.model += seconds_since(tm);

        auto tr = Clock::now();
        std::vector<detail::SegmentAudio> rendered(n);
        parallel_for(n, params.threads, [&](std::size_t i, std::size_t worker) {
            std::vector<std::vector<float>> per_target, logits;
            for (auto& m : masks) per_target.push_back(std::move(m[i]));
            for (auto& l : bin_logits) logits.push_back(std::move(l[i]));
            rendered[i] = reconstructors[worker]->render(song, plans[first + i], std::move(per_target), logits);
        });
        output.add(rendered.data(), &plans[first], n, params.threads);
        result.times.reconstruct += seconds_since(tr);

        // Everything before the next segment's fade-in is final (plans are in song order).
        auto tw = Clock::now();
        const std::size_t next = first + n;
        output.flush(next < plans.size() ? plans[next].start_frame - std::min(plans[next].start_frame, kFadeFrames)
                                         : song.frames(),
                     song, sink);
        result.times.write += seconds_since(tw);
        if (progress) progress(first + n, plans.size());
    }
    auto tw = Clock::now();
    output.flush(song.frames(), song, sink);  // a song without segments: silence
    result.times.write += seconds_since(tw);
    return result;
}

SeparationResult Engine::separate(const Audio& song, const std::vector<TargetQuery>& targets,
                                  const SeparationParams& params, const ProgressFn& progress) const {
    CollectSink collected(targets.size() + (params.residual ? 1 : 0), song.num_channels(), song.frames(),
                          song.sample_rate_hz);
    SeparationResult result;
    static_cast<SeparationInfo&>(result) = separate_to(song, targets, params, collected, progress);
    if (params.residual) {
        result.residual = std::move(collected.outputs.back());
        collected.outputs.pop_back();
    }
    result.stems = std::move(collected.outputs);
    return result;
}

}  // namespace loopsep

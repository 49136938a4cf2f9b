// The trainer's examples (see train_data.h): a batch drawn from the segment cache — target, mixture
// and query — with contrastive pairs, generic sounds, same-song queries and the augmentation.
#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "augment.h"
#include "generic.h"
#include "train_data.h"

namespace loopsep::train_data {

namespace {

double db_to_gain(double db) { return std::pow(10.0, db / 20.0); }

// Draws the batch's augmentation from its own stream `arng` and resamples the waveforms. A
// contrastive pair's example keeps its predecessor's pitch, so its mixture differs only by the EQ.
void augment_batch(Batch& batch, const TrainParams& p, const std::vector<char>& paired, std::mt19937_64& arng) {
    const int64_t B = batch.mix.size(0);
    std::uniform_real_distribution<float> semis(-float(p.augment_pitch_semitones), float(p.augment_pitch_semitones));
    std::vector<float> ratio(B, 1.0f), q_ratio(B, 1.0f);
    for (int64_t b = 0; b < B; ++b) {
        ratio[b] = (b > 0 && paired[b]) ? ratio[b - 1] : std::exp2(semis(arng) / 12.0f);
        q_ratio[b] = std::exp2(semis(arng) / 12.0f);
        if (p.augment_eq_db > 0) {
            batch.target_eq.push_back(augment::random_eq_curve(arng));
            batch.rest_eq.push_back(augment::random_eq_curve(arng));
            batch.query_eq.push_back(augment::random_eq_curve(arng));
        }
        // A same-song query is the same recording as the target: its pitch and EQ (drawn above all the
        // same, so the stream stays where it would be without same-song queries).
        if (!batch.self_query.empty() && batch.self_query[b]) {
            q_ratio[b] = ratio[b];
            if (p.augment_eq_db > 0) batch.query_eq.back() = batch.target_eq.back();
        }
    }
    if (p.augment_pitch_semitones > 0) {
        batch.mix = augment::resample(batch.mix, ratio);
        batch.target = augment::resample(batch.target, ratio);
        batch.query = augment::resample(batch.query, q_ratio);
        if (batch.context_target.defined()) {  // the song's other bars move with their example
            std::vector<float> context_ratio;
            for (float r : ratio) context_ratio.insert(context_ratio.end(), kContextBars, r);
            batch.context_target = augment::resample(batch.context_target, context_ratio);
            batch.context_rest = augment::resample(batch.context_rest, context_ratio);
        }
    }
}

// Replaces the target of the examples flagged in `as_target` by a generic sound (the query: another
// rendering of it) and adds one to the mixture of those flagged in `as_distractor` (a paired example
// gets its predecessor's, as its mixture is the same). Levels relative to the rest of the mixture.
// `generic_target` / `generic_rest` (optional) receive what was added to the target and to the rest [B, L].
void add_generic_sounds(Batch& out, const std::vector<char>& as_target, const std::vector<char>& as_distractor,
                        const std::vector<char>& paired, const ModelConfig& cfg, std::mt19937_64& grng,
                        torch::Tensor* generic_target = nullptr, torch::Tensor* generic_rest = nullptr) {
    const int64_t B = out.mix.size(0), L = out.mix.size(1);
    const auto rest_rms = out.mix.pow(2).mean(1).sqrt().to(torch::kCPU).contiguous();
    const float* rms = rest_rms.data_ptr<float>();
    auto add_mix = torch::zeros({B, L}), add_tgt = torch::zeros({B, L}), gen_query = torch::zeros({B, L});
    float* mix_p = add_mix.data_ptr<float>();
    float* tgt_p = add_tgt.data_ptr<float>();
    float* query_p = gen_query.data_ptr<float>();
    std::vector<float> use_query(B, 0.0f);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    const int64_t bar_start = int64_t(cfg.context_frames) * cfg.hop, bar = int64_t(cfg.segment_frames) * cfg.hop;
    std::vector<float> buf(L);
    auto put = [&](float* dst, float gain) { for (int64_t i = 0; i < L; ++i) dst[i] = buf[i] * gain; };
    for (int64_t b = 0; b < B; ++b) {
        const double rest = std::max(double(rms[b]), 1e-3);
        if (as_target[b]) {
            const auto timbre = generic::random_timbre(grng, cfg.sample_rate_hz);
            generic::render(timbre, grng, cfg.sample_rate_hz, bar_start, bar, buf.data(), L);
            put(tgt_p + b * L, float(rest * db_to_gain(-10.0 + 14.0 * u(grng))));
            generic::render(timbre, grng, cfg.sample_rate_hz, bar_start, bar, buf.data(), L);
            put(query_p + b * L, float(0.1 * db_to_gain(-12.0 * u(grng))));
            use_query[b] = 1.0f;
        }
        if (as_distractor[b]) {
            if (b > 0 && paired[b]) {
                std::copy(mix_p + (b - 1) * L, mix_p + b * L, mix_p + b * L);   // the predecessor's (no generic target)
            } else {
                generic::render(generic::random_timbre(grng, cfg.sample_rate_hz), grng, cfg.sample_rate_hz, bar_start,
                                bar, buf.data(), L);
                put(mix_p + b * L, float(rest * db_to_gain(-12.0 * u(grng))));
            }
        }
    }
    if (generic_target) *generic_target = add_tgt.clone();
    if (generic_rest) *generic_rest = add_mix.clone();
    add_mix += add_tgt;
    const auto dev = out.mix.device();
    const auto q = torch::from_blob(use_query.data(), {B, 1}, torch::kFloat32).clone().to(dev);
    out.mix = out.mix + add_mix.to(dev);
    out.target = out.target + add_tgt.to(dev);
    out.query = out.query * (1.0f - q) + gen_query.to(dev) * q;
}

}  // namespace

// Query of `instrument` from another song, preferably another sound source.
int64_t pick_query(const SegmentCache& c, const Index& ix, int instrument, std::uint32_t song, std::uint32_t source,
                   std::mt19937_64& rng) {
    const auto& pool = ix.active[instrument];
    int64_t fallback = -1;
    for (int tries = 0; tries < 16; ++tries) {
        const int64_t q = pool[rng() % pool.size()];
        if (c.segments[q].song == song) continue;
        if (c.segments[q].source != source) return q;
        fallback = q;
    }
    if (fallback >= 0) return fallback;
    for (int64_t q : pool)
        if (c.segments[q].song != song) return q;
    return pool[rng() % pool.size()];
}

// The streams' roles: train_data.h.
Batch sample_batch(const SegmentCache& c, const Index& ix, const DeviceCache& dc, const TrainParams& p,
                   std::mt19937_64& rng, std::mt19937_64* arng, std::mt19937_64* grng,
                   const ModelConfig* cfg, std::mt19937_64* crng, std::mt19937_64* srng) {
    const int64_t B = p.batch;
    // Each example's (song, bar, instrument) for a same-song query; instrument −1: a generic target (none).
    std::vector<std::uint32_t> ex_song(B, 0), ex_bar(B, 0);
    std::vector<int> ex_inst(B, -1);
    std::vector<char> paired(B, 0), generic_target(B, 0), generic_distractor(B, 0);
    std::vector<int64_t> mix_idx(B * kSlots, -1), tgt_idx(B, -1), q_idx(B, -1);
    std::vector<float> mix_gain(B * kSlots, 0.0f), tgt_gain(B, 0.0f), q_gain(B, 1.0f);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (int64_t b = 0; b < B; ++b) {
        const bool generic = grng && u(*grng) < p.generic_fraction;
        if (grng) generic_distractor[b] = !generic && u(*grng) < p.generic_fraction;
        // Contrastive pair: the same mixture as the previous example, another of its stems as the
        // target (queried by its own instrument) — teaches the net that the query decides.
        if (!generic && b > 0 && u(rng) < p.pair_fraction && tgt_idx[b - 1] >= 0) {
            std::vector<int> cand;
            for (int j = 0; j < kSlots; ++j) {
                const int64_t o = mix_idx[(b - 1) * kSlots + j];
                if (o < 0 || o == tgt_idx[b - 1] || !c.segments[o].active) continue;
                if (std::find(ix.usable.begin(), ix.usable.end(), int(c.segments[o].instrument)) == ix.usable.end())
                    continue;
                cand.push_back(j);
            }
            if (!cand.empty()) {
                const int j = cand[rng() % cand.size()];
                for (int k = 0; k < kSlots; ++k) {
                    mix_idx[b * kSlots + k] = mix_idx[(b - 1) * kSlots + k];
                    mix_gain[b * kSlots + k] = mix_gain[(b - 1) * kSlots + k];
                }
                const auto& t = c.segments[mix_idx[b * kSlots + j]];
                tgt_idx[b] = mix_idx[b * kSlots + j];
                tgt_gain[b] = mix_gain[b * kSlots + j];
                paired[b] = 1;
                generic_distractor[b] = generic_distractor[b - 1];
                ex_song[b] = t.song; ex_bar[b] = t.bar; ex_inst[b] = int(t.instrument);
                q_idx[b] = pick_query(c, ix, t.instrument, t.song, t.source, rng);
                q_gain[b] = float(db_to_gain(-12.0 * u(rng)));
                continue;
            }
        }
        const int inst = ix.usable[rng() % ix.usable.size()];
        const bool silent = u(rng) < p.silent_fraction;
        const double level = db_to_gain(-18.0 * u(rng));  // overall level: the net must not rely on loudness
        std::uint32_t song = 0, source = 0, bar = 0;
        int slot = 0;
        if (!silent) {
            const int64_t t = ix.active[inst][rng() % ix.active[inst].size()];
            song = c.segments[t].song; source = c.segments[t].source; bar = c.segments[t].bar;
            const float g = float(level * db_to_gain(-6.0 + 12.0 * u(rng)));
            tgt_idx[b] = t; tgt_gain[b] = g;
            mix_idx[b * kSlots + slot] = t; mix_gain[b * kSlots + slot] = g; ++slot;
        } else {
            const auto key = ix.bar_keys[rng() % ix.bar_keys.size()];
            song = key.first; bar = key.second;
            source = ~0u;
        }
        std::vector<int64_t> others;
        if (u(rng) < p.same_bar_fraction || silent) {
            for (int64_t o : ix.bars.at({song, bar}))
                if (c.segments[o].instrument != inst) others.push_back(o);
        }
        if (others.empty()) {
            const int k = 1 + int(rng() % (kSlots - 2));
            for (int tries = 0; tries < 20 && int(others.size()) < k; ++tries) {
                const int64_t o = int64_t(rng() % c.segments.size());
                if (c.segments[o].instrument != inst) others.push_back(o);
            }
        }
        std::shuffle(others.begin(), others.end(), rng);
        for (int64_t o : others) {
            if (slot >= kSlots) break;
            mix_idx[b * kSlots + slot] = o;
            mix_gain[b * kSlots + slot] = float(level * db_to_gain(-9.0 + 12.0 * u(rng)));
            ++slot;
        }
        q_idx[b] = pick_query(c, ix, inst, silent ? ~0u : song, source, rng);
        q_gain[b] = float(db_to_gain(-12.0 * u(rng)));
        ex_song[b] = song; ex_bar[b] = bar; ex_inst[b] = generic ? -1 : inst;
        if (generic) {   // the drawn stems stay as the rest of the mixture; the target is generated
            if (!silent) mix_idx[b * kSlots] = -1;
            tgt_idx[b] = -1;
            generic_target[b] = 1;
        }
    }
    Batch out;
    out.mix = dc.mix(mix_idx, mix_gain, B, kSlots);
    out.target = dc.mix(tgt_idx, tgt_gain, B, 1);
    out.query = dc.mix(q_idx, q_gain, B, 1);
    if (srng) {
        // Same-song queries replace the foreign one for their share of the examples (a silent target's
        // too: its song's other bars tell the net what to keep out), at the foreign query's level.
        std::vector<SelfQuery> picks(B);
        out.self_query.assign(B, 0);
        for (int64_t b = 0; b < B; ++b) {
            if (!(u(*srng) < p.self_query_fraction) || ex_inst[b] < 0) continue;
            picks[b] = pick_self_query(c, ix, ex_song[b], ex_bar[b], ex_inst[b], *srng);
            out.self_query[b] = picks[b].target >= 0;
        }
        if (std::find(out.self_query.begin(), out.self_query.end(), 1) != out.self_query.end()) {
            std::vector<float> flag(out.self_query.begin(), out.self_query.end());
            const auto f = torch::from_blob(flag.data(), {B, 1}, torch::kFloat32).clone().to(out.query.device());
            out.query = out.query * (1.0f - f) + self_query_audio(dc, picks, q_gain) * f;
        }
    }
    torch::Tensor added_target, added_rest;  // generic sounds, which repeat in the context too
    if (grng)
        add_generic_sounds(out, generic_target, generic_distractor, paired, *cfg, *grng,
                           crng ? &added_target : nullptr, crng ? &added_rest : nullptr);
    if (crng)
        add_repetition_context(out, c, ix, dc, mix_idx, mix_gain, tgt_idx, paired, added_target, added_rest, *crng);
    if (arng) augment_batch(out, p, paired, *arng);
    return out;
}

}  // namespace loopsep::train_data

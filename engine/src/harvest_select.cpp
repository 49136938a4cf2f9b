// Harvest, the parts that need no model: cutting bars, fitting loop lengths,
// scoring, fingerprints and selection (see loopsep/harvest.h for the formulas).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "loopsep/error.h"
#include "loopsep/harvest.h"
#include "loopsep/key.h"
#include "loopsep/stft.h"
#include "loopsep/stretch.h"

namespace loopsep {

namespace {

constexpr double kTiny = 1e-20;
constexpr double kSlotFloorDb = 20.0;  // a beat this far below the loop's RMS counts as silent
constexpr int kFingerprintBands = 24;
constexpr double kBandLowHz = 40.0, kBandHighHz = 16000.0;

double db10(double ratio) { return 10.0 * std::log10(std::max(ratio, kTiny)); }

double energy(const Audio& a, std::size_t start, std::size_t end) {
    double sum = 0;
    for (const auto& ch : a.channels)
        for (std::size_t i = start; i < end; ++i) sum += double(ch[i]) * ch[i];
    return sum;
}

std::vector<float> mid_slice(const Audio& a, std::size_t start, std::size_t end) {
    std::vector<float> out(end - start, 0.0f);
    const float w = 1.0f / float(std::max(1, a.num_channels()));
    for (const auto& ch : a.channels)
        for (std::size_t i = start; i < end; ++i) out[i - start] += w * ch[i];
    return out;
}

// |STFT| of a mono signal, time-major; one Stft per thread (FFTW plans are not thread-safe).
std::vector<float> magnitudes(const std::vector<float>& x, std::size_t* frames_out, int* bins_out) {
    thread_local Stft stft(StftParams{2048, 512});
    Spectrogram s = stft.forward(x.data(), x.size());
    std::vector<float> mag(s.data.size());
    for (std::size_t i = 0; i < mag.size(); ++i) mag[i] = std::abs(s.data[i]);
    *frames_out = s.num_frames;
    *bins_out = s.num_bins;
    return mag;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
    double ab = 0, aa = 0, bb = 0;
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        ab += double(a[i]) * b[i];
        aa += double(a[i]) * a[i];
        bb += double(b[i]) * b[i];
    }
    if (aa <= kTiny && bb <= kTiny) return 1.0;  // both flat: nothing tells them apart
    if (aa <= kTiny || bb <= kTiny) return 0.0;
    return ab / std::sqrt(aa * bb);
}

void normalize(std::vector<float>& v) {
    double n = 0;
    for (float x : v) n += double(x) * x;
    if (n <= kTiny) { std::fill(v.begin(), v.end(), 0.0f); return; }
    const float s = float(1.0 / std::sqrt(n));
    for (float& x : v) x *= s;
}

}  // namespace

void HarvestParams::validate() const {
    auto bad = [](const std::string& what) { throw usage_error(what); };
    if (target.empty()) bad("--target must not be empty");
    if (bars != 1 && bars != 2 && bars != 4) bad("--bars must be 1, 2 or 4 (got " + std::to_string(bars) + ")");
    if (bpm != 0 && !(bpm >= 30 && bpm <= 300)) bad("--bpm must be in 30..300 (got " + std::to_string(bpm) + ")");
    if (max_loops < 1 || max_loops > 100000) bad("--max-loops must be in 1..100000 (got " + std::to_string(max_loops) + ")");
    if (!(min_quality >= 0 && min_quality <= 1)) bad("--min-quality must be in 0..1 (got " + std::to_string(min_quality) + ")");
    if (query_bpm != 0 && !(query_bpm >= 20 && query_bpm <= 400)) bad("--query-bpm must be in 20..400");
    if (threads < 1 || threads > 64) bad("--threads must be in 1..64");
    if (query_id < 0 || (query_id_in_default && query_id == 0)) bad("--query-id must name a loop id >= 1");
    if (query_id > 0 && !query_path.empty()) bad("give either --query or --query-id, not both");
    if (!key.empty() && !parse_key(key)) bad("--key must be a key such as Am, C#, Bb minor (got '" + key + "')");
    if (!(level_range_db > 0)) bad("level_range_db must be > 0");
    if (!(duplicate_similarity > 0 && duplicate_similarity <= 1)) bad("duplicate_similarity must be in (0, 1]");
    if (!(max_silence >= 0 && max_silence <= 1)) bad("max_silence must be in 0..1");
    if (!std::isfinite(min_level_dbfs) || !std::isfinite(min_share_db) || !std::isfinite(min_rel_level_db))
        bad("level gates must be finite");
}

std::vector<LoopSpan> cut_bars(const BeatGrid& grid, std::size_t total_frames, int sample_rate_hz, int bars,
                               int beats_per_bar) {
    if (bars < 1) throw usage_error("cut_bars: bars must be >= 1");
    if (sample_rate_hz <= 0) throw usage_error("cut_bars: sample rate must be > 0");
    const auto& d = grid.downbeats_sec;
    struct Bar { std::size_t start, end; bool whole; };
    std::vector<Bar> one;
    for (std::size_t i = 0; i + 1 < d.size(); ++i) {
        const auto a = static_cast<std::size_t>(std::llround(std::max(0.0, d[i]) * sample_rate_hz));
        const auto b = static_cast<std::size_t>(std::llround(std::max(0.0, d[i + 1]) * sample_rate_hz));
        bool whole = b > a && b <= total_frames;
        if (whole && !grid.beats_sec.empty()) {
            // Beats in [d_i, d_{i+1}): a bar of the grid holds exactly beats_per_bar of them.
            const double eps = 1e-3;
            const auto lo = std::lower_bound(grid.beats_sec.begin(), grid.beats_sec.end(), d[i] - eps);
            const auto hi = std::lower_bound(grid.beats_sec.begin(), grid.beats_sec.end(), d[i + 1] - eps);
            whole = (hi - lo) == beats_per_bar;
        }
        one.push_back({a, b, whole});
    }
    std::vector<LoopSpan> out;
    for (std::size_t i = 0; i + bars <= one.size();) {
        bool ok = true;
        for (int k = 0; k < bars && ok; ++k) {
            ok = one[i + k].whole && (k == 0 || one[i + k].start == one[i + k - 1].end);
        }
        if (!ok) { ++i; continue; }
        LoopSpan s;
        s.start_frame = one[i].start;
        s.end_frame = one[i + bars - 1].end;
        s.first_bar = int(i);
        s.start_sec = double(s.start_frame) / sample_rate_hz;
        out.push_back(s);
        i += bars;
    }
    return out;
}

double song_loop_bpm(const std::vector<LoopSpan>& bars_of_one, int sample_rate_hz) {
    if (bars_of_one.empty()) throw usage_error("song_loop_bpm: no whole bar");
    std::vector<double> len;
    for (const auto& s : bars_of_one) len.push_back(double(s.end_frame - s.start_frame));
    std::sort(len.begin(), len.end());
    const std::size_t n = len.size();
    const double median = n % 2 ? len[n / 2] : 0.5 * (len[n / 2 - 1] + len[n / 2]);
    return std::round(240.0 * sample_rate_hz / median * 100.0) / 100.0;
}

Audio fit_loop_length(const Audio& loop, double bpm, int beats) {
    if (!(bpm > 0) || beats < 1) throw usage_error("fit_loop_length: bpm and beats must be positive");
    if (loop.frames() == 0) throw usage_error("fit_loop_length: empty loop");
    const auto target = static_cast<std::size_t>(std::llround(beats * 60.0 / bpm * loop.sample_rate_hz));
    const double diff = std::fabs(double(loop.frames()) - double(target));
    Audio out;
    if (diff <= 0.002 * double(target) + 2.0) {
        // A few milliseconds of beat-tracker jitter: trimming or padding the tail
        // keeps the waveform untouched, which a phase vocoder would not.
        out = loop;
        for (auto& ch : out.channels) ch.resize(target, 0.0f);
    } else {
        out = stretch_to_frames(loop, target);
    }
    const std::size_t fade = std::min<std::size_t>(target, std::size_t(0.002 * out.sample_rate_hz));
    for (auto& ch : out.channels)
        for (std::size_t i = 0; i < fade; ++i) ch[target - 1 - i] *= float(i) / float(fade);
    return out;
}

LoopScore score_loop(const Audio& stem, const Audio& residual, const LoopSpan& span, int beats) {
    if (span.end_frame <= span.start_frame || span.end_frame > stem.frames() || residual.frames() != stem.frames() ||
        residual.num_channels() != stem.num_channels())
        throw usage_error("score_loop: span outside the stem or stem/residual shapes differ");
    if (beats < 1) throw usage_error("score_loop: beats must be >= 1");
    const std::size_t a = span.start_frame, b = span.end_frame, n = b - a;
    LoopScore s;
    const double e_stem = energy(stem, a, b);
    const double samples = double(n) * std::max(1, stem.num_channels());
    s.level_dbfs = db10(e_stem / samples);
    // Mixture = stem + residual (the engine guarantees it); its energy over the loop.
    double e_mix = 0;
    for (int c = 0; c < stem.num_channels(); ++c)
        for (std::size_t i = a; i < b; ++i) {
            const double m = double(stem.channels[c][i]) + residual.channels[c][i];
            e_mix += m * m;
        }
    s.share_db = e_mix > kTiny ? db10(e_stem / e_mix) : -200.0;

    // Leakage: how much the stem's time-frequency picture looks like the residual's.
    std::size_t frames = 0;
    int bins = 0;
    const std::vector<float> ms = magnitudes(mid_slice(stem, a, b), &frames, &bins);
    const std::vector<float> mr = magnitudes(mid_slice(residual, a, b), &frames, &bins);
    double rr = 0;
    for (float x : mr) rr += double(x) * x;
    // If the stem is target T plus a share of the rest B (disjoint from T in time-frequency),
    // cos(|S|, |R|) ≈ |leaked B| / |S|: its square estimates the fraction of the loop's
    // energy that belongs to other instruments.
    const double c = (e_stem <= kTiny || rr <= kTiny) ? 0.0 : std::clamp(cosine(ms, mr), 0.0, 1.0);
    s.leakage = c * c;

    // Silence: beats far below the loop's own RMS. Beat-sized slots, so that short
    // hits on every eighth or quarter (bongo, güira) count as filling the loop.
    const int slots = beats;
    const double floor_power = std::max(e_stem / samples * std::pow(10.0, -kSlotFloorDb / 10.0), 1e-12);
    int silent = 0;
    for (int k = 0; k < slots; ++k) {
        const std::size_t s0 = a + n * std::size_t(k) / std::size_t(slots), s1 = a + n * std::size_t(k + 1) / std::size_t(slots);
        const double p = s1 > s0 ? energy(stem, s0, s1) / (double(s1 - s0) * std::max(1, stem.num_channels())) : 0.0;
        if (p < floor_power) ++silent;
    }
    s.silence = double(silent) / slots;
    return s;
}

void finish_scores(std::vector<LoopScore>& scores, const HarvestParams& params) {
    if (scores.empty()) return;
    std::vector<double> levels;
    for (const auto& s : scores) levels.push_back(s.level_dbfs);
    std::sort(levels.begin(), levels.end());
    const double typical = levels[std::size_t(std::floor(0.9 * double(levels.size() - 1)))];
    for (auto& s : scores) {
        s.rel_level_db = s.level_dbfs - typical;
        const double presence = std::clamp(1.0 + s.rel_level_db / params.level_range_db, 0.0, 1.0);
        s.quality = presence * (1.0 - s.silence) * (1.0 - s.leakage);
    }
}

LoopFingerprint fingerprint_loop(const Audio& loop, int beats) {
    if (loop.frames() == 0 || beats < 1) throw usage_error("fingerprint_loop: empty loop or no beats");
    std::size_t frames = 0;
    int bins = 0;
    const std::vector<float> mag = magnitudes(mid_slice(loop, 0, loop.frames()), &frames, &bins);
    // Log-spaced bands (drum timbres and pitched parts both spread over octaves).
    const double bin_hz = double(loop.sample_rate_hz) / (2.0 * (bins - 1));
    std::vector<int> band_of(std::size_t(bins), -1);
    for (int k = 1; k < bins; ++k) {
        const double hz = k * bin_hz;
        if (hz < kBandLowHz || hz >= std::min(kBandHighHz, loop.sample_rate_hz / 2.0)) continue;
        band_of[std::size_t(k)] = std::min(kFingerprintBands - 1,
                                           int(std::log(hz / kBandLowHz) / std::log(kBandHighHz / kBandLowHz) * kFingerprintBands));
    }
    const int slots = beats * 4;
    std::vector<double> e(std::size_t(kFingerprintBands * slots), 0.0);
    std::vector<int> count(std::size_t(slots), 0);
    const double hop = 512.0;
    for (std::size_t t = 0; t < frames; ++t) {
        const int slot = std::min(slots - 1, int(double(t) * hop / double(loop.frames()) * slots));
        ++count[std::size_t(slot)];
        for (int k = 0; k < bins; ++k)
            if (band_of[std::size_t(k)] >= 0) {
                const double m = mag[t * std::size_t(bins) + std::size_t(k)];
                e[std::size_t(band_of[std::size_t(k)] * slots + slot)] += m * m;
            }
    }
    double peak = 0;
    for (int band = 0; band < kFingerprintBands; ++band)
        for (int s = 0; s < slots; ++s) {
            double& v = e[std::size_t(band * slots + s)];
            v /= std::max(1, count[std::size_t(s)]);
            peak = std::max(peak, v);
        }
    const double floor = std::max(peak * 1e-8, kTiny);  // 80 dB below the loudest cell
    LoopFingerprint fp;
    fp.rhythm.resize(e.size());
    fp.timbre.resize(kFingerprintBands);
    for (int band = 0; band < kFingerprintBands; ++band) {
        double mean = 0;
        for (int s = 0; s < slots; ++s) mean += db10(e[std::size_t(band * slots + s)] + floor);
        mean /= slots;
        for (int s = 0; s < slots; ++s)
            fp.rhythm[std::size_t(band * slots + s)] = float(db10(e[std::size_t(band * slots + s)] + floor) - mean);
        fp.timbre[std::size_t(band)] = float(mean);
    }
    const double tmean = std::accumulate(fp.timbre.begin(), fp.timbre.end(), 0.0) / kFingerprintBands;
    for (float& v : fp.timbre) v -= float(tmean);
    normalize(fp.rhythm);
    normalize(fp.timbre);
    return fp;
}

double timbre_similarity(const LoopFingerprint& a, const LoopFingerprint& b) { return cosine(a.timbre, b.timbre); }

double fingerprint_similarity(const LoopFingerprint& a, const LoopFingerprint& b) {
    if (a.rhythm.size() != b.rhythm.size() || a.timbre.size() != b.timbre.size()) return 0.0;  // different lengths
    return std::min(cosine(a.rhythm, b.rhythm), cosine(a.timbre, b.timbre));
}

const char* drop_reason_name(DropReason r) {
    switch (r) {
        case DropReason::Kept: return "kept";
        case DropReason::Silent: return "silent";
        case DropReason::Quiet: return "quiet";
        case DropReason::Gaps: return "gaps";
        case DropReason::Leakage: return "leakage";
        case DropReason::Duplicate: return "duplicate";
        case DropReason::Limit: return "limit";
    }
    return "?";
}

std::vector<DropReason> select_loops(const std::vector<LoopScore>& scores,
                                     const std::vector<LoopFingerprint>& fingerprints, const HarvestParams& params) {
    if (fingerprints.size() != scores.size()) throw usage_error("select_loops: one fingerprint per score");
    std::vector<DropReason> out(scores.size(), DropReason::Kept);
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < scores.size(); ++i) {
        const LoopScore& s = scores[i];
        if (s.level_dbfs < params.min_level_dbfs || s.share_db < params.min_share_db ||
            s.rel_level_db < params.min_rel_level_db) {
            out[i] = DropReason::Silent;
        } else if (s.silence > params.max_silence + 1e-9) {
            out[i] = DropReason::Gaps;
        } else if (s.quality < params.min_quality) {
            const double presence = std::clamp(1.0 + s.rel_level_db / params.level_range_db, 0.0, 1.0);
            const double fill = 1.0 - s.silence, clean = 1.0 - s.leakage;
            out[i] = clean <= presence && clean <= fill ? DropReason::Leakage
                     : fill <= presence                 ? DropReason::Gaps
                                                        : DropReason::Quiet;
        } else {
            order.push_back(i);
        }
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t x, std::size_t y) { return scores[x].quality > scores[y].quality; });
    std::vector<std::size_t> kept;
    for (std::size_t i : order) {
        bool dup = false;
        for (std::size_t k : kept)
            if (fingerprint_similarity(fingerprints[i], fingerprints[k]) >= params.duplicate_similarity) { dup = true; break; }
        if (dup) out[i] = DropReason::Duplicate;
        else if (int(kept.size()) >= params.max_loops) out[i] = DropReason::Limit;
        else kept.push_back(i);
    }
    return out;
}

int HarvestReport::songs_harvested() const {
    return int(std::count_if(songs.begin(), songs.end(), [](const SongHarvest& s) { return !s.skipped; }));
}
int HarvestReport::songs_skipped() const { return int(songs.size()) - songs_harvested(); }
int HarvestReport::loops_kept() const {
    int n = 0;
    for (const auto& s : songs) n += s.skipped ? 0 : int(s.loops.size());
    return n;
}

}  // namespace loopsep

// End-to-end engine runs on a generated song with a small untrained model:
// the pipeline's contracts (lengths, rates, channels, stems + residual =
// mixture, query handling, bad input) do not depend on what the net learned.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>

#include "engine_self_query.h"
#include "loopsep/catalog.h"
#include "loopsep/engine.h"
#include "loopsep/error.h"
#include "loopsep/model.h"
#include "loopsep/safetensors.h"
#include "loopsep/stft.h"
#include "song_fixture.h"
#include "model_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::TempDir;

namespace {

// The largest |Σ stems + residual − song| over every sample of every channel.
double max_sum_error(const SeparationResult& r, const Audio& song) {
    double worst = 0;
    for (std::size_t c = 0; c < song.channels.size(); ++c)
        for (std::size_t i = 0; i < song.frames(); ++i) {
            double sum = r.residual.channels[c][i];
            for (const Audio& stem : r.stems) sum += stem.channels[c][i];
            worst = std::max(worst, std::fabs(sum - song.channels[c][i]));
        }
    return worst;
}

// The largest sample difference between two signals of the same shape.
double max_difference(const Audio& a, const Audio& b) {
    double worst = 0;
    for (std::size_t c = 0; c < a.channels.size(); ++c)
        for (std::size_t i = 0; i < a.frames(); ++i)
            worst = std::max(worst, std::fabs(double(a.channels[c][i]) - b.channels[c][i]));
    return worst;
}

// A run with the residual and reconstruction `rec`; the stretch reconstruction with Rubber Band's input
// stretch too, as `separate --reconstruct stretch` pairs them.
SeparationParams residual_params(Reconstruction rec) {
    SeparationParams p;
    p.residual = true;
    p.reconstruct = rec;
    if (rec == Reconstruction::Stretch) p.input_stretch = InputStretch::RubberBand;
    return p;
}

std::string small_model(const TempDir& dir) {
    std::string path = dir.file("tiny.safetensors");
    loopsep::testing::write_small_test_model(path, 7);
    return path;
}

// Two bachata bongo loops of four beats at different tempos (120 and 100 BPM): a prototype's rows 1 and 2.
void add_two_bongo_loops(Catalog& c) {
    LoopMeta m;
    m.instrument = "bongo";
    m.genre = "bachata";
    m.bpm = 120;
    m.beats = 4;
    c.add(loopsep::testing::make_test_song(120, 2.0, 1), m);
    m.bpm = 100;
    c.add(loopsep::testing::make_test_song(100, 2.4, 1), m);
}

}  // namespace

TEST(Engine, StemsMatchTheSongAndSumWithTheResidualToTheMixture) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "test");
    Audio song = loopsep::testing::make_test_song(124, 9.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    std::vector<TargetQuery> targets = {{"a", engine.query_from_loop(loop, 120, "loop")},
                                        {"b", engine.query_from_loop(loop, 0, "loop")}};
    SeparationParams p;
    p.residual = true;
    SeparationResult r = engine.separate(song, targets, p);
    ASSERT_EQ(r.stems.size(), 2u);
    EXPECT_NEAR(r.grid.tempo_bpm, 124, 1.0);
    EXPECT_GE(r.num_segments, 4u);
    double max_err = 0;
    for (int c = 0; c < 2; ++c) {
        ASSERT_EQ(r.stems[0].frames(), song.frames());
        ASSERT_EQ(r.residual.frames(), song.frames());
        for (std::size_t i = 0; i < song.frames(); ++i) {
            double sum = r.stems[0].channels[c][i] + r.stems[1].channels[c][i] + r.residual.channels[c][i];
            max_err = std::max(max_err, std::fabs(sum - song.channels[c][i]));
        }
    }
    EXPECT_LT(max_err, 1e-4);
    // The song's energy is not amplified: joint masks are ≤ 1 per bin.
    EXPECT_LT(r.stems[0].rms() + r.stems[1].rms(), 1.5 * song.rms());
}

namespace {
// Records what the engine streams: the chunk boundaries and every output joined back together.
class RecordingSink : public StemSink {
public:
    void write(std::size_t start_frame, std::size_t frames, const std::vector<std::vector<const float*>>& outputs) override {
        chunks.emplace_back(start_frame, frames);
        if (joined.empty()) joined.resize(outputs.size(), std::vector<std::vector<float>>(outputs[0].size()));
        for (std::size_t o = 0; o < outputs.size(); ++o)
            for (std::size_t c = 0; c < outputs[o].size(); ++c)
                joined[o][c].insert(joined[o][c].end(), outputs[o][c], outputs[o][c] + frames);
    }
    std::vector<std::pair<std::size_t, std::size_t>> chunks;
    std::vector<std::vector<std::vector<float>>> joined;  // [output][channel]
};
}  // namespace

TEST(Engine, StreamsFinishedAudioInSongOrderIdenticalToTheCollectedStems) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "");
    Audio song = loopsep::testing::make_test_song(124, 14.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    const auto q = engine.query_from_loop(loop, 120, "loop");
    std::vector<TargetQuery> targets = {{"a", q}, {"b", q}};
    SeparationParams p;
    p.residual = true;
    p.batch_segments = 2;  // several batches, so several flushes
    RecordingSink sink;
    const SeparationInfo info = engine.separate_to(song, targets, p, sink);
    EXPECT_GE(info.num_segments, 6u);
    ASSERT_GE(sink.chunks.size(), 3u);  // streamed, not one song-length write
    std::size_t next = 0;
    for (const auto& [start, frames] : sink.chunks) {
        EXPECT_EQ(start, next);  // contiguous, in order, each frame once
        EXPECT_GT(frames, 0u);
        next = start + frames;
    }
    EXPECT_EQ(next, song.frames());
    // The largest chunk is about a batch, far less than the song.
    std::size_t largest = 0;
    for (const auto& ch : sink.chunks) largest = std::max(largest, ch.second);
    EXPECT_LT(largest, song.frames() / 2);

    const SeparationResult whole = engine.separate(song, targets, p);
    ASSERT_EQ(sink.joined.size(), 3u);  // a, b, residual
    for (std::size_t o = 0; o < 3; ++o) {
        const Audio& expected = o < 2 ? whole.stems[o] : whole.residual;
        for (int c = 0; c < 2; ++c) {
            ASSERT_EQ(sink.joined[o][std::size_t(c)].size(), song.frames());
            double diff = 0;
            for (std::size_t i = 0; i < song.frames(); ++i)
                diff = std::max(diff, double(std::fabs(sink.joined[o][std::size_t(c)][i] - expected.channels[c][i])));
            EXPECT_EQ(diff, 0.0) << "output " << o << " channel " << c;
        }
    }
}

TEST(Engine, UsesTheCallersBeatGridInsteadOfTrackingAgain) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "");
    Audio song = loopsep::testing::make_test_song(124, 12.0);
    const auto q = engine.query_from_loop(loopsep::testing::make_test_song(120, 2.0, 1), 120, "loop");
    SeparationParams p;
    BeatParams bp;
    bp.genre = p.genre;
    const BeatGrid tracked = track_beats(song, bp);
    RecordingSink own, given;
    const SeparationInfo a = engine.separate_to(song, {{"x", q}}, p, own);
    const SeparationInfo b = engine.separate_to(song, {{"x", q}}, p, given, {}, &tracked);
    EXPECT_EQ(a.num_segments, b.num_segments);
    EXPECT_EQ(own.joined, given.joined);  // the same grid gives the same stems, bit for bit
    // With every other downbeat dropped the segments are planned differently: the stems change, so it was used.
    BeatGrid coarse = tracked;
    coarse.downbeats_sec.clear();
    for (std::size_t i = 0; i < tracked.downbeats_sec.size(); i += 2) coarse.downbeats_sec.push_back(tracked.downbeats_sec[i]);
    RecordingSink other;
    const SeparationInfo c = engine.separate_to(song, {{"x", q}}, p, other, {}, &coarse);
    EXPECT_EQ(c.grid.downbeats_sec.size(), coarse.downbeats_sec.size());
    EXPECT_NE(other.joined, own.joined);
}

TEST(Engine, KeepsTheSongsRateAndLengthAndMono) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "");
    Audio song = resample(loopsep::testing::make_test_song(100, 7.0, 1), 48000);
    song.channels[0].resize(song.frames() - 17);  // an odd length
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    SeparationParams p;
    p.genre = Genre::HipHop;
    SeparationResult r = engine.separate(song, {{"x", engine.query_from_loop(loop, 120, "loop")}}, p);
    ASSERT_EQ(r.stems.size(), 1u);
    EXPECT_EQ(r.stems[0].sample_rate_hz, 48000);
    EXPECT_EQ(r.stems[0].num_channels(), 1);
    EXPECT_EQ(r.stems[0].frames(), song.frames());
}

TEST(Engine, FixedGridRubberBandInputAndStretchReconstructionRunToo) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "");
    Audio song = loopsep::testing::make_test_song(110, 6.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    auto q = engine.query_from_loop(loop, 120, "loop");
    for (auto grid : {GridMode::Beats, GridMode::Fixed})
        for (auto rec : {Reconstruction::MaskWarp, Reconstruction::Stretch}) {
            SeparationParams p;
            p.grid = grid;
            p.reconstruct = rec;
            p.input_stretch = rec == Reconstruction::Stretch ? InputStretch::RubberBand : InputStretch::Spectral;
            SeparationResult r = engine.separate(song, {{"x", q}}, p);
            EXPECT_EQ(r.stems[0].frames(), song.frames());
            EXPECT_GT(r.stems[0].rms(), 0.0);
        }
}

TEST(Engine, RefusesSilentQueriesAndBeatlessSongsClearly) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "");
    EXPECT_THROW(engine.query_from_loop(Audio(1, 88200), 120, "silent.wav"), Error);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    auto q = engine.query_from_loop(loop, 120, "loop");
    Audio tone = loopsep::testing::sine(440, 6.0, 1);
    EXPECT_THROW(engine.separate(tone, {{"x", q}}, {}), Error);
    SeparationParams fallback;
    fallback.allow_beatless = true;
    EXPECT_EQ(engine.separate(tone, {{"x", q}}, fallback).stems[0].frames(), tone.frames());
    SeparationParams bad;
    bad.threads = 0;
    EXPECT_THROW(bad.validate(), Error);
}

namespace {
// Energy of a channel's STFT bins at and above `hz`, over the whole signal.
double energy_above(const std::vector<float>& x, double hz) {
    Stft stft({2048, 512});
    const Spectrogram s = stft.forward(x.data(), x.size());
    const std::size_t first = std::size_t(hz * 2048 / 44100.0);
    double e = 0;
    for (std::size_t f = 0; f < s.num_frames; ++f)
        for (int k = int(first); k < s.num_bins; ++k) e += std::norm(s.at(f, k));
    return e;
}
}  // namespace

// A model that refines its masks bin by bin: the engine applies the refinement on the song's own frames
// (here a refinement that shuts the top quarter of the bands), stems and residual still sum to the mixture.
TEST(Engine, RunsTheBinRefinementOfAModelThatHasOne) {
    TempDir dir;
    ModelConfig cfg = loopsep::testing::small_test_config();  // 32 bands: the top 8 from ≈ 8.8 kHz
    cfg.fine_regions = 4;
    const std::string plain = dir.file("plain.safetensors"), top_off = dir.file("top_off.safetensors");
    write_untrained_model(plain, cfg, 7);  // the refinement's weights start at zero: no change
    auto file = read_safetensors(plain);
    auto& bias = file.tensors.at("fine_coef.bias").values;  // per region: 4 feature weights, then a constant
    ASSERT_EQ(bias.size(), 4u * 5u);
    bias[3 * 5 + 4] = -40.0f;  // region 3: every bin all the way to 0
    write_safetensors(top_off, file);

    Audio song = loopsep::testing::make_test_song(124, 8.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    for (auto rec : {Reconstruction::MaskWarp, Reconstruction::Stretch}) {
        const SeparationParams p = residual_params(rec);
        std::vector<SeparationResult> r;
        for (const auto& path : {plain, top_off}) {
            Engine engine(Separator::load(path), "test");
            const auto q = engine.query_from_loop(loop, 120, "loop");
            r.push_back(engine.separate(song, {{"a", q}, {"b", q}}, p));
        }
        ASSERT_TRUE(r[1].stems.size() == 2 && r[1].stems[0].frames() == song.frames());
        const double before = energy_above(r[0].stems[0].channels[0], 11000.0);
        const double after = energy_above(r[1].stems[0].channels[0], 11000.0);
        EXPECT_GT(before, 0.0);
        // ≥ 30 dB less above 11 kHz (measured 37: what is left is the cross-fades' and the window's spread)
        EXPECT_LT(after, 1e-3 * before) << "reconstruction " << int(rec);
        // The rest of the stem stays.
        const double low_before = r[0].stems[0].rms(), low_after = r[1].stems[0].rms();
        EXPECT_GT(low_after, 0.3 * low_before);
        EXPECT_LT(max_sum_error(r[1], song), 1e-4);  // stems + residual = the mixture
    }
}

// A model with a repetition input: the engine makes each window's template from the song's other bars
// (a first pass over the windows) and the net uses it — the stems change with the template's weights,
// and stems plus residual still sum to the mixture.
TEST(Engine, GivesAModelWithARepetitionInputTheSongsTemplates) {
    TempDir dir;
    ModelConfig cfg = loopsep::testing::small_test_config();
    cfg.repetition_neighbours = 2;
    const std::string silent = dir.file("silent.safetensors"), used = dir.file("used.safetensors");
    write_untrained_model(silent, cfg, 7);  // the repetition convolution starts at zero: no effect
    auto file = read_safetensors(silent);
    for (float& v : file.tensors.at("repetition.weight").values) v = 0.5f;
    write_safetensors(used, file);

    Audio song = loopsep::testing::make_test_song(124, 9.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    SeparationParams p;
    p.residual = true;
    std::vector<SeparationResult> r;
    for (const auto& path : {silent, used}) {
        Engine engine(Separator::load(path), "test");
        r.push_back(engine.separate(song, {{"a", engine.query_from_loop(loop, 120, "loop")}}, p));
    }
    ASSERT_GE(r[1].num_segments, 4u);
    ASSERT_EQ(r[1].stems[0].frames(), song.frames());
    double diff = 0, max_err = 0;
    for (int c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < song.frames(); ++i) {
            diff += std::fabs(r[1].stems[0].channels[c][i] - r[0].stems[0].channels[c][i]);
            max_err = std::max(max_err, std::fabs(double(r[1].stems[0].channels[c][i]) + r[1].residual.channels[c][i] -
                                                  song.channels[c][i]));
        }
    EXPECT_GT(diff / double(2 * song.frames()), 1e-4 * song.rms());
    EXPECT_LT(max_err, 1e-4);
}

// Which bars make a segment's template: a song whose second half adds a loud high tone (a new section)
// — every segment inside a section takes its template from bars of the same section.
TEST(Engine, TheRepetitionTemplateComesFromBarsOfTheSameSection) {
    TempDir dir;
    ModelConfig cfg = loopsep::testing::small_test_config();
    cfg.repetition_neighbours = 2;
    write_untrained_model(dir.file("m.safetensors"), cfg, 7);
    Audio song = loopsep::testing::make_test_song(124, 16.0);
    const double change_sec = 8 * 60.0 / 124 * 4 / 2;  // after four bars
    for (std::size_t i = std::size_t(change_sec * 44100); i < song.frames(); ++i)
        for (auto& ch : song.channels) ch[i] += 0.3f * float(std::sin(2 * M_PI * 3000.0 * double(i) / 44100.0));
    Engine engine(Separator::load(dir.file("m.safetensors")), "test");
    const auto q = engine.query_from_loop(loopsep::testing::make_test_song(120, 2.0, 1), 120, "loop");
    SeparationParams p;
    const auto r = engine.separate(song, {{"a", q}}, p);
    ASSERT_EQ(r.repetition_segments.size(), r.num_segments);
    ASSERT_GE(r.num_segments, 7u);
    // Segment i spans grid beats [4i, 4i + 4) from the first downbeat; which section a segment is in,
    // by its centre (segments straddling the change are left out).
    const auto segs = four_beat_segments(r.grid, song.frames(), 44100);
    ASSERT_EQ(segs.size(), r.num_segments);
    auto section = [&](std::size_t i) {
        const double a = double(segs[i].start_frame) / 44100, b = double(segs[i].end_frame) / 44100;
        return b <= change_sec + 0.05 ? 0 : a >= change_sec - 0.05 ? 1 : -1;
    };
    int checked = 0;
    for (std::size_t i = 0; i < r.num_segments; ++i) {
        const auto& chosen = r.repetition_segments[i];
        ASSERT_EQ(chosen.size(), 2u) << i;
        for (int j : chosen) EXPECT_NE(std::size_t(j), i);
        if (section(i) < 0) continue;
        for (int j : chosen)
            if (section(std::size_t(j)) >= 0) {
                EXPECT_EQ(section(std::size_t(j)), section(i)) << "segment " << i << " took bar " << j;
                ++checked;
            }
    }
    EXPECT_GE(checked, 8);
}

// Found by tests/separate/fuzz/fuzz_prototype (issue #40 item 6): a catalog embedding cached for this
// model but damaged behind the catalog's back (its dim and bytes disagree) made Catalog::embedding
// throw outside the per-row skip, so the whole prototype failed although every loop was fine. A cached
// entry of the right size holding NaN (found reading the same path) went into the prototype as it was.
// Both are now computed again from the loop's audio: the same query as before the damage.
TEST(Engine, PrototypeRecomputesADamagedOrNonFiniteCachedEmbedding) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "test");
    const std::string db = dir.file("c.db");
    Catalog c = Catalog::open(db, true);
    add_two_bongo_loops(c);
    const std::vector<float> before = engine.query_from_catalog(c, "bongo", Genre::Bachata);
    const std::string key = c.embedding_tags(1).at(0);  // cached by the first call
    ASSERT_EQ(c.embedding_tags(2).at(0), key);

    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    std::string nan_bytes;
    for (int i = 0; i < engine.model().embedding_size(); ++i) nan_bytes += "0000c07f";  // quiet NaN, little endian
    const std::string damage = "UPDATE embeddings SET dim = 3 WHERE loop_id = 1; "
                               "UPDATE embeddings SET data = x'" + nan_bytes + "' WHERE loop_id = 2;";
    ASSERT_EQ(sqlite3_exec(raw, damage.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);
    EXPECT_THROW(c.embedding(1, key), Error);
    ASSERT_TRUE(std::isnan(c.embedding(2, key).value().at(0)));

    const std::vector<float> after = engine.query_from_catalog(c, "bongo", Genre::Bachata);
    ASSERT_EQ(after.size(), before.size());
    for (std::size_t i = 0; i < after.size(); ++i) EXPECT_NEAR(after[i], before[i], 1e-6) << i;
    // ... and the cache holds good entries again.
    EXPECT_EQ(c.embedding(1, key).value().size(), before.size());
    EXPECT_TRUE(std::isfinite(c.embedding(2, key).value().at(0)));
}

// The finer-frequency paths in the engine. A model converted to have them (their new weights at zero)
// gives exactly the stems of the model it came from, with either reconstruction; bin
// logits that shut the top bins do so on the song's own frames, and stems + residual stay the mixture.
TEST(Engine, TheFinerFrequencyPathsKeepTheStemsAtZeroAndBinLogitsReachTheSong) {
    TempDir dir;
    const ModelConfig plain_cfg = loopsep::testing::small_test_config();
    ModelConfig split_cfg = plain_cfg, logit_cfg = plain_cfg;
    split_cfg.band_split_channels = 4;
    logit_cfg.bin_logits = true;
    const std::string plain = dir.file("plain.safetensors"), split = dir.file("split.safetensors"),
                      logits = dir.file("logits.safetensors"), top_off = dir.file("top_off.safetensors");
    // The same seed: the new tensors are registered last, so every old one is drawn the same.
    write_untrained_model(plain, plain_cfg, 7);
    write_untrained_model(split, split_cfg, 7);
    write_untrained_model(logits, logit_cfg, 7);
    auto file = read_safetensors(logits);
    auto& bias = file.tensors.at("bin_logit_bias").values;
    ASSERT_EQ(bias.size(), std::size_t(plain_cfg.num_bins()));
    for (std::size_t k = 11000 * 2048 / 44100; k < bias.size(); ++k) bias[k] = -40.0f;  // every bin above ≈ 11 kHz to 0
    write_safetensors(top_off, file);

    Audio song = loopsep::testing::make_test_song(124, 8.0);
    Audio loop = loopsep::testing::make_test_song(120, 2.0, 1);
    for (auto rec : {Reconstruction::MaskWarp, Reconstruction::Stretch}) {
        const SeparationParams p = residual_params(rec);
        std::vector<SeparationResult> r;
        for (const auto& path : {plain, split, logits, top_off}) {
            Engine engine(Separator::load(path), "test");
            const auto a = engine.query_from_loop(loop, 120, "loop");
            const auto b = engine.query_from_loop(loopsep::testing::make_test_song(120, 2.0, 2), 120, "loop");
            r.push_back(engine.separate(song, {{"a", a}, {"b", b}}, p));
        }
        auto max_diff = [](const SeparationResult& x, const SeparationResult& y) {
            return std::max(max_difference(x.stems[0], y.stems[0]), max_difference(x.stems[1], y.stems[1]));
        };
        EXPECT_EQ(max_diff(r[1], r[0]), 0.0) << "band split, reconstruction " << int(rec);
        // Exactly: a zero delta leaves its mask bit for bit. (Anything less would not do through Rubber
        // Band's stretch back: masks 1e-7 smaller everywhere move these stems by rms 0.0026, −27 dB.)
        EXPECT_EQ(max_diff(r[2], r[0]), 0.0) << "bin logits, reconstruction " << int(rec);
        const double before = energy_above(r[0].stems[0].channels[0], 11500.0);
        const double after = energy_above(r[3].stems[0].channels[0], 11500.0);
        EXPECT_GT(before, 0.0);
        EXPECT_LT(after, 1e-3 * before) << "reconstruction " << int(rec);
        EXPECT_GT(r[3].stems[0].rms(), 0.3 * r[0].stems[0].rms());
        EXPECT_LT(max_sum_error(r[3], song), 1e-4);  // stems + residual = the mixture
    }
}

// ---------------------------------------------------------------------------
// Two passes (SeparationParams::passes; engine/src/engine_self_query.h)

// Which bars make a self-query, on shares given by hand: by share, not below −20 dB nor 6 dB under the
// best bar, never a near-silent bar, four of them (one more as a stand-in), none when under two qualify.
TEST(SelfQueryBars, TheMostConfidentAudibleBarsAreChosen) {
    using detail::choose_self_query_bars;
    const std::vector<double> share{0.5, 0.02, 0.4, 0.6, 0.001, 0.3, 0.45, 0.9};
    std::vector<double> energy(share.size(), 1.0);
    energy[7] = 1e-5;   // a near-silent bar: its share is noise
    const auto c = choose_self_query_bars(share, energy);
    EXPECT_EQ(c.main, (std::vector<int>{3, 0, 6, 2}));
    EXPECT_EQ(c.candidates, (std::vector<int>{3, 0, 6, 2, 5}));
    EXPECT_NEAR(c.confidence, (0.6 + 0.5 + 0.45 + 0.4) / 4, 1e-12);
    // 6 dB under the best: bar 5 (0.3) drops out when the best is 1.3 (a quarter of it is 0.325).
    auto strong = share;
    strong[3] = 1.3;
    EXPECT_EQ(choose_self_query_bars(strong, energy).candidates, (std::vector<int>{3, 0, 6, 2}));
    // Two bars are enough; one is not.
    EXPECT_EQ(choose_self_query_bars({0.2, 0.3}, {1.0, 1.0}).main, (std::vector<int>{1, 0}));
    EXPECT_TRUE(choose_self_query_bars({0.2, 0.001, 0.002}, {1.0, 1.0, 1.0}).main.empty());
    EXPECT_EQ(choose_self_query_bars({0.2, 0.001, 0.002}, {1.0, 1.0, 1.0}).confidence, 0.0);
}

TEST(SelfQueryBars, TheShareIsTheEstimatesEnergyOverTheMixturesInTheCentre) {
    // 4 frames × 2 bins, centre = frames 1..2; mask 0.5 on bin 0, 1 on bin 1.
    const std::vector<float> mag{9, 9, 1, 2, 3, 4, 9, 9}, mask{1, 1, 0.5f, 1, 0.5f, 1, 1, 1};
    const double want = (0.25 * 1 + 4 + 0.25 * 9 + 16) / (1 + 4 + 9 + 16);
    EXPECT_NEAR(detail::estimated_share(mask, mag, 2, 1, 2), want, 1e-12);
    EXPECT_EQ(detail::estimated_share(mask, std::vector<float>(8, 0.0f), 2, 1, 2), 0.0);
}

namespace {
// 8 bars at 120 BPM (2 s each): kick on every beat, hat on eighths, and a plucked 220 Hz tone with
// harmonics on every beat — except in bars 3 and 4, where the tone is absent.
Audio song_with_a_gap(bool with_tone_everywhere = false) {
    const int rate = 44100;
    Audio song(2, std::size_t(16.0 * rate), rate);
    std::uint32_t lcg = 99;
    for (std::size_t i = 0; i < song.frames(); ++i) {
        const double t = double(i) / rate, beat_sec = 0.5;
        const double in_beat = std::fmod(t, beat_sec), in_eighth = std::fmod(t, beat_sec / 2);
        const int beat = int(t / beat_sec), bar = beat / 4;
        const double kick = in_beat < 0.12 ? std::sin(2 * M_PI * 55 * in_beat) * std::exp(-in_beat * 30) * (beat % 4 == 0 ? 1.0 : 0.6) : 0.0;
        lcg = lcg * 1664525u + 1013904223u;
        const double hat = in_eighth < 0.03 ? (double(lcg >> 8) / double(1u << 24) - 0.5) * std::exp(-in_eighth * 150) * 0.4 : 0.0;
        double tone = 0;
        if (with_tone_everywhere || (bar != 3 && bar != 4))
            for (int h = 1; h <= 6; ++h) tone += std::sin(2 * M_PI * 220.0 * h * t) / h;
        tone *= 0.25 * std::exp(-in_beat * 3);
        for (auto& ch : song.channels) ch[i] = float(0.6 * kick + hat + tone);
    }
    return song;
}

// The tone alone, 2 s at 120 BPM: the query.
Audio tone_loop() {
    Audio loop(1, std::size_t(2.0 * 44100), 44100);
    for (std::size_t i = 0; i < loop.frames(); ++i) {
        const double t = double(i) / 44100, in_beat = std::fmod(t, 0.5);
        double tone = 0;
        for (int h = 1; h <= 6; ++h) tone += std::sin(2 * M_PI * 220.0 * h * t) / h;
        loop.channels[0][i] = float(0.25 * std::exp(-in_beat * 3) * tone);
    }
    return loop;
}
}  // namespace

// The shipped model on a song whose tone pauses in known bars: pass 2's self-query is made of bars where
// the tone plays, never of the pause; the second pass changes the stem; stems and residual still sum to
// the mixture.
TEST(TwoPasses, TheSelfQueryComesFromBarsWhereTheTargetPlays) {
    Engine engine(Separator::load(std::string(LOOPSEP_SOURCE_DIR) + "/" + kShippedModelFile), "shipped");
    const Audio song = song_with_a_gap();
    const std::vector<TargetQuery> targets{{"tone", engine.query_from_loop(tone_loop(), 120, "loop")}};
    SeparationParams p;
    p.residual = true;
    const auto one = engine.separate(song, targets, p);
    EXPECT_TRUE(one.self_query.empty());
    p.passes = 2;
    const auto two = engine.separate(song, targets, p);
    ASSERT_EQ(two.self_query.size(), 1u);
    const auto& sq = two.self_query[0];
    EXPECT_GE(sq.segments.size(), 2u);
    EXPECT_LE(sq.segments.size(), std::size_t(detail::kSelfQueryBars));
    EXPECT_GT(sq.confidence, 0.0);
    EXPECT_LE(sq.confidence, 1.0);
    const auto segs = four_beat_segments(two.grid, song.frames(), 44100);
    ASSERT_EQ(segs.size(), two.num_segments);
    for (int s : sq.segments) {   // no chosen bar overlaps the pause [6 s, 10 s)
        const double a = double(segs[std::size_t(s)].start_frame) / 44100, b = double(segs[std::size_t(s)].end_frame) / 44100;
        EXPECT_TRUE(b <= 6.0 + 0.1 || a >= 10.0 - 0.1) << "segment " << s << " [" << a << ", " << b << ") was chosen";
    }
    double diff = 0, max_err = 0;
    for (int c = 0; c < 2; ++c)
        for (std::size_t i = 0; i < song.frames(); ++i) {
            diff += std::fabs(two.stems[0].channels[c][i] - one.stems[0].channels[c][i]);
            max_err = std::max(max_err, std::fabs(double(two.stems[0].channels[c][i]) + two.residual.channels[c][i] -
                                                  song.channels[c][i]));
        }
    EXPECT_GT(diff / double(2 * song.frames()), 1e-3 * one.stems[0].rms());
    EXPECT_LT(max_err, 1e-4);
}

// self_query_weight blends pass 2's query with the given one: at 0 pass 2 is queried exactly as pass 1
// was, so the stems are one pass's (to float rounding: the windows are batched differently); at 0.5 they
// differ from both.
TEST(TwoPasses, TheSelfQueryWeightBlendsTowardTheGivenQuery) {
    Engine engine(Separator::load(std::string(LOOPSEP_SOURCE_DIR) + "/" + kShippedModelFile), "shipped");
    const Audio song = song_with_a_gap();
    const std::vector<TargetQuery> targets{{"tone", engine.query_from_loop(tone_loop(), 120, "loop")}};
    SeparationParams p;
    const auto one = engine.separate(song, targets, p);
    p.passes = 2;
    const auto two = engine.separate(song, targets, p);
    p.self_query_weight = 0.0;
    const auto given = engine.separate(song, targets, p);
    p.self_query_weight = 0.5;
    const auto half = engine.separate(song, targets, p);
    ASSERT_FALSE(given.self_query.empty());
    EXPECT_GE(given.self_query[0].segments.size(), 2u);   // the bars are still chosen and reported
    EXPECT_LT(max_difference(given.stems[0], one.stems[0]), 1e-6);
    EXPECT_GT(max_difference(half.stems[0], one.stems[0]), 1e-4);
    EXPECT_GT(max_difference(half.stems[0], two.stems[0]), 1e-4);
    for (double bad : {-0.1, 1.5, std::nan("")}) {
        p.self_query_weight = bad;
        EXPECT_THROW(p.validate(), Error) << bad;
    }
}

TEST(TwoPasses, ThreePassesAreRefused) {
    SeparationParams p;
    p.passes = 3;
    try {
        p.validate();
        ADD_FAILURE() << "three passes were accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("passes"), std::string::npos) << e.what();
    }
    p.passes = 0;
    EXPECT_THROW(p.validate(), Error);
    p.passes = 2;
    EXPECT_NO_THROW(p.validate());
}

// A catalog whose embedding cache cannot be written — opened read-only (read-only file, folder or media),
// or a write that fails (here a trigger that aborts it, as a lock or a full disk would) — still gives the
// prototype of its loops: the embeddings are computed and used, one warning line names the catalog, no
// loop is skipped, and a second query does not try again.
TEST(Engine, PrototypeIsMadeFromTheLoopsWhenTheCatalogCannotBeWritten) {
    TempDir dir;
    Engine engine(Separator::load(small_model(dir)), "test");
    auto make = [&](const std::string& db) {
        Catalog c = Catalog::open(db, true);
        add_two_bongo_loops(c);
    };
    make(dir.file("writable.db"));
    make(dir.file("ro.db"));
    make(dir.file("failing.db"));
    Catalog writable = Catalog::open(dir.file("writable.db"), false);
    const std::vector<float> expected = engine.query_from_catalog(writable, "bongo", Genre::Bachata);
    ASSERT_EQ(writable.embedding_tags(1).size(), 1u);

    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(dir.file("failing.db").c_str(), &raw), SQLITE_OK);
    const char* abort_writes =
        "CREATE TRIGGER no_cache BEFORE INSERT ON embeddings BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;";
    ASSERT_EQ(sqlite3_exec(raw, abort_writes, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    sqlite3_close(raw);

    Catalog ro = Catalog::open_read_only(dir.file("ro.db"));
    Catalog failing = Catalog::open(dir.file("failing.db"), false);
    for (Catalog* c : {&ro, &failing}) {
        ::testing::internal::CaptureStderr();
        const std::vector<float> got = engine.query_from_catalog(*c, "bongo", Genre::Bachata);
        const std::vector<float> again = engine.query_from_catalog(*c, "bongo", Genre::Bachata);
        const std::string err = ::testing::internal::GetCapturedStderr();
        ASSERT_EQ(got.size(), expected.size());
        for (std::size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], expected[i], 1e-6) << c->path() << " " << i;
        EXPECT_EQ(again, got);
        EXPECT_EQ(err.find("skipping"), std::string::npos) << err;
        const std::string warning = "loopsep: warning: cannot cache loop embeddings in the catalog (" + c->path() + ": ";
        EXPECT_EQ(err.rfind(warning, 0), 0u) << err;
        EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;   // once, for two queries of two loops
        EXPECT_TRUE(c->embedding_tags(1).empty());
        EXPECT_TRUE(c->embedding_tags(2).empty());
    }
}

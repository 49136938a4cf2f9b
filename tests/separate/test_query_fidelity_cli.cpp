// Query fidelity (issue #39): when a song holds similar instruments — bongo beside the güira's shakers,
// guitar beside keys, the bass beside the kick of the drums — the shipped model queried with a loop of
// one must return that one: its estimate scores at least 6 dB higher (SI-SDR) against the queried
// instrument's stem than against any other stem of the song.
//
// The songs are generated with held-out timbres (`synth --split val`: sound sources the model never
// trained on), two per genre; the queries are the bundled demo loops (samples/loops, another song's
// loop of the instrument), as `separate --query` gets them. bench_separate's "right instrument" column
// measures the same margin on the benchmark sets (README, "Quality on real recordings").
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "loopsep/audio.h"
#include "loopsep/metrics.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr double kMarginDb = 6.0;

struct Margin {
    double own_db = 0.0, best_other_db = -1e9;
    std::string best_other;
    double margin_db() const { return own_db - best_other_db; }
};

// One generated song of `genre` (val timbres, 20 s), each target separated with the demo loop of its
// instrument; the SI-SDR of each estimate against its own stem and against the closest other stem.
std::map<std::string, Margin> margins(const std::string& genre, int seed, const std::vector<std::string>& targets) {
    TempDir dir;
    const auto synth = run_loopsep("synth --genre " + genre + " --split val --songs 1 --seed " + std::to_string(seed) +
                                   " --duration-sec 20 --quiet --out '" + dir.file("songs") + "'");
    EXPECT_EQ(synth.exit_code, 0) << synth.err;
    const std::string song = dir.file("songs") + "/" + genre + "_" + std::to_string(seed) + "_0000";
    std::string args = "separate '" + song + "/mix.wav' --genre " + genre + " --outdir '" + dir.file("out") +
                       "' --threads 2 --targets ";
    for (std::size_t i = 0; i < targets.size(); ++i) args += (i ? "," : "") + targets[i];
    for (const auto& t : targets)
        args += " --query '" + std::string(LOOPSEP_SOURCE_DIR) + "/samples/loops/" + genre + "_4242_0000_" + t + "_00.flac'";
    const auto sep = run_loopsep(args);
    EXPECT_EQ(sep.exit_code, 0) << sep.err;
    std::map<std::string, Audio> stems;
    for (const auto& e : fs::directory_iterator(song + "/stems")) stems.emplace(e.path().stem(), read_audio(e.path()));
    std::map<std::string, Margin> out;
    for (const auto& t : targets) {
        std::string estimate;
        for (const auto& e : fs::recursive_directory_iterator(dir.file("out")))
            if (e.path().filename() == t + ".wav") estimate = e.path();
        if (estimate.empty()) {
            ADD_FAILURE() << genre << " " << seed << ": no estimate of " << t;
            continue;
        }
        const Audio est = read_audio(estimate);
        Margin m;
        for (const auto& [name, ref] : stems) {
            if (ref.frames() != est.frames()) {
                ADD_FAILURE() << t << ": " << est.frames() << " frames against " << name << "'s " << ref.frames();
                continue;
            }
            const double v = compare(ref, est).si_sdr_db;   // over both channels, as bench_separate scores
            if (name == t) m.own_db = v;
            else if (v > m.best_other_db) m.best_other_db = v, m.best_other = name;
        }
        out[t] = m;
    }
    return out;
}

void expect_right_instrument(const std::string& genre, const std::vector<std::string>& targets) {
    for (int seed : {31, 32})
        for (const auto& [t, m] : margins(genre, seed, targets))
            EXPECT_GE(m.margin_db(), kMarginDb) << genre << " seed " << seed << ": the " << t << " estimate scores "
                                                << m.own_db << " dB against its stem and " << m.best_other_db
                                                << " dB against " << m.best_other;
}

}  // namespace

// Bongo and güira are both hand percussion in the same register; the bass sits under the guitar's chords.
TEST(QueryFidelity, BachataEachQueryReturnsItsOwnInstrument) {
    expect_right_instrument("bachata", {"bongo", "guira", "bass"});
}

// Guitar and keys both play the chords. Not met by the shipped v7 (v6 met it): on seed 32 the guitar
// estimate scores 0.44 dB against the guitar and −3.75 against the güira, a margin of 4.2 dB; bench/quality's
// synthetic val shows the same (guitar right in 3 of 6 songs against v6's 5). Enable when a model passes it.
TEST(QueryFidelity, DISABLED_BachataGuitarQueryReturnsTheGuitar) {
    expect_right_instrument("bachata", {"guitar"});
}

// The bass follows the kick; the vocals sit over the sample ("other").
TEST(QueryFidelity, HipHopBassAndVocalsQueriesReturnTheirOwnInstrument) {
    expect_right_instrument("hiphop", {"bass", "vocals"});
}

// Met from v7 on (v6 missed it: on seed 32 its drums estimate scored −2.97 dB against the drums and −6.42
// against the bass, a margin of 3.5 dB).
TEST(QueryFidelity, HipHopDrumsQueryReturnsTheDrumsNotTheBass) {
    expect_right_instrument("hiphop", {"drums"});
}

// The harvest suites' fixture: a small untrained model, a 14-s 124-BPM song with a
// bongo-like tick in a synth-style folder (meta.json: key Am, two sections), a query
// loop, a catalog path, an export folder — and a default catalog of its own
// ($LOOPSEP_CATALOG, $LOOPSEP_SAMPLES pointed into the temp folder for the fixture's
// life), so that no test reads or seeds the user's real default catalog.
#pragma once

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "loopsep/catalog.h"
#include "loopsep/harvest.h"
#include "model_fixture.h"
#include "song_fixture.h"
#include "test_util.h"

namespace loopsep::testing {

constexpr int kRate = 44100;

// The engine suites' test song (kick, hats, bass: beat-trackable and quick) plus, from
// `bongo_from_sec` on, a bright conga-like tick on the off-beats.
inline Audio make_song(double bpm, double seconds, double bongo_from_sec) {
    Audio song = make_test_song(bpm, seconds, 2, kRate);
    const double beat = 60.0 / bpm;
    for (std::size_t i = std::size_t(bongo_from_sec * kRate); i < song.frames(); ++i) {
        const double t = double(i) / kRate;
        const double off = std::fmod(t + beat / 2, beat);
        const double bongo = off < 0.08 ? 0.4 * std::sin(2 * M_PI * 420 * off) * std::exp(-off * 50) : 0.0;
        for (auto& ch : song.channels) ch[i] += float(bongo);
    }
    return song;
}

inline std::size_t exact_frames(double bpm, int beats) { return std::size_t(std::llround(beats * 60.0 / bpm * kRate)); }

// Sets an environment variable for its own life, then puts the old value back.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;

private:
    const char* name_;
    std::optional<std::string> old_;
};

struct Fixture {
    TempDir dir;
    std::string model, song, query, db, out, default_db;
    ScopedEnv default_catalog{"LOOPSEP_CATALOG", dir.file("home/catalog.db")};
    ScopedEnv samples{"LOOPSEP_SAMPLES", dir.file("no-samples")};  // nothing to seed it from
    Fixture() {
        model = dir.file("tiny.safetensors");
        write_small_test_model(model, 7);
        std::filesystem::create_directories(dir.file("song_a"));
        song = dir.file("song_a/mix.wav");
        write_audio(song, make_song(124, 14.0, 0.0), {FileFormat::Wav, SampleBits::Float32});
        write_text(dir.file("song_a/meta.json"), R"({"key": "Am", "sections": [[0.0, "intro"], [7.7, "derecho"]]})");
        query = dir.file("query.wav");
        write_audio(query, make_song(120, 2.0, 0.0));
        db = dir.file("lib.db");
        out = dir.file("export");
        default_db = dir.file("home/catalog.db");
    }
    // Files a bongo loop (the query audio) in the fixture's default catalog; returns its id.
    std::int64_t add_default_bongo() const {
        Catalog cat = open_default_catalog();
        LoopMeta meta;
        meta.instrument = "bongo";
        meta.genre = "bachata";
        meta.bpm = 120;
        meta.beats = 4;
        meta.source = "fixture query";
        return cat.add(read_audio(query), meta).id;
    }
    HarvestParams params() const {
        HarvestParams p;
        p.target = "bongo";
        p.genre = Genre::Bachata;
        p.query_path = query;
        p.query_bpm = 120;
        p.model_path = model;
        p.min_quality = 0;  // an untrained mask leaks everywhere; the plumbing is what is tested
        p.duplicate_similarity = 1.0;
        p.max_loops = 4;
        return p;
    }
};

}  // namespace loopsep::testing

// libFuzzer target: the class prototype (Engine::query_from_catalog), the query `separate --target X`
// and `harvest` make from the catalog's loops of X, on rows written behind the API's back. One bad row
// must not sink the instrument (issue #40, item 6): the prototype is made of the rows that still make
// sense, or the run ends with loopsep::Error when none does.
// At start-up: a small untrained net (the test suites' tests/common/model_fixture.h, made here) and a
// template catalog of three good bongo/bachata loops: #1 (48 kHz: resampled for its query), #2 at 100
// BPM (stretched for its query) and #3, the anchor (stereo). #1's and #2's embeddings are cached under the engine's own cache key
// (a run computes them only when the input drops or damages that entry: the machine's time goes to
// more inputs), #3's is computed by every run.
// Per run, on a fresh copy: rows #1 and #2 (and #3 when the input's first choice says so) get fuzzed
// fields, damaged audio and their cached embedding kept, dropped or rewritten (any dim, any bytes);
// up to three extra rows with fuzzed fields and a template row's audio; then the prototype of an
// instrument and genre the input picks. It must return embedding_size() finite values or throw loopsep::Error — and return
// when the anchor is untouched and the query is bongo (neutral or bachata), which it always matches.
// Seed corpus (tests/separate/fuzz/corpus): an empty input (the pristine catalog), zeros, ones, and
// three 256-byte inputs of Python's random.Random(40 + n).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "catalog_tamper.h"
#include "fuzz_support.h"
#include "loopsep/catalog.h"
#include "loopsep/engine.h"
#include "loopsep/error.h"
#include "loopsep/model.h"
#include "model_fixture.h"

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kAnchor = 3;

struct Scratch {
    fs::path dir, db;
    std::string template_bytes;
    std::string cache_key;  // the engine's embedding cache key in the catalog (model tag + query path)
    std::unique_ptr<loopsep::Engine> engine;
};

// `beats` beats at `bpm`: a decaying tone burst on each beat (louder on the first), at `rate_hz`.
loopsep::Audio beat_loop(double bpm, int beats, int rate_hz, int channels, double tone_hz) {
    const double beat_sec = 60.0 / bpm;
    loopsep::Audio a(channels, std::size_t(std::lround(beats * beat_sec * rate_hz)), rate_hz);
    for (std::size_t i = 0; i < a.frames(); ++i) {
        const double t = double(i) / rate_hz;
        const double since = std::fmod(t, beat_sec);
        const double gain = (t < beat_sec ? 0.8 : 0.5) * std::exp(-since * 30.0);
        for (int c = 0; c < channels; ++c)
            a.channel(c)[i] = float(gain * std::sin(2 * M_PI * tone_hz * (1 + 0.01 * c) * t));
    }
    return a;
}

loopsep::LoopMeta bongo(double bpm, int beats, const char* section) {
    loopsep::LoopMeta m;
    m.instrument = "bongo";
    m.genre = "bachata";
    m.bpm = bpm;
    m.beats = beats;
    m.section = section;
    return m;
}

Scratch make_scratch() {
    Scratch s;
    s.dir = loopsep::fuzz::scratch_folder("prototype");
    s.db = s.dir / "fuzz.db";
    const std::string model = (s.dir / "tiny.safetensors").string();
    loopsep::testing::write_small_test_model(model, 7);
    loopsep::set_torch_threads(1);
    s.engine = std::make_unique<loopsep::Engine>(loopsep::Separator::load(model), loopsep::model_file_tag(model));
    const fs::path tmpl = s.dir / "template.db";
    {
        loopsep::Catalog c = loopsep::Catalog::open(tmpl.string(), true);
        c.add(beat_loop(120, 4, 48000, 1, 330), bongo(120, 4, "derecho"));
        c.add(beat_loop(100, 4, 44100, 1, 440), bongo(100, 4, "majao"));
        c.add(beat_loop(120, 4, 44100, 2, 550), bongo(120, 4, "derecho"));
        // Warms LibTorch and Rubber Band up (their one-time allocations are not a run's leaks) and caches
        // every row's embedding; the anchor's is dropped again, so each run computes one.
        (void)s.engine->query_from_catalog(c, "bongo", loopsep::Genre::Bachata);
        s.cache_key = c.embedding_tags(1).at(0);
    }
    {
        loopsep::fuzz::RawCatalog raw(tmpl.string());
        loopsep::fuzz::exec(raw.get(), "DELETE FROM embeddings WHERE loop_id = " + std::to_string(kAnchor));
    }  // closing the last connection checkpoints the WAL into the file
    s.template_bytes = loopsep::fuzz::file_bytes(tmpl);
    return s;
}

const Scratch& scratch() {
    static const Scratch s = make_scratch();
    return s;
}

int scratch_embedding_size() { return scratch().engine->model().embedding_size(); }

// Row `id`'s cached embedding under the engine's key: kept, dropped, or rewritten with any dim and any
// bytes (a stale model's size, NaN).
void tamper_cached_embedding(sqlite3* db, std::int64_t id, const std::string& key, FuzzedDataProvider& in) {
    const int what = in.ConsumeIntegralInRange<int>(0, 2);
    if (what == 0) return;
    if (what == 1) {
        loopsep::fuzz::exec(db, "DELETE FROM embeddings WHERE loop_id = " + std::to_string(id));
        return;
    }
    sqlite3_stmt* st = nullptr;
    const std::string sql = "INSERT OR REPLACE INTO embeddings(loop_id, model_tag, dim, data) VALUES (" +
                            std::to_string(id) + ", ?1, ?2, ?3)";
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return;
    // Often the model's own size (what a cache hit needs), else any size up to 24 values (another model's).
    const int values = in.ConsumeBool() ? scratch_embedding_size() : in.ConsumeIntegralInRange<int>(0, 24);
    const auto bytes = in.ConsumeBytes<unsigned char>(std::size_t(values) * 4 + in.ConsumeIntegralInRange<int>(0, 1));
    const bool honest_dim = in.ConsumeBool();  // dim × 4 = the bytes' size, as Catalog::set_embedding writes it
    sqlite3_bind_text(st, 1, key.data(), int(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, honest_dim ? std::int64_t(bytes.size() / 4) : in.ConsumeIntegralInRange<std::int64_t>(-2, 40));
    sqlite3_bind_blob(st, 3, bytes.data(), int(bytes.size()), SQLITE_TRANSIENT);
    sqlite3_step(st);
    sqlite3_finalize(st);
}

void tamper(const Scratch& s, bool touch_anchor, FuzzedDataProvider& in) {
    loopsep::fuzz::RawCatalog raw(s.db.string());
    if (!raw) return;
    sqlite3* db = raw.get();
    for (std::int64_t id = 1; id <= (touch_anchor ? kAnchor : kAnchor - 1); ++id) {
        loopsep::fuzz::tamper_fields(db, id, in);
        loopsep::fuzz::tamper_audio(db, id, in);
        tamper_cached_embedding(db, id, s.cache_key, in);
    }
    const int extra = in.ConsumeIntegralInRange<int>(0, 3);
    for (std::int64_t id = kAnchor + 1; id <= kAnchor + extra; ++id) {
        loopsep::fuzz::insert_fuzzed_row(db, id, in);
        if (in.ConsumeBool())  // one the prototype will pick up
            loopsep::fuzz::exec(db, "UPDATE loops SET instrument = 'bongo', genre = 'bachata' WHERE id = " + std::to_string(id));
        const int from = in.ConsumeIntegralInRange<int>(1, int(kAnchor));
        loopsep::fuzz::exec(db, "INSERT INTO loop_audio(loop_id, format, data) SELECT " + std::to_string(id) +
                                    ", format, data FROM loop_audio WHERE loop_id = " + std::to_string(from));
        tamper_cached_embedding(db, id, s.cache_key, in);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Scratch& s = scratch();
    FuzzedDataProvider in(data, size);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.db.string() + suffix);
    std::ofstream(s.db, std::ios::binary) << s.template_bytes;
    const bool touch_anchor = in.ConsumeBool();
    tamper(s, touch_anchor, in);
    const loopsep::Genre genre = loopsep::Genre(in.ConsumeIntegralInRange<int>(0, 2));
    const std::string instrument = in.ConsumeBool() ? in.ConsumeRandomLengthString(16) : "bongo";
    const bool must_succeed = !touch_anchor && instrument == "bongo" && genre != loopsep::Genre::HipHop;

    try {
        loopsep::Catalog c = loopsep::Catalog::open(s.db.string(), false);
        const std::vector<float> q = s.engine->query_from_catalog(c, instrument, genre);
        if (int(q.size()) != s.engine->model().embedding_size()) {
            std::fprintf(stderr, "prototype of %zu values, not %d\n", q.size(), s.engine->model().embedding_size());
            std::abort();
        }
        for (float v : q)
            if (!std::isfinite(v)) {
                std::fprintf(stderr, "prototype holds a non-finite value\n");
                std::abort();
            }
    } catch (const loopsep::Error& e) {
        if (must_succeed) {
            std::fprintf(stderr, "no prototype although loop #%d is untouched: %s\n", int(kAnchor), e.what());
            std::abort();
        }
    }
    return 0;
}

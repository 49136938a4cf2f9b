// libFuzzer target: a catalog whose rows were written behind the API's back (another tool, a bad
// merge, a hand edit) must still be readable: every reading path returns or throws loopsep::Error.
// Per run: a fresh copy of a small template catalog (one good loop with its FLAC audio and an
// embedding) gets the fuzz input written into its row with raw SQL — any field, any SQLite type, CHECK
// constraints off — plus a damaged audio blob, a stray embedding and a second row; then list, for_each,
// get, load_audio, embeddings, stats, verify, export and the length/tag check read it all back.
// Export must keep every file inside its folder, whatever the row's text says.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "catalog_tamper.h"
#include "fuzz_support.h"
#include "loopsep/catalog.h"

namespace fs = std::filesystem;
using loopsep::fuzz::survive;

namespace {

struct Scratch {
    fs::path dir, db, out;
    std::string template_bytes;
};

// The template: one 1-s, 120-BPM, two-beat loop as Catalog::add stores it, and an embedding.
Scratch make_scratch() {
    Scratch s;
    s.dir = loopsep::fuzz::scratch_folder("catalog");
    s.db = s.dir / "fuzz.db";
    s.out = s.dir / "export";
    const fs::path tmpl = s.dir / "template.db";
    {
        loopsep::Catalog c = loopsep::Catalog::open(tmpl.string(), true);
        loopsep::Audio a(1, 44100);
        for (std::size_t i = 0; i < a.frames(); ++i) a.channel(0)[i] = 0.5f * float(std::sin(0.05 * double(i)));
        loopsep::LoopMeta m;
        m.instrument = "bongo";
        m.genre = "bachata";
        m.bpm = 120;
        m.beats = 2;
        m.key = "A minor";
        m.section = "verse";
        const auto id = c.add(a, m).id;
        c.set_embedding(id, "tag", std::vector<float>(8, 0.25f));
    }  // closing the last connection checkpoints the WAL into the file
    s.template_bytes = loopsep::fuzz::file_bytes(tmpl);
    return s;
}

const Scratch& scratch() {
    static const Scratch s = make_scratch();
    return s;
}

// One run's damage, in the order the committed corpus was made for: row 1's fields, its audio, an
// embedding whose dim and bytes need not agree, a second row with every field fuzzed, and its audio.
void tamper(const fs::path& path, FuzzedDataProvider& in) {
    loopsep::fuzz::RawCatalog db(path.string());
    if (!db) return;
    loopsep::fuzz::tamper_fields(db.get(), 1, in);
    loopsep::fuzz::tamper_audio(db.get(), 1, in);
    if (in.ConsumeBool())
        loopsep::fuzz::run_sql(db.get(), "INSERT OR REPLACE INTO embeddings(loop_id, model_tag, dim, data) VALUES (1, ?1, ?2, ?3)",
                               in, 3);
    if (in.ConsumeBool()) loopsep::fuzz::insert_fuzzed_row(db.get(), 2, in);
    if (in.ConsumeBool()) loopsep::fuzz::insert_fuzzed_audio(db.get(), 2, in);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const Scratch& s = scratch();
    FuzzedDataProvider in(data, size);
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(s.db.string() + suffix);
    fs::remove_all(s.out);
    std::ofstream(s.db, std::ios::binary) << s.template_bytes;
    tamper(s.db, in);

    survive([&] {
        loopsep::Catalog c = loopsep::Catalog::open(s.db.string(), false);
        std::vector<std::int64_t> ids;
        survive([&] {
            for (const auto& r : c.list()) ids.push_back(r.id);
        });
        survive([&] {
            loopsep::LoopFilter f;
            f.instrument = "bongo";
            f.bpm_min = 60;
            f.bpm_max = 200;
            c.for_each(f, [](const loopsep::LoopRecord& r) { (void)r.bpm; });
        });
        for (std::int64_t id : {std::int64_t(1), std::int64_t(2)}) {
            survive([&] {
                if (auto r = c.get(id))  // the length/tag check add and import apply, on a row nobody checked
                    loopsep::check_length_matches_tags(r->duration_sec, r->bpm, r->beats, "fuzz row");
            });
            survive([&] {
                const loopsep::Audio a = c.load_audio(id);
                (void)a.duration_sec();
                (void)loopsep::audio_content_hash(a);
            });
            survive([&] {
                for (const auto& tag : c.embedding_tags(id)) (void)c.embedding(id, tag);
            });
        }
        survive([&] { (void)c.stats(); });
        survive([&] { (void)c.verify(); });
        survive([&] { (void)c.instruments(); (void)c.genres(); (void)c.count(); });
        survive([&] {
            for (const auto& p : loopsep::export_loops(c, ids, s.out.string(), loopsep::ExistingExport::Replace))
                if (fs::path(p).parent_path() != s.out) std::abort();  // a row's text named a path outside
        });
    });
    return 0;
}

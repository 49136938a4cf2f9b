// bench_catalog — builds a catalog of N loops (default 100 000) through the
// real schema and times the reads users and the engine do: list, filters,
// get, stats, and (optionally) the `loopsep catalog list` command end to end.
//
//   bench_catalog [--loops N] [--db FILE] [--binary PATH/TO/loopsep]
//
// Rows are inserted in one transaction straight through the catalog's schema
// (metadata as `add` writes it, plus a tiny real FLAC blob per row) — the point
// is query speed at scale, not 100 000 fsyncs. Times are the median of 7 runs.
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "loopsep/catalog.h"
#include "loopsep/sha256.h"

using namespace loopsep;
using Clock = std::chrono::steady_clock;

namespace {

double cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Median wall time and median CPU time (of this process) over `runs` runs: on a
// shared, loaded machine the CPU figure is the steadier one.
std::pair<double, double> median_ms(const std::function<void()>& f, int runs = 7) {
    std::vector<double> wall, cpu;
    for (int i = 0; i < runs; ++i) {
        auto a = Clock::now();
        double c = cpu_ms();
        f();
        cpu.push_back(cpu_ms() - c);
        wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - a).count());
    }
    std::sort(wall.begin(), wall.end());
    std::sort(cpu.begin(), cpu.end());
    return {wall[wall.size() / 2], cpu[cpu.size() / 2]};
}

void check(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        std::fprintf(stderr, "bench_catalog: %s: %s\n", what, sqlite3_errmsg(db));
        std::exit(1);
    }
}

void populate(const std::string& path, int n) {
    { Catalog::open(path, true); }  // creates the schema exactly as loopsep does
    sqlite3* db = nullptr;
    check(sqlite3_open(path.c_str(), &db), db, "open");
    check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    const char* instruments[] = {"bongo", "guira", "bass", "requinto", "segunda", "drums", "piano", "vocals"};
    const char* genres[] = {"bachata", "hiphop", "salsa", "merengue"};
    const char* sections[] = {"intro", "verse", "chorus", "derecho", "majao", "mambo", "outro", ""};
    Audio tiny(1, 256, 44100);
    std::vector<unsigned char> flac;
    sqlite3_stmt* ins = nullptr;
    sqlite3_stmt* blob = nullptr;
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO loops(instrument, genre, section, bpm, beats, key, source, sample_rate_hz, "
                             "channels, frames, duration_sec, hash) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 44100, 1, 256, "
                             "?8, ?9)",
                             -1, &ins, nullptr),
          db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO loop_audio(loop_id, format, data) VALUES(?1, 'flac16', ?2)", -1, &blob,
                             nullptr),
          db, "prepare");
    std::mt19937 rng(42);
    for (int i = 0; i < n; ++i) {
        if (i % 64 == 0) {  // a fresh small real FLAC now and then
            for (std::size_t k = 0; k < tiny.frames(); ++k) tiny.channels[0][k] = std::sin(0.01f * (i + 1) * k) * 0.5f;
            flac = encode_audio(tiny);
        }
        const std::string source = "bench/" + std::to_string(i) + ".wav";
        const std::string hash = sha256_hex(source);
        const double bpm = 80 + (rng() % 8000) / 100.0;
        sqlite3_bind_text(ins, 1, instruments[rng() % 8], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, genres[rng() % 4], -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, sections[rng() % 8], -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 4, bpm);
        sqlite3_bind_int(ins, 5, 4);
        sqlite3_bind_text(ins, 6, "", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, source.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 8, 4 * 60.0 / bpm);
        sqlite3_bind_text(ins, 9, hash.c_str(), -1, SQLITE_TRANSIENT);
        check(sqlite3_step(ins), db, "insert");
        sqlite3_reset(ins);
        sqlite3_bind_int64(blob, 1, sqlite3_last_insert_rowid(db));
        sqlite3_bind_blob(blob, 2, flac.data(), static_cast<int>(flac.size()), SQLITE_STATIC);
        check(sqlite3_step(blob), db, "insert audio");
        sqlite3_reset(blob);
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(blob);
    check(sqlite3_exec(db, "COMMIT; ANALYZE", nullptr, nullptr, nullptr), db, "commit");
    sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
    int n = 100000;
    std::string path, binary;
    for (int i = 1; i + 1 < argc; i += 2) {
        std::string a = argv[i];
        if (a == "--loops") n = std::atoi(argv[i + 1]);
        else if (a == "--db") path = argv[i + 1];
        else if (a == "--binary") binary = argv[i + 1];
        else { std::fprintf(stderr, "usage: bench_catalog [--loops N] [--db FILE] [--binary loopsep]\n"); return 2; }
    }
    if (n < 1) { std::fprintf(stderr, "bench_catalog: --loops must be positive\n"); return 2; }
    if (path.empty()) path = (std::filesystem::temp_directory_path() / "loopsep-bench-catalog.db").string();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);

    auto t0 = Clock::now();
    populate(path, n);
    const double build_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("catalog: %s, %d loops, built in %.1f s, %.1f MB\n", path.c_str(), n, build_s,
                std::filesystem::file_size(path) / 1e6);

    Catalog cat = Catalog::open(path, false);
    std::size_t rows = 0;
    auto report = [&](const char* name, const std::function<void()>& f) {
        auto [wall, cpu] = median_ms(f);
        std::printf("%-58s wall %9.2f ms  cpu %9.2f ms  (%zu rows)\n", name, wall, cpu, rows);
    };
    report("open catalog", [&] { Catalog c = Catalog::open(path, false); rows = 0; });
    report("list() all", [&] { rows = cat.list().size(); });
    report("for_each() all (streamed, as the CLI lists)", [&] {
        rows = 0;
        cat.for_each({}, [&](const LoopRecord&) { ++rows; });
    });
    report("list(instrument=bongo)", [&] { LoopFilter f; f.instrument = "bongo"; rows = cat.list(f).size(); });
    report("list(genre=bachata, bpm 120..130)", [&] {
        LoopFilter f; f.genre = "bachata"; f.bpm_min = 120; f.bpm_max = 130; rows = cat.list(f).size(); });
    report("list(instrument=bongo, genre=bachata, section=derecho, bpm 125..135)", [&] {
        LoopFilter f; f.instrument = "bongo"; f.genre = "bachata"; f.section = "derecho"; f.bpm_min = 125; f.bpm_max = 135;
        rows = cat.list(f).size(); });
    report("list(section=mambo)", [&] { LoopFilter f; f.section = "mambo"; rows = cat.list(f).size(); });
    report("list(limit=50)", [&] { LoopFilter f; f.limit = 50; rows = cat.list(f).size(); });
    report("instruments()", [&] { rows = cat.instruments().size(); });
    report("stats()", [&] { rows = static_cast<std::size_t>(cat.stats().loops); });
    report("1000 x get(random id)", [&] {
        std::mt19937 rng(7);
        rows = 0;
        for (int i = 0; i < 1000; ++i) rows += cat.get(1 + rng() % n).has_value();
    });
    report("1000 x load_audio(random id)", [&] {
        std::mt19937 rng(9);
        rows = 0;
        for (int i = 0; i < 1000; ++i) rows += cat.load_audio(1 + rng() % n).frames() > 0;
    });
    if (!binary.empty()) {
        rows = 0;
        for (const char* args : {"list --instrument bongo --json", "list --genre bachata --bpm-min 120 --bpm-max 130",
                                 "list --json", "stats"}) {
            const std::string cmd = "'" + binary + "' catalog --db '" + path + "' " + args + " > /dev/null";
            std::string name = std::string("CLI: loopsep catalog ") + args;  // cpu: not the child's
            report(name.c_str(), [&] {
                if (std::system(cmd.c_str()) != 0) { std::fprintf(stderr, "bench_catalog: %s failed\n", cmd.c_str()); std::exit(1); }
            });
        }
    }
    return 0;
}

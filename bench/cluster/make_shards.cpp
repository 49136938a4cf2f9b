// bench_make_shards — writes N shard catalogs as a cluster harvest leaves them, to time
// `loopsep catalog merge` (bench/cluster/bench_merge.sh).
//
//   bench_make_shards --dir DIR [--shards 100] [--loops-per-shard 1000] [--frames 256] [--dup-every 100]
//
// Each shard holds --loops-per-shard loops of real FLAC audio (--frames mono frames at 44.1 kHz,
// each loop its own content, so its own hash), one cached 64-float query embedding per loop,
// and one harvest song record per 8 loops — what a harvest task writes. Every --dup-every-th
// loop repeats the first shard's loop at that position (the same song on two albums), so
// the merge also reconciles duplicates. Rows go in through the catalog's schema in one
// transaction per shard (the point is the merge, not 100 000 fsyncs).
#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "loopsep/catalog.h"
#include "loopsep/sha256.h"

using namespace loopsep;

namespace {

void check(int rc, sqlite3* db, const char* what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        std::fprintf(stderr, "bench_make_shards: %s: %s\n", what, sqlite3_errmsg(db));
        std::exit(1);
    }
}

// A decaying tone whose pitch and phase name (shard, index): distinct content per loop.
Audio loop_audio(int shard, int index, std::size_t frames) {
    Audio a(1, frames, 44100);
    const double f = 100.0 + index * 0.37;
    for (std::size_t k = 0; k < frames; ++k)
        a.channels[0][k] = static_cast<float>(0.5 * std::exp(-3.0 * k / frames) * std::sin(2 * M_PI * f * k / 44100 + shard));
    return a;
}

void make_shard(const std::string& path, int shard, int loops, std::size_t frames, int dup_every) {
    { Catalog::open(path, true); }  // the schema exactly as loopsep creates it
    sqlite3* db = nullptr;
    check(sqlite3_open(path.c_str(), &db), db, "open");
    check(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), db, "begin");
    sqlite3_stmt *ins = nullptr, *blob = nullptr, *emb = nullptr, *meta = nullptr;
    check(sqlite3_prepare_v2(db,
                             "INSERT INTO loops(instrument, genre, section, bpm, beats, key, source, sample_rate_hz, "
                             "channels, frames, duration_sec, hash) VALUES('bongo', 'bachata', ?1, ?2, 4, ?3, ?4, "
                             "44100, 1, ?5, ?6, ?7)",
                             -1, &ins, nullptr),
          db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO loop_audio(loop_id, format, data) VALUES(?1, 'flac16', ?2)", -1, &blob,
                             nullptr),
          db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO embeddings(loop_id, model_tag, dim, data) VALUES(?1, ?2, 64, ?3)", -1,
                             &emb, nullptr),
          db, "prepare");
    check(sqlite3_prepare_v2(db, "INSERT INTO meta(key, value) VALUES(?1, ?2)", -1, &meta, nullptr), db, "prepare");
    const char* sections[] = {"intro", "derecho", "majao", "mambo", "outro", ""};
    ReadOptions ro;
    ro.target_rate_hz = 0;
    ro.allow_silent = true;
    std::vector<float> embedding(64);
    std::string record;
    for (int i = 0; i < loops; ++i) {
        const int content_shard = (dup_every > 0 && i % dup_every == 0) ? 0 : shard;
        const Audio audio = loop_audio(content_shard, i, frames);
        const std::vector<unsigned char> flac = encode_audio(audio);
        const std::string hash = audio_content_hash(decode_audio(flac.data(), flac.size(), "loop", ro));
        const std::string source = "album" + std::to_string(shard) + "/song" + std::to_string(i / 8) + ".flac bar " +
                                   std::to_string(i % 8 + 1);
        const double bpm = 90 + (i % 60);
        sqlite3_bind_text(ins, 1, sections[i % 6], -1, SQLITE_STATIC);
        sqlite3_bind_double(ins, 2, bpm);
        sqlite3_bind_text(ins, 3, i % 3 ? "Am" : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, source.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(ins, 5, static_cast<sqlite3_int64>(frames));
        sqlite3_bind_double(ins, 6, double(frames) / 44100);
        sqlite3_bind_text(ins, 7, hash.c_str(), -1, SQLITE_TRANSIENT);
        check(sqlite3_step(ins), db, "insert");
        sqlite3_reset(ins);
        const sqlite3_int64 id = sqlite3_last_insert_rowid(db);
        sqlite3_bind_int64(blob, 1, id);
        sqlite3_bind_blob(blob, 2, flac.data(), static_cast<int>(flac.size()), SQLITE_TRANSIENT);
        check(sqlite3_step(blob), db, "insert audio");
        sqlite3_reset(blob);
        for (int k = 0; k < 64; ++k) embedding[k] = static_cast<float>(std::sin(0.1 * k + i));
        sqlite3_bind_int64(emb, 1, id);
        sqlite3_bind_text(emb, 2, "fnv64:0123456789abcdef/query-r2", -1, SQLITE_STATIC);
        sqlite3_bind_blob(emb, 3, embedding.data(), 64 * 4, SQLITE_TRANSIENT);  // little-endian hosts only
        check(sqlite3_step(emb), db, "insert embedding");
        sqlite3_reset(emb);
        record += (record.empty() ? "" : ",") + std::string("{\"id\":") + std::to_string(id) + ",\"bar\":" +
                  std::to_string(i % 8) + "}";
        if (i % 8 == 7 || i + 1 == loops) {  // one harvested song per 8 loops
            const std::string key = "harvest:" + sha256_hex(source.substr(0, source.find(" bar"))) + ":bongo";
            const std::string value = "{\"target\":\"bongo\",\"bars\":1,\"loops\":[" + record + "]}";
            sqlite3_bind_text(meta, 1, key.c_str(), -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(meta, 2, value.c_str(), -1, SQLITE_TRANSIENT);
            check(sqlite3_step(meta), db, "insert record");
            sqlite3_reset(meta);
            record.clear();
        }
    }
    for (auto* s : {ins, blob, emb, meta}) sqlite3_finalize(s);
    check(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), db, "commit");
    sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
    std::string dir;
    int shards = 100, loops = 1000, dup_every = 100;
    long frames = 256;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--dir") dir = argv[i + 1];
        else if (a == "--shards") shards = std::atoi(argv[i + 1]);
        else if (a == "--loops-per-shard") loops = std::atoi(argv[i + 1]);
        else if (a == "--frames") frames = std::atol(argv[i + 1]);
        else if (a == "--dup-every") dup_every = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: bench_make_shards --dir DIR [--shards N] [--loops-per-shard N] [--frames N] "
                                 "[--dup-every N]\n");
            return 2;
        }
    }
    if (dir.empty() || shards < 1 || loops < 1 || frames < 64 || dup_every < 0) {
        std::fprintf(stderr, "bench_make_shards: --dir is required; counts must be positive, --frames >= 64\n");
        return 2;
    }
    std::filesystem::create_directories(dir);
    for (int s = 0; s < shards; ++s) {
        const std::string path = dir + "/harvest_" + std::to_string(s) + ".db";
        for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
        make_shard(path, s, loops, static_cast<std::size_t>(frames), dup_every);
    }
    std::printf("%d shards x %d loops (%ld frames each) in %s\n", shards, loops, frames, dir.c_str());
    return 0;
}

// Harvest for a library builder: where the query comes from (file, --query-id, the
// default catalog's prototype when the destination lacks the instrument), no catalog
// left behind by a failed first run, and the key and song in the exported names.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <regex>

#include "harvest_fixture.h"
#include "loopsep/catalog.h"
#include "loopsep/error.h"
#include "loopsep/harvest.h"
#include "loopsep/key.h"
#include "loopsep/loopfile.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::Fixture;
using loopsep::testing::run_loopsep;
namespace fs = std::filesystem;

namespace {

// The catalog file and everything SQLite may put beside it.
bool any_catalog_file(const std::string& db) {
    for (const char* tail : {"", "-wal", "-shm", "-journal"})
        if (fs::exists(db + tail)) return true;
    return false;
}

HarvestParams prototype_params(const Fixture& fx) {
    HarvestParams p = fx.params();
    p.query_path.clear();
    p.query_bpm = 0;
    return p;
}

}  // namespace

TEST(HarvestQuery, ANewCatalogTakesTheDefaultCatalogsPrototype) {
    Fixture fx;
    const std::int64_t proto = fx.add_default_bongo();
    ASSERT_FALSE(fs::exists(fx.db));
    HarvestReport r = harvest_into({fx.song}, fx.db, prototype_params(fx));
    EXPECT_EQ(r.query_kind, "prototype");
    EXPECT_TRUE(fs::equivalent(r.query_catalog, fx.default_db)) << r.query_catalog;
    EXPECT_EQ(r.query_loop_ids, std::vector<std::int64_t>{proto});
    ASSERT_EQ(r.songs.size(), 1u);
    ASSERT_GE(r.songs[0].loops.size(), 1u);
    // The loops went into the new catalog, not into the default one.
    Catalog made = Catalog::open(fx.db, false);
    EXPECT_EQ(made.count(), std::int64_t(r.songs[0].loops.size()));
    EXPECT_EQ(open_default_catalog().count(), 1);

    // Once the destination has bongo loops of its own, they make the prototype.
    HarvestParams p = prototype_params(fx);
    p.force = true;
    HarvestReport second = harvest_into({fx.song}, fx.db, p);
    EXPECT_EQ(second.query_kind, "prototype");
    EXPECT_TRUE(fs::equivalent(second.query_catalog, fx.db));
}

TEST(HarvestQuery, AFailedHarvestIntoANewPathLeavesNoFile) {
    Fixture fx;
    // No bongo anywhere: the error names both catalogs, and nothing is left.
    const std::string db = fx.dir.file("new/deeper/lib.db");
    try {
        harvest_into({fx.song}, db, prototype_params(fx));
        FAIL() << "harvested without any query";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(what.find("'bongo'"), std::string::npos) << what;
        EXPECT_NE(what.find(db), std::string::npos) << what;
        EXPECT_NE(what.find(fx.default_db), std::string::npos) << what;
    }
    EXPECT_FALSE(any_catalog_file(db));
    EXPECT_FALSE(fs::exists(fx.dir.file("new"))) << "the folders made for the catalog stay behind";

    // A song without a beat after a good one: all or nothing for a new catalog.
    const std::string drone = fx.dir.file("drone.wav");
    write_audio(drone, loopsep::testing::sine(220, 12.0, 2));
    EXPECT_THROW(harvest_into({fx.song, drone}, fx.db, fx.params()), Error);
    EXPECT_FALSE(any_catalog_file(fx.db));

    // An existing catalog is never removed: the song before the failure stays harvested in it.
    { Catalog made = Catalog::open(fx.db, true); }
    EXPECT_THROW(harvest_into({fx.song, drone}, fx.db, fx.params()), Error);
    ASSERT_TRUE(fs::exists(fx.db));
    EXPECT_GT(Catalog::open(fx.db, false).count(), 0);

    // The CLI: exit 1, one line, no file.
    const std::string cli_db = fx.dir.file("cli.db");
    auto r = run_loopsep("harvest '" + fx.song + "' --target bongo --genre bachata --catalog '" + cli_db +
                         "' --model '" + fx.model + "'");
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_EQ(loopsep::testing::count_lines(r.err), 1) << r.err;
    EXPECT_FALSE(any_catalog_file(cli_db));
}

TEST(HarvestQuery, QueryIdTakesOneLoopOfTheCatalogOrOfTheDefaultCatalog) {
    Fixture fx;
    std::int64_t own = 0;
    {
        Catalog cat = Catalog::open(fx.db, true);
        LoopMeta meta;
        meta.instrument = "conga";  // not the target: --query-id takes any loop as the example
        meta.genre = "bachata";
        meta.bpm = 120;
        meta.beats = 4;
        own = cat.add(read_audio(fx.query), meta).id;
    }
    HarvestParams p = prototype_params(fx);
    p.query_id = own;
    HarvestReport r = harvest_into({fx.song}, fx.db, p);
    EXPECT_EQ(r.query_kind, "catalog-loop");
    EXPECT_EQ(r.query_loop_ids, std::vector<std::int64_t>{own});
    EXPECT_TRUE(fs::equivalent(r.query_catalog, fx.db));
    EXPECT_GE(r.songs.at(0).loops.size(), 1u);

    // default:ID, through the CLI, into a new catalog.
    const std::int64_t in_default = fx.add_default_bongo();
    const std::string db2 = fx.dir.file("two.db");
    const std::string common = "harvest '" + fx.song + "' --target bongo --genre bachata --model '" + fx.model +
                               "' --min-quality 0 --max-loops 2 --json --catalog ";
    auto cli = run_loopsep(common + "'" + db2 + "' --query-id default:" + std::to_string(in_default));
    ASSERT_EQ(cli.exit_code, 0) << cli.err;
    auto j = nlohmann::json::parse(cli.out);
    EXPECT_EQ(j["query"]["kind"], "catalog-loop");
    EXPECT_EQ(j["query"]["loop_ids"], nlohmann::json::array({in_default}));
    EXPECT_TRUE(fs::equivalent(j["query"]["catalog"].get<std::string>(), fx.default_db));

    // A missing id is an input error naming it, before anything is written; a new catalog is not left.
    const std::string db3 = fx.dir.file("three.db");
    auto missing = run_loopsep(common + "'" + db3 + "' --query-id 999");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.err.find("999"), std::string::npos) << missing.err;
    EXPECT_FALSE(any_catalog_file(db3));
    // Usage errors: both queries, a malformed id.
    EXPECT_EQ(run_loopsep(common + "'" + db3 + "' --query-id 1 --query '" + fx.query + "'").exit_code, 2);
    EXPECT_EQ(run_loopsep(common + "'" + db3 + "' --query-id default:x").exit_code, 2);
    EXPECT_EQ(run_loopsep(common + "'" + db3 + "' --query-id 0").exit_code, 2);
    EXPECT_FALSE(any_catalog_file(db3));
}

TEST(HarvestQuery, KeyAndSongReachTheExportedNamesAndRootNote) {
    Fixture fx;
    HarvestParams p = fx.params();
    p.target = "bass";  // a pitched target (the untrained model does not care which)
    p.export_dir = fx.out;
    // meta.json says Am.
    HarvestReport r = harvest_into({fx.song}, fx.db, p);
    const SongHarvest& s = r.songs.at(0);
    EXPECT_EQ(s.key, "Am");
    EXPECT_EQ(s.key_source, "meta");
    ASSERT_GE(s.loops.size(), 1u);
    const std::regex name_re(R"(bachata_bass_124bpm_amin_(intro|derecho)_song-a_[0-9]{4}\.wav)");
    for (const auto& l : s.loops) {
        EXPECT_EQ(l.key, "Am");
        const std::string name = fs::path(l.file).filename().string();
        EXPECT_TRUE(std::regex_match(name, name_re)) << name;
        EXPECT_EQ(read_loop_info(l.file).root_note, 69);
    }

    // Percussion takes no key from meta.json (a DAW following the project key would transpose it).
    HarvestParams perc = fx.params();
    perc.export_dir = fx.dir.file("perc_out");
    HarvestReport bongo = harvest_into({fx.song}, fx.dir.file("perc.db"), perc);
    EXPECT_EQ(bongo.songs.at(0).key, "");
    ASSERT_GE(bongo.songs[0].loops.size(), 1u);
    for (const auto& l : bongo.songs[0].loops)
        EXPECT_TRUE(std::regex_match(fs::path(l.file).filename().string(),
                                     std::regex(R"(bachata_bongo_124bpm_(intro|derecho)_song-a_[0-9]{4}\.wav)")))
            << l.file;

    // --key beats meta.json, reaches the tags, the file names and the root note (percussion too: asked for).
    fs::remove_all(fx.out);
    p = fx.params();
    p.export_dir = fx.out;
    p.key = "Db";
    p.force = true;
    HarvestReport given = harvest_into({fx.song}, fx.dir.file("given.db"), p);
    EXPECT_EQ(given.songs.at(0).key, "C#");
    EXPECT_EQ(given.songs[0].key_source, "given");
    for (const auto& l : given.songs[0].loops) {
        EXPECT_NE(l.file.find("_124bpm_c#maj_"), std::string::npos) << l.file;
        EXPECT_EQ(read_loop_info(l.file).root_note, 61);
    }
    for (const LoopRecord& rec : Catalog::open(fx.dir.file("given.db"), false).list()) EXPECT_EQ(rec.key, "C#");

    // No key given, no meta.json: the key is estimated from the song's mixture.
    fs::create_directories(fx.dir.file("bare"));
    fs::copy_file(fx.song, fx.dir.file("bare/Some Song.wav"));
    HarvestParams q = fx.params();
    q.target = "bass";
    q.export_dir = fx.dir.file("bare_out");
    HarvestReport detected = harvest_into({fx.dir.file("bare/Some Song.wav")}, fx.dir.file("bare.db"), q);
    const std::string want = key_name(estimate_key(read_audio(fx.song)).key);
    EXPECT_EQ(detected.songs.at(0).key, want);
    EXPECT_EQ(detected.songs[0].key_source, "detected");
    for (const auto& l : detected.songs[0].loops) {
        EXPECT_EQ(fs::path(l.file).filename().string().find("bachata_bass_124bpm_"), 0u) << l.file;
        EXPECT_NE(l.file.find("_some-song_"), std::string::npos) << l.file;  // no section: left out, not "x"
        EXPECT_EQ(l.file.find("_x_"), std::string::npos) << l.file;
    }

    // A --key that is not a key is a usage error.
    HarvestParams bad = fx.params();
    bad.key = "H#";
    try {
        harvest_into({fx.song}, fx.dir.file("bad.db"), bad);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Usage);
        EXPECT_NE(std::string(e.what()).find("--key"), std::string::npos);
    }
    EXPECT_FALSE(any_catalog_file(fx.dir.file("bad.db")));
}

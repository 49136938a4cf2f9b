// The reserved-source guard: sources kept for independent evaluation are
// refused by every renderer that opens a file, and no pool ever draws one.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "loopsep/error.h"
#include "render.h"
#include "reserved.h"
#include "sources.h"

using namespace loopsep;
using namespace loopsep::synth;

TEST(ReservedSources, EveryReservedSourceIsRecognised) {
    for (const char* path : {
             "/usr/share/sounds/sf3/MuseScore_General.sf3",
             "/usr/share/sounds/sf2/MuseScore_General_Lossless.sf2",
             "/usr/share/mscore-general/x.wav",  // not reserved: checked below as a control
         }) {
        const std::string p = path;
        EXPECT_EQ(is_reserved_source(p), p.find("MuseScore_General") != std::string::npos) << p;
    }
    EXPECT_TRUE(is_reserved_source("/usr/share/musescore-general-soundfont-small/any.sf3"));
    EXPECT_TRUE(is_reserved_source("/usr/share/hydrogen/data/drumkits/Gimme A Hand 1.0/clap.wav"));
    EXPECT_TRUE(is_reserved_source("/usr/share/hydrogen/data/drumkits/gimme a hand 1.0/drumkit.xml"));
    for (const char* f : {"loop_amen.flac", "loop_amen_full.flac", "loop_breakbeat.flac", "guit_em9.flac",
                          "guit_e_fifths.flac", "bass_woodsy_c.flac", "bd_boom.flac", "sn_dub.flac",
                          "drum_cymbal_closed.flac"}) {
        EXPECT_TRUE(is_reserved_source(std::string("/usr/share/sonic-pi/samples/") + f)) << f;
        EXPECT_TRUE(is_reserved_source(std::string("/tmp/copy/") + f)) << f;  // copied elsewhere: still refused
    }
}

TEST(ReservedSources, OpenSourcesAreNotRefused) {
    for (const char* p : {"/usr/share/sonic-pi/samples/loop_compus.flac", "/usr/share/sonic-pi/samples/bd_808.flac",
                          "/usr/share/sonic-pi/samples/drum_cymbal_open.flac",
                          "/usr/share/hydrogen/data/drumkits/circAfrique v4/drumkit.xml",
                          "/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/midi/freepats/Tone_000/033_Fingered_Bass.pat"})
        EXPECT_FALSE(is_reserved_source(p)) << p;
    EXPECT_NO_THROW(check_not_reserved("/usr/share/sounds/sf2/FluidR3_GM.sf2"));
}

TEST(ReservedSources, CheckThrowsAnInputErrorNamingThePath) {
    const std::string p = "/usr/share/sonic-pi/samples/loop_amen.flac";
    try {
        check_not_reserved(p);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Input);
        EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
    }
}

// A soundfont folder that holds a reserved soundfont under the name a pool
// might one day ask for: the FluidSynth renderer refuses it before loading.
TEST(ReservedSources, TheSoundfontRendererRefusesAReservedFile) {
    const auto dir = std::filesystem::temp_directory_path() / ("loopsep_reserved_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::ofstream(dir / "MuseScore_General.sf2") << "not a soundfont";
    Song song;
    for (int b = 0; b <= 8; ++b) song.tempo.beat_sec.push_back(0.5 * b);
    song.bars = 2;
    Part part;
    part.stem = "keys";
    part.role = "keys";
    part.source.kind = SourceKind::SoundFont;
    part.source.file = "MuseScore_General.sf2";
    part.notes = {{0.0, 1.0, 60, 100, 0.0}};
    FluidBank bank(dir.string(), 44100);
    std::string label;
    try {
        bank.render(part, song, 44100, label);
        FAIL() << "rendered a reserved soundfont";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("reserved"), std::string::npos) << e.what();
    }
    std::filesystem::remove_all(dir);
}

// Every role's pool, drawn many times in every split, names no reserved file.
TEST(ReservedSources, NoPoolDrawsAReservedSource) {
    for (SourceSplit split : {SourceSplit::Train, SourceSplit::Val}) {
        Rng rng(7);
        for (const char* role : {"bongo", "guira", "cowbell", "bass", "requinto", "segunda", "keys", "pad", "drums",
                                 "hh_bass", "sample", "rap"})
            for (int i = 0; i < 200; ++i) {
                const Source s = pick_source(rng, role, split);
                EXPECT_FALSE(is_reserved_source(s.file)) << role << ": " << s.file;
            }
    }
}

// Tests for the real-recording sources: Hydrogen kits (render_hydrogen.cpp),
// freepats GUS patches (render_patch.cpp), the train / realval pools
// (sources.cpp) and the realval split end to end. Real package files
// (hydrogen-drumkits, freepats) or files written here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unistd.h>

#include "loopsep/error.h"
#include "loopsep/synth.h"
#include "render.h"
#include "rng.h"
#include "sources.h"

namespace fs = std::filesystem;
using namespace loopsep;
using namespace loopsep::synth;

namespace {

constexpr int kRate = 44100;
constexpr std::size_t kFrames = 3 * kRate;
const std::string kKits = "/usr/share/hydrogen/data/drumkits";
const std::string kCfg = "/etc/timidity/freepats.cfg";
const std::string kPats = "/usr/share/midi/freepats";

// 120 BPM, beat 0 at 0.5 s.
Song song_120() {
    Song s;
    for (int b = 0; b <= 8; ++b) s.tempo.beat_sec.push_back(0.5 + 0.5 * b);
    s.bars = 2;
    return s;
}

Part part_of(SourceKind kind, const std::string& role, const std::string& file, std::vector<NoteEvent> notes) {
    Part p;
    p.stem = role;
    p.role = role;
    p.source.kind = kind;
    p.source.file = file;
    p.source.variant = 3;
    p.notes = std::move(notes);
    return p;
}

NoteEvent note(double beat, int key, int velocity = 100, double dur = 0.25) { return {beat, dur, key, velocity, 0.0}; }

double rms(const std::vector<float>& x, std::size_t from, std::size_t to) {
    double s = 0;
    for (std::size_t i = from; i < to; ++i) s += double(x[i]) * x[i];
    return to > from ? std::sqrt(s / double(to - from)) : 0.0;
}

fs::path temp_dir(const std::string& name) {
    const fs::path d = fs::temp_directory_path() / ("loopsep_real_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

const HydrogenInstrument& instrument(const HydrogenKit& kit, const std::string& prefix) {
    for (const auto& i : kit.instruments)
        if (i.name.rfind(prefix, 0) == 0) return i;
    throw std::runtime_error("no instrument " + prefix);
}

// Fundamental by YIN (cumulative mean normalised difference, first dip under
// 0.1): the smallest period that repeats, so an octave-up error shows.
double yin_hz(const std::vector<float>& x, std::size_t from, int sr) {
    const std::size_t n = 4096, tau_max = std::size_t(sr / 40);
    std::vector<double> d(tau_max + 1, 0.0);
    for (std::size_t tau = 1; tau <= tau_max; ++tau)
        for (std::size_t i = 0; i < n; ++i) {
            const double e = double(x[from + i]) - x[from + i + tau];
            d[tau] += e * e;
        }
    double running = 0;
    std::vector<double> c(tau_max + 1, 1.0);
    for (std::size_t tau = 1; tau <= tau_max; ++tau) {
        running += d[tau];
        c[tau] = d[tau] * double(tau) / std::max(running, 1e-20);
    }
    for (std::size_t tau = std::size_t(sr / 2000); tau < tau_max; ++tau)
        if (c[tau] < 0.1) {
            while (tau + 1 < tau_max && c[tau + 1] < c[tau]) ++tau;
            const double a = c[tau - 1], b = c[tau], cc = c[tau + 1];
            const double shift = (a - cc) / (2.0 * (a - 2.0 * b + cc));
            return sr / (double(tau) + (std::isfinite(shift) ? shift : 0.0));
        }
    return 0.0;
}

double midi_hz(int key) { return 440.0 * std::pow(2.0, (key - 69) / 12.0); }

}  // namespace

// ---- Hydrogen ----

TEST(Hydrogen, ParsesALayeredKit) {
    const HydrogenKit kit = read_hydrogen_kit(kKits + "/ForzeeStereo");
    EXPECT_EQ(kit.name, "Forzee Stereo Drumkit");
    EXPECT_EQ(kit.instruments.size(), 27u);
    const HydrogenInstrument& kick = instrument(kit, "Kick");
    ASSERT_EQ(kick.layers.size(), 5u);
    EXPECT_EQ(fs::path(kick.layers[3].file).filename(), "Kick-3.wav");
    EXPECT_DOUBLE_EQ(kick.layers[3].min, 0.6);
    EXPECT_DOUBLE_EQ(kick.layers[3].max, 0.8);
    EXPECT_DOUBLE_EQ(kick.layers[3].gain, 1.4);
    EXPECT_TRUE(fs::is_regular_file(kick.layers[3].file));
}

TEST(Hydrogen, ParsesAnOldFormatKitAndEveryInstalledKit) {
    // HardElectro1: one <filename> per instrument, no <layer>.
    const HydrogenKit old = read_hydrogen_kit(kKits + "/HardElectro1");
    ASSERT_EQ(old.instruments.size(), 16u);
    EXPECT_EQ(old.instruments[0].name, "Kick 1");
    ASSERT_EQ(old.instruments[0].layers.size(), 1u);
    EXPECT_EQ(fs::path(old.instruments[0].layers[0].file).filename(), "HardHse_K_02.flac");
    EXPECT_DOUBLE_EQ(old.instruments[0].volume, 1.0);
    // Every kit of hydrogen-drumkits and hydrogen-drumkits-effects reads; the reserved one is refused.
    int kits = 0;
    for (const auto& e : fs::directory_iterator(kKits)) {
        if (!fs::is_regular_file(e.path() / "drumkit.xml")) continue;
        if (e.path().filename() == "Gimme A Hand 1.0") {
            EXPECT_THROW(read_hydrogen_kit(e.path().string()), Error);
            continue;
        }
        const HydrogenKit k = read_hydrogen_kit(e.path().string());
        EXPECT_GE(k.instruments.size(), 10u) << e.path();
        ++kits;
    }
    EXPECT_GE(kits, 14);
}

TEST(Hydrogen, VelocityPicksTheLayer) {
    const HydrogenKit kit = read_hydrogen_kit(kKits + "/ForzeeStereo");
    const HydrogenInstrument& kick = instrument(kit, "Kick");
    EXPECT_EQ(fs::path(choose_layer(kick, 20).file).filename(), "Kick-0.wav");   // 0.16
    EXPECT_EQ(fs::path(choose_layer(kick, 70).file).filename(), "Kick-2.wav");   // 0.55
    EXPECT_EQ(fs::path(choose_layer(kick, 120).file).filename(), "Kick-4.wav");  // 0.94
    // Rendered: the hard hit is another recording, not the soft one louder.
    const Song song = song_120();
    std::string label;
    const Audio soft = render_hydrogen(part_of(SourceKind::Hydrogen, "drums", "ForzeeStereo", {note(0, 36, 20)}), song,
                                       kKits, kRate, kFrames, label);
    const Audio hard = render_hydrogen(part_of(SourceKind::Hydrogen, "drums", "ForzeeStereo", {note(0, 36, 120)}), song,
                                       kKits, kRate, kFrames, label);
    double ss = 0, hh = 0, sh = 0;
    for (std::size_t i = 0; i < kFrames; ++i) {
        const double s = soft.channels[0][i], h = hard.channels[0][i];
        ss += s * s, hh += h * h, sh += s * h;
    }
    ASSERT_GT(ss, 0.0);
    EXPECT_GT(hh, 4.0 * ss);                         // louder: velocity and layer gain
    EXPECT_LT(sh / std::sqrt(ss * hh), 0.98);        // and a different waveform
}

TEST(Hydrogen, HitsAtTheirOnsetsAndSilenceBefore) {
    std::string label;
    const Audio a = render_hydrogen(
        part_of(SourceKind::Hydrogen, "drums", "VariBreaks", {note(1, 36), note(2, 38), note(2.5, 42)}), song_120(), kKits,
        kRate, kFrames, label);
    ASSERT_EQ(a.num_channels(), 2);
    ASSERT_EQ(a.frames(), kFrames);
    const std::size_t kick = kRate, snare = kRate * 3 / 2, jitter = kRate * 6 / 1000;
    for (int c = 0; c < 2; ++c) {
        EXPECT_EQ(rms(a.channels[std::size_t(c)], 0, kick - jitter), 0.0);
        EXPECT_GT(rms(a.channels[std::size_t(c)], kick - jitter, kick + kRate / 20), 1e-3);
        EXPECT_GT(rms(a.channels[std::size_t(c)], snare + jitter, snare + kRate / 20), 1e-3);
    }
    EXPECT_NE(label.find("Kick"), std::string::npos) << label;
    EXPECT_NE(label.find("Snare"), std::string::npos) << label;
    EXPECT_NE(label.find("Hat"), std::string::npos) << label;
}

TEST(Hydrogen, HandDrumsPlayTheBongoPartTunedPerVariant) {
    std::set<std::string> labels;
    for (std::uint64_t v = 1; v <= 6; ++v) {
        Part p = part_of(SourceKind::Hydrogen, "bongo", "circAfrique v4", {note(0, 60), note(1, 61)});
        p.source.variant = v;
        std::string label;
        const Audio a = render_hydrogen(p, song_120(), kKits, kRate, kFrames, label);
        EXPECT_GT(rms(a.channels[0], kRate / 2, kRate / 2 + kRate / 20), 1e-3) << label;
        EXPECT_GT(rms(a.channels[0], kRate, kRate + kRate / 20), 1e-3) << label;
        labels.insert(label);
    }
    EXPECT_GE(labels.size(), 5u);  // other drums, other tuning
}

TEST(Hydrogen, MalformedXmlIsAnInputErrorNamingTheFile) {
    const fs::path dir = temp_dir("kit");
    const std::string file = (dir / "drumkit.xml").string();
    for (const std::string xml : {
             // crossed closing tags, an element never closed, an unknown entity, text after the root
             "<drumkit_info><instrumentList><instrument><name>x</name></instrumentList></instrument></drumkit_info>",
             "<drumkit_info><name>x</name><instrumentList><instrument><id>0</id><name>Kick</name></instrumentList>",
             "<drumkit_info><name>a &nbsp; b</name><instrumentList/></drumkit_info>",
             "<drumkit_info><instrumentList/></drumkit_info> trailing",
         }) {
        std::ofstream(file) << xml;
        try {
            read_hydrogen_kit(dir.string());
            FAIL() << "no error for " << xml;
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("malformed"), std::string::npos) << e.what();
        }
    }
    // Well-formed but not a number where one is needed: an input error as well.
    std::ofstream(file) << "<drumkit_info><instrumentList><instrument><gain>loud</gain></instrument></instrumentList></drumkit_info>";
    EXPECT_THROW(read_hydrogen_kit(dir.string()), Error);
    fs::remove_all(dir);
}

// ---- freepats ----

TEST(Patch, ReadsARealPatch) {
    const Patch p = read_patch(kPats + "/Tone_000/033_Finger_Bass.pat");
    ASSERT_EQ(p.samples.size(), 4u);
    EXPECT_NEAR(p.samples[1].root_hz, 82.304, 1e-3);
    EXPECT_EQ(p.samples[1].sample_rate_hz, 44100);
    EXPECT_EQ(p.samples[2].sample_rate_hz, 32000);
    for (const auto& s : p.samples) {
        EXPECT_GT(s.root_hz, 20.0);
        EXPECT_LT(s.root_hz, 5000.0);
        EXPECT_LE(s.low_hz, s.high_hz);
        EXPECT_TRUE(s.looped);
        EXPECT_LT(s.loop_start, s.loop_end);
        EXPECT_LE(s.loop_end, s.data.size());
        double peak = 0;
        for (float x : s.data) peak = std::max(peak, double(std::fabs(x)));
        EXPECT_GT(peak, 0.05);  // signed 16-bit decoded to -1..1, not noise-level
        EXPECT_LE(peak, 1.0);
    }
    const FreepatsMap map = read_freepats_cfg(kCfg);
    EXPECT_EQ(fs::path(map.programs.at(33)).filename(), "033_Finger_Bass.pat");
    EXPECT_EQ(fs::path(map.drums.at(60)).filename(), "060_Bongo_High.pat");
}

TEST(Patch, NotesSoundAtTheirPitch) {
    // Finger bass A2 (110 Hz: the sample recorded at 32 kHz, root 73.3 Hz) and
    // nylon guitar A3 (220 Hz: the 246.9 Hz sample played lower).
    for (const auto& [program, key] : std::vector<std::pair<int, int>>{{33, 45}, {24, 57}, {0, 64}}) {
        Part p = part_of(SourceKind::Patch, "bass", "freepats", {note(0, key, 100, 2.0)});
        p.source.program = program;
        std::string label;
        const Audio a = render_patch(p, song_120(), kCfg, kRate, kFrames, label);
        ASSERT_EQ(a.num_channels(), 1);
        EXPECT_EQ(rms(a.channels[0], 0, kRate / 2), 0.0);
        const double hz = yin_hz(a.channels[0], kRate / 2 + kRate / 5, kRate);
        EXPECT_NEAR(hz / midi_hz(key), 1.0, 0.03) << label << ": " << hz << " Hz";
    }
}

TEST(Patch, SustainedNotesLoopAndReleaseFades) {
    // A 2.5 s organ note is longer than its recording: the loop keeps it sounding.
    Part p = part_of(SourceKind::Patch, "keys", "freepats", {note(0, 60, 100, 5.0)});
    p.source.program = 16;
    std::string label;
    const Audio a = render_patch(p, song_120(), kCfg, kRate, 4 * kRate, label);
    const std::size_t end = kRate / 2 + std::size_t(2.5 * kRate);
    EXPECT_GT(rms(a.channels[0], end - kRate / 10, end), 0.02) << label;
    EXPECT_EQ(rms(a.channels[0], end + std::size_t(0.16 * kRate), 4 * kRate), 0.0);  // released in 0.15 s
}

TEST(Patch, PercussionKeysMapToTheirPatches) {
    Part p = part_of(SourceKind::Patch, "guira", "freepats", {note(0, 74, 100, 0.5), note(1, 73, 100, 0.1)});
    p.source.drum = true;
    p.source.key_map = {{74, 69}, {73, 69}};  // cabasa
    std::string label;
    const Audio a = render_patch(p, song_120(), kCfg, kRate, kFrames, label);
    EXPECT_EQ(label, "freepats: 069_Cabasa");
    // The long stroke sounds past 0.1 s (its gate is 0.25 s, the recording 0.19 s);
    // the short one stops at its gate, 0.05 s, plus the 10 ms fade.
    EXPECT_GT(rms(a.channels[0], kRate / 2 + kRate / 10, kRate / 2 + kRate * 3 / 20), 1e-3);
    EXPECT_GT(rms(a.channels[0], kRate, kRate + kRate / 25), 1e-3);
    EXPECT_EQ(rms(a.channels[0], kRate + kRate / 20 + kRate / 100 + 2, kRate + kRate / 2), 0.0);
}

// A patch written here: one 8-bit unsigned sample, a 441 Hz sine of four
// periods looped to the data's last byte, mapped by a config of our own.
TEST(Patch, EightBitUnsignedSampleLoopedToItsEnd) {
    const fs::path dir = temp_dir("pat8");
    std::string b(239, '\0');
    b.replace(0, 22, std::string("GF1PATCH110\0ID#000002\0", 22));
    b[198] = 1;  // samples in the layer
    std::string h(96, '\0');
    auto put32 = [&](std::size_t at, std::uint32_t v) { for (int i = 0; i < 4; ++i) h[at + i] = char((v >> (8 * i)) & 0xff); };
    const std::uint32_t n = 400;
    put32(8, n);                                    // data bytes
    put32(12, 0), put32(16, n);                     // loop: the whole sample
    h[20] = char(44100 & 0xff), h[21] = char(44100 >> 8);
    put32(22, 20000), put32(26, 20000000), put32(30, 441000);  // range and root, mHz
    h[55] = char(2 | 4);                            // 8-bit, unsigned, looping
    std::string data(n, '\0');
    for (std::uint32_t i = 0; i < n; ++i) data[i] = char(std::lround(128 + 100 * std::sin(6.283185307179586 * i / 100.0)));
    std::ofstream(dir / "sine.pat", std::ios::binary) << b << h << data;
    std::ofstream(dir / "test.cfg") << "dir " << dir.string() << "\nbank 0\n 5 sine.pat\n";
    const Patch p = read_patch((dir / "sine.pat").string());
    ASSERT_EQ(p.samples.size(), 1u);
    ASSERT_EQ(p.samples[0].data.size(), n);
    EXPECT_NEAR(p.samples[0].data[25], 100.0 / 128.0, 1e-6);  // the crest, decoded to -1..1
    EXPECT_TRUE(p.samples[0].looped);
    Part part = part_of(SourceKind::Patch, "keys", "freepats", {note(0, 69, 127, 2.0)});
    part.source.program = 5;
    std::string label;
    const Audio a = render_patch(part, song_120(), (dir / "test.cfg").string(), kRate, kFrames, label);
    EXPECT_EQ(label, "freepats: sine");
    // Held for the whole gate (1 s) although the recording lasts 9 ms, at 440 Hz.
    EXPECT_GT(rms(a.channels[0], kRate, kRate * 3 / 2 - kRate / 100), 0.5);
    EXPECT_NEAR(yin_hz(a.channels[0], kRate, kRate), 440.0, 440.0 * 0.01);
    fs::remove_all(dir);
}

TEST(Patch, TruncatedPatchIsAnInputErrorNamingTheFile) {
    std::ifstream in(kPats + "/Drum_000/060_Bongo_High.pat", std::ios::binary);
    const std::string whole((std::istreambuf_iterator<char>(in)), {});
    const fs::path dir = temp_dir("pat");
    for (std::size_t keep : {std::size_t(100), std::size_t(239 + 50), whole.size() - 1000}) {
        const fs::path cut = dir / ("cut_" + std::to_string(keep) + ".pat");
        std::ofstream(cut, std::ios::binary) << whole.substr(0, keep);
        try {
            read_patch(cut.string());
            FAIL() << "no error for " << keep << " bytes";
        } catch (const Error& e) {
            EXPECT_EQ(e.kind(), ErrorKind::Input);
            EXPECT_NE(std::string(e.what()).find(cut.string()), std::string::npos) << e.what();
        }
    }
    fs::remove_all(dir);
}

// ---- pools ----

namespace {

// The recordings a source plays: Hydrogen kit folders, freepats patch files, recorded loops.
std::set<std::string> recordings(const Source& s, const FreepatsMap& map, const std::string& role) {
    if (s.kind == SourceKind::Hydrogen) return {"hydrogen/" + s.file};
    if (s.kind == SourceKind::RecordedLoop) return {"loop/" + s.file};
    if (s.kind != SourceKind::Patch) return {};
    if (!s.drum) return {map.programs.at(s.program)};
    std::set<std::string> out;
    if (s.key_map.empty())  // the GM keys the hip-hop drums play
        for (int k : {36, 38, 39, 40, 42, 46}) out.insert(map.drums.at(k));
    for (const auto& [from, to] : s.key_map) out.insert(map.drums.at(to));
    EXPECT_FALSE(role.empty());
    return out;
}

const std::vector<std::string> kRoles = {"drums", "bongo", "guira", "cowbell", "bass", "hh_bass",
                                         "requinto", "segunda", "keys", "pad", "sample"};

}  // namespace

TEST(RealPools, TrainAndRealValAreDisjointAndRealValIsAllReal) {
    const FreepatsMap map = read_freepats_cfg(kCfg);
    std::set<std::string> train, realval;
    Rng rng(99);
    for (const auto& role : kRoles) {
        std::set<std::string> role_real;
        for (int i = 0; i < 2000; ++i)
            for (const auto& r : recordings(pick_source(rng, role, SourceSplit::Train), map, role)) train.insert(r);
        for (int i = 0; i < 400; ++i) {
            const Source s = pick_source(rng, role, SourceSplit::RealVal);
            EXPECT_TRUE(s.kind == SourceKind::Hydrogen || s.kind == SourceKind::Patch ||
                        s.kind == SourceKind::RecordedLoop)
                << role;
            for (const auto& r : recordings(s, map, role)) realval.insert(r), role_real.insert(r);
        }
        EXPECT_GE(role_real.size(), 2u) << role;  // every role has held-out recordings, more than one
    }
    for (const auto& r : realval) EXPECT_EQ(train.count(r), 0u) << r << " is in both pools";
    EXPECT_GE(train.size(), 30u);
    EXPECT_GE(realval.size(), 15u);
    for (const auto& r : train) EXPECT_EQ(r.find("Gimme"), std::string::npos);
    // Rap has no open recordings: realval uses the val espeak-ng voices.
    const std::set<std::string> val_variants = {"m7", "Denis", "Hugo", "Jacky", "Marco", "f3", "f4", "Alicia", "edward", "iven"};
    for (int i = 0; i < 50; ++i) {
        const Source rv = pick_source(rng, "rap", SourceSplit::RealVal);
        EXPECT_EQ(rv.kind, SourceKind::Voice);
        EXPECT_EQ(val_variants.count(rv.voice.substr(rv.voice.find('+') + 1)), 1u) << rv.voice;
    }
}

// Every kit and patch either pool can draw plays its role: a kit drawn for a
// role it has no instrument for, or a missing patch, would fail a song.
TEST(RealPools, EveryPoolEntryPlaysItsRole) {
    const std::map<std::string, std::vector<int>> keys = {
        {"drums", {36, 38, 39, 40, 42, 46}}, {"bongo", {60, 61}}, {"guira", {74, 73}}, {"cowbell", {56}}};
    std::set<std::string> seen;
    Rng rng(7);
    for (const auto split : {SourceSplit::Train, SourceSplit::RealVal})
        for (const auto& role : kRoles)
            for (int i = 0; i < 300; ++i) {
                Source s = pick_source(rng, role, split);
                if (s.kind != SourceKind::Hydrogen && s.kind != SourceKind::Patch) continue;
                std::string id = role + "|" + s.file + "|" + std::to_string(s.program) + "|" + std::to_string(s.drum);
                for (const auto& [from, to] : s.key_map) id += "|" + std::to_string(to);
                if (!seen.insert(id).second) continue;
                Part p;
                p.role = role;
                p.source = s;
                const auto it = keys.find(role);
                for (int k : it != keys.end() ? it->second : std::vector<int>{40, 52, 64})
                    p.notes.push_back(note(0.5 * double(p.notes.size()), k, 100, 0.5));
                std::string label;
                const Audio a = s.kind == SourceKind::Hydrogen ? render_hydrogen(p, song_120(), kKits, kRate, kFrames, label)
                                                               : render_patch(p, song_120(), kCfg, kRate, kFrames, label);
                for (std::size_t n = 0; n < p.notes.size(); ++n) {
                    const std::size_t at = kRate / 2 + n * kRate / 4;
                    EXPECT_GT(rms(a.channels[0], at, at + kRate / 20), 1e-4) << id << " key " << p.notes[n].key << ": " << label;
                }
            }
    EXPECT_GE(seen.size(), 40u);
}

// The share of training parts played on real recordings (the report's figure):
// 50 songs of each genre, composed only.
TEST(RealPools, RealRecordingsAreAboutHalfOfTrainingParts) {
    for (Genre g : {Genre::Bachata, Genre::HipHop}) {
        SynthParams p;
        p.genre = g;
        p.duration_sec = 40.0;
        int parts = 0, real = 0;
        for (int i = 0; i < 50; ++i) {
            Rng rng(mix_seed(1, std::uint64_t(i) * 2 + (g == Genre::HipHop ? 1 : 0)));
            Rng compose = rng.fork(1);
            const Song song = g == Genre::Bachata ? compose_bachata(compose, p) : compose_hiphop(compose, p);
            for (const auto& part : song.parts) {
                ++parts;
                real += part.source.kind == SourceKind::Hydrogen || part.source.kind == SourceKind::Patch ||
                        part.source.kind == SourceKind::RecordedLoop;
            }
        }
        const double share = double(real) / parts;
        std::printf("[ share    ] %s: %d of %d training parts on real recordings (%.1f %%)\n", genre_name(g).c_str(), real,
                    parts, 100.0 * share);
        EXPECT_GT(share, 0.35) << genre_name(g);
        EXPECT_LT(share, 0.55) << genre_name(g);
    }
}

// The val split composes exactly the songs it composed before real recordings
// came in: a hash of every part's source and notes over 20 songs per genre,
// recorded from the code of d4dc481 (before this change). Composing is pure
// (no files, no packages), so the number holds on every machine; the renderers
// the val split uses are untouched.
TEST(RealPools, ValSongsAreUnchanged) {
    std::uint64_t h = 1469598103934665603ull;
    auto mix = [&](std::uint64_t v) { h = (h ^ v) * 1099511628211ull; };
    auto mix_str = [&](const std::string& s) { for (unsigned char c : s) mix(c); mix(0xff); };
    auto mix_dbl = [&](double d) { std::uint64_t u; std::memcpy(&u, &d, 8); mix(u); };
    for (Genre g : {Genre::Bachata, Genre::HipHop})
        for (int i = 0; i < 20; ++i) {
            SynthParams p;
            p.genre = g;
            p.split = SourceSplit::Val;
            p.duration_sec = 40.0;
            Rng rng(mix_seed(1, std::uint64_t(i) * 2 + (g == Genre::HipHop ? 1 : 0)));
            Rng compose = rng.fork(1);
            const Song song = g == Genre::Bachata ? compose_bachata(compose, p) : compose_hiphop(compose, p);
            mix_dbl(song.bpm);
            for (const auto& part : song.parts) {
                mix_str(part.stem), mix_str(part.role), mix(std::uint64_t(part.source.kind));
                mix_str(part.source.file), mix(std::uint64_t(part.source.bank)), mix(std::uint64_t(part.source.program));
                mix(part.source.drum), mix(part.source.variant), mix_str(part.source.voice);
                mix(std::uint64_t(part.source.voice_pitch)), mix(std::uint64_t(part.source.voice_speed));
                mix_dbl(part.gain_db), mix_dbl(part.pan);
                for (const auto& n : part.notes)
                    mix_dbl(n.beat), mix_dbl(n.dur_beats), mix(std::uint64_t(n.key)), mix(std::uint64_t(n.velocity)),
                        mix_dbl(n.offset_sec);
                for (const auto& w : part.words) mix_dbl(w.beat), mix_str(w.text);
            }
            mix(compose.next());  // and the composer drew nothing more or less
        }
    EXPECT_EQ(h, 8581402124712215568ull) << "val compose hash " << h;
}

// ---- the realval split, end to end ----

TEST(RealVal, OneSongPerGenreWritesEveryStemFromRealRecordings) {
    const fs::path out = temp_dir("songs");
    for (Genre g : {Genre::Bachata, Genre::HipHop}) {
        SynthParams p;
        p.genre = g;
        p.split = SourceSplit::RealVal;
        p.duration_sec = 20.0;
        p.seed = 5;
        p.quiet = true;
        p.out_dir = out.string();
        render_songs(p);
        const fs::path dir = out / song_name(p, 0);
        std::ifstream in(dir / "meta.json");
        const auto meta = nlohmann::json::parse(in);
        EXPECT_EQ(meta["split"], "realval");
        for (const auto& stem : genre_instruments(g)) {
            ReadOptions o;
            o.target_rate_hz = 0;
            o.allow_silent = true;
            const Audio a = read_audio((dir / "stems" / (stem + ".wav")).string(), o);
            double peak = a.peak();
            EXPECT_GT(peak, 0.01) << genre_name(g) << " " << stem;
            for (const auto& s : meta["stems"][stem]["sources"]) {
                const std::string src = s["source"];
                if (stem == "vocals") EXPECT_EQ(src.rfind("espeak", 0), 0u) << src;
                else
                    EXPECT_TRUE(src.rfind("hydrogen:", 0) == 0 || src.rfind("freepats:", 0) == 0 ||
                                src.rfind("sonic-pi:", 0) == 0 || src.rfind("lmms:", 0) == 0)
                        << src;
            }
        }
    }
    fs::remove_all(out);
}

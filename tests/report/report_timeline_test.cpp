// The report's timeline (inline SVG on the spectrograms' time axis): the detected sections drawn as
// labelled bands with a boundary where the downbeat phase changes, from a grid whose sections are
// known, and end to end from a generated song whose bar is cut short once.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>

#include "json_schema.h"
#include "loopsep/audio.h"
#include "loopsep/beat.h"
#include "model_fixture.h"
#include "report/report.h"
#include "song_fixture.h"
#include "test_util.h"

using namespace loopsep;
using loopsep::testing::read_text;
using loopsep::testing::run_loopsep;
using loopsep::testing::TempDir;
using loopsep::testing::count;

namespace {


// Every <g class="section" ...> of the page: its data-start-sec and data-end-sec.
std::vector<std::pair<double, double>> section_marks(const std::string& html) {
    std::vector<std::pair<double, double>> out;
    const std::regex re("<g class=\"section\" data-start-sec=\"([0-9.]+)\" data-end-sec=\"([0-9.]+)\"");
    for (std::sregex_iterator it(html.begin(), html.end(), re), end; it != end; ++it)
        out.emplace_back(std::stod((*it)[1]), std::stod((*it)[2]));
    return out;
}

nlohmann::json sections_json(const BeatGrid& g) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : downbeat_sections(g))
        out.push_back({{"start_sec", s.start_sec}, {"end_sec", s.end_sec}, {"first_downbeat_sec", s.first_downbeat_sec},
                       {"phase", s.phase}, {"bars", s.bars}});
    return out;
}

// 120 BPM (a beat every 0.5 s), kick accented and the bass note changing on "one". Beats 0..17 are
// bars of four from beat 0; then a bar of two beats (16, 17) and bars of four again from beat 18:
// the downbeats' phase moves by two beats at 9.0 s, so the song has two sections.
Audio phase_change_song(double seconds, int rate_hz = 44100) {
    Audio song(2, std::size_t(seconds * rate_hz), rate_hz);
    const double beat_sec = 0.5;
    std::uint32_t lcg = 777;
    for (std::size_t i = 0; i < song.frames(); ++i) {
        const double t = double(i) / rate_hz, in_beat = std::fmod(t, beat_sec), in_eighth = std::fmod(t, beat_sec / 2);
        const int beat = int(t / beat_sec);
        const int in_bar = beat < 18 ? beat % 4 : (beat - 18) % 4, bar = beat < 18 ? beat / 4 : 5 + (beat - 18) / 4;
        const double kick = in_beat < 0.12 ? std::sin(2 * M_PI * 55 * in_beat) * std::exp(-in_beat * 30) * (in_bar == 0 ? 1.0 : 0.45) : 0.0;
        lcg = lcg * 1664525u + 1013904223u;
        const double hat = in_eighth < 0.03 ? (double(lcg >> 8) / double(1u << 24) - 0.5) * std::exp(-in_eighth * 150) * 0.4 : 0.0;
        const double bass_hz = bar % 2 ? 98.0 : 82.4;
        const double bass = 0.25 * std::sin(2 * M_PI * bass_hz * t);
        for (int c = 0; c < 2; ++c) song.channels[c][i] = float(0.6 * kick + hat + bass * (c ? 0.9 : 1.0));
    }
    return song;
}

}  // namespace

TEST(ReportTimeline, KnownSectionsAreDrawnAsLabelledBandsAtTheirTimes) {
    // Beats every 0.5 s; bars on beats 1, 5, 9 (phase 1), then a bar of 6 beats and bars on 15, 19,
    // 23, 27 (phase 3): section 1 is 0.0–7.5 s (3 bars), section 2 is 7.5–14.5 s (4 bars).
    TempDir dir;
    write_audio(dir.file("song.wav"), loopsep::testing::sine(220, 15.0, 1, 44100), {});
    BeatGrid g;
    for (int i = 0; i < 30; ++i) g.beats_sec.push_back(0.5 * i);
    for (int i : {1, 5, 9, 15, 19, 23, 27}) g.downbeats_sec.push_back(0.5 * i);
    const nlohmann::json song{{"input", "song.wav"},
                              {"seconds", 15.0},
                              {"tempo_bpm", 120.0},
                              {"segments", 8},
                              {"grid", {{"mode", "beats"}, {"beatless", false}, {"beats_sec", g.beats_sec},
                                        {"downbeats_sec", g.downbeats_sec}, {"segment_starts_sec", nlohmann::json::array()},
                                        {"downbeat_sections", sections_json(g)}}},
                              {"mixture", {{"level_dbfs", -9.0}}},
                              {"targets", nlohmann::json::array()},
                              {"residual", nullptr}};
    const std::string html = report::report_html({{"songs", {song}}}, dir.path());
    const auto marks = section_marks(html);
    ASSERT_EQ(marks.size(), 2u) << html.substr(0, 3000);
    EXPECT_DOUBLE_EQ(marks[0].first, 0.0);
    EXPECT_DOUBLE_EQ(marks[0].second, 7.5);
    EXPECT_DOUBLE_EQ(marks[1].first, 7.5);
    EXPECT_DOUBLE_EQ(marks[1].second, 14.5);
    // Labels with the bar counts, the count in the song's line, and one boundary (a green line)
    // across the timeline at 7.5 s: column floor(7.5 / 15 × 960) = 480.
    EXPECT_EQ(count(html, ">§1 · 3 bars</text>"), 1);
    EXPECT_EQ(count(html, ">§2 · 4 bars</text>"), 1);
    EXPECT_NE(html.find(", 2 sections</p>"), std::string::npos);
    EXPECT_EQ(count(html, "stroke=\"#2a8a4a\""), 1);
    EXPECT_NE(html.find("<path stroke=\"#2a8a4a\" stroke-width=\"2\" d=\"M480 0v90\"/>"), std::string::npos);
    // The band of section 2 runs from column 480 to floor(14.5 / 15 × 960) = 928.
    EXPECT_NE(html.find("<rect x=\"480\" y=\"77\" width=\"448\" height=\"13\""), std::string::npos);
    // The timeline is vector drawing inside the page: the beat and downbeat lines are there too.
    EXPECT_EQ(count(html, "<svg class=\"timeline\""), 1);
    EXPECT_NE(html.find("M32.5 0v77"), std::string::npos);  // the beat at 0.5 s: column 32
}

TEST(ReportTimeline, AGeneratedSongsPhaseChangeIsASectionOnTheReportsTimeAxis) {
    TempDir dir;
    loopsep::testing::write_small_test_model(dir.file("m.safetensors"), 3);
    write_audio(dir.file("song.wav"), phase_change_song(20.0), {});
    write_audio(dir.file("loop.wav"), loopsep::testing::make_test_song(120, 2.0, 1), {});
    auto r = run_loopsep("separate song.wav --targets a --query loop.wav --query-bpm 120 --outdir out --report --model m.safetensors",
                         dir.path());
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto run = nlohmann::json::parse(read_text(dir.file("out/run.json")));
    const auto schema = nlohmann::json::parse(read_text(std::string(LOOPSEP_SOURCE_DIR) + "/docs/separate.schema.json"));
    EXPECT_TRUE(loopsep::testing::validate_json(schema, run).empty());
    // run.json lists the sections of its own grid (beat.h's downbeat_sections) ...
    const auto& grid = run["songs"][0]["grid"];
    BeatGrid g;
    g.beats_sec = grid["beats_sec"].get<std::vector<double>>();
    g.downbeats_sec = grid["downbeats_sec"].get<std::vector<double>>();
    EXPECT_EQ(grid["downbeat_sections"], sections_json(g));
    // ... which are the two the song was made with: the phase changes at 9.0 s (beat 18).
    const auto& sections = grid["downbeat_sections"];
    ASSERT_EQ(sections.size(), 2u) << grid.dump();
    EXPECT_NEAR(sections[1]["start_sec"].get<double>(), 9.0, 0.05);
    EXPECT_EQ((sections[1]["phase"].get<int>() - sections[0]["phase"].get<int>() + 4) % 4, 2);
    // The page draws each at the times run.json gives.
    const std::string html = read_text(dir.file("out/report.html"));
    const auto marks = section_marks(html);
    ASSERT_EQ(marks.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        EXPECT_NEAR(marks[i].first, sections[i]["start_sec"].get<double>(), 5e-4);
        EXPECT_NEAR(marks[i].second, sections[i]["end_sec"].get<double>(), 5e-4);
    }
    EXPECT_NE(html.find(", 2 sections</p>"), std::string::npos);
}

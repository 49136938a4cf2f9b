// Bachata composer: intro → derecho → majao → mambo → … → outro, with bongo
// martillo, güira, syncopated bass, requinto + segunda guitars and keys/pad,
// the bongo player switching to cowbell in the mambo.
#include <algorithm>
#include <cmath>

#include "score.h"
#include "sources.h"

namespace loopsep::synth {
namespace {

using Notes = std::vector<NoteEvent>;

void add(Notes& n, double beat, double dur, int key, int vel) {
    n.push_back({beat, dur, key, std::clamp(vel, 1, 127), 0.0});
}

const std::vector<std::vector<Chord>>& minor_progressions() {
    static const std::vector<std::vector<Chord>> p = {
        {{0, {0, 3, 7}}, {5, {0, 3, 7}}, {7, {0, 4, 7, 10}}, {0, {0, 3, 7}}},
        {{0, {0, 3, 7}}, {0, {0, 3, 7}}, {5, {0, 3, 7}}, {7, {0, 4, 7, 10}}},
        {{0, {0, 3, 7}}, {10, {0, 4, 7}}, {8, {0, 4, 7}}, {7, {0, 4, 7, 10}}},
        {{0, {0, 3, 7}}, {8, {0, 4, 7}}, {3, {0, 4, 7}}, {7, {0, 4, 7, 10}}},
        {{0, {0, 3, 7}}, {5, {0, 3, 7}}, {0, {0, 3, 7}}, {7, {0, 4, 7, 10}}},
    };
    return p;
}

const std::vector<std::vector<Chord>>& major_progressions() {
    static const std::vector<std::vector<Chord>> p = {
        {{0, {0, 4, 7}}, {5, {0, 4, 7}}, {7, {0, 4, 7, 10}}, {0, {0, 4, 7}}},
        {{0, {0, 4, 7}}, {9, {0, 3, 7}}, {5, {0, 4, 7}}, {7, {0, 4, 7, 10}}},
        {{0, {0, 4, 7}}, {7, {0, 4, 7, 10}}, {7, {0, 4, 7, 10}}, {0, {0, 4, 7}}},
        {{0, {0, 4, 7}}, {2, {0, 3, 7}}, {7, {0, 4, 7, 10}}, {0, {0, 4, 7}}},
        {{0, {0, 4, 7}}, {4, {0, 3, 7}}, {5, {0, 4, 7}}, {7, {0, 4, 7, 10}}},
    };
    return p;
}

std::vector<Section> plan_sections(Rng& rng, int bars) {
    std::vector<Section> out;
    const int intro = bars >= 14 ? rng.pick(std::vector<int>{2, 4, 4}) : 2;
    const int outro = bars >= 16 ? rng.range(1, 2) : 1;
    int body = bars - intro - outro;
    out.push_back({0, intro, "intro"});
    std::vector<std::pair<std::string, int>> seq;
    if (body < 10) {
        const int mambo = std::max(2, body / 2 - (body / 2) % 2);
        seq = {{"derecho", body - mambo}, {"mambo", mambo}};
    } else if (body < 20) {  // short songs still get the three sections
        const int mambo = body >= 14 ? 4 : 2;
        const int majao = body >= 14 ? 4 : 2;
        seq = {{"derecho", body - mambo - majao}, {"majao", majao}, {"mambo", mambo}};
    } else {
        const std::vector<std::vector<std::pair<std::string, int>>> arrangements = {
            {{"derecho", 8}, {"majao", 4}, {"mambo", 8}, {"derecho", 8}, {"majao", 8}, {"mambo", 8}},
            {{"derecho", 8}, {"mambo", 8}, {"derecho", 8}, {"majao", 4}, {"mambo", 8}},
            {{"derecho", 4}, {"majao", 4}, {"derecho", 8}, {"mambo", 8}, {"majao", 8}, {"mambo", 4}},
        };
        seq = rng.pick(arrangements);
        while (true) {  // repeat the arrangement for long songs
            int total = 0;
            for (auto& s : seq) total += s.second;
            if (total >= body) break;
            auto more = rng.pick(arrangements);
            seq.insert(seq.end(), more.begin(), more.end());
        }
    }
    int bar = intro;
    for (const auto& [name, len] : seq) {
        if (bar >= intro + body) break;
        const int n = std::min(len, intro + body - bar);
        if (n <= 0) continue;
        if (!out.empty() && out.back().name == name) out.back().bars += n;
        else out.push_back({bar, n, name});
        bar += n;
    }
    out.push_back({bar, outro, "outro"});
    return out;
}

// Bongo martillo: eighths on the high drum, accents on the slaps, the open
// low tone on 4; fills at section ends.
void bongo_bar(Rng& rng, Notes& n, double b0, const std::string& sec, bool fill, double intensity) {
    const int hi = 60, lo = 61;
    if (fill) {
        add(n, b0, 0.5, hi, 85);
        add(n, b0 + 0.5, 0.5, hi, 60);
        add(n, b0 + 1.0, 0.5, hi, 95);
        add(n, b0 + 1.5, 0.5, hi, 60);
        switch (rng.range(0, 2)) {
        case 0:  // sixteenth run, crescendo, low drum mixed in
            for (int i = 0; i < 8; ++i) add(n, b0 + 2.0 + 0.25 * i, 0.25, (i % 3 == 2) ? lo : hi, 60 + 5 * i);
            break;
        case 1:  // accented eighths alternating high/low
            for (int i = 0; i < 4; ++i) add(n, b0 + 2.0 + 0.5 * i, 0.5, i % 2 ? lo : hi, 90 + 4 * i);
            add(n, b0 + 3.75, 0.25, hi, 80);
            break;
        default:  // flams into the low drum
            for (int i = 0; i < 4; ++i) {
                add(n, b0 + 2.0 + 0.5 * i - 0.06, 0.1, hi, 55);
                add(n, b0 + 2.0 + 0.5 * i, 0.5, i == 3 ? lo : hi, 96);
            }
            break;
        }
        return;
    }
    const int accent = int(10 * intensity);
    add(n, b0 + 0.0, 0.5, hi, 82 + accent);
    add(n, b0 + 0.5, 0.5, hi, 58 + rng.range(-5, 5));
    add(n, b0 + 1.0, 0.5, hi, 98 + accent);  // slap
    add(n, b0 + 1.5, 0.5, hi, 58 + rng.range(-5, 5));
    add(n, b0 + 2.0, 0.5, hi, 80 + accent);
    add(n, b0 + 2.5, 0.5, hi, 60 + rng.range(-5, 5));
    add(n, b0 + 3.0, 0.5, lo, 102 + accent);  // open tone on 4
    add(n, b0 + 3.5, 0.5, rng.chance(0.3) ? lo : hi, 66);
    if (sec == "majao" && rng.chance(0.5)) add(n, b0 + 3.75, 0.25, hi, 72);
    if (rng.chance(0.15)) add(n, b0 + 1.75, 0.25, hi, 50);
}

// Güira: eighths (long scrape on the beat, short on the "and") in verses,
// quarter-note scrapes behind the choruses (majao), driving in the mambo.
void guira_bar(Rng& rng, Notes& n, double b0, const std::string& sec, double intensity) {
    const int long_scrape = 74, short_scrape = 73;
    for (int beat = 0; beat < 4; ++beat) {
        const double b = b0 + beat;
        if (sec == "majao") {
            add(n, b, 0.7, long_scrape, 96 + (beat % 2 == 0 ? 8 : 0));
            if (beat == 3 && rng.chance(0.4)) add(n, b + 0.75, 0.2, short_scrape, 62);
            continue;
        }
        const int acc = sec == "mambo" ? 12 : 0;
        add(n, b, 0.4, long_scrape, 90 + acc + (beat % 2 == 0 ? 6 : 0));
        add(n, b + 0.5, 0.2, short_scrape, 68 + acc / 2);
        if (rng.chance(sec == "mambo" ? 0.6 : 0.3 * intensity)) add(n, b + 0.75, 0.15, short_scrape, 55);
    }
}

void bass_bar(Rng& rng, Notes& n, double b0, const Chord& c, const Chord& next, int key_pc, bool last) {
    const int root = chord_root_key(c, key_pc, 33);  // A1..G#2
    const int fifth = root + 7 > 50 ? root - 5 : root + 7;
    if (last) {
        add(n, b0, 3.0, root, 100);
        return;
    }
    const int next_root = chord_root_key(next, key_pc, 33);
    add(n, b0 + 0.0, 1.35, root, 100);
    add(n, b0 + 1.5, 0.45, rng.chance(0.5) ? root : fifth, 84);  // the "and" of 2
    add(n, b0 + 2.0, 0.9, rng.chance(0.6) ? root + 12 > 55 ? root : root + 12 : fifth, 90);
    const int approach = rng.chance(0.5) ? fifth : (next_root == root ? root + (rng.chance(0.5) ? 2 : -1) : next_root - 1);
    add(n, b0 + 3.0, 0.9, approach, 86);
}

void segunda_bar(Rng& rng, Notes& n, double b0, const Chord& c, int key_pc, bool last) {
    const int bass = chord_root_key(c, key_pc, 40);
    const auto chord = voice_chord(c, key_pc, 55, 67);
    auto strum = [&](double beat, int vel, bool down) {
        for (std::size_t i = 0; i < chord.size(); ++i) {
            const std::size_t k = down ? i : chord.size() - 1 - i;
            NoteEvent e{beat, 0.18, chord[k], std::clamp(vel - int(i) * 3, 1, 127), 0.008 * double(i)};
            n.push_back(e);
        }
    };
    if (last) {
        add(n, b0, 3.0, bass, 95);
        strum(b0, 85, true);
        for (auto& e : n) if (e.beat >= b0) e.dur_beats = 3.0;
        return;
    }
    const int fifth = bass + 7;
    add(n, b0 + 0.0, 0.45, bass, 92);
    strum(b0 + 0.5, 74, false);
    strum(b0 + 1.0, 70, true);
    strum(b0 + 1.5, 78, false);
    add(n, b0 + 2.0, 0.45, rng.chance(0.3) ? fifth : bass, 88);
    strum(b0 + 2.5, 76, false);
    add(n, b0 + 3.0, 0.45, fifth > 55 ? bass : fifth, 88);
    strum(b0 + 3.5, 80, false);
}

// Requinto: high-register arpeggios / melodic runs, often in thirds.
void requinto_bar(Rng& rng, Notes& n, double b0, const Chord& c, int key_pc, bool minor,
                  const std::string& sec, int style) {
    const auto tones = voice_chord(c, key_pc, 64, 76);
    std::vector<int> arp;
    for (int oct = 0; oct < 2; ++oct)
        for (int t : tones) arp.push_back(t + 12 * oct);
    const auto scale = scale_steps(minor);
    const bool sixteenths = style == 1 || (sec == "mambo" && rng.chance(0.5));
    const double step = sixteenths ? 0.25 : 0.5;
    const int count = int(4.0 / step);
    const int start = (sec == "derecho" && style != 2) ? count / 2 : 0;  // fills in the second half of verses
    int idx = rng.range(0, int(arp.size()) - 1);
    int dir = rng.chance(0.5) ? 1 : -1;
    for (int i = start; i < count; ++i) {
        if (style == 2 && rng.chance(0.2)) continue;  // melodic style leaves gaps
        const int key = arp[std::size_t(idx)];
        const int vel = 78 + ((i * step == std::floor(i * step)) ? 10 : 0) + rng.range(-6, 6);
        add(n, b0 + i * step, step * 0.95, key, vel);
        if (style == 2 && rng.chance(0.5)) {
            // a third below in the scale: find the scale degree two steps down
            const int pc = ((key - key_pc) % 12 + 12) % 12;
            int deg = 0;
            for (int d = 0; d < 7; ++d) if (scale[std::size_t(d)] <= pc) deg = d;
            const int below = scale[std::size_t((deg + 5) % 7)];
            int k2 = key - ((pc - below + 12) % 12);
            if (k2 == key) k2 -= 3;
            add(n, b0 + i * step, step * 0.95, k2, vel - 10);
        }
        idx += dir;
        if (idx < 0 || idx >= int(arp.size())) {
            dir = -dir;
            idx += 2 * dir;
            idx = std::clamp(idx, 0, int(arp.size()) - 1);
        }
    }
}

}  // namespace

Song compose_bachata(Rng& rng, const SynthParams& params) {
    Song song;
    song.genre = Genre::Bachata;
    song.bpm = params.bpm > 0 ? params.bpm : std::round(rng.uniform(115.0, 140.0) * 2.0) / 2.0;
    song.drift = params.bpm <= 0 && rng.chance(0.35);
    song.key_pc = rng.range(0, 11);
    song.minor = rng.chance(0.6);
    const double bar_sec = 240.0 / song.bpm;
    const double lead_in = rng.uniform(0.05, 0.6);
    song.bars = std::max(8, int(std::ceil((params.duration_sec - lead_in - 0.5) / bar_sec)));
    song.tempo = make_tempo_map(rng, song.bars, song.bpm, lead_in, song.drift);
    song.sections = plan_sections(rng, song.bars);
    song.tail_sec = 2.0;

    const auto& progs = song.minor ? minor_progressions() : major_progressions();
    const auto prog_verse = rng.pick(progs);
    const auto prog_chorus = rng.pick(progs);

    Part bongo{"bongo", "bongo", pick_source(rng, "bongo", params.split), {}, {}, 0.0, rng.uniform(-0.35, 0.1)};
    Part guira{"guira", "guira", pick_source(rng, "guira", params.split), {}, {}, 0.0, rng.uniform(0.1, 0.5)};
    Part bass{"bass", "bass", pick_source(rng, "bass", params.split), {}, {}, 0.0, rng.uniform(-0.05, 0.05)};
    Part req{"guitar", "requinto", pick_source(rng, "requinto", params.split), {}, {}, 0.0, rng.uniform(-0.4, 0.4)};
    Part seg{"guitar", "segunda", pick_source(rng, "segunda", params.split), {}, {}, -2.0, 0.0};
    seg.pan = req.pan > 0 ? rng.uniform(-0.5, -0.1) : rng.uniform(0.1, 0.5);
    const bool use_pad = rng.chance(0.5);
    Part other{"other", use_pad ? "pad" : "keys", pick_source(rng, use_pad ? "pad" : "keys", params.split), {}, {}, -3.0, rng.uniform(-0.3, 0.3)};
    Part cowbell{"other", "cowbell", pick_source(rng, "cowbell", params.split), {}, {}, 0.0, rng.uniform(-0.3, 0.3)};
    const bool other_in_verse = rng.chance(0.5);
    const bool intro_bongo = rng.chance(0.3);
    const bool intro_segunda = rng.chance(0.6);
    const int requinto_style = rng.range(0, 2);
    const bool cowbell_eighths = rng.chance(0.4);

    for (int bar = 0; bar < song.bars; ++bar) {
        const Section& sec = song.section_at_bar(bar);
        const bool last_bar = bar == song.bars - 1;
        const bool section_end = bar == sec.start_bar + sec.bars - 1;
        const auto& prog = (sec.name == "majao" || sec.name == "mambo") ? prog_chorus : prog_verse;
        const Chord& chord = last_bar ? prog[0] : prog[std::size_t(bar % 4)];
        const Chord& next = prog[std::size_t((bar + 1) % 4)];
        const double b0 = bar * 4.0;
        const double intensity = sec.name == "mambo" ? 1.0 : sec.name == "majao" ? 0.7 : 0.3;

        if (sec.name == "outro") {
            if (last_bar) {  // the final hit, everyone together
                add(bongo.notes, b0, 1.0, 61, 105);
                add(guira.notes, b0, 0.6, 74, 100);
                bass_bar(rng, bass.notes, b0, chord, next, song.key_pc, true);
                segunda_bar(rng, seg.notes, b0, chord, song.key_pc, true);
                requinto_bar(rng, req.notes, b0 - 0.0, chord, song.key_pc, song.minor, "intro", 2);
                req.notes.erase(std::remove_if(req.notes.begin(), req.notes.end(),
                                               [&](const NoteEvent& e) { return e.beat > b0 + 1.5; }),
                                req.notes.end());
                continue;
            }
        }
        if (sec.name == "intro") {
            requinto_bar(rng, req.notes, b0, chord, song.key_pc, song.minor, "intro", requinto_style == 0 ? 2 : requinto_style);
            if (intro_segunda || section_end) segunda_bar(rng, seg.notes, b0, chord, song.key_pc, false);
            if (intro_bongo) bongo_bar(rng, bongo.notes, b0, "derecho", section_end, 0.2);
            else if (section_end) for (int i = 0; i < 4; ++i) add(bongo.notes, b0 + 2.0 + 0.5 * i, 0.5, i == 3 ? 61 : 60, 70 + 8 * i);
            if (section_end) bass_bar(rng, bass.notes, b0, chord, next, song.key_pc, false);
            continue;
        }
        // Body sections and a non-final outro bar.
        if (sec.name == "mambo") {
            for (int beat = 0; beat < 4; ++beat) {
                add(cowbell.notes, b0 + beat, 0.4, 56, beat % 2 == 0 ? 108 : 92);
                if (cowbell_eighths) add(cowbell.notes, b0 + beat + 0.5, 0.3, 56, 70);
            }
        } else {
            bongo_bar(rng, bongo.notes, b0, sec.name, section_end && rng.chance(0.6), intensity);
        }
        guira_bar(rng, guira.notes, b0, sec.name, intensity);
        bass_bar(rng, bass.notes, b0, chord, next, song.key_pc, false);
        segunda_bar(rng, seg.notes, b0, chord, song.key_pc, false);
        if (sec.name != "derecho" || bar % 2 == 1 || requinto_style == 2)
            requinto_bar(rng, req.notes, b0, chord, song.key_pc, song.minor, sec.name, requinto_style);
        if (sec.name != "derecho" || other_in_verse) {
            if (other.role == "pad") {
                for (int k : voice_chord(chord, song.key_pc, 55, 72)) add(other.notes, b0, 3.9, k, 70);
            } else {
                for (double beat : {0.0, 1.5, 2.5}) {
                    for (int k : voice_chord(chord, song.key_pc, 60, 74)) add(other.notes, b0 + beat, 0.45, k, 62);
                }
            }
        }
    }
    for (Part* p : {&bongo, &guira, &bass, &req, &seg, &other, &cowbell}) {
        humanize(rng, p->notes, p->role == "bongo" || p->role == "guira" ? 4.0 : 5.0, 8);
        if (!p->notes.empty()) song.parts.push_back(std::move(*p));
    }
    return song;
}

}  // namespace loopsep::synth

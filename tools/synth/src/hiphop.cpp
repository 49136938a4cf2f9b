// Hip-hop composer (boom-bap and relatives): a looped 2- or 4-bar melodic
// sample ("other"), drums with MPC-style swing, a bass following the kick,
// and rhythmic rap vocals placed on the sixteenth grid.
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

// MPC swing: the off-beat of each pair on the `grid` (0.5 = eighths,
// 0.25 = sixteenths) is delayed to `swing` (0.50 straight … 0.58) of the pair.
double swung(double beat, double grid, double swing) {
    const double pair = 2.0 * grid;
    const double base = std::floor(beat / pair + 1e-9) * pair;
    const double pos = beat - base;
    if (std::fabs(pos - grid) < 1e-6) return base + pair * swing;
    return beat;
}

std::vector<Section> plan_sections(Rng& rng, int bars) {
    std::vector<Section> out;
    const int intro = bars >= 20 ? rng.pick(std::vector<int>{2, 4}) : bars >= 10 ? 2 : 1;
    const int outro = bars >= 16 ? 2 : 1;
    const int body = bars - intro - outro;
    out.push_back({0, intro, "intro"});
    int bar = intro;
    bool verse = true;
    while (bar < intro + body) {
        const int len = std::min(verse ? 8 : 4 * rng.range(1, 2), intro + body - bar);
        out.push_back({bar, len, verse ? "verse" : "hook"});
        bar += len;
        verse = !verse;
    }
    out.push_back({bar, outro, "outro"});
    return out;
}

const std::vector<std::vector<Chord>>& progressions() {
    static const std::vector<std::vector<Chord>> p = {
        {{0, {0, 3, 7, 10}}, {8, {0, 4, 7, 11}}},
        {{0, {0, 3, 7, 10}}, {5, {0, 3, 7, 10}}},
        {{0, {0, 3, 7, 10, 14}}, {3, {0, 4, 7, 11}}, {8, {0, 4, 7, 11}}, {7, {0, 4, 7, 10}}},
        {{2, {0, 3, 7, 10}}, {7, {0, 4, 7, 10}}, {0, {0, 4, 7, 11}}, {0, {0, 4, 7, 11}}},
        {{0, {0, 3, 7}}, {0, {0, 3, 7}}, {8, {0, 4, 7}}, {7, {0, 3, 7}}},
        {{0, {0, 3, 7, 10}}, {10, {0, 4, 7}}, {8, {0, 4, 7, 11}}, {7, {0, 4, 7, 10}}},
    };
    return p;
}

const std::vector<std::string>& words_for(const std::string& voice) {
    static const std::vector<std::string> en = {
        "yeah", "money", "city", "night", "block", "flow", "rhyme", "beat", "never", "stop", "real", "talk",
        "back", "street", "dream", "gold", "king", "rise", "fast", "mind", "time", "cold", "fire", "crew",
        "come", "check", "it", "we", "run", "this", "town", "uh", "hustle", "grind", "shine", "pressure",
        "moving", "like", "that", "listen", "people", "corner", "paper", "chase", "sky", "high", "low", "right"};
    static const std::vector<std::string> es = {
        "dale", "calle", "barrio", "noche", "fuego", "flow", "rima", "ritmo", "nunca", "para", "real", "vida",
        "suena", "duro", "sueño", "oro", "rey", "sube", "rapido", "mente", "tiempo", "frio", "gente", "vamos",
        "mira", "esto", "aqui", "todo", "ciudad", "camino", "alto", "bajo", "siempre", "fuerte", "claro", "loco"};
    return voice.rfind("es", 0) == 0 ? es : en;
}

// One bar of rap: words on the sixteenth grid, mostly eighth-note spacing,
// a breath at the bar end now and then.
void rap_bar(Rng& rng, std::vector<VocalWord>& out, double b0, const std::vector<std::string>& vocab,
             double swing, bool dense) {
    double pos = rng.chance(0.3) ? 0.25 * rng.range(0, 2) : 0.0;
    const double end = rng.chance(0.35) ? 3.0 : 4.0;
    while (pos < end - 0.2) {
        const double step = dense ? rng.pick(std::vector<double>{0.25, 0.5, 0.5, 0.5, 0.75})
                                  : rng.pick(std::vector<double>{0.5, 0.5, 0.75, 1.0});
        VocalWord w;
        w.beat = b0 + swung(pos, 0.25, swing);
        w.max_beats = step;
        w.text = rng.pick(vocab);
        w.pitch_offset = (std::fmod(pos, 1.0) < 1e-6) ? 6 : 0;  // emphasis on the beat
        out.push_back(w);
        pos += step;
    }
}

}  // namespace

Song compose_hiphop(Rng& rng, const SynthParams& params) {
    Song song;
    song.genre = Genre::HipHop;
    song.bpm = params.bpm > 0 ? params.bpm : std::round(rng.uniform(75.0, 100.0) * 2.0) / 2.0;
    song.drift = false;  // programmed beats: a steady grid
    song.key_pc = rng.range(0, 11);
    song.minor = rng.chance(0.8);
    const double bar_sec = 240.0 / song.bpm;
    const double lead_in = rng.uniform(0.05, 0.4);
    song.bars = std::max(6, int(std::ceil((params.duration_sec - lead_in - 0.5) / bar_sec)));
    song.tempo = make_tempo_map(rng, song.bars, song.bpm, lead_in, false);
    song.sections = plan_sections(rng, song.bars);
    song.tail_sec = 2.0;

    const auto prog = rng.pick(progressions());
    const double swing = rng.uniform(0.54, 0.58);
    const bool sixteenth_hats = rng.chance(0.3);
    const bool intro_drums = rng.chance(0.4);

    Part drums{"drums", "drums", pick_source(rng, "drums", params.split), {}, {}, 0.0, 0.0};
    Part bass{"bass", "hh_bass", pick_source(rng, "hh_bass", params.split), {}, {}, 0.0, 0.0};
    Part sample{"other", "sample", pick_source(rng, "sample", params.split), {}, {}, 0.0, rng.uniform(-0.2, 0.2)};
    Part rap{"vocals", "rap", pick_source(rng, "rap", params.split), {}, {}, 0.0, 0.0};
    // Sometimes a second layer in "other": strings/pad swelling in under the hooks.
    const bool hook_pad = rng.chance(0.35);
    Part pad{"other", "pad", hook_pad ? pick_source(rng, "pad", params.split) : Source{}, {}, {}, -4.0, rng.uniform(-0.4, 0.4)};
    const auto& vocab = words_for(rap.source.voice);

    // Kick patterns (beats in the bar; 2.5 is the "and" of 3).
    const std::vector<std::vector<double>> kicks = {
        {0.0, 2.5}, {0.0, 0.75, 2.5}, {0.0, 1.75, 2.5}, {0.0, 2.25, 2.5}, {0.0, 0.5, 2.5, 3.25}};
    const auto kick_a = rng.pick(kicks), kick_b = rng.pick(kicks);
    const int snare_key = rng.chance(0.6) ? 38 : 40;

    // The sample: a chord stab rhythm plus a motif, identical every loop.
    const bool sustained = sample.source.kind == SourceKind::SoundFont &&
                           (sample.source.program >= 48 && sample.source.program <= 95);
    std::vector<double> stab_beats = rng.pick(std::vector<std::vector<double>>{
        {0.0, 1.5, 2.5}, {0.0, 0.75, 2.0, 3.5}, {0.0, 2.0}, {0.5, 1.5, 2.5, 3.5}});
    std::vector<int> motif;
    const auto scale = scale_steps(song.minor);
    for (int i = 0; i < 4; ++i) motif.push_back(scale[std::size_t(rng.pick(std::vector<int>{0, 2, 4, 4, 6, 1}))]);
    const std::vector<double> motif_beats = {0.0, 0.75, 1.5, 3.0};
    const bool with_motif = rng.chance(0.6);

    for (int bar = 0; bar < song.bars; ++bar) {
        const Section& sec = song.section_at_bar(bar);
        const double b0 = bar * 4.0;
        const Chord& chord = prog[std::size_t(bar % int(prog.size()))];
        const bool last = bar == song.bars - 1;
        const bool drums_on = sec.name == "verse" || sec.name == "hook" || (sec.name == "intro" && intro_drums) ||
                              (sec.name == "outro" && !last);
        // sample
        const auto tones = voice_chord(chord, song.key_pc, 57, 72);
        if (sustained) {
            for (int k : tones) add(sample.notes, b0, 3.9, k, 72);
        } else {
            for (double sb : stab_beats)
                for (int k : tones) add(sample.notes, b0 + swung(sb, 0.5, swing), 0.6, k, 70);
        }
        if (with_motif && !last)
            for (std::size_t i = 0; i < motif.size(); ++i)
                add(sample.notes, b0 + swung(motif_beats[i], 0.25, swing), 0.5, 72 + ((song.key_pc + motif[i]) % 12), 76);
        if (last) {
            for (auto& n : sample.notes) if (n.beat >= b0) n.dur_beats = std::min(n.dur_beats, 4.0);
            continue;
        }
        if (hook_pad && sec.name == "hook")
            for (int k : voice_chord(chord, song.key_pc, 60, 76)) add(pad.notes, b0, 3.95, k, 64);
        if (!drums_on) continue;
        // drums
        const auto& kick = (sec.name == "hook") ? kick_b : kick_a;
        const bool drop = bar == sec.start_bar + sec.bars - 1 && rng.chance(0.25);  // a break before the next section
        for (double k : kick) if (!(drop && k > 2.0)) add(drums.notes, b0 + swung(k, 0.25, swing), 0.3, 36, k == 0.0 ? 112 : 100);
        add(drums.notes, b0 + 1.0, 0.3, snare_key, 108);
        if (!drop) add(drums.notes, b0 + 3.0, 0.3, snare_key, 110);
        if (sec.name == "hook" && rng.chance(0.5)) add(drums.notes, b0 + 3.0, 0.3, 39, 90);
        if (rng.chance(0.3)) add(drums.notes, b0 + swung(rng.pick(std::vector<double>{1.75, 2.75, 3.75}), 0.25, swing), 0.2, snare_key, 38);
        const double grid = sixteenth_hats ? 0.25 : 0.5;
        for (double h = 0.0; h < 4.0 - 1e-9; h += grid) {
            const bool open = std::fabs(h - 3.5) < 1e-9 && rng.chance(0.25);
            const bool on_beat = std::fabs(h - std::round(h)) < 1e-9;
            add(drums.notes, b0 + swung(h, grid, swing), 0.2, open ? 46 : 42, on_beat ? 88 : 64 + rng.range(-6, 6));
        }
        // bass: long notes starting with the kicks, the chord root
        const int root = chord_root_key(chord, song.key_pc, 28);
        for (std::size_t i = 0; i < kick.size(); ++i) {
            const double start = kick[i];
            const double stop = i + 1 < kick.size() ? kick[i + 1] : 4.0;
            if (drop && start > 2.0) continue;
            const int key = (i == kick.size() - 1 && rng.chance(0.3)) ? root + 7 : root;
            add(bass.notes, b0 + swung(start, 0.25, swing), std::max(0.25, (stop - start) * 0.9), key, start == 0.0 ? 105 : 92);
        }
        // vocals
        if (sec.name == "verse") rap_bar(rng, rap.words, b0, vocab, swing, rng.chance(0.5));
        if (sec.name == "hook") {
            // the hook repeats its first two bars
            const int in_hook = bar - sec.start_bar;
            if (in_hook < 2) {
                rap_bar(rng, rap.words, b0, vocab, swing, false);
            } else {
                std::vector<VocalWord> copy;
                for (const auto& w : rap.words)
                    if (w.beat >= (sec.start_bar + in_hook % 2) * 4.0 && w.beat < (sec.start_bar + in_hook % 2 + 1) * 4.0) {
                        VocalWord c = w;
                        c.beat += (in_hook - in_hook % 2) * 4.0;
                        copy.push_back(c);
                    }
                rap.words.insert(rap.words.end(), copy.begin(), copy.end());
            }
        }
    }
    humanize(rng, drums.notes, 3.0, 8);
    humanize(rng, bass.notes, 3.0, 6);
    humanize(rng, sample.notes, 2.0, 6);
    for (Part* p : {&drums, &bass, &sample, &pad, &rap})
        if (!p->notes.empty() || !p->words.empty()) song.parts.push_back(std::move(*p));
    return song;
}

}  // namespace loopsep::synth

// Sound-source pools per role and split (see sources.h).
#include "sources.h"

#include <vector>

#include "loopsep/error.h"
#include "render_loops.h"

namespace loopsep::synth {
namespace {

// sf_GMbank shares most of its samples with TimGM6mb (measured: identical
// renders of many presets), so both belong to val; train uses FluidR3 only.
constexpr const char* kFluid = "FluidR3_GM.sf2";        // fluid-soundfont-gm (train)
constexpr const char* kCsound = "sf_GMbank.sf2";        // csound-soundfont (val)
constexpr const char* kTim = "TimGM6mb.sf2";            // timgm6mb-soundfont (val)
constexpr const char* kPearl = "Black_Pearl_4_LV2.sf2";  // avldrums recorded kit (train)
constexpr const char* kZeppelin = "Red_Zeppelin_4_LV2.sf2";  // avldrums recorded kit (val)
// The OPL3 FM soundfont (opl3-soundfont, train): a whole second family of
// timbres — FM, not samples — beside FluidR3.
constexpr const char* kOpl3 = "OPL-3_FM_128M.sf2";

Source sf(const char* file, int bank, int program, bool drum = false) {
    Source s;
    s.kind = SourceKind::SoundFont;
    s.file = file;
    s.bank = bank;
    s.program = program;
    s.drum = drum;
    return s;
}

Source own(const std::string& name, Rng& rng, SourceSplit split) {
    Source s;
    s.kind = SourceKind::Own;
    s.file = name;
    // The own synths draw their parameters from split-specific ranges (the
    // variant's low bit tells them which), so val timbres are unseen in train.
    s.variant = (rng.next() & ~1ull) | (split == SourceSplit::Val ? 1ull : 0ull);
    return s;
}

Source kit(Rng& rng, const std::vector<const char*>& files, const std::vector<int>& kits) {
    return sf(rng.pick(files), 128, rng.pick(kits), true);
}

Source melodic(Rng& rng, const char* file, const std::vector<int>& programs) {
    return sf(file, 0, rng.pick(programs));
}

// The OPL3 soundfont's one drum kit.
Source opl3_kit() { return sf(kOpl3, 128, 0, true); }

// A drum kit of one-shot recordings (lmms-common), a new combination per variant. Train only.
Source sample_kit(Rng& rng) {
    Source s;
    s.kind = SourceKind::SampleKit;
    s.file = "lmms-samples";
    s.variant = rng.next();
    return s;
}

// Training percussion (bongo, güira, cowbell): FluidR3's kits, or now and then the OPL3 kit.
// Draws from `rng` only in training, so the val songs stay as they were.
Source train_kit(Rng& rng, const std::vector<int>& fluid_kits) {
    if (rng.chance(0.2)) return opl3_kit();
    return kit(rng, {kFluid}, fluid_kits);
}

// espeak-ng rap voices from the train or the val lists. The val draws are
// those the val split always made (same calls in the same order).
Source rap_voice(Rng& rng, bool train) {
    Source s;
    s.kind = SourceKind::Voice;
    s.file = "espeak-ng";
    static const std::vector<std::string> kTrainVariants = {
        "m1", "m2", "m3", "m4", "m5", "m6", "Andy", "Alex", "Gene", "Lee", "Michael", "david",
        "john", "max", "f1", "f2", "Annie", "Andrea"};
    static const std::vector<std::string> kValVariants = {
        "m7", "Denis", "Hugo", "Jacky", "Marco", "f3", "f4", "Alicia", "edward", "iven"};
    static const std::vector<std::string> kTrainLangs = {"en-us", "en-us", "en", "es", "es-419"};
    static const std::vector<std::string> kValLangs = {"en-us", "es", "en-gb-x-rp"};
    s.voice = rng.pick(train ? kTrainLangs : kValLangs) + "+" + rng.pick(train ? kTrainVariants : kValVariants);
    s.voice_pitch = rng.range(25, 65);
    s.voice_speed = rng.range(190, 260);
    s.variant = rng.next();
    return s;
}

// ---- real recordings: Hydrogen kits and freepats patches ----
// Every kit and patch is on one side only, train or realval (the list and the
// reasons: models/TRAINING.md, "Real-recording sources and the realval
// split"). Hydrogen kits are split whole (the samples of one kit share
// drums, room and microphones); freepats per instrument (each patch is its
// own recording). HardElectro1 and Millo-Drums_v.1 share a sample file, so
// both are train. "Gimme A Hand 1.0" is reserved and appears nowhere.

using Names = std::vector<const char*>;
using KeyMap = std::vector<std::pair<int, int>>;

Source hydrogen(Rng& rng, const Names& kits) {
    Source s;
    s.kind = SourceKind::Hydrogen;
    s.file = rng.pick(kits);
    s.variant = rng.next();
    return s;
}

Source patch(Rng& rng, const std::vector<int>& programs) {
    Source s;
    s.kind = SourceKind::Patch;
    s.file = "freepats";
    s.program = rng.pick(programs);
    s.variant = rng.next();
    return s;
}

Source patch_drums(Rng& rng, const std::vector<KeyMap>& maps) {
    Source s;
    s.kind = SourceKind::Patch;
    s.file = "freepats";
    s.drum = true;
    s.key_map = rng.pick(maps);
    s.variant = rng.next();
    return s;
}

// Hydrogen kits. Drum kits play the hip-hop drums; the others are drawn only
// for the roles their instruments can play (render_hydrogen.cpp maps names).
const Names kTrainDrumKits = {"BJA_Pacific",         "ColomboAcousticDrumkit", "ElectricEmpireKit",
                              "HardElectro1",        "Millo-Drums_v.1",        "Millo_MultiLayered2",
                              "Millo_MultiLayered3", "The Black Pearl 1.0",    "rumpf_kit_z01_h2"};
const Names kRealValDrumKits = {"ForzeeStereo", "VariBreaks", "Audiophob"};
const Names kTrainHandKits = {"circAfrique v4", "ElectricEmpireKit"};  // djembes, duns; congas
// Cowbells: Millo_MultiLayered2 names a cowbell file it does not ship, and
// Audiophob's "Cowbell" is a 1 s pitched tone; neither is drawn for the role.
const Names kTrainCowbellKits = {"Millo-Drums_v.1", "Millo_MultiLayered3", "The Black Pearl 1.0", "rumpf_kit_z01_h2"};
const Names kRealValCowbellKits = {"ForzeeStereo"};  // agogo bells
const Names kRealValShakerKits = {"ForzeeStereo"};                // tambourines

// freepats GM programs (Tone_000) per role and side.
const std::vector<int> kTrainBass = {32, 34, 36, 37, 38}, kRealValBass = {33, 35};
const std::vector<int> kTrainGuitar = {24, 26, 28}, kRealValGuitar = {25, 27};
const std::vector<int> kTrainKeys = {0, 2, 5, 7, 16}, kRealValKeys = {1, 4};
const std::vector<int> kTrainPad = {44, 53, 88, 95}, kRealValPad = {48, 94};
const std::vector<int> kTrainSample = {0, 2, 5, 7, 24, 26, 44, 88}, kRealValSample = {1, 4, 25, 27, 48, 94};
// freepats percussion (Drum_000): the part's keys to the drum keys that sound them.
// Bongo parts play 60 (high) and 61 (low); güira 74 (long) and 73 (short); cowbell 56.
const std::vector<KeyMap> kTrainBongo = {{{60, 65}, {61, 66}}};  // timbales
const std::vector<KeyMap> kRealValBongo = {{{60, 60}, {61, 61}}, {{60, 63}, {61, 64}}, {{60, 62}, {61, 64}}};  // bongos, congas
const std::vector<KeyMap> kTrainGuira = {{{74, 70}, {73, 70}}, {{74, 82}, {73, 82}}, {{74, 54}, {73, 54}}};  // maracas, shaker, tambourine
const std::vector<KeyMap> kRealValGuira = {{{74, 74}, {73, 73}}, {{74, 69}, {73, 69}}};  // guiro, cabasa
const std::vector<KeyMap> kTrainCowbell = {{{56, 67}}, {{56, 68}}};  // agogo high, low
const std::vector<KeyMap> kRealValCowbell = {{{56, 56}}};            // cow bell
const std::vector<KeyMap> kFreepatsKit = {{}};  // the GM drum keys as played (train)

// How often a training part is played on a real recording: about 40-50 % of
// all parts (measured in models/TRAINING.md). Hip-hop roles are higher, as
// its rap part is never a real recording.
double real_share(const std::string& role) {
    if (role == "drums") return 0.6;
    if (role == "hh_bass" || role == "sample") return 0.55;
    if (role == "guira" || role == "pad") return 0.4;
    return 0.45;
}

// Of the real-recording drums, bongo and güira parts, the share played from a
// recorded loop rather than a kit or a patch (train and realval alike).
constexpr double kRecordedLoopShare = 0.3;

// A real recording for a training part.
Source pick_real_train(Rng& rng, const std::string& role) {
    // Recorded loops (sonic-pi, lmms-common; render_loops.h), chopped, stretched
    // or slowed onto the grid, for the roles loops exist for: a sampled break
    // is what many hip-hop records are built on.
    if ((role == "drums" || role == "bongo" || role == "guira") && rng.chance(kRecordedLoopShare))
        return pick_recorded_loop(rng, role);
    if (role == "drums") return rng.chance(0.8) ? hydrogen(rng, kTrainDrumKits) : patch_drums(rng, kFreepatsKit);
    if (role == "bongo") return rng.chance(0.6) ? hydrogen(rng, kTrainHandKits) : patch_drums(rng, kTrainBongo);
    if (role == "guira") return patch_drums(rng, kTrainGuira);
    if (role == "cowbell") return rng.chance(0.6) ? hydrogen(rng, kTrainCowbellKits) : patch_drums(rng, kTrainCowbell);
    if (role == "bass" || role == "hh_bass") return patch(rng, kTrainBass);
    if (role == "requinto" || role == "segunda") return patch(rng, kTrainGuitar);
    if (role == "keys") return patch(rng, kTrainKeys);
    if (role == "pad") return patch(rng, kTrainPad);
    if (role == "sample") return patch(rng, kTrainSample);
    throw usage_error("synth: no real recording for role '" + role + "'");
}

// The realval split: real recordings held out of training, and for rap (no
// open recordings exist) the val espeak-ng voices.
Source pick_realval(Rng& rng, const std::string& role) {
    if ((role == "drums" || role == "bongo" || role == "guira") && rng.chance(kRecordedLoopShare))
        return pick_recorded_loop(rng, role, /*held_out=*/true);
    if (role == "drums") return hydrogen(rng, kRealValDrumKits);
    if (role == "bongo") return patch_drums(rng, kRealValBongo);
    if (role == "guira") return rng.chance(0.25) ? hydrogen(rng, kRealValShakerKits) : patch_drums(rng, kRealValGuira);
    if (role == "cowbell") return rng.chance(0.5) ? hydrogen(rng, kRealValCowbellKits) : patch_drums(rng, kRealValCowbell);
    if (role == "bass" || role == "hh_bass") return patch(rng, kRealValBass);
    if (role == "requinto" || role == "segunda") return patch(rng, kRealValGuitar);
    if (role == "keys") return patch(rng, kRealValKeys);
    if (role == "pad") return patch(rng, kRealValPad);
    if (role == "sample") return patch(rng, kRealValSample);
    if (role == "rap") return rap_voice(rng, false);
    throw usage_error("synth: unknown sound role '" + role + "'");
}

}  // namespace

Source pick_source(Rng& rng, const std::string& role, SourceSplit split) {
    if (split == SourceSplit::RealVal) return pick_realval(rng, role);
    const bool train = split == SourceSplit::Train;
    // Training parts are real recordings this often; the val split draws
    // nothing here, so its songs stay what they were.
    if (train && role != "rap" && rng.chance(real_share(role))) return pick_real_train(rng, role);

    // Melodic soundfont per split.
    const char* mel = train ? (rng.chance(0.3) ? kOpl3 : kFluid) : (rng.chance(0.5) ? kTim : kCsound);

    if (role == "bongo" || role == "cowbell") {
        // FluidR3 has one bongo sample set in all its kits: the own modal
        // bongo carries the rest of the timbre variety.
        const double own_p = role == "bongo" ? 0.5 : 0.3;
        if (rng.chance(own_p)) return own(role == "bongo" ? "bongo" : "cowbell", rng, split);
        if (train) return train_kit(rng, {0, 8, 16, 24, 32, 40, 48});
        return kit(rng, {kTim, kCsound}, {0, 8, 16, 24, 32, 40, 48});
    }
    if (role == "guira") {
        // GM's guiro is a wooden scraper; the güira is metal, so our own
        // scrape model carries most of the weight.
        if (rng.chance(0.7)) return own("guira", rng, split);
        if (train) return train_kit(rng, {0, 8, 16, 32});
        return kit(rng, {kTim, kCsound}, {0, 8, 16, 32});
    }
    if (role == "bass") {
        if (rng.chance(0.25)) return own("bass", rng, split);
        return melodic(rng, mel, {32, 33, 33, 34, 35});
    }
    if (role == "requinto") {
        if (rng.chance(0.25)) return own("pluck", rng, split);
        return melodic(rng, mel, {24, 25, 25, 26, 27});
    }
    if (role == "segunda") {
        if (rng.chance(0.25)) return own("pluck", rng, split);
        return melodic(rng, mel, {24, 25, 25, 26});
    }
    if (role == "keys") {
        if (rng.chance(0.2)) return own("epiano", rng, split);
        return melodic(rng, mel, {0, 1, 2, 4, 5, 11, 16, 21});
    }
    if (role == "pad") return melodic(rng, mel, {48, 49, 50, 52, 88, 89, 91, 95});
    if (role == "drums") {
        const double r = rng.uniform();
        if (r < 0.2) return own("drumkit", rng, split);
        if (r < 0.45) return sf(train ? kPearl : kZeppelin, 0, 0, false);  // avldrums: melodic bank, GM keys
        if (train) {
            const double t = rng.uniform();  // the rest of training: sampled kits, the OPL3 kit, FluidR3's kits
            if (t < 0.5) return sample_kit(rng);
            if (t < 0.7) return opl3_kit();
            return kit(rng, {kFluid}, {0, 8, 16, 24, 25, 32});
        }
        return kit(rng, {kTim, kCsound}, {0, 8, 16, 24, 25, 32});
    }
    if (role == "hh_bass") {
        if (rng.chance(0.35)) return own(rng.chance(0.5) ? "bass808" : "bass", rng, split);
        return melodic(rng, mel, {32, 33, 34, 35, 38, 39});
    }
    if (role == "sample") {
        if (rng.chance(0.15)) return own(rng.chance(0.5) ? "epiano" : "pluck", rng, split);
        return melodic(rng, mel, {0, 1, 4, 5, 11, 24, 26, 46, 48, 49, 73, 89});
    }
    if (role == "rap") return rap_voice(rng, train);
    throw usage_error("synth: unknown sound role '" + role + "'");
}

}  // namespace loopsep::synth

// Sound-source pools per role and split (see sources.h).
#include "sources.h"

#include <vector>

#include "loopsep/error.h"

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

}  // namespace

Source pick_source(Rng& rng, const std::string& role, SourceSplit split) {
    const bool train = split == SourceSplit::Train;
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
    if (role == "rap") {
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
    throw usage_error("synth: unknown sound role '" + role + "'");
}

}  // namespace loopsep::synth
